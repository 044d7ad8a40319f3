//! The supervisor: runs server sessions one after another and obeys the control
//! channel (the tray, `viban stop`, signals) during and between them: Stop server
//! pauses, Start server starts a new session, Quit and an update's restart end the
//! process. It also keeps the tray's view (agents, updates) current.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::session::Served;
use super::{Exit, login_url};
use crate::agents::run::{Runner, RunnerSettings};
use crate::config::ServeSettings;
use crate::control::{Control, ServerState, Status};
use crate::home::Home;
use crate::instance::{self, InstanceInfo};
use crate::shutdown::Shutdown;
use crate::{browser, update};

/// Runs server sessions and obeys the control channel between and during them.
pub(super) struct Launcher {
    pub(super) home: Home,
    pub(super) args: ServeSettings,
    pub(super) runner_settings: RunnerSettings,
    pub(super) token: String,
    pub(super) password: Option<String>,
    /// The binary an update replaces.
    pub(super) installation: Option<update::Installation>,
}

/// What the supervisor sees of the session that runs: its agent runner.
#[derive(Default)]
pub(super) struct Live {
    pub(super) runner: Mutex<Option<Runner>>,
}

impl Live {
    fn active_runs(&self) -> usize {
        self.runner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .map_or(0, Runner::active_runs)
    }
}

/// How a session ended, from the supervisor's side.
enum Ended {
    /// Quit, a signal, `viban stop`, or an update's restart: the process ends.
    ForGood,
    /// The tray's Stop server: the process waits for Start.
    Paused,
}

impl Launcher {
    pub(super) async fn supervise(
        self,
        mut controls: mpsc::UnboundedReceiver<Control>,
        sender: mpsc::UnboundedSender<Control>,
        status: watch::Sender<Status>,
    ) -> anyhow::Result<Exit> {
        tokio::spawn(quit_on_signal(sender));
        // Lives as long as the process, across sessions: ends the daily update check.
        let process = Shutdown::new();
        let updates = update::Updates::new(&self.home, self.args.check_updates, self.installation.clone());
        updates.spawn_daily(process.clone());
        let live = Live::default();
        let mut open_browser = self.args.open_browser;
        let mut port = self.args.port;
        let exit = loop {
            let shutdown = Shutdown::new();
            status.send_modify(|status| {
                status.server = ServerState::Starting;
                status.notice = None;
            });
            let session = self.run(&shutdown, &updates, &live, &status, open_browser, port);
            let (outcome, ended) =
                self.attend(session, &mut controls, &shutdown, &updates, &live, &status).await;
            *live.runner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
            status.send_modify(|status| {
                status.server = ServerState::Stopped;
                status.url = None;
                status.agents = 0;
            });
            if shutdown.restart_requested() {
                break Ok(Exit::Restart);
            }
            let served = match outcome {
                Ok(served) => served,
                Err(error) => break Err(error),
            };
            if matches!(ended, Ended::ForGood) {
                break Ok(Exit::Stopped);
            }
            info!("server stopped from the tray; waiting for Start");
            port = served.port;
            // Other commands (`viban`, `status`, `open`) learn it is paused, not gone.
            let paused = InstanceInfo { paused: true, ..served.info };
            if let Err(error) = instance::write(&self.home, &paused) {
                warn!("could not note the stopped server in the instance file: {error}");
            }
            match self.idle(&mut controls, &updates, &status).await {
                Some(open) => open_browser = open,
                None => break Ok(Exit::Stopped),
            }
        };
        process.trigger();
        exit
    }

    /// Drives a session to its end, obeying the control channel meanwhile.
    async fn attend(
        &self,
        session: impl Future<Output = anyhow::Result<Served>>,
        controls: &mut mpsc::UnboundedReceiver<Control>,
        shutdown: &Shutdown,
        updates: &update::Updates,
        live: &Live,
        status: &watch::Sender<Status>,
    ) -> (anyhow::Result<Served>, Ended) {
        let mut session = std::pin::pin!(session);
        let mut ended = Ended::ForGood;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                outcome = &mut session => return (outcome, ended),
                _ = tick.tick() => refresh(status, updates, live.active_runs()),
                Some(control) = controls.recv() => match control {
                    Control::StopServer | Control::Quit => {
                        ended = if control == Control::Quit { Ended::ForGood } else { Ended::Paused };
                        status.send_modify(|status| status.server = ServerState::Stopping);
                        shutdown.trigger();
                    }
                    Control::Open => self.open(status),
                    Control::StartServer => {}
                    Control::CheckForUpdates => check_updates(updates, status),
                    Control::ApplyUpdate => {
                        let runner = live.runner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
                        apply_update(updates, status, shutdown, move || runner.as_ref().map_or(0, Runner::active_runs));
                    }
                },
            }
        }
    }

    /// With the server stopped: `Some(open the browser)` to start it again, `None` to quit.
    async fn idle(
        &self,
        controls: &mut mpsc::UnboundedReceiver<Control>,
        updates: &update::Updates,
        status: &watch::Sender<Status>,
    ) -> Option<bool> {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => refresh(status, updates, 0),
                control = controls.recv() => match control? {
                    Control::StartServer => return Some(false),
                    Control::Open => return Some(true),
                    Control::Quit => return None,
                    Control::StopServer | Control::ApplyUpdate => {}
                    Control::CheckForUpdates => check_updates(updates, status),
                },
            }
        }
    }

    fn open(&self, status: &watch::Sender<Status>) {
        let Some(url) = status.borrow().url.clone() else { return };
        let link = login_url(&url, &self.token);
        if !(browser::desktop_session() && browser::open(&link)) {
            info!("no browser could be opened; sign in at {url} with `viban open`");
        }
    }
}

/// Keeps the tray's view current: agents running, and what the update check knows.
fn refresh(status: &watch::Sender<Status>, updates: &update::Updates, agents: usize) {
    let known = updates.status(agents);
    status.send_if_modified(|status| {
        let next = Status {
            agents,
            update: known.available,
            updates_off: known.disabled,
            checking: known.activity == update::state::Activity::Checking,
            ..status.clone()
        };
        let changed = *status != next;
        *status = next;
        changed
    });
}

fn check_updates(updates: &update::Updates, status: &watch::Sender<Status>) {
    let (updates, status) = (updates.clone(), status.clone());
    // `checking` follows the update state itself, through `refresh`.
    tokio::spawn(async move {
        let notice = match updates.check().await {
            Ok(()) => updates.status(0).error,
            Err(error) => Some(error.to_string()),
        };
        status.send_modify(|status| status.notice = notice);
    });
}

fn apply_update(
    updates: &update::Updates,
    status: &watch::Sender<Status>,
    shutdown: &Shutdown,
    active_runs: impl Fn() -> usize + Send + 'static,
) {
    let (updates, status, shutdown) = (updates.clone(), status.clone(), shutdown.clone());
    tokio::spawn(async move {
        let notice = match updates.apply(active_runs, &shutdown).await {
            Ok(update::Applied::Restarting(_)) => None,
            Ok(update::Applied::Installed(version)) => {
                Some(format!("viban {version} is installed; it runs from the next start"))
            }
            Err(error) => Some(error.to_string()),
        };
        if let Some(notice) = notice {
            warn!("update: {notice}");
            status.send_modify(|status| status.notice = Some(notice));
        }
    });
}

/// SIGINT/SIGTERM (Ctrl-C on Windows) quit, as the tray's Quit does.
async fn quit_on_signal(controls: mpsc::UnboundedSender<Control>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            error!("could not listen for signals; stop viban with `viban stop`");
            return;
        };
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        info!("{name} received; shutting down");
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        info!("Ctrl-C received; shutting down");
    }
    let _ = controls.send(Control::Quit);
}
