//! The tray (R1): its menu's actions through the control channel, the headless
//! fallback, and the real icon in a real panel — Xvfb, a D-Bus session bus and
//! xfce4-panel, whose status tray hosts StatusNotifierItems — clicked over D-Bus the
//! way the panel does it. `scripts/test.sh` installs those from Debian.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{BIN, Viban, eventually, temp_home};
use serde_json::{Value, json};

/// Sends one line to `run/control.sock` and returns the JSON answer.
fn control(home: &Path, command: &str) -> Value {
    let mut stream =
        UnixStream::connect(home.join("run/control.sock")).expect("connect to the control socket");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    writeln!(stream, "{command}").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line:?}"))
}

fn menu(status: &Value) -> Vec<String> {
    status["menu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["label"].as_str().unwrap().to_string())
        .collect()
}

/// PostgreSQL processes serving this home's data directory.
fn postgres_of(home: &Path) -> Vec<String> {
    let output = Command::new("pgrep").arg("-af").arg(home.join("data").to_str().unwrap()).output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("postgres"))
        .map(String::from)
        .collect()
}

fn wait_for_server(home: &Path, state: &str) -> Value {
    let mut last = Value::Null;
    let reached = eventually(Duration::from_secs(60), || {
        last = control(home, "status");
        last["server"] == state
    });
    assert!(reached, "the server did not become {state}: {last}");
    last
}

#[test]
fn the_menus_actions_stop_and_start_the_server_inside_the_process() {
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    common::repository(repo.path());
    let path =
        format!("{}:{}", common::fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut viban = Viban::spawn(home.path(), &[], &[("PATH", path.as_str())]);
    viban.wait_healthy(common::START_TIMEOUT);
    let url = viban.url();
    let board = common::board_on(&viban, repo.path(), json!({}));

    let status = control(home.path(), "status");
    assert_eq!(status["server"], "running");
    assert_eq!(status["url"], url);
    assert_eq!(
        menu(&status),
        ["Open viban", "Stop server", "No agents running", "Check for updates", "Quit viban"]
    );

    // Stop server: the HTTP server and PostgreSQL go, the process and its lock stay.
    assert!(!postgres_of(home.path()).is_empty());
    control(home.path(), "stop");
    let status = wait_for_server(home.path(), "stopped");
    assert_eq!(menu(&status)[1], "Start server");
    assert_eq!(status["url"], Value::Null);
    assert!(viban.exit_status().is_none(), "the process keeps running");
    assert!(postgres_of(home.path()).is_empty(), "PostgreSQL stopped: {:?}", postgres_of(home.path()));
    assert!(viban::client::request(viban_addr(&url), "GET", "/api/health", &[], b"").is_err());
    let status = common::run_cli(home.path(), &["status"]);
    assert_eq!(status.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&status.stdout).contains("with its server stopped from the tray"));

    // Start server: back on the same address, with the same data.
    control(home.path(), "start");
    wait_for_server(home.path(), "running");
    viban.wait_healthy(common::START_TIMEOUT);
    assert_eq!(viban.url(), url, "the same port again, so open pages reconnect");
    assert_eq!(viban.get(&format!("/api/boards/{board}")).status, 200);

    // The agents count follows the runs.
    let task = viban.send_json("POST", &format!("/api/boards/{board}/tasks"), &json!({ "title": "Wait" }));
    let task_id = task.json()["id"].as_str().unwrap().to_string();
    let run =
        viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({ "prompt": "MODE:hang" }));
    assert_eq!(run.status, 202, "{}", run.text());
    assert!(
        eventually(Duration::from_secs(10), || menu(&control(home.path(), "status"))[2] == "1 agent running")
    );

    // Stopped again, a second `viban` starts it rather than waiting for it.
    control(home.path(), "stop");
    wait_for_server(home.path(), "stopped");
    let second = common::run_cli(home.path(), &["serve", "--no-browser", "--headless", "--port", "0"]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stdout).contains(&format!("viban is already running at {url}")));
    wait_for_server(home.path(), "running");

    // Quit: everything stops, the agent too, and the process exits.
    control(home.path(), "quit");
    let exit = viban.wait_exit(Duration::from_secs(60));
    assert!(exit.is_some_and(|status| status.success()), "{}", viban.output());
    assert!(postgres_of(home.path()).is_empty());
    let sessions = Command::new("pgrep").arg("-f").arg("MODE:hang").output().unwrap();
    assert!(
        sessions.stdout.is_empty(),
        "the agent was stopped: {}",
        String::from_utf8_lossy(&sessions.stdout)
    );
    assert!(!home.path().join("run/control.sock").exists());
}

fn viban_addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap()
}

#[test]
fn unknown_control_commands_are_refused_with_the_list() {
    let home = temp_home();
    let _viban = Viban::start(home.path(), &[]);
    let answer = control(home.path(), "reboot");
    assert!(answer["error"].as_str().unwrap().contains("use open, start, stop"), "{answer}");
    assert_eq!(control(home.path(), "status")["server"], "running");
}

#[test]
fn viban_stop_ends_a_viban_whose_server_was_stopped_from_the_tray() {
    let home = temp_home();
    let mut viban = Viban::start(home.path(), &[]);
    control(home.path(), "stop");
    wait_for_server(home.path(), "stopped");

    // No HTTP server to ask: `viban stop` goes through the control endpoint.
    let stop = common::run_cli(home.path(), &["stop"]);
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    assert!(String::from_utf8_lossy(&stop.stdout).contains("viban stopped"));
    let exit = viban.wait_exit(Duration::from_secs(30));
    assert!(exit.is_some_and(|status| status.success()), "{}", viban.output());
    assert!(viban.output().contains("control: quit"), "{}", viban.output());
    assert!(postgres_of(home.path()).is_empty());
}

/// `viban serve` without `--headless`, as a user starts it.
fn serve_with_tray(home: &Path, env: &[(&str, &str)]) -> Viban {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--no-browser", "--port", "0"])
        .env("VIBAN_HOME", home)
        .env_remove("DATABASE_URL")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    for (name, value) in env {
        command.env(name, value);
    }
    let viban = Viban::spawn_command(home, command);
    viban.wait_healthy(common::START_TIMEOUT);
    viban
}

#[test]
fn without_a_display_or_a_session_bus_viban_runs_headless_saying_so_once() {
    let home = temp_home();
    let viban = serve_with_tray(home.path(), &[]);
    assert_eq!(viban.stderr().matches("no tray icon").count(), 1, "{}", viban.output());
    assert!(
        viban
            .stderr()
            .contains("no tray icon: no display (DISPLAY and WAYLAND_DISPLAY are unset); running headless")
    );
    assert_eq!(viban.get("/api/boards").status, 200);
    drop(viban);

    let home = temp_home();
    let viban = serve_with_tray(
        home.path(),
        &[("DISPLAY", ":1234"), ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(viban.stderr().matches("no tray icon").count(), 1, "{}", viban.output());
    assert!(viban.stderr().contains("no tray icon: no D-Bus session bus"), "{}", viban.output());
    assert_eq!(viban.get("/api/boards").status, 200);
}

/// Xvfb, a session bus and (on request) xfce4-panel, stopped when dropped.
struct Desktop {
    dir: tempfile::TempDir,
    display: String,
    bus: String,
    children: Vec<Child>,
}

impl Desktop {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (display, xvfb) = common::xvfb(200 + std::process::id() % 300..600, "480x96x24");
        let children = vec![xvfb];
        let runtime = dir.path().join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        assert!(Command::new("chmod").arg("700").arg(&runtime).status().unwrap().success());
        let bus = format!("unix:path={}", dir.path().join("bus").display());
        let mut desktop = Self { dir, display, bus, children };
        // Services the bus starts (the panel's settings daemon) see the same folders.
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", &format!("--address={}", desktop.bus)])
            .envs(desktop.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        desktop.children.push(daemon);
        assert!(eventually(Duration::from_secs(10), || desktop.dir.path().join("bus").exists()));
        desktop
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISPLAY", self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()),
            ("XDG_CONFIG_HOME", self.dir.path().join("config").display().to_string()),
            ("XDG_RUNTIME_DIR", self.dir.path().join("runtime").display().to_string()),
            ("HOME", self.dir.path().display().to_string()),
            // No accessibility bus: it would outlive the test.
            ("NO_AT_BRIDGE", "1".into()),
        ]
    }

    /// A panel along the top with one plugin: the status tray.
    fn start_panel(&mut self) {
        let config = self.dir.path().join("config/xfce4/xfconf/xfce-perchannel-xml");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("xfce4-panel.xml"), PANEL_CONFIG).unwrap();
        let mut panel = Command::new("xfce4-panel");
        panel.envs(self.env()).stdout(Stdio::null()).stderr(Stdio::null());
        self.children.push(panel.spawn().expect("xfce4-panel (scripts/test.sh installs it)"));
        assert!(
            eventually(Duration::from_secs(30), || self.name_has_owner("org.kde.StatusNotifierWatcher")),
            "the panel's tray never took the StatusNotifierWatcher name"
        );
    }

    fn gdbus(&self, args: &[&str]) -> String {
        let output =
            Command::new("gdbus").args(["call", "--address", &self.bus]).args(args).output().unwrap();
        assert!(output.status.success(), "gdbus {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn name_has_owner(&self, name: &str) -> bool {
        let output = Command::new("gdbus")
            .args(["call", "--address", &self.bus, "--dest", "org.freedesktop.DBus"])
            .args([
                "--object-path",
                "/org/freedesktop/DBus",
                "--method",
                "org.freedesktop.DBus.NameHasOwner",
                name,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).contains("true")
    }

    /// The items registered with the panel's tray.
    fn tray_items(&self) -> String {
        self.gdbus(&[
            "--dest",
            "org.kde.StatusNotifierWatcher",
            "--object-path",
            "/StatusNotifierWatcher",
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.kde.StatusNotifierWatcher",
            "RegisteredStatusNotifierItems",
        ])
    }

    /// The screen as RGB pixels (via xwd and netpbm).
    fn screenshot(&self) -> (usize, usize, Vec<u8>) {
        let script = format!("xwd -root -silent -display '{}' | xwdtopnm 2>/dev/null", self.display);
        let output = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(
            output.status.success(),
            "xwd | xwdtopnm failed (scripts/test.sh installs x11-apps and netpbm)"
        );
        let pnm = output.stdout;
        // P6 <width> <height> 255, then the pixels.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while pnm[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !pnm[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&pnm[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P6");
        let (width, height) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        let samples = &pnm[at + 1..];
        // xwdtopnm writes 16-bit samples (maxval 65535) for some visuals: keep the high byte.
        let rgb =
            if fields[3] == "255" { samples.to_vec() } else { samples.iter().step_by(2).copied().collect() };
        (width, height, rgb)
    }

    fn save_png(&self, path: &Path) {
        let script = format!(
            "xwd -root -silent -display '{}' | xwdtopnm 2>/dev/null | pnmtopng > '{}'",
            self.display,
            path.display()
        );
        assert!(Command::new("sh").args(["-c", &script]).status().unwrap().success());
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const PANEL_CONFIG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="40"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
"#;

/// Pixels of the icon's indigo (#4f46e5) on screen.
fn indigo_pixels((_, _, rgb): &(usize, usize, Vec<u8>)) -> usize {
    rgb.chunks_exact(3)
        .filter(|pixel| {
            pixel[0].abs_diff(0x4f) < 12 && pixel[1].abs_diff(0x46) < 12 && pixel[2].abs_diff(0xe5) < 12
        })
        .count()
}

/// The item's menu as (id, label) pairs, from the dbusmenu layout the panel reads.
fn menu_layout(desktop: &Desktop, item: &str) -> Vec<(String, String)> {
    let layout = desktop.gdbus(&[
        "--dest",
        item,
        "--object-path",
        "/MenuBar",
        "--method",
        "com.canonical.dbusmenu.GetLayout",
        "--",
        "0",
        "-1",
        "[]",
    ]);
    layout
        .split("<(")
        .skip(1)
        .filter_map(|entry| {
            let id = entry.split(',').next()?.trim().to_string();
            let label = entry.split("'label': <'").nth(1)?.split('\'').next()?.to_string();
            Some((id, label))
        })
        .collect()
}

fn click(desktop: &Desktop, item: &str, label: &str) {
    let layout = menu_layout(desktop, item);
    let (id, _) = layout
        .iter()
        .find(|(_, shown)| shown == label)
        .unwrap_or_else(|| panic!("no {label:?} in {layout:?}"));
    desktop.gdbus(&[
        "--dest",
        item,
        "--object-path",
        "/MenuBar",
        "--method",
        "com.canonical.dbusmenu.Event",
        "--",
        id,
        "clicked",
        "<0>",
        "0",
    ]);
}

#[test]
fn the_tray_icon_appears_in_a_panel_and_its_menu_drives_viban() {
    let mut desktop = Desktop::start();
    let env = desktop.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();

    // A session bus but no tray host yet: one line, headless.
    let home = temp_home();
    let viban = serve_with_tray(home.path(), &env);
    assert!(viban.stderr().contains("no tray icon: no system tray on this desktop"), "{}", viban.output());
    drop(viban);

    desktop.start_panel();
    std::thread::sleep(Duration::from_secs(1));
    let before = desktop.screenshot();
    assert_eq!(indigo_pixels(&before), 0, "nothing indigo on the panel before viban");

    // A browser that notes what it was asked to open; CI unset, as on a desktop.
    let browser = tempfile::tempdir().unwrap();
    let opened = browser.path().join("opened");
    std::fs::write(
        browser.path().join("xdg-open"),
        format!("#!/bin/sh\necho \"$@\" >> {}\n", opened.display()),
    )
    .unwrap();
    assert!(
        Command::new("chmod").arg("755").arg(browser.path().join("xdg-open")).status().unwrap().success()
    );
    let path = format!("{}:{}", browser.path().display(), std::env::var("PATH").unwrap_or_default());
    let mut env = env.clone();
    env.extend([("PATH", path.as_str()), ("CI", "")]);

    let home = temp_home();
    let mut viban = serve_with_tray(home.path(), &env);
    assert!(viban.stderr().contains("tray icon shown"), "{}", viban.output());
    let item = format!("org.kde.StatusNotifierItem-{}-1", viban.pid);
    assert!(
        eventually(Duration::from_secs(20), || desktop.tray_items().contains(&item)),
        "the panel's tray lists {item}: {}",
        desktop.tray_items()
    );
    let drawn = eventually(Duration::from_secs(20), || indigo_pixels(&desktop.screenshot()) > 50);
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("tray-under-xvfb.png");
    desktop.save_png(&shot);
    eprintln!("screenshot of the panel with viban's icon: {}", shot.display());
    assert!(drawn, "the icon is drawn: see {}", shot.display());

    let labels =
        |layout: Vec<(String, String)>| layout.into_iter().map(|(_, label)| label).collect::<Vec<_>>();
    let expected = ["Open viban", "Stop server", "No agents running", "Check for updates", "Quit viban"];
    let mut shown = Vec::new();
    let current = eventually(Duration::from_secs(20), || {
        shown = labels(menu_layout(&desktop, &item));
        shown == expected
    });
    assert!(current, "the menu shows {shown:?}");

    // Open viban, from the menu or by a left click on the icon ("activate"): the
    // browser gets the sign-in link.
    let url = viban.url();
    let opened_links = || std::fs::read_to_string(&opened).unwrap_or_default().lines().count();
    click(&desktop, &item, "Open viban");
    assert!(eventually(Duration::from_secs(20), || opened_links() == 1), "{}", viban.output());
    desktop.gdbus(&[
        "--dest",
        &item,
        "--object-path",
        "/StatusNotifierItem",
        "--method",
        "org.kde.StatusNotifierItem.Activate",
        "--",
        "10",
        "10",
    ]);
    assert!(eventually(Duration::from_secs(20), || opened_links() == 2), "{}", viban.output());
    for link in std::fs::read_to_string(&opened).unwrap().lines() {
        assert!(link.starts_with(&format!("{url}?token=")), "{link}");
    }

    // The panel's clicks reach viban: stop, start, quit.
    click(&desktop, &item, "Stop server");
    assert!(
        eventually(Duration::from_secs(60), || labels(menu_layout(&desktop, &item))
            .contains(&"Start server".into())),
        "{}",
        viban.output()
    );
    assert!(postgres_of(home.path()).is_empty());
    click(&desktop, &item, "Start server");
    assert!(eventually(Duration::from_secs(60), || labels(menu_layout(&desktop, &item))
        .contains(&"Stop server".into())));
    viban.wait_healthy(common::START_TIMEOUT);
    assert_eq!(viban.url(), url);
    click(&desktop, &item, "Quit viban");
    let exit = viban.wait_exit(Duration::from_secs(60));
    assert!(exit.is_some_and(|status| status.success()), "{}", viban.output());
    assert!(postgres_of(home.path()).is_empty());
    assert!(
        eventually(Duration::from_secs(10), || !desktop.tray_items().contains(&item)),
        "the icon is gone"
    );
}
