//! `viban service install|uninstall` (R3): viban started at login in the background,
//! `serve --headless --no-browser` — a systemd user unit on Linux, a launchd agent on
//! macOS — from the templates in `installer/`, filled in with this binary, this home
//! and the installing shell's PATH (a service's own PATH is thin, and agents, git
//! and gh must be found as they are in the shell). On Windows it is the user's `Run`
//! registry value, which starts `serve --no-browser` in the desktop session at login,
//! tray icon included.

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
    } else if cfg!(windows) {
        windows_run(home, action)
    } else {
        bail!("`viban service` knows systemd (Linux), launchd (macOS) and Windows' Run key, not this system")
    }
}

/// The command line the service runs: without a tray where it runs outside the desktop.
fn service_command(home: &Home, headless: bool) -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("could not tell where this viban binary is")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    // Windows' canonical form is a verbatim path (\\?\C:\…), which a Run value need not
    // and should not carry.
    let exe = exe.display().to_string();
    let exe = exe.strip_prefix(r"\\?\").map(str::to_string).unwrap_or(exe);
    let mut command = vec![exe, "serve".into()];
    if headless {
        command.push("--headless".into());
    }
    command.extend(["--no-browser".into(), "--home".into(), home.root().display().to_string()]);
    Ok(command)
}

/// Every system's code is compiled everywhere (so each is checked on every build);
/// this one needs the Windows API, which exists only there.
#[cfg(not(windows))]
fn windows_run(_home: &Home, _action: Action) -> anyhow::Result<ExitCode> {
    unreachable!("`run` calls it only on Windows")
}

#[cfg(windows)]
fn windows_run(home: &Home, action: Action) -> anyhow::Result<ExitCode> {
    use windows_sys::Win32::Foundation::ERROR_FILE_NOT_FOUND;
    use windows_sys::Win32::System::Registry::{
        HKEY_CURRENT_USER, REG_SZ, RegDeleteKeyValueW, RegSetKeyValueW,
    };

    /// The per-user `Run` values: Windows starts each when the user logs in.
    const WINDOWS_RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
    let wide = |text: &str| text.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let (key, name) = (wide(WINDOWS_RUN_KEY), wide("viban"));
    let location = format!(r"HKEY_CURRENT_USER\{WINDOWS_RUN_KEY}\viban");
    match action {
        Action::Install => {
            let command = service_command(home, false)?;
            let line = command.iter().map(|arg| windows_quote(arg)).collect::<Vec<_>>().join(" ");
            let data = wide(&line);
            let size = u32::try_from(data.len() * 2).context("the command line is too long")?;
            // SAFETY: NUL-terminated UTF-16 strings that outlive the call; `size` is the
            // byte length of `data`, its terminator included, as REG_SZ wants.
            let status = unsafe {
                RegSetKeyValueW(
                    HKEY_CURRENT_USER,
                    key.as_ptr(),
                    name.as_ptr(),
                    REG_SZ,
                    data.as_ptr().cast(),
                    size,
                )
            };
            if status != 0 {
                bail!("could not write {location} (Windows error {status})");
            }
            println!("wrote {location}: {line}");
            let mut start = std::process::Command::new(&command[0]);
            start.args(&command[1..]).stdin(std::process::Stdio::null());
            match start.spawn() {
                Ok(_) => {
                    println!("viban runs now and at every login, with its tray icon; `viban status` shows it")
                }
                Err(error) => {
                    eprintln!("viban: it will start at the next login; starting it now failed: {error}")
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Uninstall => {
            // SAFETY: NUL-terminated UTF-16 strings that outlive the call.
            let status = unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, key.as_ptr(), name.as_ptr()) };
            match status {
                0 => {
                    println!(
                        "removed {location}; a running viban keeps running until you quit it (tray, or `viban stop`)"
                    );
                    Ok(ExitCode::SUCCESS)
                }
                ERROR_FILE_NOT_FOUND => {
                    println!("no viban service is installed ({location} does not exist)");
                    Ok(ExitCode::SUCCESS)
                }
                status => bail!("could not remove {location} (Windows error {status})"),
            }
        }
    }
}

/// One argument of a Windows command line, as `CommandLineToArgvW` reads it back:
/// quoted when it has spaces, tabs or quotes, with backslashes doubled only before a
/// quote.
#[cfg(any(windows, test))]
fn windows_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    let mut quoted = String::from('"');
    let mut backslashes = 0;
    for character in arg.chars() {
        match character {
            '\\' => backslashes += 1,
            '"' => {
                quoted.push_str(&"\\".repeat(backslashes * 2 + 1));
                quoted.push('"');
                backslashes = 0;
            }
            other => {
                quoted.push_str(&"\\".repeat(backslashes));
                quoted.push(other);
                backslashes = 0;
            }
        }
    }
    quoted.push_str(&"\\".repeat(backslashes * 2));
    quoted.push('"');
    quoted
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
            let exec: Vec<String> =
                service_command(home, true)?.iter().map(|arg| systemd_quote(arg)).collect();
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
            let arguments: Vec<String> = service_command(home, true)?
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
    fn arguments_are_quoted_for_a_windows_command_line() {
        assert_eq!(windows_quote(r"C:\viban\viban.exe"), r"C:\viban\viban.exe");
        assert_eq!(windows_quote(r"C:\Users\Ann Lee\.viban"), r#""C:\Users\Ann Lee\.viban""#);
        assert_eq!(windows_quote(r"C:\My Files\"), r#""C:\My Files\\""#, "a closing quote stays one");
        assert_eq!(windows_quote(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(windows_quote(""), r#""""#);
    }

    #[test]
    fn arguments_are_quoted_for_systemd() {
        assert_eq!(systemd_quote("/opt/my apps/viban"), "\"/opt/my apps/viban\"");
        assert_eq!(systemd_quote("100%$HOME\\\""), "\"100%%$$HOME\\\\\\\"\"");
    }
}
