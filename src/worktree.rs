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

/// A worktree viban may remove, and what deciding that needs.
#[derive(Debug, Clone, Copy)]
pub struct Removable<'a> {
    pub repository: &'a Path,
    pub worktree: &'a Worktree,
    /// The task it was made for: its branch is `viban/<first 8 hex digits>…`.
    pub task_id: Uuid,
    /// viban's worktrees folder: nothing outside it is removed.
    pub root: &'a Path,
    /// The branch its work is merged into.
    pub base: &'a str,
    /// The patterns copied in at creation: untracked files matching them are not work.
    pub copied: &'a [String],
}

/// Why a worktree (or its branch) stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// The branch or the folder is not one viban made for the task.
    NotViban(String),
    /// Uncommitted changes, untracked files included (their paths, a few).
    Uncommitted(Vec<String>),
    /// Commits on the branch that are neither in the base nor on any remote branch.
    Unpushed { commits: u64 },
}

impl Keep {
    /// In words, for the task's note and the clean-up's report.
    pub fn reason(&self, branch: &str, base: &str) -> String {
        match self {
            Self::NotViban(why) => why.clone(),
            Self::Uncommitted(paths) => {
                let shown: Vec<&str> = paths.iter().take(3).map(String::as_str).collect();
                let more = paths.len().saturating_sub(shown.len());
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                format!(
                    "uncommitted changes ({}{more}); commit or discard them to let it go",
                    shown.join(", ")
                )
            }
            Self::Unpushed { commits } => format!(
                "{branch} has {commits} commit{} that {base} lacks and no remote has; merge or push it to let it go",
                if *commits == 1 { "" } else { "s" }
            ),
        }
    }
}

/// What removing a worktree did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    /// The worktree is gone, and its branch with it when it had one.
    Removed {
        branch_deleted: bool,
    },
    Kept(Keep),
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

    /// Whether removing the worktree and its branch would lose nothing (the one rule,
    /// for a deleted task and for housekeeping alike): the branch and the folder are
    /// the ones viban made for the task, the worktree has no uncommitted change (no
    /// untracked file but the copied ones), and every commit of the branch is in the
    /// base or on a remote branch.
    pub async fn verdict(&self, target: &Removable<'_>) -> Result<Option<Keep>, WorktreeError> {
        let Removable { repository, worktree, task_id, root, base, copied } = *target;
        if !made_for(&worktree.branch, task_id) {
            return Ok(Some(Keep::NotViban(format!(
                "the branch {} was not made by viban for this task; viban leaves it alone",
                worktree.branch
            ))));
        }
        let inside = worktree.path.starts_with(root)
            && worktree
                .path
                .components()
                .all(|part| matches!(part, std::path::Component::Normal(_) | std::path::Component::RootDir));
        if !inside {
            return Ok(Some(Keep::NotViban(format!(
                "{} is outside viban's worktrees folder; viban leaves it alone",
                worktree.path.display()
            ))));
        }
        if worktree.path.exists() {
            if !worktree.path.join(".git").exists() {
                return Ok(Some(Keep::NotViban(format!(
                    "{} is not a git worktree; viban leaves it alone",
                    worktree.path.display()
                ))));
            }
            let work = uncommitted(&worktree.path, copied).await?;
            if !work.is_empty() {
                return Ok(Some(Keep::Uncommitted(work)));
            }
        }
        let commits = unsafe_commits(repository, &worktree.branch, base).await?;
        Ok((commits > 0).then_some(Keep::Unpushed { commits }))
    }

    /// Removes a worktree viban made and its branch, unless that would lose work
    /// ([`Self::verdict`], asked again under the repository's lock). Only `git worktree
    /// remove` (without `--force`: git checks again that nothing is uncommitted) and
    /// `git branch -D` of the task's own `viban/` branch.
    pub async fn remove(&self, target: &Removable<'_>) -> Result<Removal, WorktreeError> {
        let lock = self.lock_for(target.repository);
        let _serialized = lock.lock().await;
        let _across_processes = lock_across_processes(target.repository).await;
        if let Some(keep) = self.verdict(target).await? {
            return Ok(Removal::Kept(keep));
        }
        let (repository, worktree) = (target.repository, target.worktree);
        if worktree.path.exists() {
            // The copied files are the only untracked ones left (the verdict saw to
            // that); they go first, so git's own check of the worktree passes.
            for path in copied_files(&worktree.path, target.copied).await? {
                let _ = std::fs::remove_file(worktree.path.join(path));
            }
            git::run(repository, &["worktree", "remove", &worktree.path.to_string_lossy()], LOCAL).await?;
        }
        git::run(repository, &["worktree", "prune"], LOCAL).await?;
        let reference = format!("refs/heads/{}", worktree.branch);
        let exists =
            git::run(repository, &["rev-parse", "--verify", "--quiet", &reference], LOCAL).await.is_ok();
        if exists {
            git::run(repository, &["branch", "-D", &worktree.branch], LOCAL).await?;
        }
        Ok(Removal::Removed { branch_deleted: exists })
    }
}

/// Whether `branch` is the one viban names for the task: `viban/<8 hex digits>` or
/// `viban/<8 hex digits>-<slug>` ([`branch_name`]).
fn made_for(branch: &str, task_id: Uuid) -> bool {
    let short = &task_id.simple().to_string()[..8];
    let prefix = format!("viban/{short}");
    branch == prefix || branch.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with('-'))
}

/// Paths in the worktree that hold work: every change but the untracked files that
/// match the copied patterns.
async fn uncommitted(worktree: &Path, copied: &[String]) -> Result<Vec<String>, GitError> {
    Ok(git::status(worktree, true, LOCAL)
        .await?
        .into_iter()
        .filter(|(code, path)| code != "??" || !copied.iter().any(|pattern| path_matches(pattern, path)))
        .map(|(_, path)| path)
        .collect())
}

/// The untracked files that match the copied patterns.
async fn copied_files(worktree: &Path, copied: &[String]) -> Result<Vec<String>, GitError> {
    Ok(git::status(worktree, true, LOCAL)
        .await?
        .into_iter()
        .filter(|(code, path)| code == "??" && copied.iter().any(|pattern| path_matches(pattern, path)))
        .map(|(_, path)| path)
        .collect())
}

/// Commits of `branch` that are neither in `base` (local) nor on any remote-tracking
/// branch; 0 when the branch does not exist.
async fn unsafe_commits(repository: &Path, branch: &str, base: &str) -> Result<u64, GitError> {
    let reference = format!("refs/heads/{branch}");
    if git::run(repository, &["rev-parse", "--verify", "--quiet", &reference], LOCAL).await.is_err() {
        return Ok(0);
    }
    let mut args =
        vec!["rev-list".to_string(), "--count".into(), reference, "--not".into(), "--remotes".into()];
    let base_reference = format!("refs/heads/{base}");
    if git::run(repository, &["rev-parse", "--verify", "--quiet", &base_reference], LOCAL).await.is_ok() {
        args.push(base_reference);
    }
    let counted = git::checked(repository, args, Vec::new(), LOCAL).await?;
    Ok(counted.text().parse().unwrap_or(0))
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

    #[test]
    fn only_the_tasks_own_branch_is_viban_s() {
        let id = Uuid::parse_str("0f1e2d3c-0000-4000-8000-000000000000").unwrap();
        assert!(made_for("viban/0f1e2d3c-fix-the-login-page", id));
        assert!(made_for("viban/0f1e2d3c", id));
        assert!(!made_for("viban/0f1e2d3cx", id));
        assert!(!made_for("viban/aaaaaaaa-fix", id));
        assert!(!made_for("feature/0f1e2d3c", id));
    }
}
