//! Merging and rebasing a task's branch (V3, V4) with git's plumbing, so that nothing
//! changes until the result is known: `merge-tree --write-tree` computes a merge (or,
//! commit by commit, a rebase) in the object database alone, `commit-tree` records it,
//! and only then does a branch move — by `update-ref` with its old value, or, where the
//! branch is checked out, by `merge --ff-only` in that checkout, which refuses rather
//! than overwrite anything there. A conflict therefore leaves refs, indexes and working
//! trees exactly as they were. `docs/review.md` says what each mode does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::git::{self, GitError};

const LOCAL: Duration = Duration::from_secs(120);
const NETWORK: Duration = Duration::from_secs(300);

/// Why a merge or rebase did not happen.
#[derive(Debug, thiserror::Error)]
pub enum IntegrateError {
    #[error("conflicts in {}", .0.join(", "))]
    Conflict(Vec<String>),
    /// The branch moved while the merge was computed: nothing was changed.
    #[error("{0} changed meanwhile; try again")]
    Moved(String),
    /// The checkout of the branch refused to fast-forward (a file there would be
    /// overwritten): nothing was changed.
    #[error("the checkout of {branch} at {path} could not be updated: {reason}")]
    CheckoutRefused { branch: String, path: String, reason: String },
    #[error(transparent)]
    Git(#[from] GitError),
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_string()).collect()
}

async fn run(dir: &Path, args: &[&str]) -> Result<git::Output, GitError> {
    git::checked(dir, strings(args), Vec::new(), LOCAL).await
}

/// Paths with uncommitted changes in `worktree` (staged or not); with
/// `untracked`, untracked files (not ignored) too.
pub(crate) async fn uncommitted(worktree: &Path, untracked: bool) -> Result<Vec<String>, GitError> {
    Ok(git::status(worktree, untracked, LOCAL).await?.into_iter().map(|(_, path)| path).collect())
}

/// The worktrees (the repository's own included) that have `branch` checked out.
pub(crate) async fn checkouts_of(repository: &Path, branch: &str) -> Result<Vec<PathBuf>, GitError> {
    let listing = run(repository, &["worktree", "list", "--porcelain", "-z"]).await?;
    let wanted = format!("branch refs/heads/{branch}");
    let mut found = Vec::new();
    let mut current: Option<PathBuf> = None;
    for field in listing.stdout.split(|byte| *byte == 0) {
        let field = String::from_utf8_lossy(field);
        if let Some(path) = field.strip_prefix("worktree ") {
            current = Some(PathBuf::from(path));
        } else if field == wanted
            && let Some(path) = current.clone()
        {
            found.push(path);
        }
    }
    Ok(found)
}

/// Whether the repository has a remote to fetch from.
pub(crate) async fn has_remote(repository: &Path) -> bool {
    run(repository, &["remote"]).await.is_ok_and(|remotes| !remotes.text().is_empty())
}

/// `git fetch` of the default remote.
pub(crate) async fn fetch(repository: &Path) -> Result<(), GitError> {
    git::checked(repository, strings(&["fetch", "--quiet"]), Vec::new(), NETWORK).await.map(|_| ())
}

/// The tree of merging `theirs` into `ours` (their merge-base, or `base` when given),
/// or the files in conflict.
async fn merge_tree(
    repository: &Path,
    ours: &str,
    theirs: &str,
    base: Option<&str>,
) -> Result<String, IntegrateError> {
    let mut args = strings(&["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z"]);
    if let Some(base) = base {
        args.push(format!("--merge-base={base}"));
    }
    args.extend([ours.to_string(), theirs.to_string()]);
    let merged = git::output(repository, args.clone(), Vec::new(), LOCAL).await?;
    let mut fields =
        merged.stdout.split(|byte| *byte == 0).map(|field| String::from_utf8_lossy(field).into_owned());
    let tree = fields.next().unwrap_or_default();
    if merged.success && !tree.is_empty() {
        return Ok(tree.trim().to_string());
    }
    let files: Vec<String> = fields.take_while(|field| !field.is_empty()).collect();
    if files.is_empty() {
        return Err(GitError::Failed { command: args.join(" "), stderr: merged.stderr }.into());
    }
    let mut files = files;
    files.dedup();
    Err(IntegrateError::Conflict(files))
}

/// Who wrote a commit, as `commit-tree` takes it back.
struct Author {
    name: String,
    email: String,
    date: String,
}

/// A new commit of `tree` with `parents`; the committer is the user's git identity.
async fn commit_tree(
    repository: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    author: Option<&Author>,
) -> Result<String, GitError> {
    let mut args = strings(&["commit-tree", tree]);
    for parent in parents {
        args.extend(["-p".to_string(), (*parent).to_string()]);
    }
    args.extend(["-m".to_string(), message.trim_end().to_string()]);
    let env = match author {
        Some(author) => vec![
            ("GIT_AUTHOR_NAME".to_string(), author.name.clone()),
            ("GIT_AUTHOR_EMAIL".to_string(), author.email.clone()),
            ("GIT_AUTHOR_DATE".to_string(), author.date.clone()),
        ],
        None => Vec::new(),
    };
    Ok(git::checked(repository, args, env, LOCAL).await?.text())
}

/// A commit's tree, author and message, from `cat-file commit`.
async fn read_commit(repository: &Path, commit: &str) -> Result<(String, Option<Author>, String), GitError> {
    let raw = run(repository, &["cat-file", "commit", commit]).await?;
    let text = String::from_utf8_lossy(&raw.stdout).into_owned();
    let (headers, message) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut tree = String::new();
    let mut author = None;
    for line in headers.lines() {
        if let Some(value) = line.strip_prefix("tree ") {
            tree = value.to_string();
        } else if let Some(value) = line.strip_prefix("author ") {
            // `Name <email> 1700000000 +0100`
            if let (Some(open), Some(close)) = (value.find('<'), value.rfind('>')) {
                author = Some(Author {
                    name: value[..open].trim().to_string(),
                    email: value[open + 1..close].to_string(),
                    date: value[close + 1..].trim().to_string(),
                });
            }
        }
    }
    Ok((tree, author, message.to_string()))
}

/// The squash of `head` onto `onto`: one new commit whose tree is their merge.
pub(crate) async fn squash(
    repository: &Path,
    onto: &str,
    head: &str,
    message: &str,
) -> Result<String, IntegrateError> {
    let tree = merge_tree(repository, onto, head, None).await?;
    Ok(commit_tree(repository, &tree, &[onto], message, None).await?)
}

/// A merge commit of `head` into `onto` (always a new commit, even when `onto` could
/// simply fast-forward).
pub(crate) async fn merge_commit(
    repository: &Path,
    onto: &str,
    head: &str,
    message: &str,
) -> Result<String, IntegrateError> {
    let tree = merge_tree(repository, onto, head, None).await?;
    Ok(commit_tree(repository, &tree, &[onto, head], message, None).await?)
}

/// `head`'s commits that `onto` lacks (merges left out, as `git rebase` does) replayed
/// on `onto`, oldest first, keeping their authors and messages; a commit whose change
/// `onto` already has is dropped. Returns the new tip (`onto` itself if nothing is
/// left to replay).
pub(crate) async fn replay(repository: &Path, onto: &str, head: &str) -> Result<String, IntegrateError> {
    let range = format!("{onto}..{head}");
    let listing = run(repository, &["rev-list", "--reverse", "--topo-order", "--no-merges", &range]).await?;
    let mut tip = onto.to_string();
    let mut tip_tree = run(repository, &["rev-parse", &format!("{onto}^{{tree}}")]).await?.text();
    for commit in listing.text().lines().filter(|line| !line.is_empty()) {
        let parent = format!("{commit}^");
        let tree = merge_tree(repository, &tip, commit, Some(&parent)).await?;
        if tree == tip_tree {
            continue;
        }
        let (_, author, message) = read_commit(repository, commit).await?;
        tip = commit_tree(repository, &tree, &[&tip], &message, author.as_ref()).await?;
        tip_tree = tree;
    }
    Ok(tip)
}

/// Moves `branch` from `old` to `new`, a descendant of it: through its checkout when
/// it is checked out (`merge --ff-only`, so the files there follow and nothing there is
/// overwritten), else with `update-ref` guarded by the old value. Returns the checkout
/// updated, if any.
pub(crate) async fn advance(
    repository: &Path,
    branch: &str,
    old: &str,
    new: &str,
) -> Result<Option<PathBuf>, IntegrateError> {
    if let Some(checkout) = checkouts_of(repository, branch).await?.into_iter().next() {
        let head = run(&checkout, &["rev-parse", "HEAD"]).await?.text();
        if head != old {
            return Err(IntegrateError::Moved(branch.to_string()));
        }
        let merged = git::output(
            &checkout,
            strings(&["merge", "--ff-only", "--quiet", "--no-stat", new]),
            Vec::new(),
            LOCAL,
        )
        .await?;
        if !merged.success {
            return Err(IntegrateError::CheckoutRefused {
                branch: branch.to_string(),
                path: checkout.display().to_string(),
                reason: merged.stderr.lines().next().unwrap_or("git refused").to_string(),
            });
        }
        return Ok(Some(checkout));
    }
    let reference = format!("refs/heads/{branch}");
    let moved = git::output(
        repository,
        strings(&["update-ref", "-m", "viban: merge", &reference, new, old]),
        Vec::new(),
        LOCAL,
    )
    .await?;
    if !moved.success {
        return Err(IntegrateError::Moved(branch.to_string()));
    }
    Ok(None)
}

/// Points the worktree's branch at `new` and updates its files (`reset --keep`, which
/// refuses rather than lose a local change).
pub(crate) async fn reset_worktree(worktree: &Path, new: &str) -> Result<(), GitError> {
    run(worktree, &["reset", "--quiet", "--keep", new]).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = std::process::Command::new("git").current_dir(dir).args(args).output().unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn repository() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "--quiet", "--initial-branch=main"]);
        git(dir.path(), &["config", "user.email", "test@example.com"]);
        git(dir.path(), &["config", "user.name", "Test"]);
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\nthree\n").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "--quiet", "-m", "first"]);
        dir
    }

    #[tokio::test]
    async fn a_replay_keeps_authors_and_messages_and_a_conflict_names_its_file() {
        let repo = repository();
        let dir = repo.path();
        git(dir, &["checkout", "--quiet", "-b", "task"]);
        std::fs::write(dir.join("b.txt"), "new\n").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["-c", "user.name=Agent", "commit", "--quiet", "-m", "Add b\n\nWith a body."]);
        git(dir, &["checkout", "--quiet", "main"]);
        std::fs::write(dir.join("c.txt"), "upstream\n").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "--quiet", "-m", "upstream"]);
        let (main, task) = (git(dir, &["rev-parse", "main"]), git(dir, &["rev-parse", "task"]));

        let tip = replay(dir, &main, &task).await.unwrap();
        assert_eq!(git(dir, &["log", "-1", "--format=%an|%B", &tip]), "Agent|Add b\n\nWith a body.");
        assert_eq!(git(dir, &["rev-parse", &format!("{tip}^")]), main);
        assert_eq!(git(dir, &["rev-parse", "task"]), task, "no ref moved");

        std::fs::write(dir.join("b.txt"), "clash\n").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "--quiet", "-m", "clash"]);
        let main = git(dir, &["rev-parse", "main"]);
        match replay(dir, &main, &task).await {
            Err(IntegrateError::Conflict(files)) => assert_eq!(files, ["b.txt"]),
            other => panic!("expected a conflict: {other:?}"),
        }
    }
}
