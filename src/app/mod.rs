//! The `viban serve` lifecycle (L1, L4–L9): claim the home, start the database,
//! migrate, serve, and on every way out — signal, `viban stop`, tray Quit, a failed or
//! panicked server task — stop in order (see [`session`]), then release the home.
//!
//! Process model: the main thread runs the tray (or just waits, headless); the tokio
//! threads run the [`supervisor`], which runs server sessions ([`session`]: database,
//! instance id, agents, background work, HTTP) one after another as the control channel
//! asks (the tray's Stop and Start server). This file is the process's start and end:
//! the home's lock, an update found at the last check, and a restart into a new binary.
//! [`database`] opens and closes the embedded or external PostgreSQL.

mod database;
mod session;
mod supervisor;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::config::{Config, ServeOverrides, ServeSettings};
use crate::control::{self, Status};
use crate::home::{self, Home};
use crate::instance::{self, Claim};
use crate::postgres::Progress;
use crate::progress::StepProgress;
use crate::{browser, tray, update};
use supervisor::Launcher;

pub fn serve(home: Home, args: ServeOverrides) -> anyhow::Result<ExitCode> {
    home.prepare()?;
    let log_guard = crate::logging::init_server(&home.logs_dir());
    let config = Config::load(&home)?;
    let runner_settings = config.agents.runner_settings();
    let args = args.resolve(config.server);
    let lock = match instance::claim(&home).context("could not take the instance lock")? {
        Claim::Acquired(lock) => lock,
        Claim::Taken => return hand_over_to_running(&home, &args),
    };
    let password = args.password.clone();
    if !args.host.is_loopback() && password.is_none() && !home.token_file().exists() {
        bail!(
            "refusing to listen on {} without a password: anyone who can reach it could run commands \
             as you. Set VIBAN_PASSWORD (or --password), or keep the default --host 127.0.0.1",
            args.host
        );
    }
    let token = home.read_or_create_secret(&home.token_file(), home::random_secret)?;

    // Found before an update can replace the file, so that a restart starts the new one.
    let installation = update::Installation::current();
    if let Ok(installed) = &installation
        && let Some(version) = install_update_at_start(&home, &args, installed)
    {
        info!("starting viban {version}");
        drop(lock);
        drop(log_guard);
        return restart(installed, Browser::NotYetOpened);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (controls, control_receiver) = mpsc::unbounded_channel();
    let (status, status_receiver) = watch::channel(Status::starting());
    let headless = args.headless;
    let launcher = Launcher {
        home: home.clone(),
        args,
        runner_settings,
        token,
        password,
        installation: installation.as_ref().ok().cloned(),
    };
    let supervisor = runtime.spawn(launcher.supervise(control_receiver, controls.clone(), status));
    let endpoint = control::endpoint(&home, std::process::id());
    runtime.spawn(control::listen(endpoint.clone(), controls.clone(), status_receiver.clone()));
    if headless {
        info!("headless: no tray icon");
    } else if let Some(tray) = tray::start(&runtime, controls, status_receiver) {
        tray.run_until(|| supervisor.is_finished());
    }
    let outcome = runtime
        .block_on(supervisor)
        .unwrap_or_else(|error| Err(anyhow::anyhow!("viban's supervisor crashed: {error}")));
    runtime.shutdown_timeout(Duration::from_secs(1));
    #[cfg(unix)]
    let _ = std::fs::remove_file(&endpoint);
    instance::remove(&home);
    drop(lock);
    match outcome? {
        Exit::Stopped => Ok(ExitCode::SUCCESS),
        Exit::Restart => {
            drop(log_guard);
            restart(&installation?, Browser::AlreadyOpen)
        }
    }
}

/// How the server ended, once everything is stopped.
enum Exit {
    Stopped,
    /// An update was installed: start the new binary in this process's place.
    Restart,
}

/// How long a start waits for the download of an update found by the last check.
const INSTALL_AT_START_DEADLINE: Duration = Duration::from_secs(180);

/// Installs the update the last daily check found, before anything else starts (R2's
/// "applied at next start": no agent can be running yet). Returns the version installed;
/// `None` when there is none to install or it failed, which is said and remembered, and
/// this start goes on with this version.
fn install_update_at_start(
    home: &Home,
    args: &ServeSettings,
    installation: &update::Installation,
) -> Option<String> {
    let updates = update::Updates::new(home, args.check_updates, Some(installation.clone()));
    let version = updates.due_at_start()?;
    let label = format!("Installing viban {version}, found by the last update check");
    let installed =
        StepProgress::new().step(&label, || updates.install_at_start(&version, INSTALL_AT_START_DEADLINE));
    match installed {
        Ok(()) => Some(version),
        Err(error) => {
            warn!(
                "viban {version} was not installed ({error}); starting viban {}. `viban update` tries \
                 again",
                update::CURRENT
            );
            None
        }
    }
}

/// Whether the browser is already showing this viban when it restarts.
enum Browser {
    AlreadyOpen,
    NotYetOpened,
}

/// Runs the (updated) binary with this process's arguments: on Unix in this process's
/// place, keeping its pid for service managers and terminals.
fn restart(installation: &update::Installation, browser: Browser) -> anyhow::Result<ExitCode> {
    let mut command = std::process::Command::new(installation.exe());
    command.args(std::env::args_os().skip(1));
    // An open page reconnects to the new viban at the same address by itself.
    if let Browser::AlreadyOpen = browser {
        command.env("VIBAN_NO_BROWSER", "1");
    }
    println!("Restarting into the updated viban…");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        bail!(
            "could not start the updated viban {}: {error}; start it with `viban`",
            installation.exe().display()
        )
    }
    #[cfg(not(unix))]
    {
        command.spawn().with_context(|| {
            format!(
                "could not start the updated viban {}; start it with `viban`",
                installation.exe().display()
            )
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

/// L1: another viban already serves this home: show (and in a desktop, open) it.
fn hand_over_to_running(home: &Home, args: &ServeSettings) -> anyhow::Result<ExitCode> {
    // A first start may still be extracting PostgreSQL; give it time to say where it is.
    let info = instance::running(home, Duration::from_secs(90))?
        .context("the running viban stopped while this one was asking for its address; start viban again")?;
    let info = if info.paused { control::resume(home, &info)? } else { info };
    println!("viban is already running at {} (pid {})", info.url, info.pid);
    if browser::desktop_session() && args.open_browser {
        let token = std::fs::read_to_string(home.token_file()).unwrap_or_default();
        browser::open(&login_url(&info.url, token.trim()));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn login_url(url: &str, token: &str) -> String {
    format!("{url}?token={token}")
}
