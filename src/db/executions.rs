//! Hook executions' SQL: one row per queued run of a column's hook for a task's stay in
//! that column — a durable queue. Queued by `board::pipeline` in the transaction of the
//! move; claimed with a row lock, a lease and a fencing token by `hooks::engine`; every
//! write after the claim checks the token, so an instance that lost its lease changes
//! nothing.

use crate::schema::Timestamp;
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::events::{self, EventKind, board_stream, task_stream};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct HookExecution {
    pub id: Uuid,
    /// Which board's stream it is published on too (rule 11); not shown. (Null only in
    /// rows older than the engine.)
    #[serde(skip)]
    pub board_id: Option<Uuid>,
    pub task_id: Uuid,
    pub column_hook_id: Option<Uuid>,
    /// Null once the column was deleted.
    pub column_id: Option<Uuid>,
    pub hook_name: String,
    pub transparent: bool,
    /// `pending`, `running`, `completed`, `failed`, `cancelled` or `skipped`.
    pub status: String,
    /// The end of what the hook printed (scripts), kept for the record.
    pub output: String,
    /// Why it was cancelled or skipped.
    pub reason: Option<String>,
    pub error: Option<String>,
    pub queued_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

macro_rules! execution_fields {
    () => {
        "id, board_id, task_id, column_hook_id, column_id, hook_name, transparent, status::text AS status, output,
         reason, error, queued_at, started_at, finished_at"
    };
}
super::record::record!(HookExecution, execution_fields, "hook_executions");

/// The task leaves its column: its running execution becomes `cancelled/user_cancelled`
/// and its pending ones `cancelled/column_change` (the rows stay, as the record of what
/// happened). Each change is published on the task's and the board's streams. Returns
/// the executions that were running, whose processes the engine must stop.
pub async fn cancel_stay(connection: &mut PgConnection, task_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
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
        publish(connection, &execution).await?;
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
    super::record::all(connection, "task_id = $1 ORDER BY queued_at, position, id", task_id).await
}

/// An attachment of a column with what its step needs, in the column's order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attachment {
    pub id: Uuid,
    pub builtin: Option<String>,
    pub settings: serde_json::Value,
    pub execute_once: bool,
    pub transparent: bool,
    pub position: String,
    pub hook_id: Option<Uuid>,
}

/// The column's `hooks_enabled` and its attachments in order.
pub async fn attachments(
    connection: &mut PgConnection,
    column_id: Uuid,
) -> Result<(bool, Vec<Attachment>), sqlx::Error> {
    let enabled: Option<bool> = sqlx::query_scalar("SELECT hooks_enabled FROM columns WHERE id = $1")
        .bind(column_id)
        .fetch_optional(&mut *connection)
        .await?;
    let attachments = sqlx::query_as(
        "SELECT id, builtin, settings, execute_once, transparent, position, hook_id FROM column_hooks
         WHERE column_id = $1 ORDER BY position",
    )
    .bind(column_id)
    .fetch_all(connection)
    .await?;
    Ok((enabled.unwrap_or(false), attachments))
}

/// The execute-once attachments the task has already run.
pub async fn executed_once(connection: &mut PgConnection, task_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT column_hook_id FROM executed_column_hooks WHERE task_id = $1")
        .bind(task_id)
        .fetch_all(connection)
        .await
}

/// A row to queue (or record as skipped) for a task's stay.
pub struct NewExecution<'a> {
    pub board_id: Uuid,
    pub task_id: Uuid,
    pub column_id: Uuid,
    pub column_stay: Uuid,
    pub column_hook_id: Uuid,
    pub hook_name: &'a str,
    pub position: &'a str,
    pub transparent: bool,
    pub step: serde_json::Value,
    pub starts_agent: bool,
    /// `pending`, or `skipped` with a reason.
    pub skipped: Option<&'a str>,
}

pub async fn insert(
    connection: &mut PgConnection,
    new: &NewExecution<'_>,
) -> Result<HookExecution, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO hook_executions (board_id, task_id, column_id, column_stay, column_hook_id, hook_name, position,
                                      transparent, step, starts_agent, status, reason, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 CASE WHEN $11::text IS NULL THEN 'pending' ELSE 'skipped' END::hook_execution_status, $11,
                 CASE WHEN $11::text IS NULL THEN NULL ELSE now() END)
         RETURNING ",
        execution_fields!()
    ))
    .bind(new.board_id)
    .bind(new.task_id)
    .bind(new.column_id)
    .bind(new.column_stay)
    .bind(new.column_hook_id)
    .bind(new.hook_name)
    .bind(new.position)
    .bind(new.transparent)
    .bind(&new.step)
    .bind(new.starts_agent)
    .bind(new.skipped)
    .fetch_one(connection)
    .await
}

/// The task's current stay (its id changes with every column change).
pub async fn stay_of(connection: &mut PgConnection, task_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT column_stay FROM tasks WHERE id = $1")
        .bind(task_id)
        .fetch_optional(connection)
        .await
}

/// Publishes an execution's new state on its task's stream and its board's (rule 11).
/// On the board's it changes nothing a board view shows, so the cached view stays
/// valid ([`EventKind::changes_board_view`]).
pub async fn publish(connection: &mut PgConnection, execution: &HookExecution) -> Result<(), sqlx::Error> {
    let mut streams = vec![task_stream(execution.task_id)];
    streams.extend(execution.board_id.map(board_stream));
    events::publish(connection, &streams, EventKind::HookExecutionUpdated, &json!(execution)).await
}

/// A claimed execution: what the engine needs to run it and to write its outcome.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub board_id: Uuid,
    pub task_id: Uuid,
    pub column_id: Option<Uuid>,
    pub column_stay: Uuid,
    pub column_hook_id: Option<Uuid>,
    pub hook_name: String,
    pub transparent: bool,
    pub step: serde_json::Value,
    pub fence: i64,
}

/// The kinds of step (`hooks::Step`) that finish in one transaction: a column's limit
/// does not count them.
const INSTANT: &[&str] = &["auto-start", "move-task", "play-sound"];

/// Claims the oldest runnable pending execution: the first in order of its task's
/// current stay, for a task running no other hook, not waiting for a blocker when it
/// would start an agent, in a column under its `max_concurrent` (of the hooks that
/// take a while: the instant built-ins — move-task, play-sound, auto-start — finish in
/// one transaction and neither count nor wait; counted across every
/// instance: claims into a limited column are serialized by an advisory lock), and
/// not for a board whose repository this instance cannot reach (`unreachable`). `None`
/// when there is nothing to claim.
pub async fn claim(
    connection: &mut PgConnection,
    instance: &str,
    lease: std::time::Duration,
    unreachable: &[Uuid],
) -> Result<Option<Claimed>, sqlx::Error> {
    let candidate: Option<(Uuid, Option<Uuid>, Option<i32>)> = sqlx::query_as(
        "SELECT p.id, p.column_id, CASE WHEN p.step->>'kind' = ANY($2) THEN NULL ELSE c.max_concurrent END
         FROM hook_executions p
         JOIN tasks t ON t.id = p.task_id AND t.column_stay = p.column_stay
         LEFT JOIN columns c ON c.id = p.column_id
         JOIN boards b ON b.id = t.board_id
         WHERE p.status = 'pending'
           AND (b.repository_id IS NULL OR NOT b.repository_id = ANY($1))
           AND NOT EXISTS (SELECT 1 FROM hook_executions r WHERE r.task_id = p.task_id AND r.status = 'running')
           AND NOT EXISTS (SELECT 1 FROM hook_executions q
                           WHERE q.task_id = p.task_id AND q.column_stay = p.column_stay AND q.status = 'pending'
                             AND (q.position < p.position OR (q.position = p.position AND q.queued_at < p.queued_at)))
           AND NOT (p.starts_agent AND EXISTS (
                   SELECT 1 FROM task_blockers k JOIN tasks bt ON bt.id = k.blocker_id
                   JOIN columns bc ON bc.id = bt.column_id
                   WHERE k.task_id = p.task_id AND bc.role <> 'done'))
           AND (c.max_concurrent IS NULL OR p.step->>'kind' = ANY($2) OR c.max_concurrent >
                (SELECT count(*) FROM hook_executions x
                 WHERE x.column_id = p.column_id AND x.status = 'running' AND NOT x.step->>'kind' = ANY($2)))
         ORDER BY p.queued_at, p.id
         LIMIT 1
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind(unreachable)
    .bind(INSTANT)
    .fetch_optional(&mut *connection)
    .await?;
    let Some((id, column_id, limit)) = candidate else { return Ok(None) };
    if let (Some(column_id), Some(limit)) = (column_id, limit) {
        // Serializes claims into this column across instances until commit, then counts
        // again: what another instance claimed meanwhile is committed and seen now.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
            .bind(column_id)
            .execute(&mut *connection)
            .await?;
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM hook_executions
             WHERE column_id = $1 AND status = 'running' AND NOT step->>'kind' = ANY($2)",
        )
        .bind(column_id)
        .bind(INSTANT)
        .fetch_one(&mut *connection)
        .await?;
        if running >= i64::from(limit) {
            return Ok(None);
        }
    }
    // The moments recorded are the statements' (clock_timestamp), not their transactions'
    // starts (now()): one task's hooks and a column's limit read true from them.
    sqlx::query_as(
        "UPDATE hook_executions SET status = 'running', claimed_by = $2, lease_until = now() + $3,
                fence = fence + 1, started_at = clock_timestamp()
         WHERE id = $1
         RETURNING id, board_id, task_id, column_id, column_stay, column_hook_id, hook_name, transparent, step, fence",
    )
    .bind(id)
    .bind(instance)
    .bind(lease)
    .fetch_optional(connection)
    .await
}

/// Extends the lease of a claimed execution; false when it is no longer this claim's
/// (cancelled, or retaken after the lease ran out).
pub async fn renew(
    connection: &mut PgConnection,
    id: Uuid,
    fence: i64,
    lease: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query(
        "UPDATE hook_executions SET lease_until = now() + $3 WHERE id = $1 AND fence = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(fence)
    .bind(lease)
    .execute(connection)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Records the end of a claimed execution (`completed` or `failed`), if the claim
/// still holds. The row as recorded, or `None` when the claim was lost.
pub async fn finish(
    connection: &mut PgConnection,
    id: Uuid,
    fence: i64,
    failed: Option<&str>,
    output: &str,
) -> Result<Option<HookExecution>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE hook_executions SET status = CASE WHEN $3::text IS NULL THEN 'completed' ELSE 'failed' END::hook_execution_status,
                error = $3, output = $4, finished_at = clock_timestamp(), lease_until = NULL
         WHERE id = $1 AND fence = $2 AND status = 'running'
         RETURNING ",
        execution_fields!()
    ))
    .bind(id)
    .bind(fence)
    .bind(failed)
    .bind(output)
    .fetch_optional(connection)
    .await
}

/// Notes an execute-once attachment as run by the task.
pub async fn mark_executed_once(
    connection: &mut PgConnection,
    task_id: Uuid,
    column_hook_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO executed_column_hooks (task_id, column_hook_id)
         SELECT $1, id FROM column_hooks WHERE id = $2 AND execute_once
         ON CONFLICT DO NOTHING",
    )
    .bind(task_id)
    .bind(column_hook_id)
    .execute(connection)
    .await?;
    Ok(())
}

/// After a non-transparent hook failed: the stay's pending non-transparent executions
/// become `skipped/error`.
pub async fn skip_after_error(
    connection: &mut PgConnection,
    task_id: Uuid,
    stay: Uuid,
) -> Result<Vec<HookExecution>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE hook_executions SET status = 'skipped', reason = 'error', finished_at = now()
         WHERE task_id = $1 AND column_stay = $2 AND status = 'pending' AND NOT transparent
         RETURNING ",
        execution_fields!()
    ))
    .bind(task_id)
    .bind(stay)
    .fetch_all(connection)
    .await
}

/// Restart recovery (`expired` false): the executions `instance` left `running`; or
/// retakes (`expired` true): the running executions whose lease ran out, whoever held
/// them. Either way they become `cancelled/server_restart`.
pub async fn abandon(
    connection: &mut PgConnection,
    instance: &str,
    expired: bool,
) -> Result<Vec<HookExecution>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE hook_executions SET status = 'cancelled', reason = 'server_restart', finished_at = now(),
                lease_until = NULL
         WHERE status = 'running' AND CASE WHEN $2 THEN lease_until < now() ELSE claimed_by = $1 END
         RETURNING ",
        execution_fields!()
    ))
    .bind(instance)
    .bind(expired)
    .fetch_all(connection)
    .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<HookExecution>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

/// Cancels one pending execution (the user's choice).
pub async fn cancel_pending(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<HookExecution>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE hook_executions SET status = 'cancelled', reason = 'user_cancelled', finished_at = now()
         WHERE id = $1 AND status = 'pending' RETURNING ",
        execution_fields!()
    ))
    .bind(id)
    .fetch_optional(connection)
    .await
}

/// Whether the execution's hook was queued again in its stay after it (a retry).
pub async fn retried(connection: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM hook_executions e JOIN hook_executions n
                          ON n.column_stay = e.column_stay AND n.column_hook_id = e.column_hook_id
                         AND n.queued_at > e.queued_at
                        WHERE e.id = $1)",
    )
    .bind(id)
    .fetch_one(connection)
    .await
}

/// Queues a failed execution again, with the non-transparent ones its failure skipped,
/// as new pending rows of the same stay. Returns the new rows.
pub async fn requeue_failed(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<HookExecution>, sqlx::Error> {
    sqlx::query_as(concat!(
        "WITH failed AS (SELECT * FROM hook_executions WHERE id = $1 AND status = 'failed'),
              again AS (
                 SELECT e.* FROM hook_executions e, failed f
                 WHERE e.id = f.id
                    OR (e.task_id = f.task_id AND e.column_stay = f.column_stay AND e.status = 'skipped'
                        AND e.reason = 'error' AND e.position > f.position)
              ),
              queued AS (
                 INSERT INTO hook_executions (board_id, task_id, column_id, column_stay, column_hook_id, hook_name,
                                              position, transparent, step, starts_agent)
                 SELECT board_id, task_id, column_id, column_stay, column_hook_id, hook_name, position, transparent,
                        step, starts_agent
                 FROM again RETURNING *
              )
         SELECT ",
        execution_fields!(),
        " FROM queued ORDER BY position"
    ))
    .bind(id)
    .fetch_all(connection)
    .await
}
