//! `viban service install|uninstall` (R3): viban started at login in the background,
//! `serve --headless --no-browser` — a systemd user unit on Linux, a launchd agent on
//! macOS — from the templates in `installer/`, filled in with this binary, this home
//! and the installing shell's PATH (a service's own PATH is thin, and agents, git
//! and gh must be found as they are in the shell).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::home::Home;
use crate::process::{self, Privilege};

const SYSTEMD_UNIT: &str = include_str!("../installer/viban.service");
const LAUNCHD_AGENT: &str = include_str!("../installer/dev.viban.plist");
const UNIT_NAME: &str = "viban.service";
const AGENT_LABEL: &str = "dev.viban";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Action {
    /// Register viban to start at login, and start it now.
    Install,
    /// Stop the service and remove it.
    Uninstall,
}

pub fn run(home: &Home, action: Action) -> anyhow::Result<ExitCode> {
    if cfg!(target_os = "macos") {
        launchd(home, action)
    } else if cfg!(target_os = "linux") {
        systemd(home, action)
    } else {
        bail!(
            "`viban service` knows systemd (Linux) and launchd (macOS); on Windows, add viban to the Startup folder"
        )
    }
}

/// The command line the service runs.
fn service_command(home: &Home) -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("could not tell where this viban binary is")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    Ok(vec![
        exe.display().to_string(),
        "serve".into(),
        "--headless".into(),
        "--no-browser".into(),
        "--home".into(),
        home.root().display().to_string(),
    ])
}

fn user_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
}

fn systemd(home: &Home, action: Action) -> anyhow::Result<ExitCode> {
    let config =
        directories::BaseDirs::new().context("could not find your home folder")?.config_dir().to_path_buf();
    let unit = config.join("systemd/user").join(UNIT_NAME);
    match action {
        Action::Install => {
            let exec: Vec<String> = service_command(home)?.iter().map(|arg| systemd_quote(arg)).collect();
            let text = SYSTEMD_UNIT
                .replace("@EXEC@", &exec.join(" "))
                .replace("@PATH@", &environment_escape(&user_path()));
            write(&unit, &text)?;
            println!("wrote {}", unit.display());
            let enabled =
                systemctl(&["daemon-reload"]).and_then(|()| systemctl(&["enable", "--now", UNIT_NAME]));
            match enabled {
                Ok(()) => {
                    println!("viban runs in the background now and at every login; `viban status` shows it");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    eprintln!(
                        "viban: systemd did not enable it: {why}\n  the unit is written; in a login session, run: \
                         systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Action::Uninstall => {
            if !unit.exists() {
                println!("no viban service is installed ({} does not exist)", unit.display());
                return Ok(ExitCode::SUCCESS);
            }
            if let Err(why) = systemctl(&["disable", "--now", UNIT_NAME]) {
                eprintln!("viban: systemd could not stop the service ({why}); removing it anyway");
            }
            std::fs::remove_file(&unit).with_context(|| format!("could not remove {}", unit.display()))?;
            let _ = systemctl(&["daemon-reload"]);
            println!("removed {}", unit.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn launchd(home: &Home, action: Action) -> anyhow::Result<ExitCode> {
    let base = directories::BaseDirs::new().context("could not find your home folder")?;
    let plist = base.home_dir().join("Library/LaunchAgents").join(format!("{AGENT_LABEL}.plist"));
    match action {
        Action::Install => {
            let arguments: Vec<String> = service_command(home)?
                .iter()
                .map(|arg| format!("    <string>{}</string>", xml_escape(arg)))
                .collect();
            let text = LAUNCHD_AGENT
                .replace("@ARGUMENTS@", &arguments.join("\n"))
                .replace("@PATH@", &xml_escape(&user_path()))
                .replace("@LOG@", &xml_escape(&home.logs_dir().join("service.log").display().to_string()));
            write(&plist, &text)?;
            println!("wrote {}", plist.display());
            let plist_arg = plist.display().to_string();
            let _ = run_tool("launchctl", &["unload", &plist_arg]);
            match run_tool("launchctl", &["load", "-w", &plist_arg]) {
                Ok(()) => {
                    println!("viban runs in the background now and at every login; `viban status` shows it");
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    eprintln!("viban: launchd did not load it: {why}\n  run: launchctl load -w {plist_arg}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Action::Uninstall => {
            if !plist.exists() {
                println!("no viban service is installed ({} does not exist)", plist.display());
                return Ok(ExitCode::SUCCESS);
            }
            let _ = run_tool("launchctl", &["unload", "-w", &plist.display().to_string()]);
            std::fs::remove_file(&plist).with_context(|| format!("could not remove {}", plist.display()))?;
            println!("removed {}", plist.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("could not create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

fn systemctl(args: &[&str]) -> Result<(), String> {
    let mut all = vec!["--user"];
    all.extend_from_slice(args);
    run_tool("systemctl", &all)
}

/// Runs a service manager's command; its own words on failure.
fn run_tool(program: &str, args: &[&str]) -> Result<(), String> {
    let path: PathBuf =
        process::find_program(program).ok_or_else(|| format!("{program} is not installed"))?;
    let mut command = process::command(path, Privilege::Inherit);
    command.args(args);
    let output = process::output_with_timeout(&mut command, std::time::Duration::from_secs(30))
        .map_err(|error| format!("{program} {}: {error}", args.join(" ")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!("`{program} {}` said: {}", args.join(" "), stderr.trim()))
}

/// One argument of an `ExecStart=` line: quoted, `\` and `"` escaped, `%` and `$`
/// doubled so systemd takes them literally.
fn systemd_quote(arg: &str) -> String {
    let escaped = arg.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%").replace('$', "$$");
    format!("\"{escaped}\"")
}

/// A value inside `Environment="NAME=…"`.
fn environment_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%")
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_for_systemd() {
        assert_eq!(systemd_quote("/opt/my apps/viban"), "\"/opt/my apps/viban\"");
        assert_eq!(systemd_quote("100%$HOME\\\""), "\"100%%$$HOME\\\\\\\"\"");
    }
}
