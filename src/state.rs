//! What every request handler (and, later, every other adapter) can reach: the pool,
//! the realtime hub, the agent runner and the rest of one server session's parts.
//! It lives outside `server` and `api` so that both can name it without a cycle.

use std::sync::Arc;
use std::time::Instant;

use sqlx::PgPool;

use crate::shutdown::Shutdown;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// This viban's id on the database: what its agent sessions record, and what the
    /// hook engine's leases name.
    pub instance: crate::instance::identity::Instance,
    pub shutdown: Shutdown,
    pub postgres_version: Arc<str>,
    /// The embedded server's supervisor state; `None` for an external database.
    pub postgres_liveness: Option<crate::postgres::Liveness>,
    pub hub: crate::realtime::Hub,
    pub home: crate::home::Home,
    pub board_views: Arc<crate::board::views::ViewCache>,
    pub runner: crate::agents::run::Runner,
    pub updates: crate::update::Updates,
    pub started: Instant,
}
