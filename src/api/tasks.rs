//! Tasks (D3): `/api/boards/{id}/tasks` to list and create, `/api/tasks/{id}` to read,
//! edit and delete, `/move` (a reorder or a column change), `/duplicate`, `/activity`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Id, Json, Query};
use crate::board::tasks::{self, Destination, TaskEdit, TaskRequest};
use crate::db::tasks::Task;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    /// Text the title or description must contain.
    pub q: Option<String>,
    pub column_id: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    Id(board_id): Id,
    Query(query): Query<ListTasks>,
) -> Result<axum::Json<Vec<Task>>, ApiError> {
    Ok(axum::Json(tasks::list(&state.pool, board_id, query.column_id, query.q).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<TaskRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(tasks::create(&state.pool, board_id, body).await?)))
}

pub async fn get(State(state): State<AppState>, Id(id): Id) -> Result<axum::Json<Task>, ApiError> {
    Ok(axum::Json(tasks::get(&state.pool, id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<TaskEdit>,
) -> Result<axum::Json<Task>, ApiError> {
    Ok(axum::Json(tasks::update(&state.pool, id, body).await?))
}

pub async fn move_to(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<Destination>,
) -> Result<axum::Json<Task>, ApiError> {
    Ok(axum::Json(tasks::move_task(&state.pool, id, body).await?))
}

pub async fn duplicate(State(state): State<AppState>, Id(id): Id) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(tasks::duplicate(&state.pool, id).await?)))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    tasks::delete(&state.pool, &state.runner, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityPage {
    /// The last entry id the client has; the page starts after it.
    pub after: Option<i64>,
    /// 1 to 500; default 100.
    #[schemars(range(min = 1, max = crate::limits::ACTIVITY_PAGE_MAX))]
    pub limit: Option<i64>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Activity {
    pub entries: Vec<crate::db::activity::ActivityEntry>,
    /// Pass as `after` for the next page; null when this page is the last.
    pub next_after: Option<i64>,
}

/// `GET /api/tasks/{id}/activity?after=&limit=`: the task's activity, oldest first.
pub async fn activity(
    State(state): State<AppState>,
    Id(id): Id,
    Query(query): Query<ActivityPage>,
) -> Result<axum::Json<Activity>, ApiError> {
    let (entries, next_after) = tasks::activity(&state.pool, id, query.after, query.limit).await?;
    Ok(axum::Json(Activity { entries, next_after }))
}
