//! Templates (D5): `POST /api/boards/{id}/templates`, `PATCH`/`DELETE /api/templates/{id}`
//! (a board's templates come with `GET /api/boards/{id}`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::extract::{Id, Json};
use crate::board::templates::{self, TemplateRequest};
use crate::db::boards::Template;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<TemplateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(templates::create(&state.pool, board_id, body).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<TemplateRequest>,
) -> Result<axum::Json<Template>, ApiError> {
    Ok(axum::Json(templates::update(&state.pool, id, body).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    templates::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
