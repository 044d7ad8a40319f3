//! Repositories (D4): `POST /api/repositories` links a local path or clones a URL;
//! `GET /api/repositories[/{id}]` lists them, one with its branches. And the picker's
//! filesystem browser, `GET /api/fs?path=` (D7).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::extract::{Json, Query};
use crate::board::repositories;
use crate::db::repositories::Repository;
use crate::error::ApiError;
use crate::filesystem::Listing;
use crate::state::AppState;

pub use crate::board::repositories::RepositoryView;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRepository {
    /// A folder inside an existing local repository.
    pub path: Option<String>,
    /// A URL for viban to clone into its home.
    pub clone_url: Option<String>,
}

pub async fn link(
    State(state): State<AppState>,
    Json(body): Json<LinkRepository>,
) -> Result<impl IntoResponse, ApiError> {
    let view = repositories::link(&state.pool, &state.home, body.path, body.clone_url).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

pub async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Repository>>, ApiError> {
    Ok(axum::Json(repositories::list(&state.pool).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Browse {
    pub path: Option<String>,
}

pub async fn browse(Query(query): Query<Browse>) -> Result<axum::Json<Listing>, ApiError> {
    Ok(axum::Json(repositories::browse(query.path).await?))
}
