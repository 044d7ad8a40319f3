//! The embedded web shell (L6) and the command line (L2), against the real binary.

mod common;

use common::{Viban, run_cli, temp_home};

fn bearer(viban: &Viban) -> String {
    format!("Bearer {}", viban.token())
}

#[test]
fn index_is_served_no_cache_and_names_its_hashed_assets() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let index = viban.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert!(index.header("content-type").unwrap().starts_with("text/html"));
    let html = index.text();
    assert!(html.contains(r#"<div id="app">"#), "{html}");
    assert!(html.contains("/assets/index-") && html.contains(".js"), "{html}");
}

#[test]
fn hashed_assets_are_immutable_and_gzip_compressed() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let html = viban.get("/").text();
    let script =
        html.split('"').find(|part| part.starts_with("/assets/") && part.ends_with(".js")).expect("script");
    let auth = bearer(&viban);
    let plain = viban.request("GET", script, &[("Authorization", &auth)], b"");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert!(plain.header("content-type").unwrap().starts_with("text/javascript"));
    assert!(plain.header("content-encoding").is_none());

    let gzipped =
        viban.request("GET", script, &[("Authorization", &auth), ("Accept-Encoding", "gzip, br")], b"");
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(gzipped.body.len() < plain.body.len());
    assert_eq!(&gzipped.body[..2], &[0x1f, 0x8b], "a gzip stream");

    // An old hash after an upgrade is a 404, not index.html served as JavaScript.
    let missing = viban.request("GET", "/assets/index-0000.js", &[("Authorization", &auth)], b"");
    assert_eq!(missing.status, 404);
}

#[test]
fn unknown_page_paths_fall_back_to_the_app_and_unknown_api_paths_are_json_404s() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let page = viban.get("/boards/x");
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), viban.get("/").text());

    let api = viban.get("/api/nope");
    assert_eq!(api.status, 404);
    assert_eq!(api.header("content-type"), Some("application/problem+json"));
    assert!(api.json()["detail"].as_str().unwrap().contains("/api/nope"));
}

#[test]
fn api_json_is_compressed_when_the_client_accepts_it() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let auth = bearer(&viban);
    // Large enough to be worth compressing: the 404 problem for a long path.
    let path = format!("/api/{}", "x".repeat(400));
    let response = viban.request("GET", &path, &[("Authorization", &auth), ("Accept-Encoding", "gzip")], b"");
    assert_eq!(response.header("content-encoding"), Some("gzip"), "{:?}", response.headers);
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let output = run_cli(temp_home().path(), &["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "status", "stop", "open", "doctor", "Exit codes", "--home"] {
        assert!(help.contains(command), "{command} missing from\n{help}");
    }
    let serve = run_cli(temp_home().path(), &["serve", "--help"]);
    let serve = String::from_utf8_lossy(&serve.stdout);
    for flag in
        ["--no-browser", "--headless", "--port", "--host", "--database-url", "VIBAN_PORT", "DATABASE_URL"]
    {
        assert!(serve.contains(flag), "{flag} missing from\n{serve}");
    }
}

#[test]
fn version_prints_the_package_version() {
    let output = run_cli(temp_home().path(), &["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("viban {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_command_line_exits_2_with_a_hint() {
    let output = run_cli(temp_home().path(), &["serve", "--port", "seventy"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--port"));
}

#[test]
fn status_stop_and_open_say_when_viban_is_not_running() {
    let home = temp_home();
    for command in ["status", "stop", "open"] {
        let output = run_cli(home.path(), &[command]);
        assert_eq!(output.status.code(), Some(3), "{command}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("viban is not running"), "{command}");
    }
}

#[test]
fn status_reports_the_running_instance_and_its_database() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let output = run_cli(home.path(), &["status"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "viban is running".to_string(),
        viban.url(),
        format!("pid:      {}", viban.pid),
        env!("CARGO_PKG_VERSION").to_string(),
        home.path().display().to_string(),
        "embedded PostgreSQL 17.10, healthy".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected} missing from\n{text}");
    }
}

#[test]
fn open_prints_a_sign_in_link_when_there_is_no_desktop() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let output = std::process::Command::new(common::BIN)
        .arg("open")
        .env("VIBAN_HOME", home.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let link = format!("{}?token={}", viban.url(), viban.token());
    assert!(text.contains(&link), "{text}");
    // The link works: it signs the browser in.
    let path_and_query = link.trim_start_matches(&viban.url()[..viban.url().len() - 1]);
    assert_eq!(viban.request("GET", path_and_query, &[], b"").status, 303);
}

#[test]
fn stop_shuts_the_running_instance_down_completely() {
    let home = temp_home();
    let mut viban = Viban::start(home.path(), &[]);
    let output = run_cli(home.path(), &["stop"]);
    assert!(output.status.success(), "{output:?}");
    assert!(viban.wait_exit(std::time::Duration::from_secs(15)).is_some_and(|status| status.success()));
    assert!(common::postgres_processes(&home.path().join("data")).is_empty());
    assert_eq!(run_cli(home.path(), &["status"]).status.code(), Some(3));
}

#[test]
fn doctor_checks_the_machine_and_gives_a_fix_for_each_problem() {
    let home = temp_home();
    let output = std::process::Command::new(common::BIN)
        .arg("doctor")
        .env("VIBAN_HOME", home.path())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(&format!("✓ home          {} is writable", home.path().display())), "{text}");
    assert!(text.contains("PostgreSQL 17.10.0 bundled"), "{text}");
    assert!(text.contains("git"), "{text}");
    // No agent CLI on this thin PATH: each is a warning with its install command.
    assert!(text.contains("! claude") && text.contains("npm i -g @anthropic-ai/claude-code"), "{text}");
    assert!(text.contains("! codex") && text.contains("npm i -g @openai/codex"), "{text}");
    assert_eq!(output.status.success(), !text.contains('✗'), "exit 1 exactly when a check failed\n{text}");
}

#[test]
fn a_first_start_writes_a_commented_private_config_file() {
    let home = temp_home();
    let _viban = Viban::start(home.path(), &[]);
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config.toml written");
    assert!(text.contains("# port = 7777"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn config_file_settings_apply_and_the_command_line_overrides_them() {
    let home = temp_home();
    let free = |_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (from_file, from_flag): (u16, u16) = (free(0), free(1));
    std::fs::write(home.path().join("config.toml"), format!("[server]\nport = {from_file}\n")).unwrap();
    // Viban::spawn passes --port 0 unless a port is given; give none via the harness.
    let mut command = std::process::Command::new(common::BIN);
    command.args(["serve", "--no-browser"]).env("VIBAN_HOME", home.path()).env_remove("VIBAN_PORT");
    let viban = Viban::spawn_command(home.path(), command);
    viban.wait_healthy(common::START_TIMEOUT);
    assert_eq!(viban.addr().port(), from_file);
    drop(viban);

    let viban = Viban::start(home.path(), &["--port", &from_flag.to_string()]);
    assert_eq!(viban.addr().port(), from_flag);
}

#[test]
fn an_invalid_config_file_stops_viban_naming_the_file_and_the_key() {
    let home = temp_home();
    std::fs::write(home.path().join("config.toml"), "[server]\nprot = 8080\n").unwrap();
    let output = run_cli(home.path(), &["serve", "--no-browser", "--port", "0"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("config.toml") && stderr.contains("prot"), "{stderr}");
    assert!(!home.path().join("data").exists(), "nothing started");
}

#[test]
fn a_first_start_on_a_terminal_shows_progress_while_extracting() {
    let home = temp_home();
    // script(1) gives viban a real pseudo-terminal, as a user's shell would.
    let command = format!("VIBAN_HOME={} {} serve --no-browser --port 0", home.path().display(), common::BIN);
    let mut script = std::process::Command::new("script");
    script.args(["-qfec", &command, "/dev/null"]);
    let mut viban = Viban::spawn_command(home.path(), script);
    viban.wait_healthy(common::START_TIMEOUT);
    // Stop before asserting, so a failure leaves nothing running under script(1).
    run_cli(home.path(), &["stop"]);
    viban.wait_exit(std::time::Duration::from_secs(15));
    let screen = viban.stdout();
    assert!(screen.contains("Extracting PostgreSQL 17.10.0 (first run only)… "), "{screen}");
    assert!(screen.contains("✓ Extracting PostgreSQL 17.10.0 (first run only) ("), "{screen}");
    assert!(screen.contains("✓ Creating the database cluster"), "{screen}");
    // On a terminal the sign-in link is printed for the user to click.
    assert!(screen.contains("Sign in with: http://127.0.0.1:"), "{screen}");
}

#[test]
fn a_failed_first_start_step_is_marked_failed_with_the_reason() {
    use std::os::unix::fs::PermissionsExt;
    let home = temp_home();
    // PostgreSQL "installed", with an initdb that fails as a broken one would.
    let bin = home.path().join("pg/17.10.0/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("postgres"), "").unwrap();
    std::fs::write(bin.join("initdb"), "#!/bin/sh\necho 'initdb: error: the disk is on fire' >&2\nexit 1\n")
        .unwrap();
    std::fs::set_permissions(bin.join("initdb"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let command = format!("VIBAN_HOME={} {} serve --no-browser --port 0", home.path().display(), common::BIN);
    let output =
        std::process::Command::new("script").args(["-qfec", &command, "/dev/null"]).output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{screen}");
    assert!(screen.contains("✗ Creating the database cluster (first run only) ("), "{screen}");
    assert!(!screen.contains("✓ Creating the database cluster"), "{screen}");
    assert!(screen.contains("the disk is on fire"), "{screen}");
    assert!(!home.path().join("data").exists(), "no half-made cluster is left: {screen}");
}

/// Debian's Chromium (scripts/test.sh installs it), or VIBAN_TEST_CHROMIUM.
fn chromium() -> String {
    let path = std::env::var("VIBAN_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).is_file(),
        "{path} not found: scripts/test.sh installs Debian's chromium, or set VIBAN_TEST_CHROMIUM"
    );
    path
}

/// The page at `path` as headless Chromium leaves it after following the sign-in link
/// there and running its scripts for (virtual) ten seconds.
fn signed_in_dom(viban: &Viban, path: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("{}{path}?token={}", viban.url(), viban.token()))
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn in_a_real_browser_the_sign_in_link_opens_the_app_with_versions_and_live_socket() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let dom = signed_in_dom(&viban, "system");
    // The token was swapped for a cookie, the script then called the API with it…
    assert!(dom.contains(&format!(r#">{}</dd>"#, env!("CARGO_PKG_VERSION"))), "{dom}");
    assert!(dom.contains(">17.10</dd>"), "{dom}");
    // …and opened the WebSocket, which the Origin check let through.
    assert!(dom.contains("connection live") && dom.contains(">Live</span>"), "{dom}");
}

#[test]
fn in_a_real_browser_the_shell_says_when_a_newer_viban_is_available() {
    let home = temp_home();
    // What a daily check leaves behind when it found a release.
    let checked_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let known = serde_json::json!({ "available": "1000.0.0", "checked_at": checked_at, "error": null });
    std::fs::write(home.path().join("update.json"), known.to_string()).unwrap();
    let viban = Viban::start(home.path(), &[]);
    let dom = signed_in_dom(&viban, "");
    let notice =
        format!("viban <strong>1000.0.0</strong> is available (this is {}).", env!("CARGO_PKG_VERSION"));
    assert!(dom.contains(&notice), "{dom}");
    assert!(dom.contains(">Restart to update</button>"), "{dom}");
}
