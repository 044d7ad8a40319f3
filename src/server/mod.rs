//! The HTTP server: one port for the web UI, the JSON API and the WebSocket (L6).
//!
//! The router is built from the API's route table ([`crate::api::routes`]); `security`
//! guards every request; `assets` serves the web UI embedded at build time.

pub mod assets;
pub mod security;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::MethodRouter;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use crate::api::{self, extract::BODY_LIMIT, routes};
use crate::shutdown::Shutdown;
use crate::state::AppState;
use security::Security;

/// How many ports after the requested one are tried when it is taken.
const PORT_ATTEMPTS: u16 = 50;

/// The whole application: `/api` from the [`routes::table`], the web UI for the rest,
/// every request through the security guard.
pub fn router(state: AppState, security: Arc<Security>) -> Router {
    let mut api = Router::new();
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in routes::table() {
        match by_path.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, methods)) => *methods = std::mem::take(methods).merge(route.handler),
            None => by_path.push((route.path, route.handler)),
        }
    }
    for (path, methods) in by_path {
        api = api.route(path, methods);
    }
    // The MCP server (JSON-RPC over Streamable HTTP, not in the OpenAPI document).
    let mcp = crate::mcp::server::service(state.clone(), security.host_names(), BODY_LIMIT);
    api = api.route_service(routes::MCP, mcp);
    Router::new()
        .nest("/api", api.fallback(api::system::unknown_route))
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
            // Responses go out as soon as they are written, not after a delayed ACK.
            let listener = listener.tap_io(|stream| {
                let _ = stream.set_nodelay(true);
            });
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
