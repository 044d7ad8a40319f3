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
pub struct CreateTask {
    #[schemars(length(min = 1, max = crate::board::limits::TITLE_MAX), regex(pattern = r"\S"))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = crate::board::limits::TEXT_MAX))]
    pub description: String,
    /// Default: the board's first column.
    pub column_id: Option<Uuid>,
    #[serde(default)]
    pub auto_start: bool,
    pub agent: Option<String>,
    pub base_branch: Option<String>,
    pub parent_task_id: Option<Uuid>,
    /// Tasks of the board that must be done before this one's agent starts.
    #[serde(default)]
    pub blocked_by: Vec<Uuid>,
}

/// A patch: absent fields stay; `agent` and `base_branch` may be set to null.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[schemars(length(min = 1, max = crate::board::limits::TITLE_MAX), regex(pattern = r"\S"))]
    pub title: Option<String>,
    #[schemars(length(max = crate::board::limits::TEXT_MAX))]
    pub description: Option<String>,
    pub auto_start: Option<bool>,
    #[serde(default, deserialize_with = "super::extract::present")]
    pub agent: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::extract::present")]
    pub base_branch: Option<Option<String>>,
    /// Replaces the tasks that must be done before this one's agent starts.
    pub blocked_by: Option<Vec<Uuid>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTask {
    pub column_id: Option<Uuid>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
}

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
    Json(body): Json<CreateTask>,
) -> Result<impl IntoResponse, ApiError> {
    let request = TaskRequest {
        title: body.title,
        description: body.description,
        column_id: body.column_id,
        auto_start: body.auto_start,
        agent: body.agent,
        base_branch: body.base_branch,
        parent_task_id: body.parent_task_id,
        blocked_by: body.blocked_by,
    };
    let task = tasks::create(&state.pool, board_id, request).await?;
    Ok((StatusCode::CREATED, axum::Json(task)))
}

pub async fn get(State(state): State<AppState>, Id(id): Id) -> Result<axum::Json<Task>, ApiError> {
    Ok(axum::Json(tasks::get(&state.pool, id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateTask>,
) -> Result<axum::Json<Task>, ApiError> {
    let edit = TaskEdit {
        title: body.title,
        description: body.description,
        auto_start: body.auto_start,
        agent: body.agent,
        base_branch: body.base_branch,
        blocked_by: body.blocked_by,
    };
    Ok(axum::Json(tasks::update(&state.pool, id, edit).await?))
}

pub async fn move_to(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<MoveTask>,
) -> Result<axum::Json<Task>, ApiError> {
    let destination = Destination { column_id: body.column_id, after: body.after, before: body.before };
    Ok(axum::Json(tasks::move_task(&state.pool, id, destination).await?))
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
    #[schemars(range(min = 1, max = crate::board::limits::ACTIVITY_PAGE_MAX))]
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
