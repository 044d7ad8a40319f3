//! Hook executions (H1–H3): a task's record of its column hooks, and the user's hands
//! on them — retry a failed one, cancel a pending one, clear the task's error.
//!
//! `GET /api/tasks/{id}/hook-executions` · `POST /api/tasks/{id}/clear-error` ·
//! `POST /api/hook-executions/{id}/retry` · `POST /api/hook-executions/{id}/cancel`

use axum::extract::State;

use super::extract::Id;
use crate::board::pipeline;
use crate::db::executions::HookExecution;
use crate::db::tasks::Task;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    Id(task_id): Id,
) -> Result<axum::Json<Vec<HookExecution>>, ApiError> {
    Ok(axum::Json(pipeline::executions(&state.pool, task_id).await?))
}

pub async fn clear_error(
    State(state): State<AppState>,
    Id(task_id): Id,
) -> Result<axum::Json<Task>, ApiError> {
    Ok(axum::Json(pipeline::clear_error(&state.pool, task_id).await?))
}

pub async fn retry(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<axum::Json<Vec<HookExecution>>, ApiError> {
    Ok(axum::Json(pipeline::retry(&state.pool, id).await?))
}

pub async fn cancel(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<axum::Json<HookExecution>, ApiError> {
    Ok(axum::Json(pipeline::cancel(&state.pool, id).await?))
}
