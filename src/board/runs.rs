//! Agent runs on a task (A4–A7) as the domain offers them: start, chat, resume, stop,
//! and the task's runs. The work itself is the runner's (`agents::run`); this maps its
//! refusals to the domain's [`Error`] and checks what the runner does not.

use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::pipeline::Chat;
use super::{Error, Result, bounded_text, optional_text};
use crate::agents::run::{RunError, Runner, StartRequest};
use crate::db::sessions::{self, AgentSession};
use crate::limits::{NAME_MAX, TEXT_MAX};

/// A run asked for by hand (`POST /api/tasks/{id}/runs`).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RunBody")]
pub struct RunRequest {
    /// What to do. On a task's first run it becomes the `## Instructions` of a prompt
    /// built from the title and description; omitted, the title and description alone.
    #[schemars(length(max = TEXT_MAX))]
    pub prompt: Option<String>,
    /// An agent id from `GET /api/agents`, or `custom:<name>` from the board's
    /// `custom_agents` setting. Default: the task's agent, the board's
    /// `default_agent`, then `claude-code`.
    #[schemars(length(min = 1, max = NAME_MAX))]
    pub agent: Option<String>,
    #[schemars(length(min = 1, max = NAME_MAX))]
    pub model: Option<String>,
}

/// Starts the task's agent; on its first run `prompt` becomes the instructions of a
/// prompt built from the task.
pub async fn start(runner: &Runner, task_id: Uuid, request: RunRequest) -> Result<AgentSession> {
    let request = StartRequest {
        prompt: request.prompt.map(|prompt| bounded_text("prompt", &prompt, TEXT_MAX)).transpose()?,
        agent: optional_text("agent", request.agent, NAME_MAX)?,
        model: optional_text("model", request.model, NAME_MAX)?,
        resume: false,
    };
    Ok(runner.run(task_id, request).await?)
}

/// A chat message: queued for the task's agent, which the `in_progress` column's
/// run-agent hook runs on it (`board::pipeline::message`).
pub async fn message(pool: &PgPool, runner: &Runner, task_id: Uuid, text: &str) -> Result<Chat> {
    super::pipeline::message(pool, runner.is_running(task_id), task_id, text).await
}

/// Continues the task's interrupted or finished agent session.
pub async fn resume(runner: &Runner, task_id: Uuid) -> Result<AgentSession> {
    Ok(runner.run(task_id, StartRequest { resume: true, ..StartRequest::default() }).await?)
}

/// Stops the task's run; the session being stopped.
pub fn stop(runner: &Runner, task_id: Uuid) -> Result<Uuid> {
    Ok(runner.stop(task_id)?)
}

/// The task's agent runs, oldest first.
pub async fn sessions(pool: &PgPool, task_id: Uuid) -> Result<Vec<AgentSession>> {
    let mut connection = pool.acquire().await?;
    super::tasks::existing(&mut connection, task_id).await?;
    Ok(sessions::for_task(&mut connection, task_id).await?)
}

impl From<RunError> for Error {
    fn from(error: RunError) -> Self {
        let message = error.to_string();
        match error {
            RunError::TaskNotFound(_) => Self::NotFound { field: "id", message },
            RunError::UnknownAgent(..) => Self::invalid("agent", message),
            RunError::Busy | RunError::NoRepository | RunError::NotRunning | RunError::NothingToResume => {
                Self::conflict(message)
            }
            RunError::Database(error) => Self::Database(error),
        }
    }
}
