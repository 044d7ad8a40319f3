//! `POST /api/tasks/{id}/open`: opens the task's worktree on the host, in the file
//! manager (the OS handler: `xdg-open` on Linux, `open` on macOS, `explorer` on
//! Windows) or in the user's editor (`$VISUAL`, then `$EDITOR`, then the OS handler).
//! The program gets the path as one argument, never through a shell, and only for a
//! path inside viban's worktrees or a linked repository.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{Id, Json};
use crate::error::ApiError;
use crate::state::AppState;

/// How long a program that exits at once (a failing one) is waited for; one that runs
/// longer (an editor's window) is left running.
const EXIT_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenTarget {
    /// The OS's file manager.
    Folder,
    /// `$VISUAL`, else `$EDITOR`, else the OS handler.
    Editor,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    pub target: OpenTarget,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Opened {
    /// The program started, as found on PATH or in the environment.
    pub program: String,
    pub path: String,
}

/// `POST /api/tasks/{id}/open`.
pub async fn open(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<OpenBody>,
) -> Result<(StatusCode, axum::Json<Opened>), ApiError> {
    let task = crate::board::tasks::get(&state.pool, id).await?;
    let Some(path) = task.worktree_path else {
        return Err(conflict("the task has no worktree yet: run its agent first"));
    };
    let path = PathBuf::from(path);
    let Ok(path) = path.canonicalize() else {
        return Err(conflict(format!("the task's worktree {} is not on disk any more", path.display())));
    };
    let repositories = {
        let mut connection = state.pool.acquire().await.map_err(ApiError::from)?;
        crate::db::repositories::list(&mut connection).await?
    };
    let mut roots = vec![state.home.worktrees_dir()];
    roots.extend(repositories.into_iter().map(|repository| PathBuf::from(repository.path)));
    if !inside_any(&path, &roots) {
        return Err(ApiError::forbidden(format!(
            "{} is outside viban's worktrees and repositories; viban opens only those",
            path.display()
        ))
        .with_field("id"));
    }
    let mut command = program_for(body.target);
    let program = command.remove(0);
    run(&program, &command, &path).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Opened { program, path: path.to_string_lossy().into_owned() })))
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "No worktree", message)
}

/// Whether `path` (canonical) is one of `roots` or below one.
fn inside_any(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().filter_map(|root| root.canonicalize().ok()).any(|root| path.starts_with(root))
}

/// The program and its leading arguments: the path is added after them.
fn program_for(target: OpenTarget) -> Vec<String> {
    if target == OpenTarget::Editor {
        let editor = ["VISUAL", "EDITOR"]
            .iter()
            .filter_map(std::env::var_os)
            .map(|value| value.to_string_lossy().split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|words| !words.is_empty());
        if let Some(words) = editor {
            return words;
        }
    }
    vec![os_handler().to_string()]
}

fn os_handler() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    }
}

/// Starts `program args… path` in its own process group, detached from viban's
/// standard streams; fails when it cannot start or exits at once with a failure.
async fn run(program: &str, args: &[String], path: &Path) -> Result<(), ApiError> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).arg(path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot open",
            format!("{program} could not be started: {error}; set $VISUAL or $EDITOR, or install it"),
        )
    })?;
    match tokio::time::timeout(EXIT_WAIT, child.wait()).await {
        Ok(Ok(status)) if !status.success() => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot open",
            format!("{program} failed ({status}) opening {}", path.display()),
        )),
        // Exited fine, or still running (an editor's window): tokio reaps it later.
        _ => Ok(()),
    }
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
