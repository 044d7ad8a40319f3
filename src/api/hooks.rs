//! Hooks (H1–H3): the built-ins (read-only), a board's script and agent hooks, and
//! their attachments to columns.
//!
//! `GET /api/hooks/builtin` · `GET|POST /api/boards/{id}/hooks` · `PUT|DELETE
//! /api/hooks/{id}` · `POST /api/columns/{id}/hooks` · `PATCH|DELETE /api/column-hooks/{id}`

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::extract::{Id, Json, bounded_text, required_text};
use crate::db::boards::ColumnHook;
use crate::db::hooks::{self, Attached, AttachmentOptions, Hook, HookDefinition, HookError, HookKind};
use crate::error::ApiError;
use crate::hooks::{BUILTINS, Builtin};
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookBody {
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    pub name: String,
    pub kind: HookKind,
    /// For `script` (and only for it): run with bash in the task's worktree (or by its `#!` line).
    #[schemars(length(min = 1, max = 100_000), regex(pattern = r"\S"))]
    pub command: Option<String>,
    /// For `agent` (and only for it): the prompt.
    #[schemars(length(min = 1, max = 100_000), regex(pattern = r"\S"))]
    pub prompt: Option<String>,
    /// For `agent`: which agent runs it (default: the task's).
    pub agent: Option<String>,
    /// Default 600.
    #[schemars(range(min = 1, max = 86_400))]
    pub timeout_seconds: Option<i32>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAttachmentBody {
    pub execute_once: Option<bool>,
    pub transparent: Option<bool>,
    /// A JSON object of the built-in's settings.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub settings: Option<Value>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    #[serde(default)]
    pub move_to_end: bool,
}

pub async fn builtins() -> axum::Json<&'static [Builtin]> {
    axum::Json(BUILTINS)
}

pub async fn list(
    State(state): State<AppState>,
    Id(board_id): Id,
) -> Result<axum::Json<Vec<Hook>>, ApiError> {
    let mut connection = state.pool.acquire().await?;
    crate::db::boards::get(&mut connection, board_id)
        .await?
        .ok_or_else(|| super::boards::no_board(board_id))?;
    Ok(axum::Json(hooks::list(&mut connection, board_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<HookBody>,
) -> Result<impl IntoResponse, ApiError> {
    let hook = hooks::create(&state.pool, board_id, definition(body)?).await?;
    Ok((StatusCode::CREATED, axum::Json(hook)))
}

pub async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<HookBody>,
) -> Result<axum::Json<Hook>, ApiError> {
    Ok(axum::Json(hooks::replace(&state.pool, id, definition(body)?).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    hooks::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn attach(
    State(state): State<AppState>,
    Id(column_id): Id,
    Json(body): Json<AttachBody>,
) -> Result<impl IntoResponse, ApiError> {
    let attached = match (body.hook_id, body.builtin) {
        (Some(hook_id), None) => Attached::Hook(hook_id),
        (None, Some(builtin)) => Attached::Builtin(
            crate::hooks::builtin(&builtin)
                .ok_or_else(|| {
                    let known: Vec<&str> = BUILTINS.iter().map(|builtin| builtin.id).collect();
                    ApiError::invalid(format!("unknown built-in '{builtin}'; one of {}", known.join(", ")))
                        .with_field("builtin")
                })?
                .id,
        ),
        _ => return Err(ApiError::invalid("give exactly one of `hook_id` or `builtin`")),
    };
    check_settings(body.settings.as_ref())?;
    let options = AttachmentOptions {
        execute_once: body.execute_once,
        transparent: body.transparent,
        settings: body.settings,
        after: body.after,
        before: body.before,
        move_to_end: false,
    };
    let attachment = hooks::attach(&state.pool, column_id, attached, options).await?;
    Ok((StatusCode::CREATED, axum::Json(attachment)))
}

pub async fn update_attachment(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateAttachmentBody>,
) -> Result<axum::Json<ColumnHook>, ApiError> {
    check_settings(body.settings.as_ref())?;
    let options = AttachmentOptions {
        execute_once: body.execute_once,
        transparent: body.transparent,
        settings: body.settings,
        after: body.after,
        before: body.before,
        move_to_end: body.move_to_end,
    };
    Ok(axum::Json(hooks::update_attachment(&state.pool, id, options).await?))
}

pub async fn detach(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    hooks::detach(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_settings(settings: Option<&Value>) -> Result<(), ApiError> {
    settings.map_or(Ok(()), |settings| super::extract::settings_object("settings", settings))
}

fn definition(body: HookBody) -> Result<HookDefinition, ApiError> {
    let text = |field: &str, value: Option<String>| {
        value.map(|value| required_text(field, &value, 100_000)).transpose()
    };
    let (command, prompt) = (text("command", body.command)?, text("prompt", body.prompt)?);
    match (body.kind, &command, &prompt) {
        (HookKind::Script, None, _) => {
            return Err(ApiError::invalid("a script hook needs a command").with_field("command"));
        }
        (HookKind::Script, _, Some(_)) => {
            return Err(ApiError::invalid("a script hook takes a command, not a prompt").with_field("prompt"));
        }
        (HookKind::Agent, _, None) => {
            return Err(ApiError::invalid("an agent hook needs a prompt").with_field("prompt"));
        }
        (HookKind::Agent, Some(_), _) => {
            return Err(
                ApiError::invalid("an agent hook takes a prompt, not a command").with_field("command")
            );
        }
        _ => {}
    }
    let timeout_seconds = body.timeout_seconds.unwrap_or(600);
    if !(1..=86_400).contains(&timeout_seconds) {
        return Err(
            ApiError::invalid("timeout_seconds must be between 1 and 86400").with_field("timeout_seconds")
        );
    }
    Ok(HookDefinition {
        name: required_text("name", &body.name, 100)?,
        kind: body.kind,
        command,
        prompt,
        agent: body.agent.map(|agent| bounded_text("agent", &agent, 200)).transpose()?,
        timeout_seconds,
    })
}

impl From<HookError> for ApiError {
    fn from(error: HookError) -> Self {
        let detail = error.to_string();
        match error {
            HookError::NotFound(_) | HookError::BoardNotFound(_) | HookError::ColumnNotFound(_) => {
                Self::not_found(detail).with_field("id")
            }
            HookError::AttachmentNotFound(_) => Self::not_found(detail).with_field("id"),
            HookError::ForeignHook(_) => Self::invalid(detail).with_field("hook_id"),
            HookError::Neighbour { field, .. } => Self::invalid(detail).with_field(field),
            HookError::NeighboursOutOfOrder => Self::invalid(detail).with_field("before"),
            HookError::NotRemovable => Self::new(StatusCode::CONFLICT, "Conflict", detail),
            HookError::Database(error) => error.into(),
        }
    }
}
