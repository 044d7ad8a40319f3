//! Tasks (D3): `/api/boards/{id}/tasks` to list and create, `/api/tasks/{id}` to read,
//! edit and delete, `/move` (a reorder or a column change) and `/duplicate`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Id, Json, Query, bounded_text, required_text};
use crate::db::boards;
use crate::db::tasks::{self, Destination, NewTask, Task, TaskChanges, TaskFilter};
use crate::error::ApiError;
use crate::state::AppState;

const TITLE_MAX: usize = 500;
const DESCRIPTION_MAX: usize = 100_000;
const NAME_MAX: usize = 200;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    #[schemars(length(min = 1, max = 500), regex(pattern = r"\S"))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = 100_000))]
    pub description: String,
    /// Default: the board's first column.
    pub column_id: Option<Uuid>,
    #[serde(default)]
    pub auto_start: bool,
    pub agent: Option<String>,
    pub base_branch: Option<String>,
    pub parent_task_id: Option<Uuid>,
}

/// A patch: absent fields stay; `agent` and `base_branch` may be set to null.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[schemars(length(min = 1, max = 500), regex(pattern = r"\S"))]
    pub title: Option<String>,
    #[schemars(length(max = 100_000))]
    pub description: Option<String>,
    pub auto_start: Option<bool>,
    #[serde(default, deserialize_with = "super::extract::present")]
    pub agent: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::extract::present")]
    pub base_branch: Option<Option<String>>,
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
    let mut connection = state.pool.acquire().await?;
    boards::get(&mut connection, board_id).await?.ok_or_else(|| super::boards::no_board(board_id))?;
    let filter =
        TaskFilter { column_id: query.column_id, text: query.q.filter(|text| !text.trim().is_empty()) };
    Ok(axum::Json(tasks::list(&mut connection, board_id, &filter).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<CreateTask>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewTask {
        title: required_text("title", &body.title, TITLE_MAX)?,
        description: bounded_text("description", &body.description, DESCRIPTION_MAX)?,
        column_id: body.column_id,
        auto_start: body.auto_start,
        agent: body.agent.map(|agent| required_text("agent", &agent, NAME_MAX)).transpose()?,
        base_branch: body
            .base_branch
            .map(|branch| required_text("base_branch", &branch, NAME_MAX))
            .transpose()?,
        parent_task_id: body.parent_task_id,
    };
    let task = tasks::create(&state.pool, board_id, new).await?;
    Ok((StatusCode::CREATED, axum::Json(task)))
}

pub async fn get(State(state): State<AppState>, Id(id): Id) -> Result<axum::Json<Task>, ApiError> {
    let mut connection = state.pool.acquire().await?;
    let task = tasks::get(&mut connection, id).await?;
    task.map(axum::Json).ok_or_else(|| ApiError::not_found(format!("no task {id}")).with_field("id"))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateTask>,
) -> Result<axum::Json<Task>, ApiError> {
    let optional_name = |field: &str, value: Option<Option<String>>| {
        value.map(|inner| inner.map(|text| required_text(field, &text, NAME_MAX)).transpose()).transpose()
    };
    let changes = TaskChanges {
        title: body.title.map(|title| required_text("title", &title, TITLE_MAX)).transpose()?,
        description: body
            .description
            .map(|text| bounded_text("description", &text, DESCRIPTION_MAX))
            .transpose()?,
        auto_start: body.auto_start,
        agent: optional_name("agent", body.agent)?,
        base_branch: optional_name("base_branch", body.base_branch)?,
    };
    Ok(axum::Json(tasks::update(&state.pool, id, changes).await?))
}

pub async fn move_to(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<MoveTask>,
) -> Result<axum::Json<Task>, ApiError> {
    for (field, neighbour) in [("after", body.after), ("before", body.before)] {
        if neighbour == Some(id) {
            return Err(ApiError::invalid("a task cannot be placed next to itself").with_field(field));
        }
    }
    let destination = Destination { column_id: body.column_id, after: body.after, before: body.before };
    // The hook engine takes over from here when the column changed (H1).
    let moved = tasks::move_to(&state.pool, id, destination).await?;
    Ok(axum::Json(moved.task))
}

pub async fn duplicate(State(state): State<AppState>, Id(id): Id) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(tasks::duplicate(&state.pool, id).await?)))
}

/// Stops the task's agent, deletes the task, then removes its worktree if clean (D3).
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    {
        let mut connection = state.pool.acquire().await?;
        tasks::get(&mut connection, id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no task {id}")).with_field("id"))?;
    }
    state.runner.stop_and_wait(id).await;
    let task = tasks::delete(&state.pool, id).await?;
    state.runner.remove_worktree(&task).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityPage {
    /// The last entry id the client has; the page starts after it.
    pub after: Option<i64>,
    /// 1 to 500; default 100.
    #[schemars(range(min = 1, max = 500))]
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
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 500").with_field("limit"));
    }
    let mut connection = state.pool.acquire().await?;
    tasks::get(&mut connection, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no task {id}")).with_field("id"))?;
    let entries = crate::db::activity::page(&mut connection, id, query.after, limit).await?;
    let next_after = (entries.len() as i64 == limit).then(|| entries.last().map(|entry| entry.id)).flatten();
    Ok(axum::Json(Activity { entries, next_after }))
}
