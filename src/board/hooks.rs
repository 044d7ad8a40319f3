//! Hooks (H1–H3): a board's script and agent hooks, the built-ins, and their
//! attachments to columns — what runs when a task enters a column, in order.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Error, Result, bounded_text, optional_text, required_text, settings_object};
use crate::db::boards::ColumnHook;
use crate::db::events::{self, EventKind};
use crate::db::hooks::{self as rows, AttachmentChanges, Hook, HookDefinition, HookKind, NewAttachment};
use crate::hooks::BUILTINS;
use crate::limits::{HOOK_NAME_MAX, HOOK_TIMEOUT_DEFAULT, HOOK_TIMEOUT_MAX, NAME_MAX, TEXT_MAX};
use crate::position;

/// A script or agent hook as asked for (`POST /api/boards/{id}/hooks`, `PUT
/// /api/hooks/{id}`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HookBody")]
pub struct HookRequest {
    #[schemars(length(min = 1, max = HOOK_NAME_MAX), regex(pattern = r"\S"))]
    pub name: String,
    pub kind: HookKind,
    /// For `script` (and only for it): run with bash in the task's worktree (or by its `#!` line).
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub command: Option<String>,
    /// For `agent` (and only for it): the prompt.
    #[schemars(length(min = 1, max = TEXT_MAX), regex(pattern = r"\S"))]
    pub prompt: Option<String>,
    /// For `agent`: which agent runs it (default: the task's).
    pub agent: Option<String>,
    /// Default 600.
    #[schemars(range(min = 1, max = HOOK_TIMEOUT_MAX))]
    pub timeout_seconds: Option<i32>,
}

/// What to attach to a column: exactly one of a board hook or a built-in.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AttachBody")]
pub struct AttachRequest {
    /// A board hook, or…
    pub hook_id: Option<Uuid>,
    /// …a built-in, e.g. `builtin:play-sound` (one of `GET /api/hooks/builtin`).
    #[schemars(regex(pattern = "^builtin:"))]
    pub builtin: Option<String>,
    pub execute_once: Option<bool>,
    pub transparent: Option<bool>,
    /// A JSON object of the built-in's settings.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub settings: Option<Value>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
}

/// Changes to a column's hook: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateAttachmentBody")]
pub struct AttachmentOptions {
    pub execute_once: Option<bool>,
    pub transparent: Option<bool>,
    /// A JSON object of the built-in's settings.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub settings: Option<Value>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    /// Move to the end of the column's hooks.
    #[serde(default)]
    pub move_to_end: bool,
}

pub async fn list(pool: &PgPool, board_id: Uuid) -> Result<Vec<Hook>> {
    let mut connection = pool.acquire().await?;
    super::boards::existing(&mut connection, board_id).await?;
    Ok(rows::list(&mut connection, board_id).await?)
}

pub async fn create(pool: &PgPool, board_id: Uuid, request: HookRequest) -> Result<Hook> {
    let definition = definition(request)?;
    let mut tx = pool.begin().await?;
    super::boards::existing(&mut tx, board_id).await?;
    let hook = rows::insert(&mut tx, board_id, &definition).await?;
    events::publish_on_board(&mut tx, board_id, EventKind::HookCreated, &hook).await?;
    tx.commit().await?;
    Ok(hook)
}

/// Replaces a hook's definition.
pub async fn replace(pool: &PgPool, id: Uuid, request: HookRequest) -> Result<Hook> {
    let definition = definition(request)?;
    let mut tx = pool.begin().await?;
    let hook = rows::replace(&mut tx, id, &definition).await?.ok_or_else(|| Error::not_found("hook", id))?;
    events::publish_on_board(&mut tx, hook.board_id, EventKind::HookUpdated, &hook).await?;
    tx.commit().await?;
    Ok(hook)
}

/// Deletes a hook and its attachments.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    let board_id = rows::delete(&mut tx, id).await?.ok_or_else(|| Error::not_found("hook", id))?;
    events::publish_on_board(&mut tx, board_id, EventKind::HookDeleted, &json!({ "id": id })).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn attach(pool: &PgPool, column_id: Uuid, request: AttachRequest) -> Result<ColumnHook> {
    let builtin = match (request.hook_id, request.builtin) {
        (Some(_), None) => None,
        (None, Some(builtin)) => Some(
            crate::hooks::builtin(&builtin)
                .ok_or_else(|| {
                    let known: Vec<&str> = BUILTINS.iter().map(|builtin| builtin.id).collect();
                    Error::invalid(
                        "builtin",
                        format!("unknown built-in '{builtin}'; one of {}", known.join(", ")),
                    )
                })?
                .id,
        ),
        _ => return Err(Error::invalid_request("give exactly one of `hook_id` or `builtin`")),
    };
    check_settings(request.settings.as_ref())?;
    let mut tx = pool.begin().await?;
    let board_id = lock_column(&mut tx, column_id).await?;
    if let Some(hook_id) = request.hook_id {
        let hook = rows::get(&mut tx, hook_id).await?.ok_or_else(|| Error::not_found("hook", hook_id))?;
        if hook.board_id != board_id {
            return Err(Error::invalid(
                "hook_id",
                format!("hook_id: hook {hook_id} belongs to another board"),
            ));
        }
    }
    let key = slot(&mut tx, column_id, None, request.after, request.before).await?;
    let attachment = NewAttachment {
        hook_id: request.hook_id,
        builtin,
        execute_once: request.execute_once.unwrap_or(false),
        transparent: request.transparent.unwrap_or(false),
        removable: true,
        settings: request.settings.unwrap_or_else(|| json!({})),
    };
    let attached = rows::insert_attachment(&mut tx, column_id, &attachment, &key).await?;
    events::publish_on_board(&mut tx, board_id, EventKind::ColumnHookCreated, &attached).await?;
    tx.commit().await?;
    Ok(attached)
}

/// Changes or reorders a column's hook.
pub async fn update_attachment(pool: &PgPool, id: Uuid, options: AttachmentOptions) -> Result<ColumnHook> {
    check_settings(options.settings.as_ref())?;
    let mut tx = pool.begin().await?;
    let (column_id, _) = attachment(&mut tx, id).await?;
    let board_id = lock_column(&mut tx, column_id).await?;
    let moves = options.after.is_some() || options.before.is_some() || options.move_to_end;
    let position = match moves {
        true => Some(slot(&mut tx, column_id, Some(id), options.after, options.before).await?),
        false => None,
    };
    let changes = AttachmentChanges {
        execute_once: options.execute_once,
        transparent: options.transparent,
        settings: options.settings,
        position,
    };
    let attached = rows::update_attachment(&mut tx, id, changes).await?;
    events::publish_on_board(&mut tx, board_id, EventKind::ColumnHookUpdated, &attached).await?;
    tx.commit().await?;
    Ok(attached)
}

/// Detaches a hook from its column, unless the column's workflow needs it.
pub async fn detach(pool: &PgPool, id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    let (column_id, removable) = attachment(&mut tx, id).await?;
    if !removable {
        return Err(Error::conflict("this hook is part of the column's workflow and cannot be removed"));
    }
    let board_id = lock_column(&mut tx, column_id).await?;
    rows::delete_attachment(&mut tx, id).await?;
    events::publish_on_board(&mut tx, board_id, EventKind::ColumnHookDeleted, &json!({ "id": id })).await?;
    tx.commit().await?;
    Ok(())
}

fn check_settings(settings: Option<&Value>) -> Result<()> {
    settings.map_or(Ok(()), |settings| settings_object("settings", settings))
}

/// A hook's definition from a request: a script takes a command, an agent hook a
/// prompt, each within the limits.
pub(crate) fn definition(request: HookRequest) -> Result<HookDefinition> {
    let command = optional_text("command", request.command, TEXT_MAX)?;
    let prompt = optional_text("prompt", request.prompt, TEXT_MAX)?;
    match (request.kind, &command, &prompt) {
        (HookKind::Script, None, _) => {
            return Err(Error::invalid("command", "a script hook needs a command"));
        }
        (HookKind::Script, _, Some(_)) => {
            return Err(Error::invalid("prompt", "a script hook takes a command, not a prompt"));
        }
        (HookKind::Agent, _, None) => return Err(Error::invalid("prompt", "an agent hook needs a prompt")),
        (HookKind::Agent, Some(_), _) => {
            return Err(Error::invalid("command", "an agent hook takes a prompt, not a command"));
        }
        _ => {}
    }
    let timeout_seconds = request.timeout_seconds.unwrap_or(HOOK_TIMEOUT_DEFAULT);
    if !(1..=HOOK_TIMEOUT_MAX).contains(&timeout_seconds) {
        return Err(Error::invalid(
            "timeout_seconds",
            format!("timeout_seconds must be between 1 and {HOOK_TIMEOUT_MAX}"),
        ));
    }
    Ok(HookDefinition {
        name: required_text("name", &request.name, HOOK_NAME_MAX)?,
        kind: request.kind,
        command,
        prompt,
        agent: request.agent.map(|agent| bounded_text("agent", &agent, NAME_MAX)).transpose()?,
        timeout_seconds,
    })
}

async fn attachment(connection: &mut PgConnection, id: Uuid) -> Result<(Uuid, bool)> {
    rows::attachment_column(connection, id).await?.ok_or_else(|| Error::not_found("column hook", id))
}

async fn lock_column(connection: &mut PgConnection, column_id: Uuid) -> Result<Uuid> {
    rows::lock_column(connection, column_id).await?.ok_or_else(|| Error::not_found("column", column_id))
}

async fn slot(
    connection: &mut PgConnection,
    column_id: Uuid,
    moving: Option<Uuid>,
    after: Option<Uuid>,
    before: Option<Uuid>,
) -> Result<String> {
    let siblings = rows::siblings(connection, column_id, moving).await?;
    position::place(&siblings, after, before)
        .map_err(|error| Error::placement(error, "hook", "on this column"))
}
