//! Repositories (D4): `POST /api/repositories` links a local path or clones a URL;
//! `GET /api/repositories[/{id}]` lists them, one with its branches. And the picker's
//! filesystem browser, `GET /api/fs?path=` (D7).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::extract::{Id, Json, Query, required_text};
use crate::db::repositories::{self, Repository};
use crate::error::ApiError;
use crate::filesystem::{self, BrowseError, Listing};
use crate::repository::{self, LinkError};
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRepository {
    /// A folder inside an existing local repository.
    pub path: Option<String>,
    /// A URL for viban to clone into its home.
    pub clone_url: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct RepositoryView {
    #[serde(flatten)]
    pub repository: Repository,
    pub branches: Vec<String>,
}

pub async fn link(
    State(state): State<AppState>,
    Json(body): Json<LinkRepository>,
) -> Result<impl IntoResponse, ApiError> {
    let repository = match (body.path, body.clone_url) {
        (Some(path), None) => {
            let path = required_text("path", &path, 4096)?;
            // Relative to what? viban's own working folder is no answer a user expects.
            if !std::path::Path::new(&path).is_absolute() {
                return Err(ApiError::invalid(format!("'{path}' is not an absolute path")).with_field("path"));
            }
            repository::link_local(&state.pool, &path).await?
        }
        (None, Some(url)) => {
            repository::clone(&state.pool, &state.home, &required_text("clone_url", &url, 4096)?).await?
        }
        _ => return Err(ApiError::invalid("give exactly one of `path` (a local repository) or `clone_url`")),
    };
    Ok((StatusCode::CREATED, axum::Json(with_branches(repository).await?)))
}

pub async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Repository>>, ApiError> {
    let mut connection = state.pool.acquire().await?;
    Ok(axum::Json(repositories::list(&mut connection).await?))
}

pub async fn get(State(state): State<AppState>, Id(id): Id) -> Result<axum::Json<RepositoryView>, ApiError> {
    let mut connection = state.pool.acquire().await?;
    let repository = repositories::get(&mut connection, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no repository {id}")).with_field("id"))?;
    Ok(axum::Json(with_branches(repository).await?))
}

async fn with_branches(repository: Repository) -> Result<RepositoryView, ApiError> {
    let branches = crate::git::branches(std::path::Path::new(&repository.path))
        .await
        .map_err(|error| ApiError::new(StatusCode::CONFLICT, "Repository unavailable", error.to_string()))?;
    Ok(RepositoryView { repository, branches })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Browse {
    pub path: Option<String>,
}

pub async fn browse(Query(query): Query<Browse>) -> Result<axum::Json<Listing>, ApiError> {
    let path = query.path.filter(|path| !path.is_empty()).map(std::path::PathBuf::from);
    Ok(axum::Json(filesystem::list(path.as_deref()).await?))
}

impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        let detail = error.to_string();
        match error {
            LinkError::NotFound(_) | LinkError::NotARepository(_) => Self::invalid(detail).with_field("path"),
            LinkError::Clone(_) => Self::invalid(detail).with_field("clone_url"),
            LinkError::Git(_) => Self::new(StatusCode::CONFLICT, "git failed", detail),
            LinkError::Database(error) => error.into(),
        }
    }
}

impl From<BrowseError> for ApiError {
    fn from(error: BrowseError) -> Self {
        let detail = error.to_string();
        match error {
            BrowseError::NotFound(_) => Self::not_found(detail).with_field("path"),
            BrowseError::NotADirectory(_) => Self::invalid(detail).with_field("path"),
            BrowseError::Unreadable { .. } => Self::forbidden(detail).with_field("path"),
        }
    }
}
