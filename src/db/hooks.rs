//! Board hooks (script and agent) and their attachments to columns (H1, H3).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::boards::{ColumnHook, column_hook_fields};
use super::events::{self, board_stream};
use crate::position::{self, PlaceError};

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
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub created_at: OffsetDateTime,
}

macro_rules! hook_fields {
    () => {
        "id, board_id, name, kind, command, prompt, agent, timeout_seconds, created_at"
    };
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("no hook {0}")]
    NotFound(Uuid),
    #[error("no board {0}")]
    BoardNotFound(Uuid),
    #[error("no column {0}")]
    ColumnNotFound(Uuid),
    #[error("no column hook {0}")]
    AttachmentNotFound(Uuid),
    #[error("hook_id: hook {0} belongs to another board")]
    ForeignHook(Uuid),
    #[error("this hook is part of the column's workflow and cannot be removed")]
    NotRemovable,
    #[error("{field}: no hook {id} on this column")]
    Neighbour { field: &'static str, id: Uuid },
    #[error("`after` must come before `before`")]
    NeighboursOutOfOrder,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A script or agent hook's definition (validated by the caller: a script has a
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
    sqlx::query_as(concat!("SELECT ", hook_fields!(), " FROM hooks WHERE board_id = $1 ORDER BY name, id"))
        .bind(board_id)
        .fetch_all(connection)
        .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Hook>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", hook_fields!(), " FROM hooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(connection)
        .await
}

pub async fn create(pool: &PgPool, board_id: Uuid, definition: HookDefinition) -> Result<Hook, HookError> {
    let mut tx = pool.begin().await?;
    let board: Option<Uuid> = sqlx::query_scalar("SELECT id FROM boards WHERE id = $1")
        .bind(board_id)
        .fetch_optional(&mut *tx)
        .await?;
    board.ok_or(HookError::BoardNotFound(board_id))?;
    let hook: Hook = sqlx::query_as(concat!(
        "INSERT INTO hooks (board_id, name, kind, command, prompt, agent, timeout_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        hook_fields!()
    ))
    .bind(board_id)
    .bind(&definition.name)
    .bind(definition.kind)
    .bind(&definition.command)
    .bind(&definition.prompt)
    .bind(&definition.agent)
    .bind(definition.timeout_seconds)
    .fetch_one(&mut *tx)
    .await?;
    events::publish(&mut tx, &[board_stream(board_id)], "hook.created", &json!(hook)).await?;
    tx.commit().await?;
    Ok(hook)
}

/// Replaces a hook's definition.
pub async fn replace(pool: &PgPool, id: Uuid, definition: HookDefinition) -> Result<Hook, HookError> {
    let mut tx = pool.begin().await?;
    let hook: Option<Hook> = sqlx::query_as(concat!(
        "UPDATE hooks SET name = $2, kind = $3, command = $4, prompt = $5, agent = $6, timeout_seconds = $7,
                updated_at = now()
         WHERE id = $1 RETURNING ",
        hook_fields!()
    ))
    .bind(id)
    .bind(&definition.name)
    .bind(definition.kind)
    .bind(&definition.command)
    .bind(&definition.prompt)
    .bind(&definition.agent)
    .bind(definition.timeout_seconds)
    .fetch_optional(&mut *tx)
    .await?;
    let hook = hook.ok_or(HookError::NotFound(id))?;
    events::publish(&mut tx, &[board_stream(hook.board_id)], "hook.updated", &json!(hook)).await?;
    tx.commit().await?;
    Ok(hook)
}

/// Deletes a hook and its attachments.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<(), HookError> {
    let mut tx = pool.begin().await?;
    let board: Option<Uuid> = sqlx::query_scalar("DELETE FROM hooks WHERE id = $1 RETURNING board_id")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let board_id = board.ok_or(HookError::NotFound(id))?;
    events::publish(&mut tx, &[board_stream(board_id)], "hook.deleted", &json!({ "id": id })).await?;
    tx.commit().await?;
    Ok(())
}

/// What is attached: a board hook or a built-in.
#[derive(Debug, Clone)]
pub enum Attached {
    Hook(Uuid),
    Builtin(&'static str),
}

#[derive(Debug, Clone, Default)]
pub struct AttachmentOptions {
    pub execute_once: Option<bool>,
    pub transparent: Option<bool>,
    pub settings: Option<Value>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    /// Move to the end of the column's hooks.
    pub move_to_end: bool,
}

pub async fn attach(
    pool: &PgPool,
    column_id: Uuid,
    attached: Attached,
    options: AttachmentOptions,
) -> Result<ColumnHook, HookError> {
    let mut tx = pool.begin().await?;
    let board_id = lock_column(&mut tx, column_id).await?;
    let (hook_id, builtin) = match attached {
        Attached::Hook(hook_id) => {
            let hook = get(&mut tx, hook_id).await?.ok_or(HookError::NotFound(hook_id))?;
            if hook.board_id != board_id {
                return Err(HookError::ForeignHook(hook_id));
            }
            (Some(hook_id), None)
        }
        Attached::Builtin(builtin) => (None, Some(builtin)),
    };
    let key = slot(&mut tx, column_id, None, options.after, options.before).await?;
    let attachment: ColumnHook = sqlx::query_as(concat!(
        "INSERT INTO column_hooks (column_id, hook_id, builtin, position, execute_once, transparent, settings)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        column_hook_fields!()
    ))
    .bind(column_id)
    .bind(hook_id)
    .bind(builtin)
    .bind(key)
    .bind(options.execute_once.unwrap_or(false))
    .bind(options.transparent.unwrap_or(false))
    .bind(options.settings.unwrap_or_else(|| json!({})))
    .fetch_one(&mut *tx)
    .await?;
    events::publish(&mut tx, &[board_stream(board_id)], "column_hook.created", &json!(attachment)).await?;
    tx.commit().await?;
    Ok(attachment)
}

pub async fn update_attachment(
    pool: &PgPool,
    id: Uuid,
    options: AttachmentOptions,
) -> Result<ColumnHook, HookError> {
    let mut tx = pool.begin().await?;
    let column_id: Option<Uuid> = sqlx::query_scalar("SELECT column_id FROM column_hooks WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let column_id = column_id.ok_or(HookError::AttachmentNotFound(id))?;
    let board_id = lock_column(&mut tx, column_id).await?;
    let moves = options.after.is_some() || options.before.is_some() || options.move_to_end;
    let key = match moves {
        true => Some(slot(&mut tx, column_id, Some(id), options.after, options.before).await?),
        false => None,
    };
    let attachment: ColumnHook = sqlx::query_as(concat!(
        "UPDATE column_hooks SET execute_once = coalesce($2, execute_once), transparent = coalesce($3, transparent),
                settings = coalesce($4, settings), position = coalesce($5, position)
         WHERE id = $1 RETURNING ",
        column_hook_fields!()
    ))
    .bind(id)
    .bind(options.execute_once)
    .bind(options.transparent)
    .bind(options.settings)
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    events::publish(&mut tx, &[board_stream(board_id)], "column_hook.updated", &json!(attachment)).await?;
    tx.commit().await?;
    Ok(attachment)
}

pub async fn detach(pool: &PgPool, id: Uuid) -> Result<(), HookError> {
    let mut tx = pool.begin().await?;
    let found: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT column_id, removable FROM column_hooks WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let (column_id, removable) = found.ok_or(HookError::AttachmentNotFound(id))?;
    if !removable {
        return Err(HookError::NotRemovable);
    }
    let board_id = lock_column(&mut tx, column_id).await?;
    sqlx::query("DELETE FROM column_hooks WHERE id = $1").bind(id).execute(&mut *tx).await?;
    events::publish(&mut tx, &[board_stream(board_id)], "column_hook.deleted", &json!({ "id": id })).await?;
    tx.commit().await?;
    Ok(())
}

/// Locks the column (serializing its hooks' positions) and returns its board.
async fn lock_column(connection: &mut PgConnection, column_id: Uuid) -> Result<Uuid, HookError> {
    let board: Option<Uuid> = sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1 FOR UPDATE")
        .bind(column_id)
        .fetch_optional(connection)
        .await?;
    board.ok_or(HookError::ColumnNotFound(column_id))
}

async fn slot(
    connection: &mut PgConnection,
    column_id: Uuid,
    moving: Option<Uuid>,
    after: Option<Uuid>,
    before: Option<Uuid>,
) -> Result<String, HookError> {
    let siblings: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, position FROM column_hooks WHERE column_id = $1 AND id <> $2 ORDER BY position",
    )
    .bind(column_id)
    .bind(moving.unwrap_or(Uuid::nil()))
    .fetch_all(connection)
    .await?;
    position::place(&siblings, after, before).map_err(|error| match error {
        PlaceError::UnknownNeighbour { field, id } => HookError::Neighbour { field, id },
        PlaceError::OutOfOrder => HookError::NeighboursOutOfOrder,
    })
}
