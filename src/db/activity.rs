//! Task activity (D6): user, assistant, system and tool messages, normalized agent
//! entries and hook executions, in the order they happened. Read in pages.

use crate::schema::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct ActivityEntry {
    pub id: i64,
    pub task_id: Uuid,
    pub agent_session_id: Option<Uuid>,
    pub kind: String,
    pub data: Value,
    pub created_at: Timestamp,
}

/// Up to `limit` entries in order, after the entry `after` (exclusive), or the first.
pub async fn page(
    connection: &mut PgConnection,
    task_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, task_id, agent_session_id, kind, data, created_at FROM task_activity
         WHERE task_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(task_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(connection)
    .await
}

/// The newest `limit` entries before the entry `before` (exclusive), oldest first: the
/// page a live view starts from, and the pages above it as the user scrolls up.
pub async fn page_before(
    connection: &mut PgConnection,
    task_id: Uuid,
    before: i64,
    limit: i64,
) -> Result<Vec<ActivityEntry>, sqlx::Error> {
    let mut entries: Vec<ActivityEntry> = sqlx::query_as(
        "SELECT id, task_id, agent_session_id, kind, data, created_at FROM task_activity
         WHERE task_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(task_id)
    .bind(before)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    entries.reverse();
    Ok(entries)
}
