//! `POST /api/tasks/{id}/open` against the real binary: the OS handler (`xdg-open`, a
//! fake one first on PATH that records its arguments) or `$VISUAL` opens the task's
//! worktree; no worktree yet is a 409; a path outside viban's worktrees and
//! repositories is refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{Viban, board_on, eventually, fixtures, repository, temp_home};
use serde_json::json;

/// A script that appends `<name> <its arguments>` to `log`.
fn recorder(dir: &Path, name: &str, log: &Path) {
    let script = dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_worktree_opens_in_the_os_handler_or_the_editor_and_nothing_else_does() {
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let opened = scratch.path().join("opened.log");
    recorder(&bin, "xdg-open", &opened);
    recorder(&bin, "fake-editor", &opened);
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        fixtures().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let transcript = fixtures().join("transcripts/claude-tools.jsonl");
    let editor = format!("{} --new-window", bin.join("fake-editor").display());
    let viban = Viban::spawn(
        home.path(),
        &[],
        &[
            ("PATH", path.as_str()),
            ("FAKE_TRANSCRIPT", transcript.to_str().unwrap()),
            ("VISUAL", editor.as_str()),
            ("EDITOR", ""),
        ],
    );
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let task =
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "Open me" }));
    let task_id = task.json()["id"].as_str().unwrap().to_string();
    let open = |target: &str| {
        viban.send_json("POST", &format!("/api/tasks/{task_id}/open"), &json!({ "target": target }))
    };

    let early = open("folder");
    assert_eq!(early.status, 409, "{}", early.text());
    assert!(early.json()["detail"].as_str().unwrap().contains("no worktree yet"));
    assert_eq!(open("window").status, 422);

    let run = viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({}));
    assert_eq!(run.status, 202, "{}", run.text());
    let worktree =
        || viban.get(&format!("/api/tasks/{task_id}")).json()["worktree_path"].as_str().map(String::from);
    let made = || worktree().is_some_and(|path| Path::new(&path).join(".git").exists());
    assert!(eventually(Duration::from_secs(60), made), "{}", viban.output());
    let worktree = std::fs::canonicalize(worktree().unwrap()).unwrap();

    let folder = open("folder");
    assert_eq!(folder.status, 202, "{}", folder.text());
    assert_eq!(folder.json()["program"], "xdg-open");
    let editor = open("editor");
    assert_eq!(editor.status, 202, "{}", editor.text());
    let log = std::fs::read_to_string(&opened).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            format!("xdg-open {}", worktree.display()),
            format!("fake-editor --new-window {}", worktree.display())
        ]
    );

    // A worktree path that is not viban's (the row says so, not the API) is refused.
    viban.sql().execute(&format!(
        "UPDATE tasks SET worktree_path = '{}' WHERE id = '{task_id}'",
        scratch.path().display()
    ));
    let outside = open("folder");
    assert_eq!(outside.status, 403, "{}", outside.text());
    assert_eq!(std::fs::read_to_string(&opened).unwrap().lines().count(), 2);
    assert_eq!(
        viban
            .send_json(
                "POST",
                "/api/tasks/00000000-0000-0000-0000-000000000001/open",
                &json!({ "target": "folder" })
            )
            .status,
        404
    );
}
