//! Review comments' SQL (V2). The rules (what may be commented, what sending does)
//! are `board::review`'s; these run on the connection they are given.

use crate::schema::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::events::{self, EventKind, task_stream};

/// Which file a comment's line numbers count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "review_side", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The file at the merge-base: deleted and context lines.
    Old,
    /// The file in the worktree: added and context lines.
    New,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct ReviewComment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub file_path: String,
    pub side: Side,
    pub start_line: i32,
    pub end_line: i32,
    /// The lines commented on, as the diff showed them when the comment was made.
    pub quoted_code: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it went to the agent; null while it waits to be sent.
    pub sent_at: Option<Timestamp>,
}

macro_rules! comment_fields {
    () => {
        "id, task_id, file_path, side, start_line, end_line, quoted_code, body, created_at, updated_at, sent_at"
    };
}
super::record::record!(ReviewComment, comment_fields, "review_comments");

/// A comment as the domain checked it.
pub struct NewComment<'a> {
    pub file_path: &'a str,
    pub side: Side,
    pub start_line: i32,
    pub end_line: i32,
    pub quoted_code: &'a str,
    pub body: &'a str,
}

pub async fn insert(
    connection: &mut PgConnection,
    task_id: Uuid,
    new: &NewComment<'_>,
) -> Result<ReviewComment, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO review_comments (task_id, file_path, side, start_line, end_line, quoted_code, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        comment_fields!(),
        ""
    ))
    .bind(task_id)
    .bind(new.file_path)
    .bind(new.side)
    .bind(new.start_line)
    .bind(new.end_line)
    .bind(new.quoted_code)
    .bind(new.body)
    .fetch_one(connection)
    .await
}

/// The task's comments, oldest first.
pub async fn for_task(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Vec<ReviewComment>, sqlx::Error> {
    super::record::all(connection, "task_id = $1 ORDER BY created_at, id", task_id).await
}

/// The task's comments not sent yet, locked, in the order they were made (file order
/// is the message's business).
pub async fn lock_unsent(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Vec<ReviewComment>, sqlx::Error> {
    super::record::all(
        connection,
        "task_id = $1 AND sent_at IS NULL ORDER BY created_at, id FOR UPDATE",
        task_id,
    )
    .await
}

pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<ReviewComment>, sqlx::Error> {
    super::record::one(connection, "id = $1 FOR UPDATE", id).await
}

pub async fn set_body(
    connection: &mut PgConnection,
    id: Uuid,
    body: &str,
) -> Result<ReviewComment, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE review_comments SET body = $2, updated_at = now() WHERE id = $1 RETURNING ",
        comment_fields!(),
        ""
    ))
    .bind(id)
    .bind(body)
    .fetch_one(connection)
    .await
}

pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM review_comments WHERE id = $1").bind(id).execute(connection).await?;
    Ok(())
}

/// Marks the comments sent, now; returns them as they are.
pub async fn mark_sent(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<ReviewComment>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE review_comments SET sent_at = now() WHERE id = ANY($1) RETURNING ",
        comment_fields!(),
        ""
    ))
    .bind(ids)
    .fetch_all(connection)
    .await
}

/// Publishes `kind` for a comment on its task's stream.
pub async fn publish(
    connection: &mut PgConnection,
    task_id: Uuid,
    kind: EventKind,
    payload: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    events::publish(connection, &[task_stream(task_id)], kind, payload).await
}
