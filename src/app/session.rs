//! One server session: the database, this instance's id, the agent runner, the
//! background work and the HTTP server, started in that order; and, whatever ends it,
//! the stop sequence in the opposite order, all in [`Launcher::run`].

use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::database::Database;
use super::login_url;
use super::supervisor::{Launcher, Live};
use crate::agents::run::Runner;
use crate::control::{ServerState, Status};
use crate::instance::identity::Instance;
use crate::instance::{self, InstanceInfo};
use crate::server::{self, security::Security};
use crate::shutdown::{Background, Shutdown};
use crate::state::AppState;
use crate::{browser, db, update};

/// Where a session served, once it has ended.
pub(super) struct Served {
    /// What it wrote to `run/instance.json`.
    pub(super) info: InstanceInfo,
    /// The port it got; the next session asks for it again, so open pages reconnect.
    pub(super) port: u16,
}

/// How long the stop waits for the session's background work to end.
const BACKGROUND_GRACE: Duration = Duration::from_secs(5);

impl Launcher {
    /// One server session, from its start to its ordered stop (L9).
    pub(super) async fn run(
        &self,
        shutdown: &Shutdown,
        updates: &update::Updates,
        live: &Live,
        status: &watch::Sender<Status>,
        open_browser: bool,
        port: u16,
    ) -> anyhow::Result<Served> {
        let started = Instant::now();
        // Start: the database, this instance's id and its heartbeat, the agent runner
        // (which recovers what this instance left running), then HTTP.
        let database = Database::open(&self.home, self.args.database_url.as_deref()).await?;
        let instance = match Instance::claim(database.pool(), &self.home).await {
            Ok(instance) => instance,
            Err(error) => {
                database.close().await;
                return Err(error.into());
            }
        };
        let background = Background::new();
        instance.keep_alive(database.pool().clone(), &background);
        let settings = self.runner_settings.clone();
        let (pool, home, id) = (database.pool().clone(), self.home.clone(), instance.id().to_string());
        let runner = match Runner::start(pool, home, settings, id).await {
            Ok(runner) => runner,
            Err(error) => {
                background.cancel();
                end_background(&background).await;
                instance.release(database.pool()).await;
                database.close().await;
                return Err(error).context("could not recover the agent runs of the last session");
            }
        };
        *live.runner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(runner.clone());
        let session = Session {
            database: &database,
            instance: &instance,
            runner: &runner,
            background: &background,
            updates,
            status,
            open_browser,
            port,
        };
        let outcome = self.serve_until_shutdown(session, shutdown, started).await;

        // Stop, whatever ended the session, in this order:
        // 1. No new work: the web server has stopped taking requests (it ends on
        //    `shutdown`), and other commands no longer find this one.
        shutdown.trigger();
        instance::remove(&self.home);
        // 2. The background work stops claiming (queued messages start no new run) and
        //    cancels what it runs, each task recording its end on its way out.
        background.cancel();
        // 3. The agents stop, and are recorded as interrupted while the database runs.
        runner.stop_all().await;
        // 4. Everything the session spawned has ended (or the wait gives up).
        end_background(&background).await;
        // 5. Its runs all recorded, the instance gives its id up.
        instance.release(database.pool()).await;
        // 6. The pool closes, then PostgreSQL stops.
        database.close().await;
        outcome
    }

    async fn serve_until_shutdown(
        &self,
        session: Session<'_>,
        shutdown: &Shutdown,
        started: Instant,
    ) -> anyhow::Result<Served> {
        let Session { database, instance, runner, background, updates, status, open_browser, port: asked } =
            session;
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
        let security = Arc::new(
            Security::new(token.clone(), self.password.clone(), extra_hosts, port)
                .with_run_tokens(runner.run_tokens().clone()),
        );
        // Agent runs reach the MCP server where the UI is (loopback for 0.0.0.0).
        runner.run_tokens().set_endpoint(format!(
            "{}{}",
            url.trim_end_matches('/'),
            server::security::MCP_PATH
        ));
        let hub = crate::realtime::Hub::start(database.pool().clone(), background);
        // The hook engine: recovers what this instance left running (docs/hooks.md, rule
        // 8), then claims on the background, which the stop sequence cancels at step 2.
        crate::hooks::engine::Engine::start(
            database.pool().clone(),
            runner.clone(),
            &hub,
            instance.id().to_string(),
            background,
        )
        .await
        .context("could not recover the hooks of the last session")?;
        // Webhooks and desktop notifications follow the events (docs/notifications.md).
        crate::notify::Notifier::start(database.pool().clone(), &hub, background);
        // Schedules fire, open pull requests are read back from GitHub, and done tasks'
        // worktrees are cleaned up (docs/schedules.md, docs/pull-requests.md,
        // docs/housekeeping.md).
        crate::upkeep::start(database.pool().clone(), runner.clone(), background);
        let state = AppState {
            pool: database.pool().clone(),
            instance: instance.clone(),
            shutdown: shutdown.clone(),
            postgres_version: db::server_version(database.pool()).await.unwrap_or_default().into(),
            postgres_liveness: database.liveness(),
            hub,
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
    instance: &'a Instance,
    runner: &'a Runner,
    background: &'a Background,
    updates: &'a update::Updates,
    status: &'a watch::Sender<Status>,
    open_browser: bool,
    /// The port to ask for.
    port: u16,
}

fn url_host(host: IpAddr, port: u16) -> String {
    match host {
        IpAddr::V4(v4) if v4.is_unspecified() => format!("127.0.0.1:{port}"),
        IpAddr::V6(v6) if v6.is_unspecified() => format!("[::1]:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// Waits (bounded) for the session's background work, once it is cancelled.
async fn end_background(background: &Background) {
    if !background.close_and_wait(BACKGROUND_GRACE).await {
        warn!(
            "{} background task(s) of the session did not end within {BACKGROUND_GRACE:?}",
            background.running()
        );
    }
}
