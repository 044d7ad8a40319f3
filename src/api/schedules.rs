//! Periodic tasks (H4): `GET`/`POST /api/boards/{id}/schedules`, `PATCH`/`DELETE
//! /api/schedules/{id}`. Handlers hand over to [`crate::board::schedules`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::extract::{Id, Json};
use crate::board::schedules::{self, ScheduleRequest};
use crate::db::schedules::Schedule;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    Id(board_id): Id,
) -> Result<axum::Json<Vec<Schedule>>, ApiError> {
    Ok(axum::Json(schedules::list(&state.pool, board_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<ScheduleRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(schedules::create(&state.pool, board_id, body).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<ScheduleRequest>,
) -> Result<axum::Json<Schedule>, ApiError> {
    Ok(axum::Json(schedules::update(&state.pool, id, body).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    schedules::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
