//! `installer/install.sh` against a local HTTP server serving a fake release: it
//! picks this machine's asset, checks it against SHA256SUMS, installs to
//! ~/.local/bin without sudo, and installs nothing when anything is wrong.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Serves the files of `root` over HTTP on a free loopback port until the test ends;
/// unknown paths are 404s.
fn serve(root: PathBuf) -> String {
    common::http_server(move |path| {
        let path = path.trim_start_matches('/');
        if path.contains("..") { None } else { std::fs::read(root.join(path)).ok() }
    })
}

fn asset_name() -> String {
    let processor = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no asset name for {other}"),
    };
    let system = if cfg!(target_os = "macos") { "apple-darwin" } else { "unknown-linux-gnu" };
    format!("viban-{processor}-{system}.tar.gz")
}

/// A release folder with this machine's archive (holding a fake `viban`) and its
/// SHA256SUMS line, as the release workflow publishes them.
fn release(dir: &Path) {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("viban"), "#!/bin/sh\necho 'viban 9.9.9 (test build)'\n").unwrap();
    Command::new("chmod").arg("755").arg(stage.join("viban")).status().unwrap();
    let asset = asset_name();
    let tar =
        Command::new("tar").arg("-czf").arg(dir.join(&asset)).arg("-C").arg(&stage).arg("viban").status();
    assert!(tar.unwrap().success());
    let sums = Command::new("sha256sum").arg(&asset).current_dir(dir).output().unwrap();
    std::fs::write(dir.join("SHA256SUMS"), sums.stdout).unwrap();
}

fn install(url: &str, home: &Path) -> Output {
    Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("installer/install.sh"))
        .env("VIBAN_DOWNLOAD_URL", url)
        .env("HOME", home)
        .env_remove("VIBAN_INSTALL_DIR")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn the_matching_asset_is_verified_and_installed_to_local_bin() {
    let site = tempfile::tempdir().unwrap();
    release(site.path());
    let home = tempfile::tempdir().unwrap();
    let output = install(&serve(site.path().to_path_buf()), home.path());
    assert!(output.status.success(), "{}", text(&output));
    let installed = home.path().join(".local/bin/viban");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), "viban 9.9.9 (test build)");
    let said = text(&output);
    assert!(
        said.contains(&format!("installed viban 9.9.9 (test build) to {}", installed.display())),
        "{said}"
    );
    assert!(said.contains("is not on your PATH"), "{said}");
    assert!(said.contains("Next:"), "{said}");
}

#[test]
fn a_checksum_mismatch_installs_nothing_and_says_so() {
    let site = tempfile::tempdir().unwrap();
    release(site.path());
    let sums = std::fs::read_to_string(site.path().join("SHA256SUMS")).unwrap();
    std::fs::write(site.path().join("SHA256SUMS"), format!("{}{}", "0".repeat(64), &sums[64..])).unwrap();
    let home = tempfile::tempdir().unwrap();
    let output = install(&serve(site.path().to_path_buf()), home.path());
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("does not match SHA256SUMS") && said.contains("nothing was installed"), "{said}");
    assert!(!home.path().join(".local/bin/viban").exists());
}

#[test]
fn a_missing_asset_or_checksum_line_installs_nothing() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let output = install(&serve(empty.path().to_path_buf()), home.path());
    assert!(!output.status.success());
    assert!(text(&output).contains("could not download"), "{}", text(&output));

    let site = tempfile::tempdir().unwrap();
    release(site.path());
    std::fs::write(site.path().join("SHA256SUMS"), "abc  viban-other.tar.gz\n").unwrap();
    let output = install(&serve(site.path().to_path_buf()), home.path());
    assert!(!output.status.success());
    assert!(text(&output).contains(&format!("SHA256SUMS lists no {}", asset_name())), "{}", text(&output));
    assert!(!home.path().join(".local/bin/viban").exists());
}
