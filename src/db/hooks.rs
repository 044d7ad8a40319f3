//! Board hooks' SQL (script and agent) and their attachments to columns (H1, H3).
//! The rules are `board::hooks`'s.

use crate::schema::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use super::boards::{ColumnHook, column_hook_fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "hook_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    Script,
    Agent,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Hook {
    pub id: Uuid,
    pub board_id: Uuid,
    pub name: String,
    pub kind: HookKind,
    pub command: Option<String>,
    pub prompt: Option<String>,
    pub agent: Option<String>,
    pub timeout_seconds: i32,
    pub created_at: Timestamp,
}

macro_rules! hook_fields {
    () => {
        "id, board_id, name, kind, command, prompt, agent, timeout_seconds, created_at"
    };
}
super::record::record!(Hook, hook_fields, "hooks", on_board);

/// A script or agent hook's definition, checked by `board::hooks` (a script has a
/// command, an agent hook a prompt).
#[derive(Debug, Clone)]
pub struct HookDefinition {
    pub name: String,
    pub kind: HookKind,
    pub command: Option<String>,
    pub prompt: Option<String>,
    pub agent: Option<String>,
    pub timeout_seconds: i32,
}

pub async fn list(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Hook>, sqlx::Error> {
    super::record::all(connection, "board_id = $1 ORDER BY name, id", board_id).await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Hook>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

pub async fn insert(
    connection: &mut PgConnection,
    board_id: Uuid,
    definition: &HookDefinition,
) -> Result<Hook, sqlx::Error> {
    let query = sqlx::query_as(concat!(
        "INSERT INTO hooks (board_id, name, kind, command, prompt, agent, timeout_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        hook_fields!()
    ))
    .bind(board_id);
    with_definition(query, definition).fetch_one(connection).await
}

/// Replaces a hook's definition; `None` if there is no such hook.
pub async fn replace(
    connection: &mut PgConnection,
    id: Uuid,
    definition: &HookDefinition,
) -> Result<Option<Hook>, sqlx::Error> {
    let query = sqlx::query_as(concat!(
        "UPDATE hooks SET name = $2, kind = $3, command = $4, prompt = $5, agent = $6, timeout_seconds = $7,
                updated_at = now()
         WHERE id = $1 RETURNING ",
        hook_fields!()
    ))
    .bind(id);
    with_definition(query, definition).fetch_optional(connection).await
}

/// `query` with the definition bound as its parameters `$2` to `$7`: name, kind,
/// command, prompt, agent, timeout.
fn with_definition<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    definition: &'q HookDefinition,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(&definition.name)
        .bind(definition.kind)
        .bind(&definition.command)
        .bind(&definition.prompt)
        .bind(&definition.agent)
        .bind(definition.timeout_seconds)
}

/// Deletes a hook and its attachments; its board, if there was such a hook.
pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    super::record::delete_on_board::<Hook>(connection, id).await
}

/// A column's hook: a board hook or a built-in, with its options.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub hook_id: Option<Uuid>,
    pub builtin: Option<&'a str>,
    pub execute_once: bool,
    pub transparent: bool,
    pub removable: bool,
    pub settings: Value,
}

pub async fn insert_attachment(
    connection: &mut PgConnection,
    column_id: Uuid,
    attachment: &NewAttachment<'_>,
    position: &str,
) -> Result<ColumnHook, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO column_hooks (column_id, hook_id, builtin, position, execute_once, transparent, removable,
                                   settings)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
        column_hook_fields!()
    ))
    .bind(column_id)
    .bind(attachment.hook_id)
    .bind(attachment.builtin)
    .bind(position)
    .bind(attachment.execute_once)
    .bind(attachment.transparent)
    .bind(attachment.removable)
    .bind(&attachment.settings)
    .fetch_one(connection)
    .await
}

#[derive(Debug, Clone, Default)]
pub struct AttachmentChanges {
    pub execute_once: Option<bool>,
    pub transparent: Option<bool>,
    pub settings: Option<Value>,
    pub position: Option<String>,
}

pub async fn update_attachment(
    connection: &mut PgConnection,
    id: Uuid,
    changes: AttachmentChanges,
) -> Result<ColumnHook, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE column_hooks SET execute_once = coalesce($2, execute_once), transparent = coalesce($3, transparent),
                settings = coalesce($4, settings), position = coalesce($5, position)
         WHERE id = $1 RETURNING ",
        column_hook_fields!()
    ))
    .bind(id)
    .bind(changes.execute_once)
    .bind(changes.transparent)
    .bind(changes.settings)
    .bind(changes.position)
    .fetch_one(connection)
    .await
}

/// An attachment's column and whether it may be removed.
pub async fn attachment_column(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    sqlx::query_as("SELECT column_id, removable FROM column_hooks WHERE id = $1")
        .bind(id)
        .fetch_optional(connection)
        .await
}

pub async fn delete_attachment(connection: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM column_hooks WHERE id = $1").bind(id).execute(connection).await?;
    Ok(())
}

/// Locks the column (serializing its hooks' positions); its board, if it exists.
pub async fn lock_column(
    connection: &mut PgConnection,
    column_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    let board_id: Option<Uuid> = sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1")
        .bind(column_id)
        .fetch_optional(&mut *connection)
        .await?;
    let Some(board_id) = board_id else { return Ok(None) };
    // The board's event stream first, then the column (`events::lock_stream`).
    super::events::lock_stream(connection, &super::events::board_stream(board_id)).await?;
    sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1 FOR UPDATE")
        .bind(column_id)
        .fetch_optional(connection)
        .await
}

/// The column's attachments but `moving`, as (id, position) in order.
pub async fn siblings(
    connection: &mut PgConnection,
    column_id: Uuid,
    moving: Option<Uuid>,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, position FROM column_hooks WHERE column_id = $1 AND id <> $2 ORDER BY position",
    )
    .bind(column_id)
    .bind(moving.unwrap_or(Uuid::nil()))
    .fetch_all(connection)
    .await
}
