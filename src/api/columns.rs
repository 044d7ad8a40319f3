//! Columns (D2): `POST /api/boards/{id}/columns`, `PATCH` and `DELETE /api/columns/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::extract::{Id, Json};
use crate::board::columns::{self, ColumnEdit, ColumnRequest};
use crate::db::boards::Column;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<ColumnRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(columns::create(&state.pool, board_id, body).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<ColumnEdit>,
) -> Result<axum::Json<Column>, ApiError> {
    Ok(axum::Json(columns::update(&state.pool, id, body).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    columns::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
