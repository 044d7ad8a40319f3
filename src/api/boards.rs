//! `/api/boards`: list, create (with the default columns, hooks and templates), read
//! with everything the board view needs, update, delete (D1).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Id, Json, bounded_text, required_text};
use crate::db::boards::{self, Board, BoardChanges, Column, ColumnHook, NewBoard, Template};
use crate::db::tasks::{self, Task, TaskFilter};
use crate::error::ApiError;
use crate::state::AppState;

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 20_000;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBoard {
    #[schemars(length(min = 1, max = 200), regex(pattern = r"\S"))]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBoard {
    #[schemars(length(min = 1, max = 200), regex(pattern = r"\S"))]
    pub name: Option<String>,
    #[schemars(length(max = 20_000))]
    pub description: Option<String>,
    /// A JSON object, replacing the current settings.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub settings: Option<Value>,
    /// A repository from `/api/repositories`, or null to unlink.
    #[serde(default, deserialize_with = "super::extract::present")]
    pub repository_id: Option<Option<uuid::Uuid>>,
}

/// A board with everything its view shows.
#[derive(Serialize, schemars::JsonSchema)]
pub struct BoardView {
    pub board: Board,
    pub columns: Vec<Column>,
    pub column_hooks: Vec<ColumnHook>,
    pub templates: Vec<Template>,
    pub tasks: Vec<Task>,
}

pub async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Board>>, ApiError> {
    Ok(axum::Json(boards::list(&state.pool).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateBoard>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewBoard {
        name: required_text("name", &body.name, NAME_MAX)?,
        description: bounded_text("description", &body.description, DESCRIPTION_MAX)?,
        repository_id: None,
    };
    let board = boards::create(&state.pool, new).await?;
    let (_, view) = snapshot(&state, board.id).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// `GET /api/boards/{id}`: served from the view cache while the board is unchanged,
/// gzipped when the client accepts it, with the version as an ETag.
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let seq = {
        let mut connection = state.pool.acquire().await?;
        crate::db::events::last_seq(&mut connection, &crate::db::events::board_stream(id)).await?
    };
    let cached = match state.board_views.get(id, seq) {
        Some(cached) => cached,
        None => {
            let _filling = state.board_views.filling.lock().await;
            if let Some(cached) = state.board_views.get(id, seq) {
                return Ok(respond(cached, id, &headers));
            }
            let (seq, view) = snapshot(&state, id).await?;
            let json = serde_json::to_vec(&view).map_err(|error| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", error.to_string())
            })?;
            state.board_views.put(id, seq, json)
        }
    };
    Ok(respond(cached, id, &headers))
}

/// The cached view as a response: 304 if the client has this version, gzip if it
/// accepts it.
fn respond(cached: crate::board::views::CachedView, id: uuid::Uuid, headers: &HeaderMap) -> Response {
    let etag = format!("\"{id}-{}\"", cached.seq);
    if headers.get(header::IF_NONE_MATCH).is_some_and(|value| value.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|coding| coding.trim().starts_with("gzip")));
    let mut response = if gzip {
        ([(header::CONTENT_ENCODING, "gzip")], cached.gzip).into_response()
    } else {
        cached.json.into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, etag);
    }
    response
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateBoard>,
) -> Result<axum::Json<Board>, ApiError> {
    if let Some(settings) = &body.settings {
        super::extract::settings_object("settings", settings)?;
    }
    let changes = BoardChanges {
        name: body.name.map(|name| required_text("name", &name, NAME_MAX)).transpose()?,
        description: body
            .description
            .map(|text| bounded_text("description", &text, DESCRIPTION_MAX))
            .transpose()?,
        settings: body.settings,
        repository_id: body.repository_id,
    };
    if let Some(Some(repository_id)) = changes.repository_id {
        let mut connection = state.pool.acquire().await?;
        crate::db::repositories::get(&mut connection, repository_id).await?.ok_or_else(|| {
            ApiError::invalid(format!("no repository {repository_id}")).with_field("repository_id")
        })?;
    }
    let board = boards::update(&state.pool, id, changes).await?;
    board.map(axum::Json).ok_or_else(|| no_board(id))
}

/// Stops the board's agents, deletes it, then removes its tasks' clean worktrees (D1).
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    let doomed = {
        let mut connection = state.pool.acquire().await?;
        boards::get(&mut connection, id).await?.ok_or_else(|| no_board(id))?;
        tasks::list(&mut connection, id, &TaskFilter::default()).await?
    };
    for task in &doomed {
        state.runner.stop_and_wait(task.id).await;
    }
    if !boards::delete(&state.pool, id).await? {
        return Err(no_board(id));
    }
    for task in &doomed {
        state.runner.remove_worktree(task).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One consistent snapshot of a board and its version (the board stream's sequence),
/// read in a single repeatable-read transaction.
async fn snapshot(state: &AppState, id: uuid::Uuid) -> Result<(i64, BoardView), ApiError> {
    let mut tx = state.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let seq = crate::db::events::last_seq(&mut tx, &crate::db::events::board_stream(id)).await?;
    let board = boards::get(&mut tx, id).await?.ok_or_else(|| no_board(id))?;
    let view = BoardView {
        columns: boards::columns(&mut tx, id).await?,
        column_hooks: boards::column_hooks(&mut tx, id).await?,
        templates: boards::templates(&mut tx, id).await?,
        tasks: tasks::list(&mut tx, id, &TaskFilter::default()).await?,
        board,
    };
    tx.commit().await?;
    Ok((seq, view))
}

pub fn no_board(id: uuid::Uuid) -> ApiError {
    ApiError::not_found(format!("no board {id}")).with_field("id")
}
