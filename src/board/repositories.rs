//! Repositories (D4): link a local one (its top folder is recorded), or clone a URL
//! into the home's `repos/`; list them, read one with its branches. And the picker's
//! folder browser (D7).

use std::path::Path;

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Error, Result, required_text};
use crate::db::repositories::{self, Repository};
use crate::filesystem::{self, BrowseError, Listing};
use crate::git::{self, GitError};
use crate::home::Home;
use crate::limits::PATH_MAX;

// A repository with its branches. (No doc comment: it would change the OpenAPI
// document, which this type's move into the domain left as it was.)
#[derive(Serialize, schemars::JsonSchema)]
pub struct RepositoryView {
    #[serde(flatten)]
    pub repository: Repository,
    pub branches: Vec<String>,
}

/// Links the repository at `path` or clones `clone_url` (exactly one); returns it with
/// its branches.
pub async fn link(
    pool: &PgPool,
    home: &Home,
    path: Option<String>,
    clone_url: Option<String>,
) -> Result<RepositoryView> {
    let repository = match (path, clone_url) {
        (Some(path), None) => {
            let path = required_text("path", &path, PATH_MAX)?;
            // Relative to what? viban's own working folder is no answer a user expects.
            if !Path::new(&path).is_absolute() {
                return Err(Error::invalid("path", format!("'{path}' is not an absolute path")));
            }
            link_local(pool, &path).await?
        }
        (None, Some(url)) => clone(pool, home, &required_text("clone_url", &url, PATH_MAX)?).await?,
        _ => {
            return Err(Error::invalid_request(
                "give exactly one of `path` (a local repository) or `clone_url`",
            ));
        }
    };
    with_branches(repository).await
}

pub async fn list(pool: &PgPool) -> Result<Vec<Repository>> {
    let mut connection = pool.acquire().await?;
    Ok(repositories::list(&mut connection).await?)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<RepositoryView> {
    let repository = {
        let mut connection = pool.acquire().await?;
        repositories::get(&mut connection, id).await?.ok_or_else(|| Error::not_found("repository", id))?
    };
    with_branches(repository).await
}

async fn with_branches(repository: Repository) -> Result<RepositoryView> {
    let branches = git::branches(Path::new(&repository.path))
        .await
        .map_err(|error| Error::Conflict { title: "Repository unavailable", message: error.to_string() })?;
    Ok(RepositoryView { repository, branches })
}

/// The folders in `path` (default: home), git repositories flagged.
pub async fn browse(path: Option<String>) -> Result<Listing> {
    let path = path.filter(|path| !path.is_empty()).map(std::path::PathBuf::from);
    filesystem::list(path.as_deref()).await.map_err(|error| {
        let message = error.to_string();
        match error {
            BrowseError::NotFound(_) => Error::NotFound { field: "path", message },
            BrowseError::NotADirectory(_) => Error::invalid("path", message),
            BrowseError::Unreadable { .. } => Error::Forbidden { field: "path", message },
        }
    })
}

/// Links the repository containing `path` (its top folder is what is recorded).
async fn link_local(pool: &PgPool, path: &str) -> Result<Repository> {
    let not_a_repository = || Error::invalid("path", format!("{path} is not inside a git repository"));
    let canonical = Path::new(path)
        .canonicalize()
        .map_err(|_| Error::invalid("path", format!("{path} does not exist")))?;
    if !canonical.is_dir() {
        return Err(not_a_repository());
    }
    let top = git::toplevel(&canonical).await.map_err(|error| match error {
        GitError::Failed { .. } => not_a_repository(),
        other => Error::Conflict { title: "git failed", message: other.to_string() },
    })?;
    let branch = git::default_branch(&top).await;
    let mut connection = pool.acquire().await?;
    Ok(repositories::upsert(&mut connection, &top.to_string_lossy(), None, &branch).await?)
}

/// Clones `url` into `repos/<name>-<random>` and records it as a managed clone.
async fn clone(pool: &PgPool, home: &Home, url: &str) -> Result<Repository> {
    let name: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repository")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let name = if name.is_empty() || name.starts_with('.') { "repository".to_string() } else { name };
    let destination = home.repos_dir().join(format!("{name}-{}", &crate::home::random_secret()[..8]));
    if let Err(error) = git::clone(url, &destination).await {
        let _ = tokio::fs::remove_dir_all(&destination).await;
        return Err(Error::invalid("clone_url", format!("cloning failed: {error}")));
    }
    let branch = git::default_branch(&destination).await;
    let mut connection = pool.acquire().await?;
    Ok(repositories::upsert(&mut connection, &destination.to_string_lossy(), Some(url), &branch).await?)
}
