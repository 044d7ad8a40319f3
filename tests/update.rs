//! Self-update (R2) against a fake GitHub releases API on 127.0.0.1 serving real
//! zipsign-signed archives. viban runs from a copy of the test binary in a temp folder,
//! which is what gets replaced. It trusts the tests' key through `VIBAN_UPDATE_KEY`,
//! which only debug builds read.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, Viban, eventually, fixtures, temp_home};
use serde_json::{Value, json};
use zipsign_api::SigningKey;

const RELEASE_KEY: [u8; 32] = [7; 32];
const OTHER_KEY: [u8; 32] = [9; 32];
const CURRENT: &str = env!("CARGO_PKG_VERSION");
/// Newer than any version this crate will have while these tests stand.
const NEWER: &str = "1000.0.0";

fn key_hex(seed: [u8; 32]) -> String {
    SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn asset_name() -> String {
    format!("viban-{}.tar.gz", self_update::get_target())
}

/// A fake `api.github.com`: canned bodies by path, and a log of the paths asked for.
struct ReleaseServer {
    url: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ReleaseServer {
    fn start() -> Self {
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (served, log) = (files.clone(), requests.clone());
        let url = common::http_server(move |path| {
            log.lock().unwrap().push(path.to_string());
            served.lock().unwrap().get(path).cloned()
        });
        Self { url, files, requests }
    }

    /// Publishes `version` with `archive` under this platform's asset name, as the
    /// newest release.
    fn publish(&self, version: &str, archive: Vec<u8>) {
        let asset = asset_name();
        let release = json!({
            "tag_name": format!("v{version}"),
            "name": format!("viban {version}"),
            "created_at": "2026-11-23T12:00:00Z",
            "body": "Release notes",
            "html_url": format!("{}/releases/v{version}", self.url),
            "assets": [{
                "name": asset,
                "url": format!("{}/assets/{asset}", self.url),
                "browser_download_url": format!("{}/download/{asset}", self.url),
            }],
        });
        let mut files = self.files.lock().unwrap();
        let base = "/repos/viban-dev/viban/releases";
        files.insert(format!("{base}/latest"), release.to_string().into_bytes());
        files.insert(format!("{base}/tags/v{version}"), release.to_string().into_bytes());
        files.insert(base.to_string(), json!([release]).to_string().into_bytes());
        files.insert(format!("/assets/{asset}"), archive);
    }

    fn downloads(&self) -> usize {
        self.requests.lock().unwrap().iter().filter(|path| path.starts_with("/assets/")).count()
    }

    fn requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// A stand-in for the next viban: answers `--version`; started any other way, it
/// notes its arguments in `started-with` beside itself.
fn next_viban(version: &str) -> String {
    format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'viban {version}'; exit 0; fi\n\
         echo \"$@\" > \"$(dirname \"$0\")/started-with\"\n"
    )
}

/// `binary` as `viban` in a `.tar.gz`, signed by `key` for the file name `signed_as`.
fn signed_archive(binary: &str, key: [u8; 32], signed_as: &str) -> Vec<u8> {
    let stage = tempfile::tempdir().unwrap();
    std::fs::write(stage.path().join("viban"), binary).unwrap();
    assert!(Command::new("chmod").arg("755").arg(stage.path().join("viban")).status().unwrap().success());
    let plain = stage.path().join("plain.tar.gz");
    let tar = Command::new("tar").arg("-czf").arg(&plain).arg("-C").arg(stage.path()).arg("viban").status();
    assert!(tar.unwrap().success());
    let mut input = std::fs::File::open(&plain).unwrap();
    let mut output = std::io::Cursor::new(Vec::new());
    zipsign_api::sign::copy_and_sign_tar(
        &mut input,
        &mut output,
        &[SigningKey::from_bytes(&key)],
        Some(signed_as.as_bytes()),
    )
    .unwrap();
    output.into_inner()
}

/// A copy of the test binary in a folder of its own: the installation to update.
struct Installed {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Installed {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(BIN, dir.path().join("viban")).unwrap();
        Self { dir, home: temp_home() }
    }

    fn exe(&self) -> PathBuf {
        self.dir.path().join("viban")
    }

    fn old(&self) -> PathBuf {
        self.dir.path().join("viban.old")
    }

    fn command(&self, server: &ReleaseServer) -> Command {
        let mut command = Command::new(self.exe());
        command
            .env("VIBAN_HOME", self.home.path())
            .env("VIBAN_UPDATE_URL", &server.url)
            .env("VIBAN_UPDATE_KEY", key_hex(RELEASE_KEY))
            .env_remove("DATABASE_URL");
        command
    }

    fn run(&self, server: &ReleaseServer, args: &[&str]) -> Output {
        self.command(server).args(args).output().unwrap()
    }

    fn version(&self) -> String {
        let output = Command::new(self.exe()).arg("--version").output().unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn update_check_reports_and_changes_nothing() {
    let server = ReleaseServer::start();
    let installed = Installed::new();
    server.publish(CURRENT, signed_archive(&next_viban(CURRENT), RELEASE_KEY, &asset_name()));

    let output = installed.run(&server, &["update", "--check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains(&format!("viban {CURRENT} is the newest version")), "{}", text(&output));

    server.publish(NEWER, signed_archive(&next_viban(NEWER), RELEASE_KEY, &asset_name()));
    let output = installed.run(&server, &["update", "--check"]);
    assert!(output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains(&format!("viban {NEWER} is available (this is {CURRENT})")), "{said}");
    assert!(said.contains("Install it with `viban update`"), "{said}");

    assert_eq!(installed.version(), format!("viban {CURRENT}"));
    assert_eq!(installed.files(), ["viban"], "a check leaves the folder as it was");
    assert_eq!(server.downloads(), 0, "a check downloads nothing");
}

#[test]
fn a_newer_signed_release_installs_and_runs_keeping_the_previous_binary() {
    let server = ReleaseServer::start();
    let installed = Installed::new();
    let original = std::fs::read(installed.exe()).unwrap();
    server.publish(NEWER, signed_archive(&next_viban(NEWER), RELEASE_KEY, &asset_name()));

    let output = installed.run(&server, &["update"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains(&format!("Updated viban {CURRENT} → {NEWER}")), "{}", text(&output));
    assert_eq!(installed.version(), format!("viban {NEWER}"), "the new binary runs");
    assert_eq!(std::fs::read(installed.old()).unwrap(), original, "the previous binary is kept");
    assert_eq!(installed.files(), ["viban", "viban.old"], "nothing else is left behind");
}

#[test]
fn rollback_swaps_in_the_binary_the_update_replaced() {
    let server = ReleaseServer::start();
    let installed = Installed::new();
    let original = std::fs::read(installed.exe()).unwrap();
    // As an update leaves it: a newer viban installed, this one kept as viban.old. The
    // newer one is this binary too (so it has `rollback`); the kept one a stand-in.
    std::fs::write(installed.old(), next_viban("0.0.1")).unwrap();
    assert!(Command::new("chmod").arg("755").arg(installed.old()).status().unwrap().success());

    let output = installed.run(&server, &["rollback"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("Rolled back to viban 0.0.1; viban {CURRENT} is kept")),
        "{}",
        text(&output)
    );
    assert_eq!(installed.version(), "viban 0.0.1");
    assert_eq!(std::fs::read(installed.old()).unwrap(), original);
    assert_eq!(installed.files(), ["viban", "viban.old"]);
    // The next start does not install again what was rolled back from.
    let known: Value =
        serde_json::from_slice(&std::fs::read(installed.home.path().join("update.json")).unwrap()).unwrap();
    assert_eq!(known["declined"], CURRENT, "{known}");
    assert!(text(&output).contains(&format!("will not install {CURRENT} by itself again")));

    // With nothing kept there is nothing to go back to, and nothing moves.
    let fresh = Installed::new();
    let output = fresh.run(&server, &["rollback"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("there is no previous binary to go back to"), "{}", text(&output));
    assert_eq!(fresh.files(), ["viban"]);
}

#[test]
fn tampered_wrong_key_renamed_and_broken_releases_are_refused() {
    let target = self_update::get_target();
    let other_target = if target.starts_with("x86_64") {
        target.replacen("x86_64", "aarch64", 1)
    } else {
        target.replacen("aarch64", "x86_64", 1)
    };
    let good = signed_archive(&next_viban(NEWER), RELEASE_KEY, &asset_name());
    let mut tampered = good.clone();
    let middle = tampered.len() - 40;
    tampered[middle] ^= 0x55;
    let cases = [
        ("tampered", tampered, "no valid signature from viban's release key"),
        (
            "wrong key",
            signed_archive(&next_viban(NEWER), OTHER_KEY, &asset_name()),
            "no valid signature from viban's release key",
        ),
        (
            "renamed",
            signed_archive(&next_viban(NEWER), RELEASE_KEY, &format!("viban-{other_target}.tar.gz")),
            "no valid signature from viban's release key",
        ),
        (
            "broken",
            signed_archive(&next_viban("0.0.1"), RELEASE_KEY, &asset_name()),
            &format!("does not run as viban {NEWER}"),
        ),
    ];
    for (case, archive, expected) in cases {
        let server = ReleaseServer::start();
        let installed = Installed::new();
        let original = std::fs::read(installed.exe()).unwrap();
        server.publish(NEWER, archive);
        let output = installed.run(&server, &["update"]);
        assert_eq!(output.status.code(), Some(1), "{case}: {}", text(&output));
        assert!(text(&output).contains(expected), "{case}: {}", text(&output));
        assert!(text(&output).contains("nothing was installed"), "{case}: {}", text(&output));
        assert_eq!(std::fs::read(installed.exe()).unwrap(), original, "{case}: the binary is unchanged");
        assert_eq!(installed.files(), ["viban"], "{case}: nothing is left behind");
    }
}

#[test]
fn updates_are_off_with_the_reason_when_the_folder_is_not_writable() {
    // root writes anywhere, so this runs as `nobody` on a root-owned folder.
    let server = ReleaseServer::start();
    server.publish(NEWER, signed_archive(&next_viban(NEWER), RELEASE_KEY, &asset_name()));
    let installed = Installed::new();
    let original = std::fs::read(installed.exe()).unwrap();
    for path in [installed.dir.path(), installed.home.path()] {
        assert!(Command::new("chmod").arg("755").arg(path).status().unwrap().success());
    }
    assert!(Command::new("chown").arg("nobody").arg(installed.home.path()).status().unwrap().success());
    let as_nobody = |args: &[&str]| {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(installed.exe())
            .args(args)
            .env("VIBAN_HOME", installed.home.path())
            .env("VIBAN_UPDATE_URL", &server.url)
            .env("VIBAN_UPDATE_KEY", key_hex(RELEASE_KEY));
        command.output().unwrap()
    };

    let output = as_nobody(&["update"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("viban cannot replace itself"), "{said}");
    assert!(said.contains("is not writable"), "{said}");
    assert!(said.contains("~/.local/bin"), "{said}");

    let output = as_nobody(&["update", "--check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains(&format!("viban {NEWER} is available")), "{}", text(&output));
    assert!(text(&output).contains("is not writable"), "{}", text(&output));
    assert_eq!(std::fs::read(installed.exe()).unwrap(), original);
    assert_eq!(server.downloads(), 0);
}

/// viban serving from the installed copy, with the fake Claude on PATH.
fn serve(installed: &Installed, server: &ReleaseServer, env: &[(&str, &str)]) -> Viban {
    let path = format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut command = installed.command(server);
    command.args(["serve", "--no-browser", "--headless", "--port", "0"]).env("PATH", path);
    for (name, value) in env {
        command.env(name, value);
    }
    let viban = Viban::spawn_command(installed.home.path(), command);
    viban.wait_healthy(common::START_TIMEOUT);
    viban
}

#[test]
fn the_server_reports_an_update_and_applies_it_only_when_no_agent_runs() {
    let server = ReleaseServer::start();
    server.publish(NEWER, signed_archive(&next_viban(NEWER), RELEASE_KEY, &asset_name()));
    let installed = Installed::new();
    let original = std::fs::read(installed.exe()).unwrap();
    let mut viban = serve(&installed, &server, &[]);

    let status = viban.get("/api/update").json();
    assert_eq!(status["current"], CURRENT);
    assert_eq!(status["available"], Value::Null, "nothing is known before a check: {status}");
    assert_eq!(status["daily_check"], false, "VIBAN_NO_UPDATE turns the daily check off");
    assert_eq!(status["disabled"], Value::Null);
    assert_eq!(server.requests(), 0);

    let checked = viban.send_json("POST", "/api/update/check", &json!({}));
    assert_eq!(checked.status, 200, "{}", checked.text());
    assert_eq!(checked.json()["available"], NEWER);
    assert_eq!(viban.get("/api/update").json()["available"], NEWER, "the UI learns it from the server");

    // An agent run holds the update off.
    let repo = tempfile::tempdir().unwrap();
    common::repository(repo.path());
    let board = common::board_on(&viban, repo.path(), json!({}));
    let task = viban.send_json("POST", &format!("/api/boards/{board}/tasks"), &json!({ "title": "Wait" }));
    let task_id = task.json()["id"].as_str().unwrap().to_string();
    let run =
        viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({ "prompt": "MODE:hang" }));
    assert_eq!(run.status, 202, "{}", run.text());
    let refused = viban.send_json("POST", "/api/update/apply", &json!({}));
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.header("content-type"), Some("application/problem+json"));
    assert!(
        refused.json()["detail"].as_str().unwrap().contains("1 agent run is active"),
        "{}",
        refused.text()
    );
    assert_eq!(std::fs::read(installed.exe()).unwrap(), original, "nothing was installed");
    assert_eq!(server.downloads(), 0);

    let stopped = viban.send_json("POST", &format!("/api/tasks/{task_id}/stop"), &json!({}));
    assert_eq!(stopped.status, 202, "{}", stopped.text());
    assert!(eventually(Duration::from_secs(30), || viban.get("/api/update").json()["active_runs"] == 0));

    // Now it installs, keeps the previous binary and restarts into the new one with
    // the same arguments.
    let applied = viban.send_json("POST", "/api/update/apply", &json!({}));
    assert_eq!(applied.status, 202, "{}", applied.text());
    assert_eq!(applied.json(), json!({ "status": "restarting", "version": NEWER }));
    let started_with = installed.dir.path().join("started-with");
    assert!(eventually(Duration::from_secs(60), || started_with.exists()), "{}", viban.output());
    assert_eq!(
        std::fs::read_to_string(&started_with).unwrap().trim(),
        "serve --no-browser --headless --port 0"
    );
    assert_eq!(std::fs::read(installed.old()).unwrap(), original);
    let status = viban.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some_and(|status| status.success()),
        "the stand-in exits 0 in viban's place (same pid): {}",
        viban.output()
    );
    assert!(viban.stdout().contains("Restarting into the updated viban"), "{}", viban.output());
}

/// The daily check on, due a second after start.
const SOON: [(&str, &str); 2] = [("VIBAN_NO_UPDATE", "0"), ("VIBAN_UPDATE_FIRST_CHECK_SECONDS", "1")];

#[test]
fn the_daily_check_runs_once_a_day_and_not_with_viban_no_update() {
    let server = ReleaseServer::start();
    server.publish(CURRENT, signed_archive(&next_viban(CURRENT), RELEASE_KEY, &asset_name()));
    let installed = Installed::new();

    let viban = serve(&installed, &server, &SOON);
    assert_eq!(viban.get("/api/update").json()["daily_check"], true);
    assert!(
        eventually(Duration::from_secs(30), || viban.get("/api/update").json()["checked_at"].is_string()),
        "the daily check asked: {}",
        viban.output()
    );
    assert_eq!(viban.get("/api/update").json()["available"], Value::Null, "up to date");
    let asked = server.requests();
    assert!(asked >= 1);
    drop(viban);

    // A restart within the day does not ask again, even with a release out since.
    server.publish(NEWER, signed_archive(&next_viban(NEWER), RELEASE_KEY, &asset_name()));
    let viban = serve(&installed, &server, &SOON);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(server.requests(), asked, "checked at most daily");
    assert_eq!(viban.get("/api/update").json()["available"], Value::Null);
    drop(viban);

    // VIBAN_NO_UPDATE: no check at all, even when one is due.
    std::fs::remove_file(installed.home.path().join("update.json")).unwrap();
    let viban =
        serve(&installed, &server, &[("VIBAN_NO_UPDATE", "1"), ("VIBAN_UPDATE_FIRST_CHECK_SECONDS", "1")]);
    assert_eq!(viban.get("/api/update").json()["daily_check"], false);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(server.requests(), asked, "no request with VIBAN_NO_UPDATE");
    assert_eq!(viban.get("/api/update").json()["available"], Value::Null);
    drop(viban);

    // Due again: it finds the release and remembers it across a restart.
    let viban = serve(&installed, &server, &SOON);
    wait_until_it_finds_newer(&viban);
    drop(viban);
    let known: Value =
        serde_json::from_slice(&std::fs::read(installed.home.path().join("update.json")).unwrap()).unwrap();
    assert_eq!(known["available"], NEWER);
}

fn wait_until_it_finds_newer(viban: &Viban) {
    assert!(
        eventually(Duration::from_secs(30), || viban.get("/api/update").json()["available"] == NEWER),
        "the daily check found the release: {}",
        viban.output()
    );
}

/// `viban serve` from the installed copy, not waiting for it to become healthy.
fn spawn_serve(installed: &Installed, server: &ReleaseServer, env: &[(&str, &str)]) -> Viban {
    let mut command = installed.command(server);
    command.args(["serve", "--no-browser", "--headless", "--port", "0"]);
    for (name, value) in env {
        command.env(name, value);
    }
    Viban::spawn_command(installed.home.path(), command)
}

/// An installed viban whose daily check found release NEWER, signed by `key`, and
/// which then stopped; with the installed binary as it was.
fn found_by_the_daily_check(key: [u8; 32]) -> (ReleaseServer, Installed, Vec<u8>) {
    let server = ReleaseServer::start();
    server.publish(NEWER, signed_archive(&next_viban(NEWER), key, &asset_name()));
    let installed = Installed::new();
    let original = std::fs::read(installed.exe()).unwrap();
    let viban = serve(&installed, &server, &SOON);
    wait_until_it_finds_newer(&viban);
    drop(viban);
    assert_eq!(server.downloads(), 0, "a check downloads nothing");
    (server, installed, original)
}

#[test]
fn a_release_the_daily_check_found_is_installed_at_the_next_start() {
    let (server, installed, original) = found_by_the_daily_check(RELEASE_KEY);

    // With automatic updates off, a start leaves it to the user.
    let viban = serve(&installed, &server, &[("VIBAN_NO_UPDATE", "1")]);
    assert_eq!(viban.get("/api/update").json()["available"], NEWER);
    drop(viban);
    assert_eq!(std::fs::read(installed.exe()).unwrap(), original);
    assert_eq!(server.downloads(), 0);

    // Otherwise the next start installs it before anything runs, and becomes it, with
    // the same arguments.
    let mut viban = spawn_serve(&installed, &server, &[("VIBAN_NO_UPDATE", "0")]);
    let exit = viban.wait_exit(Duration::from_secs(60));
    assert!(exit.is_some_and(|status| status.success()), "{}", viban.output());
    let started_with = installed.dir.path().join("started-with");
    assert_eq!(
        std::fs::read_to_string(&started_with).unwrap_or_default().trim(),
        "serve --no-browser --headless --port 0",
        "{}",
        viban.output()
    );
    assert_eq!(installed.version(), format!("viban {NEWER}"));
    assert_eq!(std::fs::read(installed.old()).unwrap(), original, "the previous binary is kept");
    assert!(viban.output().contains(&format!("Installing viban {NEWER}, found by the last update check")));
    assert!(!viban.output().contains("ready in"), "no server was started first: {}", viban.output());
}

#[test]
fn a_release_that_fails_to_install_at_start_is_not_tried_at_every_start() {
    let (server, installed, original) = found_by_the_daily_check(OTHER_KEY);

    // The start goes on with this version, and says why.
    let viban = serve(&installed, &server, &[("VIBAN_NO_UPDATE", "0")]);
    assert_eq!(server.downloads(), 1);
    assert_eq!(std::fs::read(installed.exe()).unwrap(), original);
    assert!(!installed.old().exists());
    assert!(viban.output().contains(&format!("viban {NEWER} was not installed")), "{}", viban.output());
    let status = viban.get("/api/update").json();
    assert_eq!(status["current"], CURRENT);
    let error = status["error"].as_str().unwrap_or_default();
    assert!(error.contains("could not be installed at start") && error.contains("signature"), "{status}");
    drop(viban);

    // The next start does not download it again.
    let viban = serve(&installed, &server, &[("VIBAN_NO_UPDATE", "0")]);
    assert_eq!(viban.get("/api/update").json()["current"], CURRENT);
    drop(viban);
    assert_eq!(server.downloads(), 1);
}

#[test]
fn an_unreachable_release_server_is_the_checks_error_not_a_failure() {
    let installed = Installed::new();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = Command::new(installed.exe())
        .args(["update", "--check"])
        .env("VIBAN_HOME", installed.home.path())
        .env("VIBAN_UPDATE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains(&format!("could not reach the release server {url}")),
        "{}",
        text(&output)
    );

    let server = ReleaseServer { url, files: Arc::default(), requests: Arc::default() };
    let viban = serve(&installed, &server, &[]);
    let checked = viban.send_json("POST", "/api/update/check", &json!({}));
    assert_eq!(checked.status, 200, "{}", checked.text());
    let status = checked.json();
    assert!(status["error"].as_str().unwrap().contains("could not reach the release server"), "{status}");
    assert!(status["checked_at"].is_string());
    let applied = viban.send_json("POST", "/api/update/apply", &json!({}));
    assert_eq!(applied.status, 409, "{}", applied.text());
    assert!(applied.json()["detail"].as_str().unwrap().contains("no update is available"));
}
