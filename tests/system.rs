//! The system page's facts about this machine (`GET /api/system`), against the real
//! binary: the data directory, the `git` and `gh` found on PATH with their versions,
//! and the disk the worktrees use.

mod common;

use common::{Viban, temp_home};

#[cfg(unix)]
#[test]
fn the_system_route_reports_the_home_the_tools_on_path_and_the_worktrees_disk() {
    use std::os::unix::fs::PermissionsExt;

    let home = temp_home();
    // A `gh` of our own first on PATH: found there, with the version it prints.
    let tools = tempfile::tempdir().expect("a folder for the fake gh");
    let gh = tools.path().join("gh");
    std::fs::write(&gh, "#!/bin/sh\necho 'gh version 2.99.0 (2026-01-01)'\necho 'https://example.test'\n")
        .expect("write the fake gh");
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).expect("make it executable");
    let path = format!("{}:{}", tools.path().display(), std::env::var("PATH").unwrap_or_default());
    let viban = Viban::spawn(home.path(), &[], &[("PATH", path.as_str())]);
    viban.wait_healthy(common::START_TIMEOUT);

    let worktree = home.path().join("worktrees").join("board").join("task");
    std::fs::create_dir_all(&worktree).expect("create a worktree folder");
    std::fs::write(worktree.join("build.bin"), vec![7u8; 300 * 1024]).expect("write a file in it");

    assert_eq!(viban.request("GET", "/api/system", &[], b"").status, 401, "it needs the token");
    let response = viban.get("/api/system");
    assert_eq!(response.status, 200, "{}", response.text());
    let system = response.json();
    assert_eq!(system["home"].as_str(), home.path().to_str(), "{system}");
    assert_eq!(system["worktrees"].as_str(), home.path().join("worktrees").to_str(), "{system}");
    assert_eq!(system["worktrees_disk"]["partial"], false, "{system}");
    let bytes = system["worktrees_disk"]["bytes"].as_u64().unwrap_or_default();
    assert!(bytes >= 300 * 1024, "the worktrees' files are counted: {system}");

    assert_eq!(system["gh"]["found"], true, "{system}");
    assert_eq!(system["gh"]["path"].as_str(), gh.to_str(), "{system}");
    assert_eq!(system["gh"]["version"], "gh version 2.99.0 (2026-01-01)", "{system}");
    assert_eq!(system["git"]["found"], true, "{system}");
    let git = system["git"]["version"].as_str().unwrap_or_default();
    assert!(git.starts_with("git version "), "{system}");
    assert!(!system["git"]["install_hint"].as_str().unwrap_or_default().is_empty(), "{system}");
}
