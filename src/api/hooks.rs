//! Hooks (H1–H3): the built-ins (read-only), a board's script and agent hooks, and
//! their attachments to columns.
//!
//! `GET /api/hooks/builtin` · `GET|POST /api/boards/{id}/hooks` · `PUT|DELETE
//! /api/hooks/{id}` · `POST /api/columns/{id}/hooks` · `PATCH|DELETE /api/column-hooks/{id}`

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::extract::{Id, Json};
use crate::board::hooks::{self, AttachRequest, AttachmentOptions, HookRequest};
use crate::db::boards::ColumnHook;
use crate::db::hooks::Hook;
use crate::error::ApiError;
use crate::hooks::{BUILTINS, Builtin};
use crate::state::AppState;

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
    Json(body): Json<HookRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(hooks::create(&state.pool, board_id, body).await?)))
}

pub async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<HookRequest>,
) -> Result<axum::Json<Hook>, ApiError> {
    Ok(axum::Json(hooks::replace(&state.pool, id, body).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    hooks::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn attach(
    State(state): State<AppState>,
    Id(column_id): Id,
    Json(body): Json<AttachRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(hooks::attach(&state.pool, column_id, body).await?)))
}

pub async fn update_attachment(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<AttachmentOptions>,
) -> Result<axum::Json<ColumnHook>, ApiError> {
    Ok(axum::Json(hooks::update_attachment(&state.pool, id, body).await?))
}

pub async fn detach(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    hooks::detach(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
