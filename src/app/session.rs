//! One server session: the database, the agent runner and the HTTP server, started in
//! that order; and, whatever ends it, the stop sequence, all in [`Launcher::run`].

use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::database::Database;
use super::login_url;
use super::supervisor::{Launcher, Live};
use crate::agents::run::Runner;
use crate::control::{ServerState, Status};
use crate::instance::{self, InstanceInfo};
use crate::server::{self, security::Security};
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::{browser, db, update};

/// Where a session served, once it has ended.
pub(super) struct Served {
    /// What it wrote to `run/instance.json`.
    pub(super) info: InstanceInfo,
    /// The port it got; the next session asks for it again, so open pages reconnect.
    pub(super) port: u16,
}

impl Launcher {
    /// One server session: database, agents, HTTP, until `shutdown`; then agents,
    /// database and PostgreSQL stop, in that order.
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

fn url_host(host: IpAddr, port: u16) -> String {
    match host {
        IpAddr::V4(v4) if v4.is_unspecified() => format!("127.0.0.1:{port}"),
        IpAddr::V6(v6) if v6.is_unspecified() => format!("[::1]:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}
