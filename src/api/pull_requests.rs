//! Pull requests (V5) and the branch's position (V4): `POST /api/tasks/{id}/pull-request`,
//! `POST /api/tasks/{id}/pull-request/sync` and `GET /api/tasks/{id}/branch`. Handlers
//! hand over to [`crate::board::pull_requests`].

use axum::extract::State;

use super::extract::{Id, Json};
use crate::board::pull_requests::{self, CreateRequest, PullRequest};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<CreateRequest>,
) -> Result<axum::Json<PullRequest>, ApiError> {
    Ok(axum::Json(pull_requests::create(&state.pool, &state.runner, id, body).await?))
}
