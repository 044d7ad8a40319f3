//! Review and ship (V1–V4): `/api/tasks/{id}/diff`, the review comments
//! (`/api/tasks/{id}/review/comments`, `/api/review-comments/{id}`), sending them
//! (`/review/send`, `/review/request-changes`), `/merge` and `/rebase`. Handlers hand
//! over to [`crate::board::review`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::extract::{Id, Json, Query};
use crate::board::review::{self, MergeRequest, Merged, Rebased, ReviewSent};
use crate::diff::Diff;
use crate::error::ApiError;
use crate::limits::PATH_MAX;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// One file (its `path` or `old_path`), whole up to the hard limits.
    #[schemars(length(min = 1, max = PATH_MAX))]
    pub file: Option<String>,
}

pub async fn diff(
    State(state): State<AppState>,
    Id(id): Id,
    Query(query): Query<DiffQuery>,
) -> Result<axum::Json<Diff>, ApiError> {
    Ok(axum::Json(review::diff(&state.pool, id, query.file.as_deref()).await?))
}

pub async fn send(State(state): State<AppState>, Id(id): Id) -> Result<impl IntoResponse, ApiError> {
    let sent: ReviewSent = review::send(&state.pool, &state.runner, id, false).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(sent)))
}

pub async fn request_changes(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let sent: ReviewSent = review::send(&state.pool, &state.runner, id, true).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(sent)))
}

pub async fn merge(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<MergeRequest>,
) -> Result<axum::Json<Merged>, ApiError> {
    Ok(axum::Json(review::merge(&state.pool, &state.runner, id, body).await?))
}

pub async fn rebase(State(state): State<AppState>, Id(id): Id) -> Result<axum::Json<Rebased>, ApiError> {
    Ok(axum::Json(review::rebase(&state.pool, &state.runner, id).await?))
}
