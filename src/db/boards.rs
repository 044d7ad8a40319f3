//! Boards' SQL, and the types of a board's columns, templates and column hooks (D1, D2,
//! D5). The default board's layout is `board::boards`'s.

use crate::schema::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::limits::{BOARD_DESCRIPTION_MAX, BOARD_NAME_MAX};

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
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A board as the board list shows it: the board and, at a glance, what is on it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct BoardSummary {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub board: Board,
    /// Where its repository is, if it has one.
    pub repository_path: Option<String>,
    pub task_count: i64,
    /// Tasks whose agent is running now.
    pub running_agents: i64,
    /// Tasks that wait for the user: in error, interrupted, or with a pending request (M3).
    pub needs_attention: i64,
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
super::record::record!(Board, board_fields, "boards");
macro_rules! column_fields {
    () => {
        "id, board_id, name, color, position, role, hooks_enabled, max_concurrent"
    };
}
super::record::record!(Column, column_fields, "columns");
pub(crate) use column_fields;
macro_rules! template_fields {
    () => {
        "id, board_id, name, title, description, position"
    };
}
super::record::record!(Template, template_fields, "templates", on_board);
pub(crate) use template_fields;
macro_rules! column_hook_fields {
    () => {
        "id, column_id, hook_id, builtin, position, execute_once, transparent, removable, settings"
    };
}
super::record::record!(ColumnHook, column_hook_fields, "column_hooks");
pub(crate) use column_hook_fields;

pub async fn insert(
    connection: &mut PgConnection,
    name: &str,
    description: &str,
    repository_id: Option<Uuid>,
) -> Result<Board, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO boards (name, description, repository_id) VALUES ($1, $2, $3) RETURNING ",
        board_fields!()
    ))
    .bind(name)
    .bind(description)
    .bind(repository_id)
    .fetch_one(connection)
    .await
}

pub async fn list(connection: &mut PgConnection) -> Result<Vec<BoardSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.id, b.name, b.description, b.repository_id, b.settings, b.created_at, b.updated_at,
                r.path AS repository_path,
                count(t.id) AS task_count,
                count(t.id) FILTER (WHERE t.agent_status = 'running') AS running_agents,
                count(t.id) FILTER (WHERE t.agent_status IN ('error', 'interrupted')
                    OR EXISTS (SELECT 1 FROM requests r WHERE r.task_id = t.id AND r.status = 'pending'))
                    AS needs_attention
         FROM boards b
         LEFT JOIN repositories r ON r.id = b.repository_id
         LEFT JOIN tasks t ON t.board_id = b.id
         GROUP BY b.id, r.path
         ORDER BY b.created_at, b.id",
    )
    .fetch_all(connection)
    .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Board>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

pub async fn columns(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Column>, sqlx::Error> {
    super::record::all(connection, "board_id = $1 ORDER BY position", board_id).await
}

pub async fn templates(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Template>, sqlx::Error> {
    super::record::all(connection, "board_id = $1 ORDER BY position", board_id).await
}

pub async fn column_hooks(
    connection: &mut PgConnection,
    board_id: Uuid,
) -> Result<Vec<ColumnHook>, sqlx::Error> {
    super::record::all(
        connection,
        "column_id IN (SELECT id FROM columns WHERE board_id = $1) ORDER BY column_id, position",
        board_id,
    )
    .await
}

// Checked by `board::boards` before it gets here.
/// Changes to a board as asked for; absent fields stay.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateBoard")]
pub struct BoardEdit {
    #[schemars(length(min = 1, max = BOARD_NAME_MAX), regex(pattern = r"\S"))]
    pub name: Option<String>,
    #[schemars(length(max = BOARD_DESCRIPTION_MAX))]
    pub description: Option<String>,
    /// A JSON object, replacing the current settings.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub settings: Option<Value>,
    /// A repository from `/api/repositories`, or null to unlink.
    #[serde(default, deserialize_with = "crate::schema::present")]
    pub repository_id: Option<Option<Uuid>>,
}

pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    changes: BoardEdit,
) -> Result<Option<Board>, sqlx::Error> {
    sqlx::query_as(concat!(
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
    .fetch_optional(connection)
    .await
}

/// Deletes a board and everything in it. Returns false if there was no such board.
pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    // Tasks reference columns without cascading; remove them first.
    sqlx::query("DELETE FROM tasks WHERE board_id = $1").bind(id).execute(&mut *connection).await?;
    let deleted = sqlx::query("DELETE FROM boards WHERE id = $1").bind(id).execute(connection).await?;
    Ok(deleted.rows_affected() > 0)
}

/// Makes the transaction a read-only, repeatable-read snapshot (its first statement).
pub async fn read_only_snapshot(connection: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(connection).await?;
    Ok(())
}
