//! Agents (A1–A7): which are installed, and running them on a task — start, chat
//! (follow-ups resume the agent's session), stop, resume after an interruption.
//! Handlers hand over to [`crate::board::runs`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::extract::{Id, Json};
use crate::agents::detect::{self, Availability};
use crate::board::pipeline::Chat;
use crate::board::runs::{self, RunRequest};
use crate::error::ApiError;
use crate::limits::TEXT_MAX;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub text: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct MessageOutcome {
    /// True when the task's agent or hooks were busy: the message waits for the agent's
    /// current run to end, then continues its session. False: the task was idle and
    /// moved to the `in_progress` column, whose run-agent hook starts on the message.
    pub queued: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Stopping {
    pub session_id: uuid::Uuid,
}

pub async fn list() -> axum::Json<Vec<Availability>> {
    axum::Json(detect::all().await)
}

pub async fn start(
    State(state): State<AppState>,
    Id(task_id): Id,
    Json(body): Json<RunRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let session = runs::start(&state.runner, task_id, body).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(session)))
}

pub async fn message(
    State(state): State<AppState>,
    Id(task_id): Id,
    Json(body): Json<MessageBody>,
) -> Result<impl IntoResponse, ApiError> {
    let chat = runs::message(&state.pool, &state.runner, task_id, &body.text).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(MessageOutcome { queued: chat == Chat::Queued })))
}

pub async fn resume(State(state): State<AppState>, Id(task_id): Id) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::ACCEPTED, axum::Json(runs::resume(&state.runner, task_id).await?)))
}

pub async fn stop(State(state): State<AppState>, Id(task_id): Id) -> Result<impl IntoResponse, ApiError> {
    let session_id = runs::stop(&state.runner, task_id)?;
    Ok((StatusCode::ACCEPTED, axum::Json(Stopping { session_id })))
}
