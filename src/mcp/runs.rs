//! Agent run tools: `send_message`, `start_run`, `stop_run`, through
//! [`crate::board::runs`] like the API's handlers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Caller;
use super::tasks::TaskId;
use crate::board::pipeline::Chat;
use crate::board::runs::{self, RunRequest};
use crate::board::{Error, Result};
use crate::db::sessions::AgentSession;
use crate::limits::TEXT_MAX;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendMessage {
    pub task_id: Uuid,
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub text: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct StartRun {
    pub task_id: Uuid,
    #[serde(flatten)]
    pub run: RunRequest,
}

#[derive(Serialize)]
pub(crate) struct Sent {
    /// True when the agent was busy and the message waits for its run to end.
    queued: bool,
}

#[derive(Serialize)]
pub(crate) struct Stopping {
    session_id: Uuid,
}

pub(super) async fn message(caller: Caller, arguments: SendMessage) -> Result<Sent> {
    if arguments.text.trim().is_empty() {
        return Err(Error::invalid("text", "text must not be empty"));
    }
    let state = &caller.state;
    let chat = runs::message(&state.pool, &state.runner, arguments.task_id, &arguments.text).await?;
    Ok(Sent { queued: chat == Chat::Queued })
}

pub(super) async fn start(caller: Caller, arguments: StartRun) -> Result<AgentSession> {
    runs::start(&caller.state.runner, arguments.task_id, arguments.run).await
}

pub(super) async fn stop(caller: Caller, arguments: TaskId) -> Result<Stopping> {
    Ok(Stopping { session_id: runs::stop(&caller.state.runner, arguments.task_id)? })
}
