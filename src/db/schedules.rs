//! Schedules' SQL (H4): a board's periodic tasks, and the claim on a due one that
//! makes one viban process fire it. The rules (cron, titles, when a run is skipped)
//! are `board::schedules`'s; the loop that fires them is `upkeep`'s.

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::boards::ColumnRole;
use crate::schema::Timestamp;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Schedule {
    pub id: Uuid,
    pub board_id: Uuid,
    /// Five fields (minute hour day-of-month month day-of-week), in UTC.
    pub cron: String,
    /// Each task is titled `#<n> <title>`, `n` counting the tasks it created.
    pub title: String,
    pub description: String,
    /// The agent its tasks run; null: the board's default.
    pub agent: Option<String>,
    pub enabled: bool,
    /// When it fires next; null while disabled.
    pub next_run_at: Option<Timestamp>,
    /// Tasks it has created.
    pub runs: i64,
    pub last_run_at: Option<Timestamp>,
    /// The task it created last, while that task exists.
    pub last_task_id: Option<Uuid>,
    /// When it last came due and created nothing, and why.
    pub last_skipped_at: Option<Timestamp>,
    pub last_skip_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! schedule_fields {
    () => {
        "id, board_id, cron, title, description, agent, enabled, next_run_at, runs, last_run_at, last_task_id, \
         last_skipped_at, last_skip_reason, created_at, updated_at"
    };
}
super::record::record!(Schedule, schedule_fields, "schedules", on_board);

/// A schedule's fields, checked by the domain.
#[derive(Debug, Clone)]
pub struct ScheduleFields {
    pub cron: String,
    pub title: String,
    pub description: String,
    pub agent: Option<String>,
    pub enabled: bool,
    pub next_run_at: Option<OffsetDateTime>,
}

pub async fn list(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Schedule>, sqlx::Error> {
    super::record::all(connection, "board_id = $1 ORDER BY created_at, id", board_id).await
}

/// The schedule, locked until the caller's transaction ends (an edit against the
/// scheduler firing it).
pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<Schedule>, sqlx::Error> {
    super::record::one(connection, "id = $1 FOR UPDATE", id).await
}

pub async fn count(connection: &mut PgConnection, board_id: Uuid) -> Result<i64, sqlx::Error> {
    super::record::count_on_board::<Schedule>(connection, board_id).await
}

pub async fn insert(
    connection: &mut PgConnection,
    board_id: Uuid,
    fields: &ScheduleFields,
) -> Result<Schedule, sqlx::Error> {
    let sql = concat!(
        "INSERT INTO schedules (board_id, cron, title, description, agent, enabled, next_run_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        schedule_fields!()
    );
    write(connection, sql, board_id, fields).await
}

pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    fields: &ScheduleFields,
) -> Result<Schedule, sqlx::Error> {
    let sql = concat!(
        "UPDATE schedules SET cron = $2, title = $3, description = $4, agent = $5, enabled = $6,
                next_run_at = $7, updated_at = now()
         WHERE id = $1 RETURNING ",
        schedule_fields!()
    );
    write(connection, sql, id, fields).await
}

/// `sql` with `$1` = `key` and `$2`…`$7` = the fields, in their order.
async fn write(
    connection: &mut PgConnection,
    sql: &'static str,
    key: Uuid,
    fields: &ScheduleFields,
) -> Result<Schedule, sqlx::Error> {
    sqlx::query_as(sql)
        .bind(key)
        .bind(&fields.cron)
        .bind(&fields.title)
        .bind(&fields.description)
        .bind(&fields.agent)
        .bind(fields.enabled)
        .bind(fields.next_run_at)
        .fetch_one(connection)
        .await
}

pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(connection).await?;
    Ok(deleted.rows_affected() > 0)
}

/// The enabled schedule that has been due longest, locked until the caller's
/// transaction ends; one another process holds is passed over, so a due time is
/// claimed by one process only.
pub async fn claim_due(connection: &mut PgConnection) -> Result<Option<Schedule>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        schedule_fields!(),
        " FROM schedules WHERE enabled AND next_run_at <= now()
          ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    ))
    .fetch_optional(connection)
    .await
}

/// The role of the column `task_id` is in, if the task exists.
pub async fn role_of_task(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Option<ColumnRole>, sqlx::Error> {
    sqlx::query_scalar("SELECT c.role FROM tasks t JOIN columns c ON c.id = t.column_id WHERE t.id = $1")
        .bind(task_id)
        .fetch_optional(connection)
        .await
}

/// A task was created: the counter, the task and the next due time.
pub async fn record_run(
    connection: &mut PgConnection,
    id: Uuid,
    task_id: Uuid,
    next_run_at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE schedules SET runs = runs + 1, last_run_at = now(), last_task_id = $2, next_run_at = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(task_id)
    .bind(next_run_at)
    .execute(connection)
    .await
    .map(|_| ())
}

/// The due time passed without a task: why, and the next due time.
pub async fn record_skip(
    connection: &mut PgConnection,
    id: Uuid,
    reason: &str,
    next_run_at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE schedules SET last_skipped_at = now(), last_skip_reason = $2, next_run_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(next_run_at)
    .execute(connection)
    .await
    .map(|_| ())
}
