//! Per-task git worktrees (A3): `<home>/worktrees/<board>/<task>` on the branch
//! `viban/<short-id>-<slug>`, made from the task's base branch with the user's own
//! `git`. Creations and removals on one repository are serialized, within this process
//! and across the processes on it (concurrent `git worktree add`s race on the
//! repository's lock files); different repositories proceed in parallel.
//!
//! viban only ever removes its own worktrees and `viban/` branches, and never loses
//! work doing it: a dirty worktree or an unmerged branch is kept and said so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use crate::git::{self, GitError};

const LOCAL: Duration = Duration::from_secs(60);
const FETCH: Duration = Duration::from_secs(120);
const SLUG_MAX: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("the base branch '{0}' does not exist in the repository")]
    NoBaseBranch(String),
    #[error("could not create the worktree: {0}")]
    Git(#[from] GitError),
    #[error("could not prepare {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    pub path: PathBuf,
    pub branch: String,
}

/// What a removal did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// The worktree has uncommitted changes: kept.
    KeptDirty,
    /// The worktree went, but its branch has commits the base lacks: kept.
    KeptBranch,
}

#[derive(Clone, Default)]
pub struct Worktrees {
    locks: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
}

/// `viban/<first 8 hex digits>-<slug of the title>`.
pub fn branch_name(task_id: Uuid, title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug: String = slug.chars().take(SLUG_MAX).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    let short = &task_id.simple().to_string()[..8];
    if slug.is_empty() { format!("viban/{short}") } else { format!("viban/{short}-{slug}") }
}

impl Worktrees {
    fn lock_for(&self, repository: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(repository.to_path_buf()).or_default().clone()
    }

    /// The task's worktree, created if it does not exist yet.
    pub async fn ensure(
        &self,
        repository: &Path,
        path: &Path,
        branch: &str,
        base: &str,
        copy: &[String],
    ) -> Result<Worktree, WorktreeError> {
        let lock = self.lock_for(repository);
        let _serialized = lock.lock().await;
        let _across_processes = lock_across_processes(repository).await;
        let worktree = Worktree { path: path.to_path_buf(), branch: branch.to_string() };
        if path.join(".git").exists() {
            return Ok(worktree);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| WorktreeError::Io { path: parent.to_path_buf(), error })?;
        }
        let has_remote =
            git::run(repository, &["remote"], LOCAL).await.is_ok_and(|remotes| !remotes.is_empty());
        if has_remote && let Err(error) = git::run(repository, &["fetch", "--quiet"], FETCH).await {
            tracing::warn!(
                "worktree: fetching before creating {branch} failed, going on with what is local: {error}"
            );
        }
        let target = path.to_string_lossy();
        let branch_exists = git::run(
            repository,
            &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")],
            LOCAL,
        )
        .await
        .is_ok();
        if branch_exists {
            git::run(repository, &["worktree", "add", "--quiet", &target, branch], LOCAL).await?;
        } else {
            let start = resolve_base(repository, base).await?;
            git::run(repository, &["worktree", "add", "--quiet", "-b", branch, &target, &start], LOCAL)
                .await?;
        }
        copy_into(repository, path, copy);
        Ok(worktree)
    }

    /// Removes a worktree viban made and its branch, unless that would lose work.
    /// Untracked files matching `copied` (the patterns copied in at creation) are not
    /// the agent's work and do not keep the worktree.
    pub async fn remove(
        &self,
        repository: &Path,
        worktree: &Worktree,
        copied: &[String],
    ) -> Result<Removal, WorktreeError> {
        if !worktree.branch.starts_with("viban/") {
            return Ok(Removal::KeptBranch);
        }
        let lock = self.lock_for(repository);
        let _serialized = lock.lock().await;
        let _across_processes = lock_across_processes(repository).await;
        if worktree.path.exists() {
            let status =
                git::run(&worktree.path, &["status", "--porcelain", "--untracked-files=all"], LOCAL).await?;
            let holds_work = status.lines().any(|line| match line.strip_prefix("?? ") {
                Some(path) => !copied.iter().any(|pattern| path_matches(pattern, path)),
                None => true,
            });
            if holds_work {
                return Ok(Removal::KeptDirty);
            }
            // --force only removes the copied files that were allowed above.
            git::run(repository, &["worktree", "remove", "--force", &worktree.path.to_string_lossy()], LOCAL)
                .await?;
        }
        git::run(repository, &["worktree", "prune"], LOCAL).await?;
        // `-d`, not `-D`: git refuses to delete a branch with unmerged commits.
        match git::run(repository, &["branch", "-d", &worktree.branch], LOCAL).await {
            Ok(_) => Ok(Removal::Removed),
            Err(GitError::Failed { stderr, .. }) if stderr.contains("not found") => Ok(Removal::Removed),
            Err(GitError::Failed { .. }) => Ok(Removal::KeptBranch),
            Err(other) => Err(other.into()),
        }
    }
}

/// The lock file other viban processes on this repository (a team server) take turns
/// on: git's own bookkeeping under `.git/worktrees` is not safe against two `worktree
/// add`/`remove`/`prune` at once. It lies in the repository's common git directory —
/// `.git` itself, or what a `.git` file points to when the repository is a linked
/// worktree or a submodule. Held until the returned file is dropped; `None` (and a
/// warning) when it cannot be taken, and viban goes on without it.
async fn lock_across_processes(repository: &Path) -> Option<std::fs::File> {
    let common = match git::run(repository, &["rev-parse", "--git-common-dir"], LOCAL).await {
        Ok(common) => repository.join(common.trim()),
        Err(error) => {
            tracing::warn!("worktree: {} has no git directory to lock: {error}", repository.display());
            return None;
        }
    };
    let lock_path = common.join("viban-worktrees.lock");
    let taken = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(std::io::Error::other)
    .flatten();
    match taken {
        Ok(file) => Some(file),
        Err(error) => {
            tracing::warn!("worktree: could not lock {}: {error}", common.display());
            None
        }
    }
}

/// `base` as a local branch, else as `origin/<base>`.
async fn resolve_base(repository: &Path, base: &str) -> Result<String, WorktreeError> {
    for candidate in [format!("refs/heads/{base}"), format!("refs/remotes/origin/{base}")] {
        let verify = format!("{candidate}^{{commit}}");
        if git::run(repository, &["rev-parse", "--verify", "--quiet", &verify], LOCAL).await.is_ok() {
            return Ok(candidate);
        }
    }
    Err(WorktreeError::NoBaseBranch(base.to_string()))
}

/// Copies files matching `patterns` (globs relative to the repository, `*` and `?`
/// within one path segment, e.g. `.env*`, `config/*.local.toml`) into the worktree.
fn copy_into(repository: &Path, worktree: &Path, patterns: &[String]) {
    for pattern in patterns {
        let segments: Vec<&str> = pattern.split('/').filter(|segment| !segment.is_empty()).collect();
        let mut matches = Vec::new();
        collect_matches(repository, &segments, &mut matches);
        for source in matches {
            let Ok(relative) = source.strip_prefix(repository) else { continue };
            if relative.starts_with(".git") {
                continue;
            }
            let destination = worktree.join(relative);
            if let Some(parent) = destination.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(error) = std::fs::copy(&source, &destination) {
                tracing::warn!(
                    "worktree: could not copy {} into {}: {error}",
                    source.display(),
                    worktree.display()
                );
            }
        }
    }
}

fn collect_matches(dir: &Path, segments: &[&str], found: &mut Vec<PathBuf>) {
    let Some((first, rest)) = segments.split_first() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !wildcard_match(first, &name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        if rest.is_empty() {
            if path.is_file() {
                found.push(path);
            }
        } else if path.is_dir() {
            collect_matches(&path, rest, found);
        }
    }
}

/// A relative path against a copy pattern, segment by segment.
fn path_matches(pattern: &str, path: &str) -> bool {
    let patterns: Vec<&str> = pattern.split('/').filter(|segment| !segment.is_empty()).collect();
    let names: Vec<&str> = path.split('/').collect();
    patterns.len() == names.len()
        && patterns.iter().zip(&names).all(|(pattern, name)| wildcard_match(pattern, name))
}

/// `*` (any run) and `?` (any one character) against a whole name.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut p, mut n, mut star, mut mark) = (0, 0, None, 0);
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = n;
            p += 1;
        } else if let Some(star) = star {
            p = star + 1;
            mark += 1;
            n = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_short_id_and_a_bounded_slug() {
        let id = Uuid::parse_str("0f1e2d3c-0000-4000-8000-000000000000").unwrap();
        assert_eq!(branch_name(id, "Fix the login page!"), "viban/0f1e2d3c-fix-the-login-page");
        assert_eq!(branch_name(id, "  ¿¿??  "), "viban/0f1e2d3c");
        let long = branch_name(id, &"word ".repeat(30));
        assert!(long.len() <= "viban/0f1e2d3c-".len() + SLUG_MAX && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn wildcards_match_within_a_name() {
        assert!(wildcard_match(".env*", ".env"));
        assert!(wildcard_match(".env*", ".env.local"));
        assert!(!wildcard_match(".env*", "env"));
        assert!(wildcard_match("*.local.toml", "dev.local.toml"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
    }
}
