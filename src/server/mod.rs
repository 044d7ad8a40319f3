//! The HTTP server: one port for the web UI, the JSON API and the WebSocket (L6).
//!
//! `router` is the table of every route; `security` guards all of them (S1–S6);
//! `assets` serves the web UI embedded at build time; `ws` is the realtime socket.

pub mod assets;
pub mod security;
pub mod views;
pub mod ws;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};

use crate::api::{boards, columns, hooks, repositories, tasks, templates};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use crate::api;
use crate::shutdown::Shutdown;
use security::Security;

/// Largest JSON body accepted (S6).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// How many ports after the requested one are tried when it is taken.
const PORT_ATTEMPTS: u16 = 50;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub shutdown: Shutdown,
    pub postgres_version: Arc<str>,
    /// The embedded server's supervisor state; `None` for an external database.
    pub postgres_liveness: Option<crate::postgres::Liveness>,
    pub hub: crate::realtime::Hub,
    pub home: crate::home::Home,
    pub board_views: Arc<views::ViewCache>,
    pub started: Instant,
}

pub fn router(state: AppState, security: Arc<Security>) -> Router {
    let api = Router::new()
        .route("/health", get(api::system::health))
        .route("/version", get(api::system::version))
        .route("/shutdown", post(api::system::shutdown))
        .route("/ws", get(ws::upgrade))
        .route("/boards", get(boards::list).post(boards::create))
        .route("/boards/{id}", get(boards::get).patch(boards::update).delete(boards::delete))
        .route("/repositories", get(repositories::list).post(repositories::link))
        .route("/repositories/{id}", get(repositories::get))
        .route("/fs", get(repositories::browse))
        .route("/boards/{id}/columns", post(columns::create))
        .route("/columns/{id}", patch(columns::update).delete(columns::delete))
        .route("/boards/{id}/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::get).patch(tasks::update).delete(tasks::delete))
        .route("/tasks/{id}/move", post(tasks::move_to))
        .route("/tasks/{id}/duplicate", post(tasks::duplicate))
        .route("/tasks/{id}/activity", get(tasks::activity))
        .route("/boards/{id}/templates", post(templates::create))
        .route("/hooks/builtin", get(hooks::builtins))
        .route("/boards/{id}/hooks", get(hooks::list).post(hooks::create))
        .route("/hooks/{id}", put(hooks::replace).delete(hooks::delete))
        .route("/columns/{id}/hooks", post(hooks::attach))
        .route("/column-hooks/{id}", patch(hooks::update_attachment).delete(hooks::detach))
        .route("/templates/{id}", patch(templates::update).delete(templates::delete))
        .fallback(api::system::unknown_route);
    Router::new()
        .nest("/api", api)
        .fallback(assets::serve)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(security, security::guard))
}

/// Listening sockets on one port: the requested address, plus `[::1]` when the
/// request was for IPv4 loopback (S1 binds both).
pub struct Bound {
    pub listeners: Vec<TcpListener>,
    pub addr: SocketAddr,
    /// The port asked for, when it was taken and another was chosen.
    pub requested_port: Option<u16>,
}

/// Binds `host:port`, or the next free port after it (L6). Port 0 lets the system choose.
pub async fn bind(host: IpAddr, port: u16) -> io::Result<Bound> {
    let candidates: Vec<u16> = if port == 0 {
        vec![0]
    } else {
        (0..PORT_ATTEMPTS).filter_map(|offset| port.checked_add(offset)).collect()
    };
    let mut last_error = None;
    for candidate in candidates {
        match TcpListener::bind((host, candidate)).await {
            Ok(listener) => {
                let addr = listener.local_addr()?;
                let mut listeners = vec![listener];
                if host == IpAddr::V4(Ipv4Addr::LOCALHOST) {
                    // Best effort: IPv6 may be disabled on this machine.
                    if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, addr.port())).await {
                        listeners.push(v6);
                    }
                }
                let requested_port = (port != 0 && addr.port() != port).then_some(port);
                return Ok(Bound { listeners, addr, requested_port });
            }
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port to try")))
}

/// Serves until `shutdown` fires, then stops accepting and lets requests in flight
/// finish for a few seconds.
pub async fn serve(bound: Bound, router: Router, shutdown: Shutdown) -> io::Result<()> {
    let mut servers = tokio::task::JoinSet::new();
    for listener in bound.listeners {
        let router = router.clone();
        let shutdown = shutdown.clone();
        servers.spawn(async move {
            axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.wait().await }).await
        });
    }
    let drain = async {
        while let Some(result) = servers.join_next().await {
            result.map_err(io::Error::other)??;
        }
        Ok::<(), io::Error>(())
    };
    tokio::pin!(drain);
    tokio::select! {
        result = &mut drain => result,
        () = async { shutdown.wait().await; tokio::time::sleep(Duration::from_secs(5)).await } => {
            tracing::warn!("requests still running after 5 s; closing them");
            Ok(())
        }
    }
}
