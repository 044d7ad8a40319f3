//! Columns (D2): add, rename, recolour, change role or settings, reorder, delete.
//! Behaviour keys on a column's role, never its name. A deleted column's tasks move, in
//! order, to the end of the board's first remaining column, each through
//! [`super::tasks::enter_column`] like any other column change.

use serde::Deserialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Error, Result, optional_text, required_text};
use crate::db::boards::{Column, ColumnRole};
use crate::db::columns::{self as rows, ColumnChanges, NewColumn};
use crate::db::events::{self, EventKind};
use crate::db::tasks::{self as task_rows, Place};
use crate::limits::COLUMN_NAME_MAX;
use crate::position;

/// A new column's colour when none is given.
pub const DEFAULT_COLOR: &str = "#6b7280";

/// A new column as asked for (the body of `POST /api/boards/{id}/columns`).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CreateColumn")]
pub struct ColumnRequest {
    #[schemars(length(min = 1, max = COLUMN_NAME_MAX), regex(pattern = r"\S"))]
    pub name: String,
    /// `#rgb` or `#rrggbb`.
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
}

/// Changes to a column as asked for: absent fields stay.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateColumn")]
pub struct ColumnEdit {
    #[schemars(length(min = 1, max = COLUMN_NAME_MAX), regex(pattern = r"\S"))]
    pub name: Option<String>,
    /// `#rgb` or `#rrggbb`.
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub hooks_enabled: Option<bool>,
    /// At least 1, or null for no limit.
    #[serde(default, deserialize_with = "crate::schema::present")]
    #[schemars(range(min = 1))]
    pub max_concurrent: Option<Option<i32>>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    /// Move the column to the end.
    #[serde(default)]
    pub move_to_end: bool,
}

pub async fn create(pool: &PgPool, board_id: Uuid, request: ColumnRequest) -> Result<Column> {
    let new = NewColumn {
        name: required_text("name", &request.name, COLUMN_NAME_MAX)?,
        color: request
            .color
            .map(|color| hex_color(&color))
            .transpose()?
            .unwrap_or_else(|| DEFAULT_COLOR.into()),
        role: request.role.unwrap_or(ColumnRole::Custom),
    };
    let mut tx = pool.begin().await?;
    lock_board(&mut tx, board_id).await?;
    let position = slot(&mut tx, board_id, None, request.after, request.before).await?;
    let column = rows::insert(&mut tx, board_id, &new, &position).await?;
    events::publish_on_board(&mut tx, column.board_id, EventKind::ColumnCreated, &column).await?;
    tx.commit().await?;
    Ok(column)
}

pub async fn update(pool: &PgPool, id: Uuid, edit: ColumnEdit) -> Result<Column> {
    if let Some(Some(limit)) = edit.max_concurrent
        && limit < 1
    {
        return Err(Error::invalid(
            "max_concurrent",
            "max_concurrent must be at least 1, or null for no limit",
        ));
    }
    let mut changes = ColumnChanges {
        name: optional_text("name", edit.name, COLUMN_NAME_MAX)?,
        color: edit.color.map(|color| hex_color(&color)).transpose()?,
        role: edit.role,
        hooks_enabled: edit.hooks_enabled,
        max_concurrent: edit.max_concurrent,
        position: None,
    };
    let mut tx = pool.begin().await?;
    let board_id = board_of(&mut tx, id).await?;
    lock_board(&mut tx, board_id).await?;
    if edit.after.is_some() || edit.before.is_some() || edit.move_to_end {
        changes.position = Some(slot(&mut tx, board_id, Some(id), edit.after, edit.before).await?);
    }
    let column = rows::update(&mut tx, id, changes).await?;
    events::publish_on_board(&mut tx, column.board_id, EventKind::ColumnUpdated, &column).await?;
    tx.commit().await?;
    Ok(column)
}

/// Deletes a column; its tasks move, in order, to the end of the board's first
/// remaining column, each recorded as a move. Returns that column's id.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<Uuid> {
    crate::db::retrying(|| delete_once(pool, id)).await
}

async fn delete_once(pool: &PgPool, id: Uuid) -> Result<Uuid> {
    let mut tx = pool.begin().await?;
    let board_id = board_of(&mut tx, id).await?;
    lock_board(&mut tx, board_id).await?;
    let target = rows::first_other(&mut tx, board_id, id).await?.ok_or_else(|| {
        Error::conflict("a board needs at least one column; add another before deleting this one")
    })?;
    task_rows::lock_column(&mut tx, target).await?;
    let moving = task_rows::in_column(&mut tx, id).await?;
    for task_id in &moving {
        let Some(task) = task_rows::lock(&mut tx, *task_id).await? else { continue };
        let position = super::tasks::slot(&mut tx, target, Some(task.id), Place::End).await?;
        super::tasks::enter_column(&mut tx, &task, target, &position).await?;
    }
    rows::delete(&mut tx, id).await?;
    let payload = json!({ "id": id, "tasks_moved_to": target, "task_ids": moving });
    events::publish_on_board(&mut tx, board_id, EventKind::ColumnDeleted, &payload).await?;
    tx.commit().await?;
    Ok(target)
}

/// `#rgb` or `#rrggbb`, lower-cased.
fn hex_color(value: &str) -> Result<String> {
    let digits = value.strip_prefix('#').unwrap_or_default();
    if matches!(digits.len(), 3 | 6) && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::invalid("color", format!("'{value}' is not a colour like #3b82f6")))
    }
}

async fn board_of(connection: &mut PgConnection, id: Uuid) -> Result<Uuid> {
    rows::board_of(connection, id).await?.ok_or_else(|| Error::not_found("column", id))
}

/// Locks the board's row, then its event stream: the order a board's writers take them
/// in. A move holds the stream while it locks its column, so a column change that held
/// its column while waiting for the stream (to publish) would deadlock with it.
async fn lock_board(connection: &mut PgConnection, board_id: Uuid) -> Result<()> {
    if !rows::lock_board(connection, board_id).await? {
        return Err(Error::not_found("board", board_id));
    }
    events::lock_stream(connection, &events::board_stream(board_id)).await?;
    Ok(())
}

/// A free position among the board's columns for `moving` (excluded).
async fn slot(
    connection: &mut PgConnection,
    board_id: Uuid,
    moving: Option<Uuid>,
    after: Option<Uuid>,
    before: Option<Uuid>,
) -> Result<String> {
    let siblings = rows::siblings(connection, board_id, moving).await?;
    position::place(&siblings, after, before)
        .map_err(|error| Error::placement(error, "column", "on this board"))
}

/// The board's first column with `role`, for callers that name columns by role (the
/// MCP tools); the error names `column_role`.
pub async fn with_role(pool: &PgPool, board_id: Uuid, role: ColumnRole) -> Result<Uuid> {
    let mut connection = pool.acquire().await?;
    super::boards::existing(&mut connection, board_id).await?;
    task_rows::column_with_role(&mut connection, board_id, role).await?.ok_or_else(|| {
        Error::invalid("column_role", format!("the board has no {} column", super::pipeline::role_name(role)))
    })
}
