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

/// Runs `git args…` in `dir` and returns its trimmed standard output; fails with the
/// end of git's message when the command fails.
pub async fn run(dir: &Path, args: &[&str], timeout: Duration) -> Result<String, GitError> {
    let args = args.iter().map(|arg| (*arg).to_string()).collect();
    checked(dir, args, Vec::new(), timeout).await.map(|output| output.text())
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

/// What one git command printed, for commands whose exit status is part of the answer
/// (`merge-tree` exits 1 on a conflict) or whose output is bytes (`-z` formats, patches).
pub(crate) struct Output {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// Standard output as text, trimmed.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }
}

/// Runs `git args…` in `dir` with `env` added, and returns its output whatever its exit
/// status; fails only when git cannot be run or outlives `timeout`.
pub(crate) async fn output(
    dir: &Path,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> Result<Output, GitError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let git = process::find_program("git").ok_or(GitError::Missing)?;
        let mut command = process::command(git, Privilege::Inherit);
        command.current_dir(&dir).args(&args).env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
        command.envs(env);
        let rendered = args.join(" ");
        let output = process::output_with_timeout(&mut command, timeout).map_err(|error| {
            if error.kind() == std::io::ErrorKind::TimedOut {
                GitError::TimedOut { command: rendered.clone(), timeout }
            } else {
                GitError::Failed { command: rendered.clone(), stderr: error.to_string() }
            }
        })?;
        Ok(Output {
            success: output.status.success(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    })
    .await
    .unwrap_or_else(|error| Err(GitError::Failed { command: "(task)".into(), stderr: error.to_string() }))
}

/// [`output`], failing with git's message when the command fails.
pub(crate) async fn checked(
    dir: &Path,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> Result<Output, GitError> {
    let command = args.join(" ");
    let output = output(dir, args, env, timeout).await?;
    if output.success {
        Ok(output)
    } else {
        let stderr: Vec<&str> = output.stderr.lines().rev().take(5).collect();
        let stderr: Vec<&str> = stderr.into_iter().rev().collect();
        Err(GitError::Failed { command, stderr: stderr.join(" | ") })
    }
}

/// The branch a task is compared with, merged into and rebased onto.
#[derive(Debug, Clone)]
pub(crate) struct BaseTarget {
    /// As the task names it: `main`.
    pub name: String,
    /// The ref compared with: `refs/heads/main`, or `refs/remotes/origin/main` when
    /// that one is strictly ahead of the local branch (fetched, not yet pulled) or
    /// there is no local branch.
    pub reference: String,
    pub sha: String,
    /// The local branch's commit, if there is a local branch.
    pub local_sha: Option<String>,
}

/// Resolves the base branch `name` in the repository (or any of its worktrees) at `dir`;
/// `None` when neither `refs/heads/<name>` nor `refs/remotes/origin/<name>` exists.
pub(crate) async fn base_target(dir: &Path, name: &str) -> Result<Option<BaseTarget>, GitError> {
    let local_ref = format!("refs/heads/{name}");
    let remote_ref = format!("refs/remotes/origin/{name}");
    let local = commit_of(dir, &local_ref).await?;
    let remote = commit_of(dir, &remote_ref).await?;
    let target = match (&local, remote) {
        (Some(local_sha), Some(remote_sha)) if *local_sha != remote_sha => {
            let behind = output(
                dir,
                vec!["merge-base".into(), "--is-ancestor".into(), local_sha.clone(), remote_sha.clone()],
                Vec::new(),
                LOCAL,
            )
            .await?
            .success;
            if behind { (remote_ref, remote_sha) } else { (local_ref, local_sha.clone()) }
        }
        (Some(local_sha), _) => (local_ref, local_sha.clone()),
        (None, Some(remote_sha)) => (remote_ref, remote_sha),
        (None, None) => return Ok(None),
    };
    Ok(Some(BaseTarget { name: name.to_string(), reference: target.0, sha: target.1, local_sha: local }))
}

/// The commit `reference` names, or `None` if it names none.
pub(crate) async fn commit_of(dir: &Path, reference: &str) -> Result<Option<String>, GitError> {
    let verify = format!("{reference}^{{commit}}");
    let found =
        output(dir, vec!["rev-parse".into(), "--verify".into(), "--quiet".into(), verify], Vec::new(), LOCAL)
            .await?;
    Ok(found.success.then(|| found.text()).filter(|sha| !sha.is_empty()))
}

/// `git status` in `worktree`: each path with uncommitted changes (staged or not; with
/// `untracked`, untracked files that are not ignored too) and its `XY` code. Paths are
/// as they are (`-z`); a rename or copy is listed by its new path.
pub(crate) async fn status(
    worktree: &Path,
    untracked: bool,
    timeout: Duration,
) -> Result<Vec<(String, String)>, GitError> {
    let which = if untracked { "--untracked-files=all" } else { "--untracked-files=no" };
    let args = ["--no-optional-locks", "status", "--porcelain", "-z", which].map(String::from).to_vec();
    let output = checked(worktree, args, Vec::new(), timeout).await?;
    let mut entries = Vec::new();
    let mut fields = output.stdout.split(|byte| *byte == 0).filter(|field| !field.is_empty());
    while let Some(field) = fields.next() {
        let entry = String::from_utf8_lossy(field);
        let (code, path) = (entry.get(..2).unwrap_or_default(), entry.get(3..).unwrap_or_default());
        if code.contains('R') || code.contains('C') {
            // A rename's old path follows as its own field.
            fields.next();
        }
        entries.push((code.to_string(), path.to_string()));
    }
    Ok(entries)
}
