//! What agents ask of the user (M3), for the user's own assistant: `list_requests`,
//! `decide_approval`, `answer_question`, through [`crate::board::requests`] like the
//! task panel's `POST /api/approvals/{id}` and `/api/questions/{id}`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Caller;
use super::tasks::TaskId;
use crate::board::Result;
use crate::board::pipeline::Chat;
use crate::board::requests::{self, Decision};
use crate::db::requests::Request;
use crate::limits::TEXT_MAX;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecideApproval {
    pub request_id: Uuid,
    pub decision: Decision,
    /// With `deny`: what the agent is told.
    #[schemars(length(max = TEXT_MAX))]
    pub note: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerQuestion {
    pub request_id: Uuid,
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub answer: String,
}

#[derive(Serialize)]
pub(crate) struct Answered {
    request: Request,
    /// True when the agent or the task's hooks were busy and the answer waits for them.
    queued: bool,
}

pub(super) async fn list(caller: Caller, arguments: TaskId) -> Result<Vec<Request>> {
    requests::list(&caller.state.pool, arguments.task_id).await
}

pub(super) async fn decide(caller: Caller, arguments: DecideApproval) -> Result<Request> {
    let state = &caller.state;
    requests::decide(&state.pool, &state.runner, arguments.request_id, arguments.decision, arguments.note)
        .await
}

pub(super) async fn answer(caller: Caller, arguments: AnswerQuestion) -> Result<Answered> {
    let state = &caller.state;
    let (request, chat) =
        requests::answer(&state.pool, &state.runner, arguments.request_id, &arguments.answer).await?;
    Ok(Answered { request, queued: chat == Chat::Queued })
}
