//! What an agent's run may do on its own task (M2, through the run tools of
//! `crate::mcp`): read its context, split it into subtasks, and show a progress line
//! on its card. The caller has established which task is the run's; nothing here
//! reaches another task except the subtasks it creates.

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Error, Result, required_text};
use crate::db::boards::{self as board_rows, Column};
use crate::db::events::EventKind;
use crate::db::tasks::{self as rows, Task, TaskFilter};
use crate::limits::TITLE_MAX;

/// A task with where it sits and what hangs off it.
#[derive(Debug, Serialize)]
pub struct TaskContext {
    pub task: Task,
    pub board_name: String,
    pub column: Option<Column>,
    pub parent: Option<Task>,
    pub subtasks: Vec<Task>,
}

/// The task, its board's name, its column, its parent and its subtasks.
pub async fn context(pool: &PgPool, task_id: Uuid) -> Result<TaskContext> {
    let mut tx = pool.begin().await?;
    board_rows::read_only_snapshot(&mut tx).await?;
    let task = super::tasks::existing(&mut tx, task_id).await?;
    let board = super::boards::existing(&mut tx, task.board_id).await?;
    let column =
        board_rows::columns(&mut tx, task.board_id).await?.into_iter().find(|c| c.id == task.column_id);
    let tasks = rows::list(&mut tx, task.board_id, &TaskFilter::default()).await?;
    tx.commit().await?;
    let parent = task.parent_task_id.and_then(|parent| tasks.iter().find(|t| t.id == parent).cloned());
    let subtasks = tasks.into_iter().filter(|t| t.parent_task_id == Some(task_id)).collect();
    Ok(TaskContext { task, board_name: board.name, column, parent, subtasks })
}

/// The task's subtasks in board order.
pub async fn list(pool: &PgPool, task_id: Uuid) -> Result<Vec<Task>> {
    let task = super::tasks::get(pool, task_id).await?;
    let tasks = super::tasks::list(pool, task.board_id, None, None).await?;
    Ok(tasks.into_iter().filter(|t| t.parent_task_id == Some(task_id)).collect())
}

/// A subtask of `task_id` on its board, in the board's first column.
pub async fn create(pool: &PgPool, task_id: Uuid, mut request: super::tasks::TaskRequest) -> Result<Task> {
    let task = super::tasks::get(pool, task_id).await?;
    request.parent_task_id = Some(task_id);
    super::tasks::create(pool, task.board_id, request).await
}

/// Sets the card's status line (`status_message`) and publishes `task.updated`; the
/// agent status and error stay. Lines are joined: the card shows one.
pub async fn report_progress(pool: &PgPool, task_id: Uuid, message: &str) -> Result<Task> {
    let message =
        required_text("message", &message.split_whitespace().collect::<Vec<_>>().join(" "), TITLE_MAX)?;
    let mut tx = pool.begin().await?;
    let task = rows::lock(&mut tx, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    let task = rows::set_status(&mut tx, task_id, task.agent_status, Some(&message), task.error.as_deref())
        .await?
        .ok_or_else(|| Error::not_found("task", task_id))?;
    rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    tx.commit().await?;
    Ok(task)
}
