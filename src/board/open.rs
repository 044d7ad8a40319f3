//! Opening a task's worktree on the host (`POST /api/tasks/{id}/open`): only a
//! worktree that exists, and only inside viban's worktrees or a linked repository.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Error, Result};
use crate::opener::{self, OpenTarget};

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Opened {
    /// The program started, as found on PATH or in the environment.
    pub program: String,
    pub path: String,
}

/// Opens task `id`'s worktree in the file manager or the editor.
pub async fn worktree(pool: &PgPool, worktrees_dir: PathBuf, id: Uuid, target: OpenTarget) -> Result<Opened> {
    let task = super::tasks::get(pool, id).await?;
    let no_worktree = |message: String| Error::Conflict { title: "No worktree", message };
    let Some(path) = task.worktree_path else {
        return Err(no_worktree("the task has no worktree yet: run its agent first".into()));
    };
    let path = PathBuf::from(path);
    let Ok(path) = path.canonicalize() else {
        return Err(no_worktree(format!("the task's worktree {} is not on disk any more", path.display())));
    };
    let mut roots = vec![worktrees_dir];
    roots.extend(
        super::repositories::list(pool).await?.into_iter().map(|repository| PathBuf::from(repository.path)),
    );
    if !inside_any(&path, &roots) {
        return Err(Error::Forbidden {
            field: "id",
            message: format!(
                "{} is outside viban's worktrees and repositories; viban opens only those",
                path.display()
            ),
        });
    }
    let mut command = opener::program_for(target);
    let program = command.remove(0);
    opener::launch(&program, &command, &path).await.map_err(|message| Error::invalid("target", message))?;
    Ok(Opened { program, path: path.display().to_string() })
}

/// Whether `path` (canonical) is one of `roots` or below one.
fn inside_any(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().filter_map(|root| root.canonicalize().ok()).any(|root| path.starts_with(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_below_a_root_are_inside() {
        let root = std::env::temp_dir().canonicalize().unwrap();
        let roots = vec![root.clone()];
        assert!(inside_any(&root.join("a/b"), &roots));
        assert!(!inside_any(Path::new("/"), &roots));
        assert!(!inside_any(&root.join("a"), &[root.join("missing-root-for-this-test")]));
    }
}
