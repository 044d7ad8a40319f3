//! Webhooks (N3): `GET`/`POST /api/boards/{id}/webhooks`, `PATCH`/`DELETE
//! /api/webhooks/{id}`, and `POST /api/webhooks/{id}/test` ("Send test", answering what
//! the receiver said).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::extract::{Id, Json};
use crate::board::webhooks::{self, WebhookRequest};
use crate::db::webhooks::Webhook;
use crate::error::ApiError;
use crate::notify::webhook::Delivery;
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    Id(board_id): Id,
) -> Result<axum::Json<Vec<Webhook>>, ApiError> {
    Ok(axum::Json(webhooks::list(&state.pool, board_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<WebhookRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(webhooks::create(&state.pool, board_id, body).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<WebhookRequest>,
) -> Result<axum::Json<Webhook>, ApiError> {
    Ok(axum::Json(webhooks::update(&state.pool, id, body).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test(State(state): State<AppState>, Id(id): Id) -> Result<axum::Json<Delivery>, ApiError> {
    Ok(axum::Json(webhooks::test(&state.pool, id).await?))
}
