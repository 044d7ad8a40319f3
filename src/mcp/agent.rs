//! The run tools (M2), for an agent run's own token: `get_task_context`,
//! `create_subtask`, `list_subtasks`, `report_progress`, `ask_user`. Each acts on the
//! run's task ([`Caller::run_task`]); none takes a task id.

use serde::Deserialize;

use super::{Caller, NoArguments};
use crate::board::Result;
use crate::board::subtasks::{self, TaskContext};
use crate::db::tasks::Task;
use crate::limits::{TEXT_MAX, TITLE_MAX};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Subtask {
    #[schemars(length(min = 1, max = TITLE_MAX), regex(pattern = r"\S"))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = TEXT_MAX))]
    pub description: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Progress {
    /// One line, e.g. "running the tests".
    #[schemars(length(min = 1, max = TITLE_MAX), regex(pattern = r"\S"))]
    pub message: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Question {
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub question: String,
}

pub(super) async fn context(caller: Caller, _: NoArguments) -> Result<TaskContext> {
    subtasks::context(&caller.state.pool, caller.run_task()?).await
}

pub(super) async fn list_subtasks(caller: Caller, _: NoArguments) -> Result<Vec<Task>> {
    subtasks::list(&caller.state.pool, caller.run_task()?).await
}

pub(super) async fn create_subtask(caller: Caller, arguments: Subtask) -> Result<Task> {
    let request = crate::board::tasks::TaskRequest {
        title: arguments.title,
        description: arguments.description,
        ..Default::default()
    };
    subtasks::create(&caller.state.pool, caller.run_task()?, request).await
}

pub(super) async fn report_progress(caller: Caller, arguments: Progress) -> Result<Task> {
    subtasks::report_progress(&caller.state.pool, caller.run_task()?, &arguments.message).await
}

/// A question on the task (`board::requests`): the card says it needs the user, and the
/// answer is queued as the agent's next message.
pub(super) async fn ask_user(caller: Caller, arguments: Question) -> Result<crate::db::requests::Request> {
    crate::board::requests::ask_question(&caller.state.pool, caller.run_task()?, &arguments.question).await
}
