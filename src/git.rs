//! The git CLI, for repositories now and worktrees later. viban uses the user's own
//! `git`, so their configuration, credentials and hooks apply; it never prompts
//! (`GIT_TERMINAL_PROMPT=0`), and every call has a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{self, Privilege};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed or not on PATH; install git and try again")]
    Missing,
    #[error("`git {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("`git {command}` did not finish within {timeout:?}")]
    TimedOut { command: String, timeout: Duration },
}

/// Runs `git args…` in `dir` and returns its trimmed standard output.
pub async fn run(dir: &Path, args: &[&str], timeout: Duration) -> Result<String, GitError> {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_string()).collect();
    tokio::task::spawn_blocking(move || run_blocking(&dir, &args, timeout))
        .await
        .unwrap_or_else(|error| Err(GitError::Failed { command: "(task)".into(), stderr: error.to_string() }))
}

fn run_blocking(dir: &Path, args: &[String], timeout: Duration) -> Result<String, GitError> {
    let git = process::find_program("git").ok_or(GitError::Missing)?;
    let mut command = process::command(git, Privilege::Inherit);
    command.current_dir(dir).args(args).env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
    let rendered = args.join(" ");
    let output = process::output_with_timeout(&mut command, timeout).map_err(|error| {
        if error.kind() == std::io::ErrorKind::TimedOut {
            GitError::TimedOut { command: rendered.clone(), timeout }
        } else {
            GitError::Failed { command: rendered.clone(), stderr: error.to_string() }
        }
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr =
            stderr.trim().lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
        return Err(GitError::Failed { command: rendered, stderr: stderr.join(" | ") });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

const LOCAL: Duration = Duration::from_secs(30);
const NETWORK: Duration = Duration::from_secs(600);

/// The top folder of the work tree containing `path`, or an error if there is none.
pub async fn toplevel(path: &Path) -> Result<PathBuf, GitError> {
    run(path, &["rev-parse", "--show-toplevel"], LOCAL).await.map(PathBuf::from)
}

/// The branch new work starts from: the remote's HEAD if known, else the checked-out
/// branch, else `main`.
pub async fn default_branch(repository: &Path) -> String {
    if let Ok(remote_head) =
        run(repository, &["symbolic-ref", "--short", "refs/remotes/origin/HEAD"], LOCAL).await
        && let Some(branch) = remote_head.strip_prefix("origin/")
    {
        return branch.to_string();
    }
    match run(repository, &["symbolic-ref", "--short", "HEAD"], LOCAL).await {
        Ok(branch) if !branch.is_empty() => branch,
        _ => "main".to_string(),
    }
}

/// Local branches, sorted.
pub async fn branches(repository: &Path) -> Result<Vec<String>, GitError> {
    let listing = run(
        repository,
        &["for-each-ref", "--format=%(refname:short)", "--sort=refname", "refs/heads"],
        LOCAL,
    )
    .await?;
    Ok(listing.lines().map(str::to_string).filter(|line| !line.is_empty()).collect())
}

/// Clones `url` into `destination` (which must not exist).
pub async fn clone(url: &str, destination: &Path) -> Result<(), GitError> {
    let parent = destination.parent().unwrap_or(Path::new("/"));
    let destination = destination.to_string_lossy();
    run(parent, &["clone", "--quiet", "--", url, &destination], NETWORK).await.map(|_| ())
}
