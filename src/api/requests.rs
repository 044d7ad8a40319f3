//! What agents ask of the user (M3): `/api/tasks/{id}/requests`, deciding an approval
//! (`/api/approvals/{id}`) and answering a question (`/api/questions/{id}`). Handlers
//! hand over to [`crate::board::requests`].

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::extract::{Id, Json};
use crate::board::pipeline::Chat;
use crate::board::requests::{self, Decision};
use crate::db::requests::Request;
use crate::error::ApiError;
use crate::limits::TEXT_MAX;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub decision: Decision,
    /// With `deny`: what the agent is told.
    #[schemars(length(max = TEXT_MAX))]
    pub note: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub answer: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Answered {
    pub request: Request,
    /// As `POST /api/tasks/{id}/messages` answers: true when the agent or the task's
    /// hooks were busy and the answer waits for them.
    pub queued: bool,
}

pub async fn decide(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<DecisionBody>,
) -> Result<axum::Json<Request>, ApiError> {
    Ok(axum::Json(requests::decide(&state.pool, &state.runner, id, body.decision, body.note).await?))
}

pub async fn answer(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<AnswerBody>,
) -> Result<axum::Json<Answered>, ApiError> {
    let (request, chat) = requests::answer(&state.pool, &state.runner, id, &body.answer).await?;
    Ok(axum::Json(Answered { request, queued: chat == Chat::Queued }))
}
