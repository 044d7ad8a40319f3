//! The `viban serve` lifecycle (L1, L4–L9): claim the home, start the database,
//! migrate, serve, and on every way out — signal, `viban stop`, a failed or panicked
//! server task — stop in order: server, agents, database pool, PostgreSQL, lock.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tracing::{error, info, warn};

use crate::agents::run::{Runner, RunnerSettings};
use crate::cli::{ServeArgs, ServeSettings};
use crate::config::Config;
use crate::home::{self, Home};
use crate::instance::{self, Claim, InstanceInfo};
use crate::postgres::{self, Cluster};
use crate::progress::StepProgress;
use crate::server::{self, AppState, security::Security};
use crate::shutdown::Shutdown;
use crate::{browser, db, update};

/// Backups of the data directory kept before migrations.
const KEEP_BACKUPS: usize = 3;

pub fn serve(home: Home, args: ServeArgs) -> anyhow::Result<ExitCode> {
    home.prepare()?;
    let _log_guard = crate::logging::init_server(&home.logs_dir());
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(run(&home, &args, runner_settings, token, password));
    runtime.shutdown_timeout(Duration::from_secs(1));
    instance::remove(&home);
    drop(lock);
    match outcome? {
        Exit::Stopped => Ok(ExitCode::SUCCESS),
        Exit::Restart => {
            drop(_log_guard);
            restart(&installation?)
        }
    }
}

/// How the server ended, once everything is stopped.
enum Exit {
    Stopped,
    /// An update was installed: start the new binary in this process's place.
    Restart,
}

/// Runs the (updated) binary with this process's arguments: on Unix in this process's
/// place, keeping its pid for service managers and terminals.
fn restart(installation: &update::Installation) -> anyhow::Result<ExitCode> {
    let mut command = std::process::Command::new(installation.exe());
    // The browser is already open on this viban; the new one serves the same address.
    command.args(std::env::args_os().skip(1)).env("VIBAN_NO_BROWSER", "1");
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

async fn run(
    home: &Home,
    args: &ServeSettings,
    runner_settings: RunnerSettings,
    token: String,
    password: Option<String>,
) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let shutdown = Shutdown::new();
    tokio::spawn(trigger_on_signal(shutdown.clone()));

    let database = Database::open(home, args.database_url.as_deref()).await?;
    let runner = match Runner::start(database.pool().clone(), home.clone(), runner_settings).await {
        Ok(runner) => runner,
        Err(error) => {
            database.close().await;
            return Err(error).context("could not recover the agent runs of the last session");
        }
    };
    let backends = Backends { database: &database, runner: &runner };
    let outcome = serve_until_shutdown(home, args, token, password, backends, &shutdown, started).await;
    shutdown.trigger();
    // Agents stop (and are recorded as interrupted) while the database still runs (L9).
    runner.stop_all().await;
    database.close().await;
    outcome.map(|()| if shutdown.restart_requested() { Exit::Restart } else { Exit::Stopped })
}

/// What the server works with and the launcher stops after it, in that order.
struct Backends<'a> {
    database: &'a Database,
    runner: &'a Runner,
}

async fn serve_until_shutdown(
    home: &Home,
    args: &ServeSettings,
    token: String,
    password: Option<String>,
    Backends { database, runner }: Backends<'_>,
    shutdown: &Shutdown,
    started: Instant,
) -> anyhow::Result<()> {
    let bound = server::bind(args.host, args.port)
        .await
        .with_context(|| format!("could not listen on {}:{}", args.host, args.port))?;
    let port = bound.addr.port();
    let url = format!("http://{}/", url_host(args.host, port));
    if let Some(requested) = bound.requested_port {
        println!("Port {requested} is in use; viban is using port {port} instead.");
    }
    instance::write(
        home,
        &InstanceInfo {
            url: url.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            home: home.root().display().to_string(),
            database: database.kind().into(),
        },
    )?;

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
    let security = Arc::new(Security::new(token.clone(), password, extra_hosts, port));
    let state = AppState {
        pool: database.pool().clone(),
        shutdown: shutdown.clone(),
        postgres_version: db::server_version(database.pool()).await.unwrap_or_default().into(),
        postgres_liveness: database.liveness(),
        hub: crate::realtime::Hub::start(database.pool().clone(), shutdown.clone()),
        home: home.clone(),
        board_views: Arc::default(),
        runner: runner.clone(),
        updates: update::Updates::new(home, args.check_updates),
        started: Instant::now(),
    };
    state.updates.spawn_daily(shutdown.clone());
    let router = server::router(state, security);

    info!("ready in {:.2}s", started.elapsed().as_secs_f64());
    println!("viban {} is running at {url}", env!("CARGO_PKG_VERSION"));
    if std::io::stdout().is_terminal() {
        println!("Sign in with: {}", login_url(&url, &token));
    } else {
        println!("Run `viban open` for a sign-in link.");
    }
    if browser::desktop_session() && args.open_browser {
        browser::open(&login_url(&url, &token));
    }

    let serving = tokio::spawn(server::serve(bound, router, shutdown.clone()));
    match serving.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error).context("the web server failed"),
        Err(join_error) => {
            error!("the web server task panicked: {join_error}");
            bail!("the web server crashed; see the log in {}", home.logs_dir().display())
        }
    }
}

async fn trigger_on_signal(shutdown: Shutdown) {
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
    shutdown.trigger();
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
