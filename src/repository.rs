//! Linking repositories to viban (D4): validate a local path, or clone a URL into the
//! home's `repos/`, then record it with its default branch.

use std::path::Path;

use sqlx::PgPool;

use crate::db::repositories::{self, Repository};
use crate::git::{self, GitError};
use crate::home::Home;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} is not inside a git repository")]
    NotARepository(String),
    #[error("cloning failed: {0}")]
    Clone(GitError),
    #[error(transparent)]
    Git(GitError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Links the repository containing `path` (its top folder is what is recorded).
pub async fn link_local(pool: &PgPool, path: &str) -> Result<Repository, LinkError> {
    let canonical = Path::new(path).canonicalize().map_err(|_| LinkError::NotFound(path.to_string()))?;
    if !canonical.is_dir() {
        return Err(LinkError::NotARepository(path.to_string()));
    }
    let top = git::toplevel(&canonical).await.map_err(|error| match error {
        GitError::Failed { .. } => LinkError::NotARepository(path.to_string()),
        other => LinkError::Git(other),
    })?;
    let branch = git::default_branch(&top).await;
    let mut connection = pool.acquire().await?;
    Ok(repositories::upsert(&mut connection, &top.to_string_lossy(), None, &branch).await?)
}

/// Clones `url` into `repos/<name>-<random>` and records it as a managed clone.
pub async fn clone(pool: &PgPool, home: &Home, url: &str) -> Result<Repository, LinkError> {
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
        return Err(LinkError::Clone(error));
    }
    let branch = git::default_branch(&destination).await;
    let mut connection = pool.acquire().await?;
    Ok(repositories::upsert(&mut connection, &destination.to_string_lossy(), Some(url), &branch).await?)
}
