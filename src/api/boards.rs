//! `/api/boards`: list, create (with the default columns, hooks and templates), read
//! with everything the board view needs, update, delete (D1).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{Id, Json};
use crate::board::boards::{self, BoardRequest};
use crate::board::views::CachedView;
use crate::error::ApiError;
use crate::state::AppState;

pub use crate::board::boards::BoardView;

pub async fn list(
    State(state): State<AppState>,
) -> Result<axum::Json<Vec<crate::db::boards::BoardSummary>>, ApiError> {
    Ok(axum::Json(boards::list(&state.pool).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<BoardRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let view = boards::create(&state.pool, body).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// `GET /api/boards/{id}`: served from the view cache while the board is unchanged,
/// gzipped when the client accepts it, with the version as an ETag.
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cached = boards::view(&state.pool, &state.board_views, id).await?;
    Ok(respond(cached, id, &headers))
}

/// The cached view as a response: 304 if the client has this version, gzip if it
/// accepts it.
fn respond(cached: CachedView, id: uuid::Uuid, headers: &HeaderMap) -> Response {
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

/// Stops the board's agents, deletes it, then removes its tasks' clean worktrees (D1).
pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    boards::delete(&state.pool, &state.runner, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
