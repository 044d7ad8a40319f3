//! Columns (D2): `POST /api/boards/{id}/columns`, `PATCH` and `DELETE /api/columns/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Id, Json};
use crate::board::columns::{self, ColumnEdit, ColumnRequest, Placement};
use crate::board::limits::COLUMN_NAME_MAX;
use crate::db::boards::{Column, ColumnRole};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateColumn {
    #[schemars(length(min = 1, max = COLUMN_NAME_MAX), regex(pattern = r"\S"))]
    pub name: String,
    /// `#rgb` or `#rrggbb`.
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateColumn {
    #[schemars(length(min = 1, max = COLUMN_NAME_MAX), regex(pattern = r"\S"))]
    pub name: Option<String>,
    /// `#rgb` or `#rrggbb`.
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub hooks_enabled: Option<bool>,
    /// At least 1, or null for no limit.
    #[serde(default, deserialize_with = "super::extract::present")]
    #[schemars(range(min = 1))]
    pub max_concurrent: Option<Option<i32>>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    /// Move the column to the end.
    #[serde(default)]
    pub move_to_end: bool,
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<CreateColumn>,
) -> Result<impl IntoResponse, ApiError> {
    let request = ColumnRequest {
        name: body.name,
        color: body.color,
        role: body.role,
        placement: Placement { after: body.after, before: body.before },
    };
    Ok((StatusCode::CREATED, axum::Json(columns::create(&state.pool, board_id, request).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateColumn>,
) -> Result<axum::Json<Column>, ApiError> {
    let moves = body.after.is_some() || body.before.is_some() || body.move_to_end;
    let edit = ColumnEdit {
        name: body.name,
        color: body.color,
        role: body.role,
        hooks_enabled: body.hooks_enabled,
        max_concurrent: body.max_concurrent,
        placement: moves.then_some(Placement { after: body.after, before: body.before }),
    };
    Ok(axum::Json(columns::update(&state.pool, id, edit).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    columns::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
