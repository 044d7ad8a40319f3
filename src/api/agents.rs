//! Agents (A1–A7): which are installed, and running them on a task — start, chat
//! (follow-ups resume the agent's session), stop, resume after an interruption.
//! Handlers only validate and hand over to [`crate::agents::run::Runner`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::extract::{Id, Json, bounded_text, required_text};
use crate::agents::detect::{self, Availability};
use crate::agents::run::{RunError, StartRequest};
use crate::db::sessions::{self, AgentSession};
use crate::error::ApiError;
use crate::state::AppState;

const PROMPT_MAX: usize = 100_000;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// What to do. On a task's first run it becomes the `## Instructions` of a prompt
    /// built from the title and description; omitted, the title and description alone.
    #[schemars(length(max = 100_000))]
    pub prompt: Option<String>,
    /// An agent id from `GET /api/agents`, or `custom:<name>` from the board's
    /// `custom_agents` setting. Default: the task's agent, the board's
    /// `default_agent`, then `claude-code`.
    #[schemars(length(min = 1, max = 200))]
    pub agent: Option<String>,
    #[schemars(length(min = 1, max = 200))]
    pub model: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    #[schemars(length(min = 1, max = 100_000), regex(pattern = r"\S"))]
    pub text: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct MessageOutcome {
    /// True when an agent was busy on the task: the message waits for its run to end.
    pub queued: bool,
    /// The run the message started, when it was not queued.
    pub session: Option<AgentSession>,
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
    Json(body): Json<RunBody>,
) -> Result<impl IntoResponse, ApiError> {
    let request = StartRequest {
        prompt: body.prompt.map(|prompt| bounded_text("prompt", &prompt, PROMPT_MAX)).transpose()?,
        agent: body.agent.map(|agent| required_text("agent", &agent, 200)).transpose()?,
        model: body.model.map(|model| required_text("model", &model, 200)).transpose()?,
        resume: false,
    };
    let session = state.runner.run(task_id, request).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(session)))
}

pub async fn message(
    State(state): State<AppState>,
    Id(task_id): Id,
    Json(body): Json<MessageBody>,
) -> Result<impl IntoResponse, ApiError> {
    let text = required_text("text", &body.text, PROMPT_MAX)?;
    let session = state.runner.message(task_id, &text).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(MessageOutcome { queued: session.is_none(), session })))
}

pub async fn resume(State(state): State<AppState>, Id(task_id): Id) -> Result<impl IntoResponse, ApiError> {
    let request = StartRequest { resume: true, ..StartRequest::default() };
    let session = state.runner.run(task_id, request).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(session)))
}

pub async fn stop(State(state): State<AppState>, Id(task_id): Id) -> Result<impl IntoResponse, ApiError> {
    let session_id = state.runner.stop(task_id)?;
    Ok((StatusCode::ACCEPTED, axum::Json(Stopping { session_id })))
}

pub async fn sessions(
    State(state): State<AppState>,
    Id(task_id): Id,
) -> Result<axum::Json<Vec<AgentSession>>, ApiError> {
    let mut connection = state.pool.acquire().await?;
    crate::db::tasks::get(&mut connection, task_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no task {task_id}")).with_field("id"))?;
    Ok(axum::Json(sessions::for_task(&mut connection, task_id).await?))
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        let detail = error.to_string();
        match error {
            RunError::TaskNotFound(_) => Self::not_found(detail).with_field("id"),
            RunError::UnknownAgent(..) => Self::invalid(detail).with_field("agent"),
            RunError::Busy | RunError::NoRepository | RunError::NotRunning | RunError::NothingToResume => {
                Self::new(StatusCode::CONFLICT, "Conflict", detail)
            }
            RunError::Database(error) => error.into(),
        }
    }
}
