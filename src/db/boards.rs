//! Boards, their columns, templates and column hooks (D1, D2, D5; HOOKS.md defaults).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::events::{self, board_stream};
use crate::position;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "column_role", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    Todo,
    InProgress,
    Review,
    Done,
    Cancelled,
    Custom,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Board {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub repository_id: Option<Uuid>,
    pub settings: Value,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Column {
    pub id: Uuid,
    pub board_id: Uuid,
    pub name: String,
    pub color: String,
    pub position: String,
    pub role: ColumnRole,
    pub hooks_enabled: bool,
    pub max_concurrent: Option<i32>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Template {
    pub id: Uuid,
    pub board_id: Uuid,
    pub name: String,
    pub title: String,
    pub description: String,
    pub position: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct ColumnHook {
    pub id: Uuid,
    pub column_id: Uuid,
    pub hook_id: Option<Uuid>,
    pub builtin: Option<String>,
    pub position: String,
    pub execute_once: bool,
    pub transparent: bool,
    pub removable: bool,
    pub settings: Value,
}

// Field lists as macros, so every query stays one static string (`concat!`).
macro_rules! board_fields {
    () => {
        "id, name, description, repository_id, settings, created_at, updated_at"
    };
}
macro_rules! column_fields {
    () => {
        "id, board_id, name, color, position, role, hooks_enabled, max_concurrent"
    };
}
pub(crate) use column_fields;
macro_rules! template_fields {
    () => {
        "id, board_id, name, title, description, position"
    };
}
pub(crate) use template_fields;
macro_rules! column_hook_fields {
    () => {
        "id, column_id, hook_id, builtin, position, execute_once, transparent, removable, settings"
    };
}
pub(crate) use column_hook_fields;

/// A default column: name, colour, role, and its built-in hooks in order as
/// (builtin, execute_once, transparent, removable, settings).
type DefaultColumn =
    (&'static str, &'static str, ColumnRole, &'static [(&'static str, bool, bool, bool, &'static str)]);

/// The default board of HOOKS.md.
const DEFAULT_COLUMNS: &[DefaultColumn] = &[
    ("Todo", "#6b7280", ColumnRole::Todo, &[("builtin:auto-start", true, false, false, "{}")]),
    (
        "In Progress",
        "#3b82f6",
        ColumnRole::InProgress,
        &[
            ("builtin:run-agent", false, false, false, "{}"),
            ("builtin:move-task", false, true, false, r#"{"target": {"role": "review"}}"#),
        ],
    ),
    (
        "Review",
        "#f59e0b",
        ColumnRole::Review,
        &[("builtin:play-sound", false, true, true, r#"{"sound": "done"}"#)],
    ),
    ("Done", "#10b981", ColumnRole::Done, &[]),
    ("Cancelled", "#ef4444", ColumnRole::Cancelled, &[]),
];

/// The four default templates (D5): name, title prefix, description skeleton.
const DEFAULT_TEMPLATES: &[(&str, &str, &str)] = &[
    ("Feature", "", "## Goal\n\n## Acceptance criteria\n- \n\n## Out of scope\n"),
    ("Bugfix", "Fix: ", "## What happens\n\n## What should happen\n\n## Steps to reproduce\n1. \n"),
    ("Refactor", "Refactor: ", "## What to change\n\n## Why\n\n## Behaviour that must not change\n"),
    (
        "Research",
        "Research: ",
        "## Question\n\n## What to look at\n\n## Expected output\nA short written summary.\n",
    ),
];

pub struct NewBoard {
    pub name: String,
    pub description: String,
    pub repository_id: Option<Uuid>,
}

/// Creates a board with the default columns, column hooks and templates.
pub async fn create(pool: &PgPool, new: NewBoard) -> Result<Board, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let board: Board = sqlx::query_as(concat!(
        "INSERT INTO boards (name, description, repository_id) VALUES ($1, $2, $3) RETURNING ",
        board_fields!()
    ))
    .bind(&new.name)
    .bind(&new.description)
    .bind(new.repository_id)
    .fetch_one(&mut *tx)
    .await?;

    let column_positions = position::spread(DEFAULT_COLUMNS.len());
    for ((name, color, role, hooks), column_position) in DEFAULT_COLUMNS.iter().zip(column_positions) {
        let column_id: Uuid = sqlx::query_scalar(
            "INSERT INTO columns (board_id, name, color, position, role) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(board.id)
        .bind(name)
        .bind(color)
        .bind(column_position)
        .bind(role)
        .fetch_one(&mut *tx)
        .await?;
        for ((builtin, execute_once, transparent, removable, settings), hook_position) in
            hooks.iter().zip(position::spread(hooks.len()))
        {
            let settings: Value = serde_json::from_str(settings).unwrap_or_default();
            sqlx::query(
                "INSERT INTO column_hooks (column_id, builtin, position, execute_once, transparent, removable, settings)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(column_id)
            .bind(builtin)
            .bind(hook_position)
            .bind(execute_once)
            .bind(transparent)
            .bind(removable)
            .bind(settings)
            .execute(&mut *tx)
            .await?;
        }
    }
    for ((name, title, description), template_position) in
        DEFAULT_TEMPLATES.iter().zip(position::spread(DEFAULT_TEMPLATES.len()))
    {
        sqlx::query(
            "INSERT INTO templates (board_id, name, title, description, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(board.id)
        .bind(name)
        .bind(title)
        .bind(description)
        .bind(template_position)
        .execute(&mut *tx)
        .await?;
    }
    events::publish(&mut tx, &[board_stream(board.id)], "board.created", &json!(board)).await?;
    tx.commit().await?;
    Ok(board)
}

pub async fn list(pool: &PgPool) -> Result<Vec<Board>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", board_fields!(), " FROM boards ORDER BY created_at, id"))
        .fetch_all(pool)
        .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Board>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", board_fields!(), " FROM boards WHERE id = $1"))
        .bind(id)
        .fetch_optional(connection)
        .await
}

pub async fn columns(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Column>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        column_fields!(),
        " FROM columns WHERE board_id = $1 ORDER BY position"
    ))
    .bind(board_id)
    .fetch_all(connection)
    .await
}

pub async fn templates(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Template>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        template_fields!(),
        " FROM templates WHERE board_id = $1 ORDER BY position"
    ))
    .bind(board_id)
    .fetch_all(connection)
    .await
}

pub async fn column_hooks(
    connection: &mut PgConnection,
    board_id: Uuid,
) -> Result<Vec<ColumnHook>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        column_hook_fields!(),
        " FROM column_hooks
         WHERE column_id IN (SELECT id FROM columns WHERE board_id = $1)
         ORDER BY column_id, position"
    ))
    .bind(board_id)
    .fetch_all(connection)
    .await
}

#[derive(Debug, Default)]
pub struct BoardChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub settings: Option<Value>,
    /// `Some(None)` unlinks the repository.
    pub repository_id: Option<Option<Uuid>>,
}

pub async fn update(pool: &PgPool, id: Uuid, changes: BoardChanges) -> Result<Option<Board>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let board: Option<Board> = sqlx::query_as(concat!(
        "UPDATE boards SET name = coalesce($2, name), description = coalesce($3, description),
                settings = coalesce($4, settings),
                repository_id = CASE WHEN $5 THEN $6 ELSE repository_id END, updated_at = now()
         WHERE id = $1 RETURNING ",
        board_fields!()
    ))
    .bind(id)
    .bind(changes.name)
    .bind(changes.description)
    .bind(changes.settings)
    .bind(changes.repository_id.is_some())
    .bind(changes.repository_id.flatten())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(board) = &board {
        events::publish(&mut tx, &[board_stream(id)], "board.updated", &json!(board)).await?;
    }
    tx.commit().await?;
    Ok(board)
}

/// Deletes a board and everything in it. Returns false if there was no such board.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Tasks reference columns without cascading; remove them first.
    sqlx::query("DELETE FROM tasks WHERE board_id = $1").bind(id).execute(&mut *tx).await?;
    let deleted =
        sqlx::query("DELETE FROM boards WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected() > 0;
    if deleted {
        events::publish(&mut tx, &[board_stream(id)], "board.deleted", &json!({ "id": id })).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}
