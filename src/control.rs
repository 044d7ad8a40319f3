//! The control channel (R1): what the tray menu does — open, start or stop the server
//! (PostgreSQL with it) inside this process, check for and apply updates, quit — and
//! the state the menu shows. The tray sends [`Control`]s into the channel; so does the
//! control endpoint (one command per line, answered with the status as JSON): the Unix
//! socket `run/control.sock`, or on Windows a named pipe. It is how `viban open` and
//! `viban stop` reach a viban whose server is stopped, and how scripts and the tests
//! drive exactly what the menu drives.

use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

/// What the tray menu (or the control socket) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Open the board in the browser, starting the server first if it is stopped.
    Open,
    StartServer,
    StopServer,
    CheckForUpdates,
    /// Install the update found and restart into it (refused while agents run).
    ApplyUpdate,
    /// Stop everything and exit.
    Quit,
}

impl Control {
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "open" => Self::Open,
            "start" => Self::StartServer,
            "stop" => Self::StopServer,
            "check-updates" => Self::CheckForUpdates,
            "apply-update" => Self::ApplyUpdate,
            "quit" => Self::Quit,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Starting,
    Running,
    Stopping,
    Stopped,
}

/// What the tray shows, kept current by the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub server: ServerState,
    /// Where the server answers, while it runs.
    pub url: Option<String>,
    /// Agent runs active or queued.
    pub agents: usize,
    /// A newer release the last check found.
    pub update: Option<String>,
    /// Why updates are off, when they are.
    pub updates_off: Option<String>,
    pub checking: bool,
    /// The last thing that went wrong with a menu action, for the tray's tooltip.
    pub notice: Option<String>,
}

impl Status {
    pub fn starting() -> Self {
        Self {
            server: ServerState::Starting,
            url: None,
            agents: 0,
            update: None,
            updates_off: None,
            checking: false,
            notice: None,
        }
    }

    /// The menu, top to bottom, as the tray draws it.
    pub fn menu(&self) -> Vec<MenuItem> {
        let running = self.server == ServerState::Running;
        let server = match self.server {
            ServerState::Running => MenuItem::new(Item::Server, "Stop server", true),
            ServerState::Stopped => MenuItem::new(Item::Server, "Start server", true),
            ServerState::Starting => MenuItem::new(Item::Server, "Starting…", false),
            ServerState::Stopping => MenuItem::new(Item::Server, "Stopping…", false),
        };
        let agents = match self.agents {
            0 => "No agents running".to_string(),
            1 => "1 agent running".to_string(),
            count => format!("{count} agents running"),
        };
        let update = match (&self.updates_off, &self.update) {
            (Some(_), _) => MenuItem::new(Item::Update, "Updates are off", false),
            (None, _) if self.checking => MenuItem::new(Item::Update, "Checking for updates…", false),
            (None, Some(version)) if self.agents > 0 => {
                MenuItem::new(Item::Update, &format!("Update to {version} when agents finish"), false)
            }
            (None, Some(version)) => {
                MenuItem::new(Item::Update, &format!("Restart to update to {version}"), running)
            }
            (None, None) => MenuItem::new(Item::Update, "Check for updates", true),
        };
        vec![
            MenuItem::new(Item::Open, "Open viban", self.server != ServerState::Stopping),
            server,
            MenuItem::new(Item::Agents, &agents, false),
            update,
            MenuItem::new(Item::Quit, "Quit viban", true),
        ]
    }

    /// The tray's tooltip.
    pub fn tooltip(&self) -> String {
        let state = match self.server {
            ServerState::Running => self.url.clone().unwrap_or_default(),
            ServerState::Starting => "starting".into(),
            ServerState::Stopping => "stopping".into(),
            ServerState::Stopped => "server stopped".into(),
        };
        match &self.notice {
            Some(notice) => format!("viban — {state}\n{notice}"),
            None => format!("viban — {state}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    Open,
    Server,
    Agents,
    Update,
    Quit,
}

impl Item {
    /// What choosing the item does, given what the menu showed.
    pub fn control(self, status: &Status) -> Option<Control> {
        match self {
            Self::Open => Some(Control::Open),
            Self::Server if status.server == ServerState::Running => Some(Control::StopServer),
            Self::Server if status.server == ServerState::Stopped => Some(Control::StartServer),
            Self::Update if status.update.is_some() => Some(Control::ApplyUpdate),
            Self::Update => Some(Control::CheckForUpdates),
            Self::Quit => Some(Control::Quit),
            Self::Server | Self::Agents => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuItem {
    pub item: Item,
    pub label: String,
    pub enabled: bool,
}

impl MenuItem {
    fn new(item: Item, label: &str, enabled: bool) -> Self {
        Self { item, label: label.to_string(), enabled }
    }
}

/// The status and menu as the control socket reports them.
#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    status: &'a Status,
    menu: Vec<MenuItem>,
}

/// Where the viban with process id `pid` serving `home` listens for controls: the Unix
/// socket `run/control.sock` in its home; on Windows the named pipe
/// `\\.\pipe\viban-control-<pid>`.
pub fn endpoint(home: &crate::home::Home, pid: u32) -> PathBuf {
    #[cfg(unix)]
    {
        let _ = pid;
        home.run_dir().join("control.sock")
    }
    #[cfg(windows)]
    {
        let _ = home;
        PathBuf::from(format!(r"\\.\pipe\viban-control-{pid}"))
    }
}

/// Serves the control endpoint until the process ends: each line is a [`Control`] word
/// (or `status`); each answer is the status after the command was queued.
#[cfg(unix)]
pub async fn listen(
    endpoint: PathBuf,
    controls: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<Status>,
) {
    use std::os::unix::fs::PermissionsExt;

    let _ = std::fs::remove_file(&endpoint);
    let listener = match tokio::net::UnixListener::bind(&endpoint) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!("no control socket at {}: {error}", endpoint.display());
            return;
        }
    };
    // Only this user may drive viban through it (run/ is private too).
    let _ = std::fs::set_permissions(&endpoint, std::fs::Permissions::from_mode(0o600));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(converse(stream, controls.clone(), status.clone()));
    }
}

/// Serves the control endpoint until the process ends, as on Unix. The pipe's default
/// security lets only this user (and administrators) write to it; remote clients are
/// refused, and a pipe of that name made first by anyone else is not used.
#[cfg(windows)]
pub async fn listen(
    endpoint: PathBuf,
    controls: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<Status>,
) {
    use tokio::net::windows::named_pipe::ServerOptions;

    let create = |first: bool| {
        ServerOptions::new().first_pipe_instance(first).reject_remote_clients(true).create(&endpoint)
    };
    let mut server = match create(true) {
        Ok(server) => server,
        Err(error) => {
            tracing::warn!("no control pipe at {}: {error}", endpoint.display());
            return;
        }
    };
    loop {
        if server.connect().await.is_err() {
            continue;
        }
        // The next instance exists before this one is handed off, so a client never
        // finds the name missing.
        let next = match create(false) {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!("the control pipe stopped: {error}");
                return;
            }
        };
        tokio::spawn(converse(std::mem::replace(&mut server, next), controls.clone(), status.clone()));
    }
}

/// One client of the control endpoint: a command per line, an answer per line.
async fn converse(
    stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    controls: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<Status>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let (reader, mut writer) = tokio::io::split(stream);
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let word = line.trim();
        let answer = match (word, Control::parse(word)) {
            ("status", _) => None,
            (_, Some(control)) => {
                tracing::info!("control: {word}");
                let _ = controls.send(control);
                None
            }
            (_, None) => Some(
                serde_json::json!({
                    "error": format!(
                        "unknown command {word:?}; use open, start, stop, check-updates, \
                         apply-update, quit or status"
                    )
                })
                .to_string(),
            ),
        };
        let answer = answer.unwrap_or_else(|| {
            let status = status.borrow().clone();
            serde_json::to_string(&Report { menu: status.menu(), status: &status }).unwrap_or_default()
        });
        if writer.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
            break;
        }
    }
}

/// Asks the viban serving `home` to start its server again (after the tray's Stop),
/// and waits until it runs.
pub fn resume(
    home: &crate::home::Home,
    paused: &crate::instance::InstanceInfo,
) -> anyhow::Result<crate::instance::InstanceInfo> {
    use std::time::{Duration, Instant};
    send(&endpoint(home, paused.pid), "start").map_err(|error| {
        anyhow::anyhow!(
            "viban (pid {}) has its server stopped and could not be asked to start it ({error}); \
             start it from its tray icon, or quit it and run `viban` again",
            paused.pid
        )
    })?;
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if let Some(info) = crate::instance::read(home).filter(|info| !info.paused) {
            return Ok(info);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!(
        "viban (pid {}) did not start its server within 90 s; see its log in {}/logs",
        paused.pid,
        home.root().display()
    )
}

/// Sends one command to a running viban's control endpoint and waits for its answer.
pub fn send(endpoint: &std::path::Path, word: &str) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    #[cfg(unix)]
    let stream = {
        let stream = std::os::unix::net::UnixStream::connect(endpoint)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        stream
    };
    // A named pipe opens as a file; all its instances busy is rare and brief.
    #[cfg(windows)]
    let stream = {
        let open = || std::fs::OpenOptions::new().read(true).write(true).open(endpoint);
        let mut attempt = open();
        for _ in 0..50 {
            match &attempt {
                Err(error)
                    if error.raw_os_error()
                        == Some(windows_sys::Win32::Foundation::ERROR_PIPE_BUSY as i32) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    attempt = open();
                }
                _ => break,
            }
        }
        attempt?
    };
    let mut writer = &stream;
    writeln!(writer, "{word}")?;
    let mut answer = String::new();
    std::io::BufReader::new(&stream).read_line(&mut answer)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(status: &Status) -> Vec<(String, bool)> {
        status.menu().into_iter().map(|item| (item.label, item.enabled)).collect()
    }

    #[test]
    fn the_menu_follows_the_server_agents_and_updates() {
        let mut status = Status::starting();
        assert_eq!(labels(&status)[1], ("Starting…".into(), false));
        status.server = ServerState::Running;
        status.agents = 2;
        assert_eq!(labels(&status)[1], ("Stop server".into(), true));
        assert_eq!(labels(&status)[2], ("2 agents running".into(), false));
        assert_eq!(labels(&status)[3], ("Check for updates".into(), true));
        status.update = Some("1.2.0".into());
        assert_eq!(labels(&status)[3], ("Update to 1.2.0 when agents finish".into(), false));
        status.agents = 0;
        assert_eq!(labels(&status)[3], ("Restart to update to 1.2.0".into(), true));
        assert_eq!(Item::Update.control(&status), Some(Control::ApplyUpdate));
        status.updates_off = Some("installed by Homebrew".into());
        assert_eq!(labels(&status)[3], ("Updates are off".into(), false));
        status.server = ServerState::Stopped;
        assert_eq!(labels(&status)[1], ("Start server".into(), true));
        assert_eq!(Item::Server.control(&status), Some(Control::StartServer));
        assert_eq!(labels(&status)[4], ("Quit viban".into(), true));
    }

    #[test]
    fn control_words_are_the_menu_actions() {
        for (word, control) in [
            ("open", Control::Open),
            ("start", Control::StartServer),
            ("stop", Control::StopServer),
            ("check-updates", Control::CheckForUpdates),
            ("apply-update", Control::ApplyUpdate),
            ("quit", Control::Quit),
        ] {
            assert_eq!(Control::parse(word), Some(control));
        }
        assert_eq!(Control::parse("reboot"), None);
    }
}
