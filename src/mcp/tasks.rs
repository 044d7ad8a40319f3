//! Task tools: `list_tasks`, `get_task`, `create_task`, `update_task`, `move_task`,
//! `delete_task`, `get_activity`. Their arguments wrap the API's own bodies
//! (`TaskRequest`, `TaskEdit`, `Destination`, `ActivityPage`) with the ids the API
//! takes from its path, and a column may be named by its role.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Caller;
use crate::api::tasks::ActivityPage;
use crate::board::{self, Error, Result};
use crate::db::boards::ColumnRole;
use crate::db::tasks::Task;
use crate::schema::Timestamp;

/// How much of an activity entry's text `get_activity` shows.
const SUMMARY_CHARS: usize = 400;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskId {
    pub task_id: Uuid,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct ListTasks {
    pub board_id: Uuid,
    /// Only the tasks in the board's first column with this role.
    pub column_role: Option<ColumnRole>,
    /// Only the tasks in this column.
    pub column_id: Option<Uuid>,
    /// Text the title or description must contain.
    pub text: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct CreateTask {
    pub board_id: Uuid,
    /// The column by role instead of `column_id`.
    pub column_role: Option<ColumnRole>,
    #[serde(flatten)]
    pub task: board::tasks::TaskRequest,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct UpdateTask {
    pub task_id: Uuid,
    #[serde(flatten)]
    pub edit: board::tasks::TaskEdit,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct MoveTask {
    pub task_id: Uuid,
    /// The column by role instead of `column_id`.
    pub column_role: Option<ColumnRole>,
    #[serde(flatten)]
    pub destination: board::tasks::Destination,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct GetActivity {
    pub task_id: Uuid,
    #[serde(flatten)]
    pub page: ActivityPage,
}

/// An activity entry, its text shortened.
#[derive(Serialize)]
pub(crate) struct Entry {
    id: i64,
    kind: String,
    at: Timestamp,
    summary: String,
}

#[derive(Serialize)]
pub(crate) struct Activity {
    entries: Vec<Entry>,
    next_after: Option<i64>,
    next_before: Option<i64>,
}

#[derive(Serialize)]
pub(crate) struct Deleted {
    deleted: Uuid,
}

/// `column_role` or `column_id`, as a column id of `board_id`.
async fn column(
    caller: &Caller,
    board_id: Uuid,
    role: Option<ColumnRole>,
    id: Option<Uuid>,
) -> Result<Option<Uuid>> {
    match (role, id) {
        (Some(_), Some(_)) => Err(Error::invalid("column_role", "give column_role or column_id, not both")),
        (Some(role), None) => Ok(Some(board::columns::with_role(&caller.state.pool, board_id, role).await?)),
        (None, id) => Ok(id),
    }
}

pub(super) async fn list(caller: Caller, arguments: ListTasks) -> Result<Vec<Task>> {
    let column_id = column(&caller, arguments.board_id, arguments.column_role, arguments.column_id).await?;
    board::tasks::list(&caller.state.pool, arguments.board_id, column_id, arguments.text).await
}

pub(super) async fn get(caller: Caller, arguments: TaskId) -> Result<Task> {
    board::tasks::get(&caller.state.pool, arguments.task_id).await
}

pub(super) async fn create(caller: Caller, arguments: CreateTask) -> Result<Task> {
    let mut task = arguments.task;
    task.column_id = column(&caller, arguments.board_id, arguments.column_role, task.column_id).await?;
    board::tasks::create(&caller.state.pool, arguments.board_id, task).await
}

pub(super) async fn update(caller: Caller, arguments: UpdateTask) -> Result<Task> {
    board::tasks::update(&caller.state.pool, arguments.task_id, arguments.edit).await
}

pub(super) async fn move_to(caller: Caller, arguments: MoveTask) -> Result<Task> {
    let mut destination = arguments.destination;
    if arguments.column_role.is_some() {
        let task = board::tasks::get(&caller.state.pool, arguments.task_id).await?;
        destination.column_id =
            column(&caller, task.board_id, arguments.column_role, destination.column_id).await?;
    }
    board::tasks::move_task(&caller.state.pool, arguments.task_id, destination).await
}

pub(super) async fn delete(caller: Caller, arguments: TaskId) -> Result<Deleted> {
    board::tasks::delete(&caller.state.pool, &caller.state.runner, arguments.task_id).await?;
    Ok(Deleted { deleted: arguments.task_id })
}

pub(super) async fn activity(caller: Caller, arguments: GetActivity) -> Result<Activity> {
    let (pool, id, page) = (&caller.state.pool, arguments.task_id, arguments.page);
    let (entries, next_after, next_before) = match (page.after, page.before) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid("before", "`after` and `before` exclude each other"));
        }
        (_, Some(before)) => {
            let (entries, next) = board::tasks::activity_before(pool, id, before, page.limit).await?;
            (entries, None, next)
        }
        (after, None) => {
            let (entries, next) = board::tasks::activity(pool, id, after, page.limit).await?;
            (entries, next, None)
        }
    };
    let entries = entries
        .into_iter()
        .map(|entry| Entry {
            id: entry.id,
            kind: entry.kind,
            at: entry.created_at,
            summary: summary(&entry.data),
        })
        .collect();
    Ok(Activity { entries, next_after, next_before })
}

/// An entry's text (or its data as JSON), at most [`SUMMARY_CHARS`] characters.
fn summary(data: &serde_json::Value) -> String {
    let text = match data.get("text").and_then(|text| text.as_str()) {
        Some(text) => text.to_string(),
        None => data.to_string(),
    };
    match text.char_indices().nth(SUMMARY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
