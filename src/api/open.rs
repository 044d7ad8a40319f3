//! `POST /api/tasks/{id}/open`: opens the task's worktree on the host, in the file
//! manager or the editor ([`crate::board::open`] decides what may be opened,
//! [`crate::opener`] how).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{Id, Json};
use crate::board::open::Opened;
use crate::error::ApiError;
use crate::opener::OpenTarget;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    pub target: OpenTarget,
}

/// `POST /api/tasks/{id}/open`.
pub async fn open(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<OpenBody>,
) -> Result<(StatusCode, axum::Json<Opened>), ApiError> {
    let opened =
        crate::board::open::worktree(&state.pool, state.home.worktrees_dir(), id, body.target).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(opened)))
}
