//! Health, version and shutdown: the routes the launcher and scripts rely on.

use axum::Json;
use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, schemars::JsonSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// `GET /api/health`: a database round trip. Public; says nothing but status.
///
/// For the embedded server the supervisor's view counts too: down before or after the
/// round trip, or restarted during it (the pool's reconnects can hide a short outage),
/// is reported as down.
pub async fn health(State(state): State<AppState>) -> Response {
    let supervisor = || state.postgres_liveness.as_ref().map_or((true, 0), |liveness| liveness.snapshot());
    let before = supervisor();
    let answered = before.0 && db::ping(&state.pool).await;
    if answered && supervisor() == before {
        Json(Health { status: "ok", database: "ok" }).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable", database: "down" }))
            .into_response()
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Version {
    pub version: &'static str,
    pub postgres: String,
    /// The newest migration this binary knows.
    pub schema: i64,
    pub uptime_seconds: u64,
}

/// `GET /api/version`.
pub async fn version(State(state): State<AppState>) -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION"),
        postgres: state.postgres_version.to_string(),
        schema: db::latest_known(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Stopping {
    /// Always `stopping`.
    pub status: &'static str,
}

/// `POST /api/shutdown`: what `viban stop` calls. The server answers, then winds down.
pub async fn shutdown(State(state): State<AppState>) -> impl IntoResponse {
    tracing::info!("shutdown requested through the API");
    state.shutdown.trigger();
    (StatusCode::ACCEPTED, Json(Stopping { status: "stopping" }))
}

/// Any `/api` path without a route.
pub async fn unknown_route(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {}", uri.path()))
}
