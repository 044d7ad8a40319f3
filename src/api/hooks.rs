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

use super::extract::{Id, Json};
use crate::board::hooks::{self, AttachRequest, AttachmentOptions, HookRequest};
use crate::board::limits::{HOOK_NAME_MAX, HOOK_TIMEOUT_MAX, TEXT_MAX};
use crate::db::boards::ColumnHook;
use crate::db::hooks::{Hook, HookKind};
use crate::error::ApiError;
use crate::hooks::{BUILTINS, Builtin};
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookBody {
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
    Ok(axum::Json(hooks::list(&state.pool, board_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<HookBody>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(hooks::create(&state.pool, board_id, body.into()).await?)))
}

pub async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<HookBody>,
) -> Result<axum::Json<Hook>, ApiError> {
    Ok(axum::Json(hooks::replace(&state.pool, id, body.into()).await?))
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
    let request = AttachRequest {
        hook_id: body.hook_id,
        builtin: body.builtin,
        options: AttachmentOptions {
            execute_once: body.execute_once,
            transparent: body.transparent,
            settings: body.settings,
            after: body.after,
            before: body.before,
            move_to_end: false,
        },
    };
    Ok((StatusCode::CREATED, axum::Json(hooks::attach(&state.pool, column_id, request).await?)))
}

pub async fn update_attachment(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateAttachmentBody>,
) -> Result<axum::Json<ColumnHook>, ApiError> {
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

impl From<HookBody> for HookRequest {
    fn from(body: HookBody) -> Self {
        Self {
            name: body.name,
            kind: body.kind,
            command: body.command,
            prompt: body.prompt,
            agent: body.agent,
            timeout_seconds: body.timeout_seconds,
        }
    }
}
