//! `viban service install|uninstall` on Linux: the systemd user unit it writes is
//! valid (`systemd-analyze verify`), runs `serve --headless --no-browser` on this
//! home, and is enabled and removed through `systemctl --user`; when systemd cannot
//! be reached the unit is still written and the message says how to enable it.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, fixtures};

struct User {
    home: tempfile::TempDir,
    log: PathBuf,
}

impl User {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let log = home.path().join("systemctl.log");
        Self { home, log }
    }

    fn unit(&self) -> PathBuf {
        self.home.path().join(".config/systemd/user/viban.service")
    }

    fn viban_home(&self) -> PathBuf {
        self.home.path().join("viban-home")
    }

    /// `viban service <action>` as this user, with the fake systemctl when `fake`.
    fn service(&self, action: &str, fake: bool) -> Output {
        self.service_with(action, fake, &[])
    }

    fn service_with(&self, action: &str, fake: bool, env: &[(&str, &str)]) -> Output {
        let mut path = std::env::var("PATH").unwrap_or_default();
        if fake {
            path = format!("{}:{path}", fixtures().join("service-bin").display());
        }
        Command::new(BIN)
            .args(["--home", self.viban_home().to_str().unwrap(), "service", action])
            .env("HOME", self.home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env("PATH", path)
            .env("FAKE_SYSTEMCTL_LOG", &self.log)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    fn systemctl_calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(String::from).collect()
    }
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn verify(unit: &Path) {
    let verified =
        Command::new("systemd-analyze").arg("verify").arg(unit).output().expect(
            "systemd-analyze (Debian's systemd package) must be installed; scripts/test.sh installs it",
        );
    assert!(verified.status.success(), "{}", said(&verified));
}

#[test]
fn install_writes_a_valid_unit_running_this_viban_headless_and_enables_it() {
    let user = User::new();
    let output = user.service("install", true);
    assert!(output.status.success(), "{}", said(&output));
    let unit = std::fs::read_to_string(user.unit()).unwrap();
    let exe = Path::new(BIN).canonicalize().unwrap();
    let exec = format!(
        "ExecStart=\"{}\" \"serve\" \"--headless\" \"--no-browser\" \"--home\" \"{}\"",
        exe.display(),
        user.viban_home().display()
    );
    assert!(unit.contains(&exec), "{unit}");
    assert!(
        unit.contains(&format!("Environment=\"PATH={}", fixtures().join("service-bin").display())),
        "{unit}"
    );
    verify(&user.unit());
    assert_eq!(user.systemctl_calls(), ["--user daemon-reload", "--user enable --now viban.service"]);
}

#[test]
fn without_a_reachable_systemd_the_unit_is_written_and_the_message_says_how_to_enable_it() {
    let user = User::new();
    let output = user.service_with("install", true, &[("FAKE_SYSTEMCTL_EXIT", "1")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(said(&output).contains("systemctl --user enable --now viban.service"), "{}", said(&output));
    verify(&user.unit());
}

#[test]
fn uninstall_stops_and_removes_the_service_and_is_idempotent() {
    let user = User::new();
    assert!(user.service("install", true).status.success());
    let output = user.service("uninstall", true);
    assert!(output.status.success(), "{}", said(&output));
    assert!(!user.unit().exists());
    assert!(user.systemctl_calls().contains(&"--user disable --now viban.service".to_string()));
    let again = user.service("uninstall", true);
    assert!(again.status.success());
    assert!(said(&again).contains("no viban service is installed"), "{}", said(&again));
}
