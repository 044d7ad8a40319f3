//! Worktree housekeeping (H6): `GET /api/housekeeping` (the dry run: every worktree,
//! its disk use and what a clean-up would do with it) and `POST /api/housekeeping/run`
//! ("Clean up now"). Handlers hand over to [`crate::board::housekeeping`].

use axum::extract::State;

use crate::board::housekeeping::{self, Report};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn plan(State(state): State<AppState>) -> Result<axum::Json<Report>, ApiError> {
    Ok(axum::Json(housekeeping::plan(&state.pool, &state.runner).await?))
}

pub async fn run(State(state): State<AppState>) -> Result<axum::Json<Report>, ApiError> {
    Ok(axum::Json(housekeeping::run(&state.pool, &state.runner).await?))
}
