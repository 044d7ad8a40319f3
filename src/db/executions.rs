//! Hook executions' SQL: one row per queued run of a column's hook for a task's stay in
//! that column. The hook engine claims and finishes them; here, what a column change
//! does to the stay being left.

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::events::{self, EventKind, board_stream, task_stream};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct HookExecution {
    pub id: Uuid,
    pub task_id: Uuid,
    pub column_hook_id: Option<Uuid>,
    /// Null once the column was deleted.
    pub column_id: Option<Uuid>,
    pub hook_name: String,
    pub transparent: bool,
    /// `pending`, `running`, `completed`, `failed`, `cancelled` or `skipped`.
    pub status: String,
    /// Why it was cancelled or skipped.
    pub reason: Option<String>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub queued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub finished_at: Option<OffsetDateTime>,
}

macro_rules! execution_fields {
    () => {
        "id, task_id, column_hook_id, column_id, hook_name, transparent, status::text AS status, reason, error,
         queued_at, started_at, finished_at"
    };
}

/// The task leaves its column: its running execution becomes `cancelled/user_cancelled`
/// and its pending ones `cancelled/column_change` (the rows stay, as the record of what
/// happened). Each change is published on the task's and the board's streams. Returns
/// the executions that were running, whose processes the engine must stop.
pub async fn cancel_stay(
    connection: &mut PgConnection,
    board_id: Uuid,
    task_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let cancelled: Vec<ExecutionRow> = sqlx::query_as(concat!(
        "WITH active AS (
             SELECT id, status = 'running' AS was_running FROM hook_executions
             WHERE task_id = $1 AND status IN ('pending', 'running') FOR UPDATE
         ), changed AS (
             UPDATE hook_executions e SET status = 'cancelled', finished_at = now(),
                    reason = CASE WHEN active.was_running THEN 'user_cancelled' ELSE 'column_change' END
             FROM active WHERE e.id = active.id
             RETURNING e.*, active.was_running
         )
         SELECT ",
        execution_fields!(),
        ", was_running FROM changed ORDER BY queued_at, id"
    ))
    .bind(task_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut running = Vec::new();
    for ExecutionRow { execution, was_running } in cancelled {
        if was_running {
            running.push(execution.id);
        }
        let streams = [task_stream(task_id), board_stream(board_id)];
        events::publish(connection, &streams, EventKind::HookExecutionUpdated, &json!(execution)).await?;
    }
    Ok(running)
}

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    #[sqlx(flatten)]
    execution: HookExecution,
    was_running: bool,
}

/// A task's executions, oldest first.
pub async fn for_task(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Vec<HookExecution>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        execution_fields!(),
        " FROM hook_executions WHERE task_id = $1 ORDER BY queued_at, id"
    ))
    .bind(task_id)
    .fetch_all(connection)
    .await
}
