//! Tasks (D3): `/api/boards/{id}/tasks` to list and create, `/api/tasks/{id}` to read,
//! edit and delete, `/move` (a reorder or a column change), `/duplicate`, `/activity`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Id, Query};
use crate::board::tasks::{self};
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
    /// The first entry id the client has; the page holds the newest entries before it
    /// (still oldest first). A number above every id (2^53 - 1) gives the newest page.
    /// Not with `after`.
    pub before: Option<i64>,
    /// 1 to 500; default 100.
    #[schemars(range(min = 1, max = crate::limits::ACTIVITY_PAGE_MAX))]
    pub limit: Option<i64>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Activity {
    pub entries: Vec<crate::db::activity::ActivityEntry>,
    /// Pass as `after` for the next page; null when this page is the last (or was
    /// read with `before`).
    pub next_after: Option<i64>,
    /// Read with `before`: pass as `before` for the older page; null when this page
    /// holds the first entry.
    pub next_before: Option<i64>,
}

/// `GET /api/tasks/{id}/activity?after=&before=&limit=`: the task's activity, oldest
/// first, paged forward (`after`) or backward from the newest (`before`).
pub async fn activity(
    State(state): State<AppState>,
    Id(id): Id,
    Query(query): Query<ActivityPage>,
) -> Result<axum::Json<Activity>, ApiError> {
    match (query.after, query.before) {
        (Some(_), Some(_)) => {
            Err(ApiError::invalid("`after` and `before` exclude each other").with_field("before"))
        }
        (_, Some(before)) => {
            let (entries, next_before) = tasks::activity_before(&state.pool, id, before, query.limit).await?;
            Ok(axum::Json(Activity { entries, next_after: None, next_before }))
        }
        (after, None) => {
            let (entries, next_after) = tasks::activity(&state.pool, id, after, query.limit).await?;
            Ok(axum::Json(Activity { entries, next_after, next_before: None }))
        }
    }
}
