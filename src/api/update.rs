//! Self-update (R2) through the running server: what the UI and the tray show
//! ("update available"), a check on request, and applying an update — install, then
//! restart into the new binary — which waits while any agent runs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::update::{ApplyError, UpdateError, UpdateStatus};

/// `GET /api/update`: the last check's result, without asking the release server.
pub async fn status(State(state): State<AppState>) -> axum::Json<UpdateStatus> {
    axum::Json(state.updates.status(state.runner.active_runs()))
}

/// `POST /api/update/check`: asks the release server now. A server that cannot be
/// reached is reported in `error`, not as a failure of this request.
pub async fn check(State(state): State<AppState>) -> Result<axum::Json<UpdateStatus>, ApiError> {
    state.updates.check().await.map_err(problem)?;
    Ok(axum::Json(state.updates.status(state.runner.active_runs())))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Applied {
    /// `restarting` (into the new version) or `installed` (an agent started meanwhile;
    /// the new version runs from the next start).
    pub status: &'static str,
    pub version: String,
}

/// `POST /api/update/apply`: installs the update the last check found and restarts
/// into it. Refused (409) while agents run, since a restart would interrupt them.
pub async fn apply(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let runner = state.runner.clone();
    let applied = state.updates.apply(|| runner.active_runs(), &state.shutdown).await.map_err(problem)?;
    let (status, version) = match applied {
        crate::update::Applied::Restarting(version) => ("restarting", version),
        crate::update::Applied::Installed(version) => ("installed", version),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(Applied { status, version })))
}

fn problem(error: ApplyError) -> ApiError {
    match error {
        ApplyError::AgentsRunning(_) => {
            ApiError::new(StatusCode::CONFLICT, "Agents are running", error.to_string())
        }
        ApplyError::NothingAvailable => {
            ApiError::new(StatusCode::CONFLICT, "No update to apply", error.to_string())
        }
        ApplyError::Busy => ApiError::new(StatusCode::CONFLICT, "Update under way", error.to_string()),
        ApplyError::Update(UpdateError::Disabled(reason)) => {
            ApiError::new(StatusCode::CONFLICT, "Updates are off", reason)
        }
        ApplyError::Update(error) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "Update failed", error.to_string())
        }
    }
}
