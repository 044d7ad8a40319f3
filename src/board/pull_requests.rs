//! Shipping a task as a pull request (V5, H5) and where its branch stands (V4).
//!
//! [`create`] pushes the task's branch with the user's own git credentials
//! (`git push -u origin <branch>` in its worktree), then opens the pull request with the
//! user's `gh` (`crate::gh`), and keeps its url, number and state on the task. Whoever
//! asks — `POST /api/tasks/{id}/pull-request`, the `builtin:create-pr` hook step — gets
//! the same refusals: no `origin`, uncommitted work, nothing to propose, an agent at
//! work. [`sync`] (on demand) and the background loop (`crate::upkeep`, every
//! [`SYNC_EVERY`]) read the pull request back with `gh pr view` and keep its state,
//! review decision and checks; a pull request found merged moves the task to `done`
//! (board setting `move_to_done_after_pr_merge`) through `board::tasks::enter_column`.
//!
//! [`branch`] is the cheap answer to "how far is the branch from its base": a few
//! `git rev-parse`/`rev-list --count` calls, no diff. Its counts, and those the diff,
//! a rebase, a pull request or a sync compute, are kept on the task row
//! (`branch_ahead`, `branch_behind`) for the card, so a board read never runs git.
//! `docs/pull-requests.md` describes all of it for users.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::review::{self, Located};
use super::{Error, Result, bounded_text, optional_text};
use crate::agents::run::Runner;
use crate::agents::settings::BoardSettings;
use crate::db::boards::ColumnRole;
use crate::db::events::EventKind;
use crate::db::pull_requests as rows;
use crate::db::tasks::{self as task_rows, Task};
use crate::gh::{self, GhError, PrStatus, PrView};
use crate::git;
use crate::limits::{PR_BODY_MAX, PR_TITLE_MAX};
use crate::shutdown::Background;

/// How often the background loop asks gh about open pull requests, unless
/// `VIBAN_PR_SYNC_SECONDS` says otherwise (tests).
pub const SYNC_EVERY: Duration = Duration::from_secs(180);
/// Pull requests synced per round, at most.
const SYNC_BATCH: i64 = 50;
/// A push goes over the network, perhaps through a credential helper.
const PUSH_TIMEOUT: Duration = Duration::from_secs(600);
const LOCAL: Duration = Duration::from_secs(30);

// ---- Create (V5) ----

/// `POST /api/tasks/{id}/pull-request`; every field may be left out.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CreatePullRequest")]
pub struct CreateRequest {
    /// Open it as a draft. Default: the board setting `pr_draft` (false).
    pub draft: Option<bool>,
    /// Default: the task's title and number, `Title (#12)`.
    #[schemars(length(min = 1, max = PR_TITLE_MAX))]
    pub title: Option<String>,
    /// Default: the task's description, then the summary of its agent's last run.
    #[schemars(length(max = PR_BODY_MAX))]
    pub body: Option<String>,
}

/// The task's pull request.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PullRequest {
    /// False when the task already had an open or draft pull request: that one is
    /// returned and nothing was pushed.
    pub created: bool,
    /// The branch on `origin`.
    pub branch: String,
    pub url: String,
    pub number: i32,
    pub status: PrStatus,
    /// The task as it is now.
    pub task: Task,
}

/// Pushes the task's branch to `origin` and opens a pull request for it into its base
/// branch; a task whose pull request is open already gets that one back.
pub async fn create(
    pool: &PgPool,
    runner: &Runner,
    task_id: Uuid,
    request: CreateRequest,
) -> Result<PullRequest> {
    let title = optional_text("title", request.title, PR_TITLE_MAX)?;
    let body = request.body.map(|body| bounded_text("body", body.trim(), PR_BODY_MAX)).transpose()?;
    let located = review::locate(pool, task_id).await?;
    let task = &located.task;
    if let Some(existing) = existing(task)? {
        return Ok(existing);
    }
    review::not_running(runner, task)?;
    if origin_url(&located.repository).await.is_none() {
        return Err(Error::Conflict {
            title: "No remote",
            message: format!(
                "the repository {} has no remote `origin` to push the branch to; add one \
                 (`git remote add origin <url>`) and try again",
                located.repository.display()
            ),
        });
    }
    review::committed(&located.worktree, "pull request").await?;
    let branch = checked_out_branch(&located).await?;
    let position = crate::diff::position(&located.worktree, &located.base).await?;
    if position.ahead == 0 {
        return Err(Error::Conflict {
            title: "Nothing to propose",
            message: format!(
                "the branch {branch} has no commit that {} lacks; let the agent commit its work first",
                located.base
            ),
        });
    }
    push(&located.worktree, &branch).await?;

    let settings = BoardSettings::read(&located.board.settings);
    let draft = request.draft.unwrap_or(settings.pr_draft);
    let title = title.unwrap_or_else(|| format!("{} (#{})", task.title, task.number));
    let body = match body {
        Some(body) => body,
        None => default_body(pool, task).await?,
    };
    let new = gh::NewPullRequest { head: &branch, base: &located.base, title: &title, body: &body, draft };
    let opened = gh::create(&located.worktree, &new).await.map_err(|error| {
        let pushed = format!(
            "The branch {branch} was pushed to origin; create the pull request again once gh works, or open \
             it on GitHub"
        );
        gh_refusal(error, Some(&pushed))
    })?;
    let status = if draft { PrStatus::Draft } else { PrStatus::Open };
    let mut tx = pool.begin().await?;
    let task = rows::set_created(&mut tx, task_id, &opened.url, opened.number, status)
        .await?
        .ok_or_else(|| Error::not_found("task", task_id))?;
    task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    tx.commit().await?;
    remember_position(pool, task_id, Some((position.ahead, position.behind))).await?;
    Ok(PullRequest {
        created: true,
        branch,
        url: opened.url,
        number: opened.number,
        status,
        task: super::tasks::get(pool, task_id).await?,
    })
}

/// The task's open or draft pull request, if it has one; a refusal if it was merged.
/// A closed one does not stop a new one.
fn existing(task: &Task) -> Result<Option<PullRequest>> {
    let (Some(url), Some(number)) = (&task.pr_url, task.pr_number) else { return Ok(None) };
    let status = match task.pr_status.as_deref() {
        Some("draft") => PrStatus::Draft,
        Some("merged") => {
            return Err(Error::Conflict {
                title: "Already merged",
                message: format!("task #{}'s pull request #{number} ({url}) is merged already", task.number),
            });
        }
        Some("closed") => return Ok(None),
        _ => PrStatus::Open,
    };
    Ok(Some(PullRequest {
        created: false,
        branch: task.branch.clone().unwrap_or_default(),
        url: url.clone(),
        number,
        status,
        task: task.clone(),
    }))
}

/// `origin`'s URL, if the repository has that remote.
async fn origin_url(repository: &Path) -> Option<String> {
    git::run(repository, &["remote", "get-url", "origin"], LOCAL).await.ok().filter(|url| !url.is_empty())
}

/// The branch checked out in the task's worktree (the one its diff shows).
async fn checked_out_branch(located: &Located) -> Result<String> {
    match git::run(&located.worktree, &["symbolic-ref", "--quiet", "--short", "HEAD"], LOCAL).await {
        Ok(branch) if !branch.is_empty() => Ok(branch),
        _ => Err(Error::Conflict {
            title: "No branch",
            message: format!(
                "task #{}'s worktree is not on a branch (a detached HEAD); check out its branch {} there first",
                located.task.number,
                located.task.branch.as_deref().unwrap_or("(none)")
            ),
        }),
    }
}

/// `git push -u origin <branch>` in the worktree, with the user's own credentials.
async fn push(worktree: &Path, branch: &str) -> Result<()> {
    let args = vec!["push".into(), "--quiet".into(), "-u".into(), "origin".into(), branch.to_string()];
    git::checked(worktree, args, Vec::new(), PUSH_TIMEOUT).await.map(|_| ()).map_err(|error| {
        Error::Conflict {
            title: "Push failed",
            message: format!(
                "pushing {branch} to origin failed: {error}; check that your git credentials may push to origin \
                 (try `git push -u origin {branch}` in the task's worktree)"
            ),
        }
    })
}

/// The description, then what the agent's last run said it did.
async fn default_body(pool: &PgPool, task: &Task) -> Result<String> {
    let result = {
        let mut connection = pool.acquire().await?;
        rows::last_result(&mut connection, task.id).await?
    };
    let mut parts = Vec::new();
    if !task.description.trim().is_empty() {
        parts.push(task.description.trim().to_string());
    }
    if let Some(result) = result.filter(|result| !result.trim().is_empty()) {
        parts.push(format!("## What the agent did\n\n{}", result.trim()));
    }
    let mut body = parts.join("\n\n");
    if body.chars().count() > PR_BODY_MAX {
        body = body.chars().take(PR_BODY_MAX - 1).collect();
        body.push('…');
    }
    Ok(body)
}

/// A gh failure as the domain's refusal, with `after` (what was done already) said.
fn gh_refusal(error: GhError, after: Option<&str>) -> Error {
    let title = match error {
        GhError::Missing => "gh not installed",
        GhError::NotAuthenticated => "gh not logged in",
        _ => "gh failed",
    };
    let message = match after {
        Some(after) => format!("{error}. {after}"),
        None => error.to_string(),
    };
    Error::Conflict { title, message }
}

// ---- Sync ----

/// What a sync found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Synced {
    pub status: PrStatus,
    /// The pull request was found merged just now and the task went to the board's
    /// `done` column (board setting `move_to_done_after_pr_merge`, default true).
    pub moved_to_done: bool,
    /// The task as it is now, with the pull request's review decision and checks.
    pub task: Task,
}

/// Reads the task's pull request back from GitHub now
/// (`POST /api/tasks/{id}/pull-request/sync`).
pub async fn sync(pool: &PgPool, task_id: Uuid) -> Result<Synced> {
    let task = {
        let mut connection = pool.acquire().await?;
        super::tasks::existing(&mut connection, task_id).await?
    };
    let Some(url) = task.pr_url.clone() else {
        return Err(Error::Conflict {
            title: "No pull request",
            message: format!("task #{} has no pull request; create one first", task.number),
        });
    };
    let synced = sync_task(pool, &task, &url).await?;
    Ok(synced)
}

/// Asks gh about `url`, the task's pull request, and keeps the answer — or why there
/// was none, which the task then shows.
async fn sync_task(pool: &PgPool, task: &Task, url: &str) -> Result<Synced> {
    let dir = task
        .worktree_path
        .as_deref()
        .map(PathBuf::from)
        .filter(|path| path.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let view = match gh::view(&dir, url).await {
        Ok(view) => view,
        Err(error) => {
            let refusal = gh_refusal(error, None);
            let mut tx = pool.begin().await?;
            if let Some(task) = rows::set_sync_error(&mut tx, task.id, &refusal.to_string()).await? {
                task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
            }
            tx.commit().await?;
            return Err(refusal);
        }
    };
    let synced = crate::db::retrying(|| apply(pool, task.id, &view)).await?;
    if let Err(error) = branch(pool, task.id).await {
        tracing::debug!(task_id = %task.id, "the branch's position was not refreshed: {error}");
    }
    Ok(Synced { task: super::tasks::get(pool, task.id).await?, ..synced })
}

/// Keeps what gh said and, for a pull request merged since the last look, moves the
/// task to `done` — one transaction.
async fn apply(pool: &PgPool, task_id: Uuid, view: &PrView) -> Result<Synced> {
    let mut tx = pool.begin().await?;
    let before = task_rows::lock(&mut tx, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    let task =
        rows::set_synced(&mut tx, task_id, view).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    let newly_merged = view.status == PrStatus::Merged && before.pr_status.as_deref() != Some("merged");
    if newly_merged && move_after_merge(&mut tx, &task).await? {
        review::to_role(&mut tx, task_id, ColumnRole::Done).await?;
    }
    let task = super::tasks::existing(&mut tx, task_id).await?;
    let moved_to_done = task.column_id != before.column_id;
    tx.commit().await?;
    Ok(Synced { status: view.status, moved_to_done, task })
}

/// Whether the board wants a task with a merged pull request in `done`, and has a
/// `done` column.
async fn move_after_merge(connection: &mut PgConnection, task: &Task) -> Result<bool> {
    let board = crate::db::boards::get(connection, task.board_id)
        .await?
        .ok_or_else(|| Error::not_found("board", task.board_id))?;
    if !BoardSettings::read(&board.settings).move_to_done_after_pr_merge {
        return Ok(false);
    }
    Ok(task_rows::column_with_role(connection, task.board_id, ColumnRole::Done).await?.is_some())
}

/// One round of the background sync: claims the open and draft pull requests not
/// synced for most of `every` (so two instances on one database do not both ask) and
/// syncs each. Returns how many were synced.
pub(crate) async fn sync_due(pool: &PgPool, every: Duration, background: &Background) -> usize {
    let due = async {
        let mut connection = pool.acquire().await?;
        rows::claim_due(&mut connection, every.as_secs_f64() * 0.8, SYNC_BATCH).await
    };
    let due = match due.await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!("could not look for pull requests to sync: {error}");
            return 0;
        }
    };
    let mut synced = 0;
    for task_id in due {
        if background.is_cancelled() {
            break;
        }
        let task = match super::tasks::get(pool, task_id).await {
            Ok(task) => task,
            Err(_) => continue,
        };
        let Some(url) = task.pr_url.clone() else { continue };
        match sync_task(pool, &task, &url).await {
            Ok(_) => synced += 1,
            Err(error) => tracing::debug!(task_id = %task_id, "syncing the pull request failed: {error}"),
        }
    }
    synced
}

// ---- Branch position (V4) ----

/// Where the task's branch stands (`GET /api/tasks/{id}/branch`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BranchState {
    /// The task's branch (`viban/…`), once it has one.
    pub branch: Option<String>,
    pub base_branch: String,
    /// The ref compared with (`refs/heads/<base>`, or `refs/remotes/origin/<base>` when
    /// that is newer); null when the base branch is gone.
    pub base_ref: Option<String>,
    /// The branch exists in the repository (it may have been deleted outside viban).
    pub branch_exists: bool,
    /// The task's worktree exists (it may have been removed outside viban).
    pub worktree_exists: bool,
    pub worktree_path: Option<String>,
    /// `origin` has the branch, as of the last push or fetch.
    pub on_origin: bool,
    /// Commits on the branch that the base lacks; null when either is missing.
    pub ahead: Option<u64>,
    /// Commits on the base that the branch lacks; null when either is missing.
    pub behind: Option<u64>,
}

/// The task's branch against its base, computed with `git rev-list --count` (no diff),
/// and kept on the task for its card.
pub async fn branch(pool: &PgPool, task_id: Uuid) -> Result<BranchState> {
    let (task, repository) = {
        let mut connection = pool.acquire().await?;
        let task = super::tasks::existing(&mut connection, task_id).await?;
        let board = crate::db::boards::get(&mut connection, task.board_id)
            .await?
            .ok_or_else(|| Error::not_found("task", task_id))?;
        let repository = match board.repository_id {
            Some(id) => crate::db::repositories::get(&mut connection, id).await?,
            None => None,
        };
        (task, repository)
    };
    let Some(repository) = repository else {
        return Err(Error::Conflict {
            title: "No repository",
            message: "the task's board has no repository; link one in the board's settings".into(),
        });
    };
    let path = PathBuf::from(&repository.path);
    let base_branch = task.base_branch.clone().unwrap_or_else(|| repository.default_branch.clone());
    let worktree_exists =
        task.worktree_path.as_deref().is_some_and(|worktree| Path::new(worktree).join(".git").exists());
    let (mut branch_exists, mut on_origin) = (false, false);
    if let Some(branch) = &task.branch {
        branch_exists = git::commit_of(&path, &format!("refs/heads/{branch}")).await?.is_some();
        on_origin = git::commit_of(&path, &format!("refs/remotes/origin/{branch}")).await?.is_some();
    }
    let base = git::base_target(&path, &base_branch).await?;
    let counts = match (&base, &task.branch) {
        (Some(base), Some(branch)) if branch_exists => {
            Some(counts(&path, &base.sha, &format!("refs/heads/{branch}")).await?)
        }
        _ => None,
    };
    remember_position(pool, task_id, counts).await?;
    Ok(BranchState {
        branch: task.branch.clone(),
        base_branch,
        base_ref: base.map(|base| base.reference),
        branch_exists,
        worktree_exists,
        worktree_path: task.worktree_path.clone(),
        on_origin,
        ahead: counts.map(|(ahead, _)| ahead),
        behind: counts.map(|(_, behind)| behind),
    })
}

/// (ahead, behind) of `head` against `base`.
async fn counts(repository: &Path, base: &str, head: &str) -> Result<(u64, u64)> {
    let range = format!("{base}...{head}");
    let counted = git::run(repository, &["rev-list", "--left-right", "--count", &range], LOCAL).await?;
    let mut numbers = counted.split_whitespace().map(|count| count.parse::<u64>().unwrap_or(0));
    let behind = numbers.next().unwrap_or(0);
    let ahead = numbers.next().unwrap_or(0);
    Ok((ahead, behind))
}

/// Keeps the branch's (ahead, behind) on the task (`None`: unknown), publishing
/// `task.updated` when they changed so the card follows.
pub(crate) async fn remember_position(
    pool: &PgPool,
    task_id: Uuid,
    counts: Option<(u64, u64)>,
) -> Result<()> {
    let clamp = |count: u64| i32::try_from(count).unwrap_or(i32::MAX);
    let (ahead, behind) = match counts {
        Some((ahead, behind)) => (Some(clamp(ahead)), Some(clamp(behind))),
        None => (None, None),
    };
    let mut tx = pool.begin().await?;
    if let Some(task) = rows::set_position(&mut tx, task_id, ahead, behind).await? {
        task_rows::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    }
    tx.commit().await?;
    Ok(())
}
