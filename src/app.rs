//! The `viban serve` lifecycle (L1, L4–L9): claim the home, start the database,
//! migrate, serve, and on every way out — signal, `viban stop`, tray Quit, a failed or
//! panicked server task — stop in order: server, agents, database pool, PostgreSQL, lock.
//!
//! Process model: the main thread runs the tray (or just waits, headless); the tokio
//! threads run the supervisor, which runs server sessions — database, agents, HTTP —
//! one after another as the control channel asks (the tray's Stop and Start server).

use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::agents::run::{Runner, RunnerSettings};
use crate::config::{Config, ServeOverrides, ServeSettings};
use crate::control::{self, Control, ServerState, Status};
use crate::home::{self, Home};
use crate::instance::{self, Claim, InstanceInfo};
use crate::postgres::{self, Cluster, Progress};
use crate::progress::StepProgress;
use crate::server::{self, security::Security};
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::{browser, db, tray, update};

/// Backups of the data directory kept before migrations.
const KEEP_BACKUPS: usize = 3;

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

/// Runs server sessions and obeys the control channel between and during them.
struct Launcher {
    home: Home,
    args: ServeSettings,
    runner_settings: RunnerSettings,
    token: String,
    password: Option<String>,
    /// The binary an update replaces.
    installation: Option<update::Installation>,
}

/// What the supervisor sees of the session that runs: its agent runner.
#[derive(Default)]
struct Live {
    runner: Mutex<Option<Runner>>,
}

/// Where a session served, once it has ended.
struct Served {
    /// What it wrote to `run/instance.json`.
    info: InstanceInfo,
    /// The port it got; the next session asks for it again, so open pages reconnect.
    port: u16,
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
    async fn supervise(
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

    /// One server session: database, agents, HTTP, until `shutdown`; then agents,
    /// database and PostgreSQL stop, in that order.
    async fn run(
        &self,
        shutdown: &Shutdown,
        updates: &update::Updates,
        live: &Live,
        status: &watch::Sender<Status>,
        open_browser: bool,
        port: u16,
    ) -> anyhow::Result<Served> {
        let started = Instant::now();
        let database = Database::open(&self.home, self.args.database_url.as_deref()).await?;
        let runner =
            match Runner::start(database.pool().clone(), self.home.clone(), self.runner_settings.clone())
                .await
            {
                Ok(runner) => runner,
                Err(error) => {
                    database.close().await;
                    return Err(error).context("could not recover the agent runs of the last session");
                }
            };
        *live.runner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(runner.clone());
        let session = Session { database: &database, runner: &runner, updates, status, open_browser, port };
        let outcome = self.serve_until_shutdown(session, shutdown, started).await;
        shutdown.trigger();
        instance::remove(&self.home);
        // Agents stop (and are recorded as interrupted) while the database still runs (L9).
        runner.stop_all().await;
        database.close().await;
        outcome
    }

    async fn serve_until_shutdown(
        &self,
        Session { database, runner, updates, status, open_browser, port: asked }: Session<'_>,
        shutdown: &Shutdown,
        started: Instant,
    ) -> anyhow::Result<Served> {
        let (home, args, token) = (&self.home, &self.args, &self.token);
        let bound = server::bind(args.host, asked)
            .await
            .with_context(|| format!("could not listen on {}:{asked}", args.host))?;
        let port = bound.addr.port();
        let url = format!("http://{}/", url_host(args.host, port));
        if let Some(requested) = bound.requested_port {
            println!("Port {requested} is in use; viban is using port {port} instead.");
        }
        let info = InstanceInfo {
            url: url.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            home: home.root().display().to_string(),
            database: database.kind().into(),
            paused: false,
        };
        instance::write(home, &info)?;
        // Listening (connections wait in the backlog until the router serves them).
        status.send_modify(|status| {
            status.server = ServerState::Running;
            status.url = Some(url.clone());
        });

        let mut extra_hosts = args.allowed_hosts.clone();
        if !args.host.is_loopback() {
            warn!(
                "viban is listening on {}: anyone who can reach it and knows the password can run commands as you",
                args.host
            );
            // A specific address is how clients will name the server; 0.0.0.0 names nothing.
            if !args.host.is_unspecified() {
                extra_hosts.push(args.host.to_string());
            }
        }
        let security = Arc::new(Security::new(token.clone(), self.password.clone(), extra_hosts, port));
        let state = AppState {
            pool: database.pool().clone(),
            shutdown: shutdown.clone(),
            postgres_version: db::server_version(database.pool()).await.unwrap_or_default().into(),
            postgres_liveness: database.liveness(),
            hub: crate::realtime::Hub::start(database.pool().clone(), shutdown.clone()),
            home: home.clone(),
            board_views: Arc::default(),
            runner: runner.clone(),
            updates: updates.clone(),
            started: Instant::now(),
        };
        let router = server::router(state, security);

        info!("ready in {:.2}s", started.elapsed().as_secs_f64());
        println!("viban {} is running at {url}", env!("CARGO_PKG_VERSION"));
        if std::io::stdout().is_terminal() {
            println!("Sign in with: {}", login_url(&url, token));
        } else {
            println!("Run `viban open` for a sign-in link.");
        }
        if browser::desktop_session() && open_browser {
            browser::open(&login_url(&url, token));
        }

        let serving = tokio::spawn(server::serve(bound, router, shutdown.clone()));
        match serving.await {
            Ok(Ok(())) => Ok(Served { info, port }),
            Ok(Err(error)) => Err(error).context("the web server failed"),
            Err(join_error) => {
                error!("the web server task panicked: {join_error}");
                bail!("the web server crashed; see the log in {}", home.logs_dir().display())
            }
        }
    }
}

/// What one session serves with, besides the launcher's settings.
struct Session<'a> {
    database: &'a Database,
    runner: &'a Runner,
    updates: &'a update::Updates,
    status: &'a watch::Sender<Status>,
    open_browser: bool,
    /// The port to ask for.
    port: u16,
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

fn url_host(host: IpAddr, port: u16) -> String {
    match host {
        IpAddr::V4(v4) if v4.is_unspecified() => format!("127.0.0.1:{port}"),
        IpAddr::V6(v6) if v6.is_unspecified() => format!("[::1]:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// Where viban's data lives: the embedded cluster, or an external server (T1).
enum Database {
    Embedded { server: postgres::Server, pool: PgPool },
    External { pool: PgPool },
}

impl Database {
    async fn open(home: &Home, database_url: Option<&str>) -> anyhow::Result<Self> {
        match database_url {
            Some(url) => {
                let options: PgConnectOptions = url
                    .parse()
                    .map_err(|error| anyhow::anyhow!("DATABASE_URL is not a PostgreSQL URL ({error})"))?;
                let pool = db::connect(options.application_name("viban")).await?;
                db::pending_migrations(&pool).await?;
                db::migrate(&pool).await?;
                info!("using the external PostgreSQL server from DATABASE_URL");
                Ok(Self::External { pool })
            }
            None => {
                let cluster = Cluster::prepare(home, &StepProgress::new()).await?;
                let created = cluster.created;
                let server = start(cluster).await?;
                match migrate_embedded(home, server, created).await {
                    (Some(server), Ok(pool)) => Ok(Self::Embedded { server, pool }),
                    (server, result) => {
                        if let Some(server) = server {
                            stop(server).await;
                        }
                        Err(result
                            .err()
                            .unwrap_or_else(|| anyhow::anyhow!("PostgreSQL stopped during start-up")))
                    }
                }
            }
        }
    }

    fn pool(&self) -> &PgPool {
        match self {
            Self::Embedded { pool, .. } | Self::External { pool } => pool,
        }
    }

    fn liveness(&self) -> Option<postgres::Liveness> {
        match self {
            Self::Embedded { server, .. } => Some(server.liveness()),
            Self::External { .. } => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Embedded { .. } => "embedded",
            Self::External { .. } => "external",
        }
    }

    async fn close(self) {
        match self {
            Self::Embedded { server, pool } => {
                let _ = tokio::time::timeout(Duration::from_secs(2), pool.close()).await;
                stop(server).await;
            }
            Self::External { pool } => {
                let _ = tokio::time::timeout(Duration::from_secs(2), pool.close()).await;
            }
        }
    }
}

/// Brings the embedded database's schema up to date, backing the data directory up
/// first when there is anything to lose (L5). Hands back the server whenever one is
/// running, so that the caller stops it whatever happened.
async fn migrate_embedded(
    home: &Home,
    server: postgres::Server,
    created: bool,
) -> (Option<postgres::Server>, anyhow::Result<PgPool>) {
    let pool = match connect_embedded(&server).await {
        Ok(pool) => pool,
        Err(error) => return (Some(server), Err(error)),
    };
    let pending = match db::pending_migrations(&pool).await {
        Ok(pending) => pending,
        Err(error) => return (Some(server), Err(error.into())),
    };
    let (server, pool) = if pending.is_empty() || created {
        (server, pool)
    } else {
        pool.close().await;
        let cluster = stop(server).await;
        let backup = back_up_data_dir(home, &pending);
        let server = match start(cluster).await {
            Ok(server) => server,
            Err(error) => {
                return (None, Err(error.context("PostgreSQL did not start again after the backup")));
            }
        };
        if let Err(error) = backup {
            return (Some(server), Err(error));
        }
        match connect_embedded(&server).await {
            Ok(pool) => (server, pool),
            Err(error) => return (Some(server), Err(error)),
        }
    };
    match db::migrate(&pool).await {
        Ok(()) => (Some(server), Ok(pool)),
        Err(error) => (Some(server), Err(error.into())),
    }
}

async fn connect_embedded(server: &postgres::Server) -> anyhow::Result<PgPool> {
    db::ensure_database(server.connect_options("postgres"), postgres::DATABASE).await?;
    Ok(db::connect(server.connect_options(postgres::DATABASE)).await?)
}

fn back_up_data_dir(home: &Home, pending: &[i64]) -> anyhow::Result<()> {
    let name = format!("{}-pre-{}", postgres::timestamp(), env!("CARGO_PKG_VERSION"));
    let target = home.backups_dir().join(name);
    info!("{} migration(s) to apply; backing up the database to {}", pending.len(), target.display());
    postgres::copy_dir(&home.data_dir(), &target).with_context(|| {
        format!("could not back up the database to {}; nothing was migrated", target.display())
    })?;
    let mut backups: Vec<_> = std::fs::read_dir(home.backups_dir())?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .collect();
    backups.sort();
    for old in backups.iter().rev().skip(KEEP_BACKUPS) {
        if let Err(error) = std::fs::remove_dir_all(old) {
            warn!("could not remove the old backup {}: {error}", old.display());
        }
    }
    Ok(())
}

async fn start(cluster: Cluster) -> anyhow::Result<postgres::Server> {
    Ok(tokio::task::spawn_blocking(move || cluster.start()).await??)
}

/// Stops PostgreSQL off the async threads (it waits for the postmaster to exit).
async fn stop(server: postgres::Server) -> Cluster {
    let cluster = server.cluster().clone();
    match tokio::task::spawn_blocking(move || server.stop()).await {
        Ok(cluster) => cluster,
        Err(error) => {
            error!("stopping PostgreSQL failed: {error}");
            cluster
        }
    }
}
