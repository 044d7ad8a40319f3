//! Columns (D2): add, rename, recolour, change role or settings, reorder, delete.
//! Behaviour keys on a column's role, never its name. Column positions on a board are
//! serialized by locking the board's row.

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::boards::{Column, ColumnRole, column_fields};
use super::events::{self, board_stream};
use crate::position::{self, PlaceError};

#[derive(Debug, thiserror::Error)]
pub enum ColumnError {
    #[error("no column {0}")]
    NotFound(Uuid),
    #[error("no board {0}")]
    BoardNotFound(Uuid),
    #[error("{field}: no column {id} on this board")]
    Neighbour { field: &'static str, id: Uuid },
    #[error("`after` must come before `before`")]
    NeighboursOutOfOrder,
    #[error("a board needs at least one column; add another before deleting this one")]
    LastColumn,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Where a column goes among its board's columns; neither: the end.
#[derive(Debug, Default, Clone, Copy)]
pub struct Placement {
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
}

pub struct NewColumn {
    pub name: String,
    pub color: String,
    pub role: ColumnRole,
    pub placement: Placement,
}

#[derive(Debug, Default)]
pub struct ColumnChanges {
    pub name: Option<String>,
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub hooks_enabled: Option<bool>,
    pub max_concurrent: Option<Option<i32>>,
    /// Set to move the column.
    pub placement: Option<Placement>,
}

pub async fn create(pool: &PgPool, board_id: Uuid, new: NewColumn) -> Result<Column, ColumnError> {
    let mut tx = pool.begin().await?;
    lock_board(&mut tx, board_id).await?;
    let position = slot(&mut tx, board_id, None, new.placement).await?;
    let column: Column = sqlx::query_as(concat!(
        "INSERT INTO columns (board_id, name, color, position, role) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        column_fields!()
    ))
    .bind(board_id)
    .bind(&new.name)
    .bind(&new.color)
    .bind(position)
    .bind(new.role)
    .fetch_one(&mut *tx)
    .await?;
    events::publish(&mut tx, &[board_stream(board_id)], "column.created", &json!(column)).await?;
    tx.commit().await?;
    Ok(column)
}

pub async fn update(pool: &PgPool, id: Uuid, changes: ColumnChanges) -> Result<Column, ColumnError> {
    let mut tx = pool.begin().await?;
    let board_id = board_of(&mut tx, id).await?;
    lock_board(&mut tx, board_id).await?;
    let position = match changes.placement {
        Some(placement) => Some(slot(&mut tx, board_id, Some(id), placement).await?),
        None => None,
    };
    let column: Column = sqlx::query_as(concat!(
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
    .bind(position)
    .fetch_one(&mut *tx)
    .await?;
    events::publish(&mut tx, &[board_stream(board_id)], "column.updated", &json!(column)).await?;
    tx.commit().await?;
    Ok(column)
}

/// Deletes a column; its tasks move, in order, to the end of the board's first
/// remaining column. Returns that column's id.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<Uuid, ColumnError> {
    let mut tx = pool.begin().await?;
    let board_id = board_of(&mut tx, id).await?;
    lock_board(&mut tx, board_id).await?;
    let target: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM columns WHERE board_id = $1 AND id <> $2 ORDER BY position LIMIT 1",
    )
    .bind(board_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let target = target.ok_or(ColumnError::LastColumn)?;
    let last: Option<String> = sqlx::query_scalar("SELECT max(position) FROM tasks WHERE column_id = $1")
        .bind(target)
        .fetch_one(&mut *tx)
        .await?;
    let moving: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tasks WHERE column_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let mut previous = last;
    for task_id in &moving {
        let key =
            position::between(previous.as_deref(), None).map_err(|_| ColumnError::NeighboursOutOfOrder)?;
        sqlx::query(
            "UPDATE tasks SET column_id = $2, position = $3, column_stay = gen_random_uuid(), updated_at = now()
             WHERE id = $1",
        )
        .bind(task_id)
        .bind(target)
        .bind(&key)
        .execute(&mut *tx)
        .await?;
        previous = Some(key);
    }
    // Executions recorded for the deleted column go with it (ON DELETE CASCADE).
    sqlx::query("DELETE FROM columns WHERE id = $1").bind(id).execute(&mut *tx).await?;
    let payload = json!({ "id": id, "tasks_moved_to": target, "task_ids": moving });
    events::publish(&mut tx, &[board_stream(board_id)], "column.deleted", &payload).await?;
    tx.commit().await?;
    Ok(target)
}

async fn board_of(connection: &mut PgConnection, id: Uuid) -> Result<Uuid, ColumnError> {
    let board: Option<Uuid> = sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1")
        .bind(id)
        .fetch_optional(connection)
        .await?;
    board.ok_or(ColumnError::NotFound(id))
}

async fn lock_board(connection: &mut PgConnection, board_id: Uuid) -> Result<(), ColumnError> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM boards WHERE id = $1 FOR UPDATE")
        .bind(board_id)
        .fetch_optional(connection)
        .await?;
    found.map(|_| ()).ok_or(ColumnError::BoardNotFound(board_id))
}

/// A free position among the board's columns for `moving` (excluded).
async fn slot(
    connection: &mut PgConnection,
    board_id: Uuid,
    moving: Option<Uuid>,
    placement: Placement,
) -> Result<String, ColumnError> {
    let siblings: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, position FROM columns WHERE board_id = $1 AND id <> $2 ORDER BY position")
            .bind(board_id)
            .bind(moving.unwrap_or(Uuid::nil()))
            .fetch_all(connection)
            .await?;
    position::place(&siblings, placement.after, placement.before).map_err(|error| match error {
        PlaceError::UnknownNeighbour { field, id } => ColumnError::Neighbour { field, id },
        PlaceError::OutOfOrder => ColumnError::NeighboursOutOfOrder,
    })
}
