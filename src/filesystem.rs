//! Host filesystem browsing for the repository picker (D7): the folders in a folder,
//! with git repositories flagged. Full access by design, for authenticated clients
//! only (the security guard sees to that).

use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Listing {
    pub path: PathBuf,
    pub parent: Option<PathBuf>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub git_repository: bool,
    pub hidden: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error("{0} does not exist")]
    NotFound(PathBuf),
    #[error("{0} is not a folder")]
    NotADirectory(PathBuf),
    #[error("{path} cannot be read: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
}

/// The sub-folders of `path` (default: the user's home), sorted by name.
pub async fn list(path: Option<&Path>) -> Result<Listing, BrowseError> {
    let start = match path {
        Some(path) => path.to_path_buf(),
        None => directories::BaseDirs::new()
            .map(|dirs| dirs.home_dir().to_path_buf())
            .unwrap_or_else(|| "/".into()),
    };
    tokio::task::spawn_blocking(move || list_blocking(&start)).await.unwrap_or_else(|error| {
        Err(BrowseError::Unreadable { path: PathBuf::new(), source: std::io::Error::other(error) })
    })
}

fn list_blocking(path: &Path) -> Result<Listing, BrowseError> {
    let path = path.canonicalize().map_err(|_| BrowseError::NotFound(path.to_path_buf()))?;
    if !path.is_dir() {
        return Err(BrowseError::NotADirectory(path));
    }
    let read =
        std::fs::read_dir(&path).map_err(|source| BrowseError::Unreadable { path: path.clone(), source })?;
    let mut entries: Vec<Entry> = read
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            Entry { git_repository: path.join(".git").exists(), hidden: name.starts_with('.'), name, path }
        })
        .collect();
    entries
        .sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.name.cmp(&b.name)));
    Ok(Listing { parent: path.parent().map(Path::to_path_buf), path, entries })
}
