//! Columns' SQL (D2): insert, change, delete. The rules — roles, placement, what
//! happens to a deleted column's tasks — are `board::columns`'s. Column positions on a
//! board are serialized by locking the board's row ([`lock_board`]).

use sqlx::PgConnection;
use uuid::Uuid;

use super::boards::{Column, ColumnRole, column_fields};

pub struct NewColumn {
    pub name: String,
    pub color: String,
    pub role: ColumnRole,
}

#[derive(Debug, Default)]
pub struct ColumnChanges {
    pub name: Option<String>,
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub hooks_enabled: Option<bool>,
    pub max_concurrent: Option<Option<i32>>,
    /// A new position, to move the column.
    pub position: Option<String>,
}

pub async fn insert(
    connection: &mut PgConnection,
    board_id: Uuid,
    new: &NewColumn,
    position: &str,
) -> Result<Column, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO columns (board_id, name, color, position, role) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        column_fields!()
    ))
    .bind(board_id)
    .bind(&new.name)
    .bind(&new.color)
    .bind(position)
    .bind(new.role)
    .fetch_one(connection)
    .await
}

pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    changes: ColumnChanges,
) -> Result<Column, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE columns SET name = coalesce($2, name), color = coalesce($3, color), role = coalesce($4, role),
                hooks_enabled = coalesce($5, hooks_enabled),
                max_concurrent = CASE WHEN $6 THEN $7 ELSE max_concurrent END,
                position = coalesce($8, position), updated_at = now()
         WHERE id = $1 RETURNING ",
        column_fields!()
    ))
    .bind(id)
    .bind(changes.name)
    .bind(changes.color)
    .bind(changes.role)
    .bind(changes.hooks_enabled)
    .bind(changes.max_concurrent.is_some())
    .bind(changes.max_concurrent.flatten())
    .bind(changes.position)
    .fetch_one(connection)
    .await
}

pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM columns WHERE id = $1").bind(id).execute(connection).await?;
    Ok(())
}

/// The board's first column other than `id`, if it has one.
pub async fn first_other(
    connection: &mut PgConnection,
    board_id: Uuid,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM columns WHERE board_id = $1 AND id <> $2 ORDER BY position LIMIT 1")
        .bind(board_id)
        .bind(id)
        .fetch_optional(connection)
        .await
}

/// The column's board, if the column exists.
pub async fn board_of(connection: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1").bind(id).fetch_optional(connection).await
}

/// Locks the board's row against other changes to the board; false if there is no such
/// board. `NO KEY UPDATE`: rows that only reference the board (a hook execution a move
/// queues, a task) are still written meanwhile, so a writer that holds the board's event
/// stream never waits for this lock's holder, which may be waiting for that stream.
pub async fn lock_board(connection: &mut PgConnection, board_id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM boards WHERE id = $1 FOR NO KEY UPDATE")
        .bind(board_id)
        .fetch_optional(connection)
        .await?;
    Ok(found.is_some())
}

/// The board's columns but `moving`, as (id, position) in order.
pub async fn siblings(
    connection: &mut PgConnection,
    board_id: Uuid,
    moving: Option<Uuid>,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, position FROM columns WHERE board_id = $1 AND id <> $2 ORDER BY position")
        .bind(board_id)
        .bind(moving.unwrap_or(Uuid::nil()))
        .fetch_all(connection)
        .await
}
