//! Reviewing and shipping a task's work (V1–V4): its diff, comments on lines of it that
//! go back to the agent as one chat message, merging its branch into the base branch,
//! and rebasing it onto the latest base. `docs/review.md` describes each for users.
//!
//! The git work is `crate::diff` and `crate::merge`'s; this module finds the task's
//! repository, worktree and base, refuses what would lose work (uncommitted changes in
//! the task's worktree or in a checkout of the base, an agent at work), and does the
//! board's part: comments and their events in one transaction with the queued message
//! (through `board::pipeline`, exactly like `POST /api/tasks/{id}/messages`), a
//! request for changes moving the task to `in_progress`, a merged task to `done`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::pipeline::{self, Chat, role_name};
use super::tasks::{self, Destination};
use super::{Error, Result, optional_text, required_text};
use crate::agents::run::Runner;
use crate::agents::settings::BoardSettings;
use crate::db::boards::{Board, ColumnRole};
use crate::db::events::EventKind;
use crate::db::repositories::Repository;
use crate::db::review_comments::{self as rows, NewComment, ReviewComment, Side};
use crate::db::tasks::{self as task_rows, Place, Task};
use crate::diff::{self, Diff, DiffError, LineKind};
use crate::git::GitError;
use crate::limits::{COMMIT_MESSAGE_MAX, PATH_MAX, REVIEW_COMMENT_MAX, REVIEW_QUOTE_LINES_MAX};
use crate::merge::{self, IntegrateError};

/// A task with what its git work needs.
pub(super) struct Located {
    pub task: Task,
    pub board: Board,
    pub repository: PathBuf,
    pub worktree: PathBuf,
    pub base: String,
}

/// The task, its board's repository and its worktree; a 409 saying why when there is
/// no repository or no worktree yet.
pub(super) async fn locate(pool: &PgPool, task_id: Uuid) -> Result<Located> {
    let mut connection = pool.acquire().await?;
    let task = tasks::existing(&mut connection, task_id).await?;
    let board = crate::db::boards::get(&mut connection, task.board_id)
        .await?
        .ok_or_else(|| Error::not_found("task", task_id))?;
    let repository: Option<Repository> = match board.repository_id {
        Some(id) => crate::db::repositories::get(&mut connection, id).await?,
        None => None,
    };
    let Some(repository) = repository else {
        return Err(Error::Conflict {
            title: "No repository",
            message: "the task's board has no repository; link one in the board's settings".into(),
        });
    };
    let worktree = task.worktree_path.as_deref().map(PathBuf::from).filter(|path| path.join(".git").exists());
    let Some(worktree) = worktree else {
        return Err(Error::Conflict {
            title: "No worktree",
            message: format!(
                "task #{} has no worktree yet: it gets one when its agent or a script hook first runs",
                task.number
            ),
        });
    };
    let base = task.base_branch.clone().unwrap_or_else(|| repository.default_branch.clone());
    Ok(Located { task, board, repository: PathBuf::from(&repository.path), worktree, base })
}

pub(super) fn git_failed(error: impl std::fmt::Display) -> Error {
    Error::Conflict { title: "git failed", message: error.to_string() }
}

impl From<DiffError> for Error {
    fn from(error: DiffError) -> Self {
        let message = error.to_string();
        match error {
            DiffError::NoBase(_) => Self::Conflict { title: "No base branch", message },
            DiffError::Unrelated(_) => Self::Conflict { title: "Unrelated histories", message },
            DiffError::NoSuchFile(_) => Self::NotFound { field: "file", message },
            DiffError::Git(error) => git_failed(error),
        }
    }
}

impl From<GitError> for Error {
    fn from(error: GitError) -> Self {
        git_failed(error)
    }
}

// ---- Diff (V1) ----

/// The task's diff; with `file`, that file alone and whole (up to the hard limits).
/// The ahead/behind counts it computes are kept on the task for its card.
pub async fn diff(pool: &PgPool, task_id: Uuid, file: Option<&str>) -> Result<Diff> {
    let located = locate(pool, task_id).await?;
    let diff = diff::diff(&located.worktree, &located.base, file).await?;
    super::pull_requests::remember_position(pool, task_id, Some((diff.ahead, diff.behind))).await?;
    Ok(diff)
}

// ---- Comments (V2) ----

/// A comment on lines of the task's diff (`POST /api/tasks/{id}/review/comments`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CreateReviewComment")]
pub struct CommentRequest {
    /// A file of the diff, by its `path` (or `old_path`).
    #[schemars(length(min = 1, max = PATH_MAX))]
    pub file_path: String,
    /// Which side's line numbers `start_line`/`end_line` are: `new` (default; added and
    /// context lines) or `old` (deleted lines).
    #[serde(default = "new_side")]
    pub side: Side,
    #[schemars(range(min = 1))]
    pub start_line: i32,
    /// Default: `start_line`.
    #[schemars(range(min = 1))]
    pub end_line: Option<i32>,
    #[schemars(length(min = 1, max = REVIEW_COMMENT_MAX), regex(pattern = r"\S"))]
    pub body: String,
}

fn new_side() -> Side {
    Side::New
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "EditReviewComment")]
pub struct CommentEdit {
    #[schemars(length(min = 1, max = REVIEW_COMMENT_MAX), regex(pattern = r"\S"))]
    pub body: String,
}

/// The task's comments, sent and unsent, oldest first.
pub async fn comments(pool: &PgPool, task_id: Uuid) -> Result<Vec<ReviewComment>> {
    let mut connection = pool.acquire().await?;
    tasks::existing(&mut connection, task_id).await?;
    Ok(rows::for_task(&mut connection, task_id).await?)
}

/// Records a comment on lines that are in the task's current diff, quoting them.
pub async fn comment(pool: &PgPool, task_id: Uuid, request: CommentRequest) -> Result<ReviewComment> {
    let file_path = required_text("file_path", &request.file_path, PATH_MAX)?;
    let body = required_text("body", &request.body, REVIEW_COMMENT_MAX)?;
    let start_line = request.start_line;
    let end_line = request.end_line.unwrap_or(start_line);
    if start_line < 1 {
        return Err(Error::invalid("start_line", "start_line must be 1 or more"));
    }
    if end_line < start_line {
        return Err(Error::invalid("end_line", "end_line must not come before start_line"));
    }
    let located = locate(pool, task_id).await?;
    let diff = match diff::diff(&located.worktree, &located.base, Some(&file_path)).await {
        Err(DiffError::NoSuchFile(_)) => {
            return Err(Error::invalid("file_path", format!("{file_path} is not in the task's diff")));
        }
        other => other?,
    };
    let quoted_code = quote(&diff, request.side, start_line, end_line)?;
    let new = NewComment {
        file_path: &file_path,
        side: request.side,
        start_line,
        end_line,
        quoted_code: &quoted_code,
        body: &body,
    };
    let mut tx = pool.begin().await?;
    task_rows::lock(&mut tx, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    let comment = rows::insert(&mut tx, task_id, &new).await?;
    rows::publish(&mut tx, task_id, EventKind::ReviewCommentCreated, &json!({ "comment": comment })).await?;
    tx.commit().await?;
    Ok(comment)
}

/// The lines `start..=end` of `side` in the one file of `diff`, as the diff shows them;
/// an error naming the field when the file has no such lines in its hunks.
fn quote(diff: &Diff, side: Side, start: i32, end: i32) -> Result<String> {
    let Some(file) = diff.files.first() else {
        return Err(Error::invalid("file_path", "the file is not in the task's diff"));
    };
    if file.binary {
        return Err(Error::invalid("file_path", format!("{} is a binary file: it has no lines", file.path)));
    }
    if file.truncated {
        // Too large to show: the lines cannot be checked, nor quoted.
        return Ok(String::new());
    }
    let (start, end) = (u32::try_from(start).unwrap_or(0), u32::try_from(end).unwrap_or(0));
    let lines: Vec<&str> = file
        .hunks
        .iter()
        .flat_map(|hunk| &hunk.lines)
        .filter(|line| {
            let number = match side {
                Side::New if line.kind != LineKind::Del => line.new_line,
                Side::Old if line.kind != LineKind::Add => line.old_line,
                _ => None,
            };
            number.is_some_and(|number| (start..=end).contains(&number))
        })
        .map(|line| line.text.as_str())
        .collect();
    if lines.is_empty() {
        return Err(Error::invalid(
            "start_line",
            format!(
                "{} has no {} line {start}{} in the diff",
                file.path,
                side_word(side),
                if end > start { format!("–{end}") } else { String::new() }
            ),
        ));
    }
    let mut quoted = lines.iter().take(REVIEW_QUOTE_LINES_MAX).copied().collect::<Vec<_>>().join("\n");
    if lines.len() > REVIEW_QUOTE_LINES_MAX {
        quoted.push_str(&format!("\n… ({} more lines)", lines.len() - REVIEW_QUOTE_LINES_MAX));
    }
    Ok(quoted)
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Old => "old",
        Side::New => "new",
    }
}

/// Changes an unsent comment's text.
pub async fn edit_comment(pool: &PgPool, id: Uuid, edit: CommentEdit) -> Result<ReviewComment> {
    let body = required_text("body", &edit.body, REVIEW_COMMENT_MAX)?;
    let mut tx = pool.begin().await?;
    let current = rows::lock(&mut tx, id).await?.ok_or_else(|| Error::not_found("review comment", id))?;
    if current.sent_at.is_some() {
        return Err(Error::Conflict {
            title: "Already sent",
            message: "the comment was already sent to the agent; write a new one".into(),
        });
    }
    let comment = rows::set_body(&mut tx, id, &body).await?;
    rows::publish(&mut tx, comment.task_id, EventKind::ReviewCommentUpdated, &json!({ "comment": comment }))
        .await?;
    tx.commit().await?;
    Ok(comment)
}

pub async fn delete_comment(pool: &PgPool, id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    let comment = rows::lock(&mut tx, id).await?.ok_or_else(|| Error::not_found("review comment", id))?;
    rows::delete(&mut tx, id).await?;
    let payload = json!({ "id": id, "task_id": comment.task_id });
    rows::publish(&mut tx, comment.task_id, EventKind::ReviewCommentDeleted, &payload).await?;
    tx.commit().await?;
    Ok(())
}

/// What sending the comments did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ReviewSent {
    /// The comments just sent, now with their `sent_at`.
    pub comments: Vec<ReviewComment>,
    /// The chat message they became.
    pub message: String,
    /// As `POST /api/tasks/{id}/messages` answers: true when the agent or the task's
    /// hooks were busy and the message waits for them; false when the task entered
    /// `in_progress`, whose run-agent hook starts on it.
    pub queued: bool,
    /// The task as it is now.
    pub task: Task,
}

/// Sends the task's unsent comments to its agent as one chat message; with
/// `request_changes`, the task also moves to its board's `in_progress` column (if it
/// is not there), so that the column's hooks run the agent on it.
pub async fn send(
    pool: &PgPool,
    runner: &Runner,
    task_id: Uuid,
    request_changes: bool,
) -> Result<ReviewSent> {
    crate::db::retrying(|| send_once(pool, runner, task_id, request_changes)).await
}

async fn send_once(
    pool: &PgPool,
    runner: &Runner,
    task_id: Uuid,
    request_changes: bool,
) -> Result<ReviewSent> {
    let mut tx = pool.begin().await?;
    task_rows::lock(&mut tx, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    let unsent = rows::lock_unsent(&mut tx, task_id).await?;
    if unsent.is_empty() {
        return Err(Error::Conflict {
            title: "Nothing to send",
            message: "the task has no unsent review comments".into(),
        });
    }
    let message = compose(&unsent, request_changes);
    let chat = pipeline::queue_message(&mut tx, runner.is_running(task_id), task_id, &message).await?;
    if request_changes {
        to_role(&mut tx, task_id, ColumnRole::InProgress).await?;
    }
    let ids: Vec<Uuid> = unsent.iter().map(|comment| comment.id).collect();
    let comments = rows::mark_sent(&mut tx, &ids).await?;
    let payload = json!({ "ids": ids, "request_changes": request_changes });
    rows::publish(&mut tx, task_id, EventKind::ReviewCommentsSent, &payload).await?;
    let task = tasks::existing(&mut tx, task_id).await?;
    tx.commit().await?;
    Ok(ReviewSent { comments, message, queued: chat == Chat::Queued, task })
}

/// Moves the task into its board's column with `role` unless it is there, through
/// `board::tasks::enter_column` (so that column's hooks are queued).
pub(super) async fn to_role(connection: &mut PgConnection, task_id: Uuid, role: ColumnRole) -> Result<()> {
    let task =
        task_rows::lock(connection, task_id).await?.ok_or_else(|| Error::not_found("task", task_id))?;
    let column_id = task_rows::column_with_role(connection, task.board_id, role)
        .await?
        .ok_or_else(|| Error::conflict(format!("the board has no {} column", role_name(role))))?;
    if task.column_id != column_id {
        task_rows::lock_column(connection, column_id).await?;
        let position = tasks::slot(connection, column_id, Some(task_id), Place::End).await?;
        tasks::enter_column(connection, &task, column_id, &position).await?;
    }
    Ok(())
}

/// The one message a review becomes: each comment under its file and lines, with the
/// code it is about.
fn compose(comments: &[ReviewComment], request_changes: bool) -> String {
    let mut message = String::from(if request_changes {
        "Changes requested in review. Please address each comment below:\n"
    } else {
        "Review comments on your changes:\n"
    });
    for comment in comments {
        let lines = if comment.end_line > comment.start_line {
            format!("lines {}–{}", comment.start_line, comment.end_line)
        } else {
            format!("line {}", comment.start_line)
        };
        let side = match comment.side {
            Side::New => "",
            Side::Old => " (removed lines, as they were)",
        };
        message.push_str(&format!("\n### {}, {lines}{side}\n", comment.file_path));
        if !comment.quoted_code.is_empty() {
            let fence = if comment.quoted_code.contains("```") { "~~~~" } else { "```" };
            message.push_str(&format!("{fence}\n{}\n{fence}\n", comment.quoted_code));
        }
        message.push_str(comment.body.trim());
        message.push('\n');
    }
    message
}

// ---- Merge (V3) and rebase (V4) ----

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeMode {
    /// One new commit on the base with all the task's changes (default).
    #[default]
    Squash,
    /// A merge commit with the base and the task's branch as parents.
    Merge,
    /// The task's commits replayed on the base, which then fast-forwards to them.
    Rebase,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MergeTask")]
pub struct MergeRequest {
    #[serde(default)]
    pub mode: MergeMode,
    /// The commit message (squash and merge). Default: the task's title and number,
    /// then the start of its description. A rebase keeps the task's own commits and
    /// takes none.
    #[schemars(length(min = 1, max = COMMIT_MESSAGE_MAX))]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Merged {
    pub mode: MergeMode,
    pub base_branch: String,
    /// The base branch's commit before.
    pub previous: String,
    /// The base branch's commit now.
    pub commit: String,
    /// The checkout of the base branch that was fast-forwarded with it, if it is
    /// checked out (its files now show the merge).
    pub checkout_updated: Option<String>,
    /// The task went to the board's `done` column (board setting
    /// `move_to_done_after_merge`, default true).
    pub moved_to_done: bool,
    pub task: Task,
}

/// Merges the task's branch into its base branch in the repository.
pub async fn merge(pool: &PgPool, runner: &Runner, task_id: Uuid, request: MergeRequest) -> Result<Merged> {
    let message = optional_text("message", request.message, COMMIT_MESSAGE_MAX)?;
    if request.mode == MergeMode::Rebase && message.is_some() {
        return Err(Error::invalid("message", "a rebase keeps the task's commits and their messages"));
    }
    let located = locate(pool, task_id).await?;
    not_running(runner, &located.task)?;
    committed(&located.worktree, "merge").await?;
    let position = diff::position(&located.worktree, &located.base).await?;
    let Some(previous) = position.base.local_sha.clone() else {
        return Err(Error::Conflict {
            title: "No local base branch",
            message: format!(
                "there is no local branch {0} to merge into (only origin/{0}); create it first",
                located.base
            ),
        });
    };
    if position.ahead == 0 {
        return Err(Error::Conflict {
            title: "Nothing to merge",
            message: format!("the task's branch has no commit that {} lacks", located.base),
        });
    }
    for checkout in merge::checkouts_of(&located.repository, &located.base).await? {
        let changed = merge::uncommitted(&checkout, false).await?;
        if !changed.is_empty() {
            return Err(Error::Conflict {
                title: "Base checkout has changes",
                message: format!(
                    "{} is checked out in {} with uncommitted changes ({}); commit or stash them there \
                     first — viban does not touch them",
                    located.base,
                    checkout.display(),
                    listing(&changed)
                ),
            });
        }
    }
    let (repository, onto, head) = (&located.repository, &position.base.sha, &position.head);
    let message = message.unwrap_or_else(|| default_message(&located.task, request.mode));
    let commit = match request.mode {
        MergeMode::Squash => merge::squash(repository, onto, head, &message).await,
        MergeMode::Merge => merge::merge_commit(repository, onto, head, &message).await,
        MergeMode::Rebase => merge::replay(repository, onto, head).await,
    }
    .map_err(|error| integrate_error(error, &located.base, "merging"))?;
    let checkout = merge::advance(repository, &located.base, &previous, &commit)
        .await
        .map_err(|error| integrate_error(error, &located.base, "merging"))?;
    // After a squash or a rebase the base holds the task's work in new commits: the
    // task's branch moves onto them, so its diff is empty and further work starts from
    // the merged state (a merge commit contains the branch itself).
    if request.mode != MergeMode::Merge
        && let Err(error) = merge::reset_worktree(&located.worktree, &commit).await
    {
        tracing::warn!(task_id = %task_id, "the task's worktree stays on its old commits after the merge: {error}");
    }
    let moved_to_done = BoardSettings::read(&located.board.settings).move_to_done_after_merge;
    let mut tx = pool.begin().await?;
    let payload =
        json!({ "mode": request.mode, "base_branch": located.base, "commit": commit, "previous": previous });
    crate::db::events::publish(
        &mut tx,
        &[crate::db::events::task_stream(task_id)],
        EventKind::TaskMerged,
        &payload,
    )
    .await?;
    tx.commit().await?;
    if moved_to_done {
        move_to(pool, &located.task, ColumnRole::Done).await?;
    }
    // The base moved: the card's ahead/behind follow.
    if let Err(error) = super::pull_requests::branch(pool, task_id).await {
        tracing::debug!(task_id = %task_id, "the branch's ahead/behind were not refreshed after the merge: {error}");
    }
    Ok(Merged {
        mode: request.mode,
        base_branch: located.base,
        previous,
        commit,
        checkout_updated: checkout.map(|path| path.display().to_string()),
        moved_to_done,
        task: tasks::get(pool, task_id).await?,
    })
}

/// Moves the task to its board's column with `role` through `board::tasks::move_task`
/// (its hooks run), unless it is there already.
async fn move_to(pool: &PgPool, task: &Task, role: ColumnRole) -> Result<()> {
    let column_id = {
        let mut connection = pool.acquire().await?;
        task_rows::column_with_role(&mut connection, task.board_id, role).await?
    };
    let Some(column_id) = column_id else {
        tracing::warn!(task_id = %task.id, "the board has no {} column to move the task to", role_name(role));
        return Ok(());
    };
    let current = tasks::get(pool, task.id).await?;
    if current.column_id != column_id {
        tasks::move_task(pool, task.id, Destination { column_id: Some(column_id), ..Destination::default() })
            .await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Rebased {
    pub base_branch: String,
    /// The base commit the branch now starts from.
    pub onto: String,
    /// The worktree's `HEAD` before and after (equal when it was up to date).
    pub previous_head: String,
    pub head: String,
    /// The repository has a remote and it was fetched first.
    pub fetched: bool,
    /// Why fetching failed, if it did (the rebase went on with what is local).
    pub fetch_error: Option<String>,
    /// Commits on the task's branch that the base lacks, now.
    pub ahead: u64,
    /// Commits on the base that the branch lacks, now (0 after a rebase).
    pub behind: u64,
}

/// Rebases the task's branch onto the latest base (fetched first when the repository
/// has a remote). A conflict changes nothing and names the files.
pub async fn rebase(pool: &PgPool, runner: &Runner, task_id: Uuid) -> Result<Rebased> {
    let located = locate(pool, task_id).await?;
    not_running(runner, &located.task)?;
    committed(&located.worktree, "rebase").await?;
    let (fetched, fetch_error) = if merge::has_remote(&located.repository).await {
        match merge::fetch(&located.repository).await {
            Ok(()) => (true, None),
            Err(error) => (false, Some(error.to_string())),
        }
    } else {
        (false, None)
    };
    let position = diff::position(&located.worktree, &located.base).await?;
    let previous_head = position.head.clone();
    let mut head = previous_head.clone();
    if position.behind > 0 {
        head = merge::replay(&located.repository, &position.base.sha, &position.head)
            .await
            .map_err(|error| integrate_error(error, &located.base, "rebasing onto"))?;
        merge::reset_worktree(&located.worktree, &head).await?;
        let mut tx = pool.begin().await?;
        let payload = json!({ "base_branch": located.base, "onto": position.base.sha, "head": head });
        crate::db::events::publish(
            &mut tx,
            &[crate::db::events::task_stream(task_id)],
            EventKind::TaskRebased,
            &payload,
        )
        .await?;
        tx.commit().await?;
    }
    let now = diff::position(&located.worktree, &located.base).await?;
    super::pull_requests::remember_position(pool, task_id, Some((now.ahead, now.behind))).await?;
    Ok(Rebased {
        base_branch: located.base,
        onto: now.base.sha,
        previous_head,
        head,
        fetched,
        fetch_error,
        ahead: now.ahead,
        behind: now.behind,
    })
}

pub(super) fn not_running(runner: &Runner, task: &Task) -> Result<()> {
    if runner.is_running(task.id) {
        return Err(Error::Conflict {
            title: "Agent running",
            message: format!(
                "the agent is working in task #{}'s worktree; wait for it or stop it",
                task.number
            ),
        });
    }
    Ok(())
}

/// Refuses when the task's worktree holds uncommitted work, which a merge or rebase
/// would leave behind or lose.
pub(super) async fn committed(worktree: &Path, what: &str) -> Result<()> {
    let changed = merge::uncommitted(worktree, true).await?;
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict {
        title: "Uncommitted changes",
        message: format!(
            "the task's worktree has uncommitted changes ({}); commit them, or ask the agent to commit, \
             before the {what}",
            listing(&changed)
        ),
    })
}

/// A few paths, then how many more.
fn listing(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = paths.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

fn integrate_error(error: IntegrateError, base: &str, doing: &str) -> Error {
    match error {
        IntegrateError::Conflict(files) => Error::MergeConflict {
            message: format!(
                "{doing} {base} stops on conflicts in {}; nothing was changed. Resolve them in the task's \
                 worktree (or ask the agent to), commit, and try again",
                listing(&files)
            ),
            files,
        },
        IntegrateError::Moved(_) => Error::Conflict { title: "Base moved", message: error.to_string() },
        IntegrateError::CheckoutRefused { .. } => {
            Error::Conflict { title: "Base checkout refused", message: error.to_string() }
        }
        IntegrateError::Git(error) => git_failed(error),
    }
}

/// `Title (#12)` and the description's first paragraphs; a merge commit says what it
/// merges.
fn default_message(task: &Task, mode: MergeMode) -> String {
    const SUMMARY_MAX: usize = 2_000;
    let subject = match mode {
        MergeMode::Merge => format!("Merge #{}: {}", task.number, task.title),
        _ => format!("{} (#{})", task.title, task.number),
    };
    let description = task.description.trim();
    if description.is_empty() {
        return subject;
    }
    let mut summary: String = description.chars().take(SUMMARY_MAX).collect();
    if description.chars().count() > SUMMARY_MAX {
        summary.push('…');
    }
    format!("{subject}\n\n{summary}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(path: &str, side: Side, lines: (i32, i32), code: &str, body: &str) -> ReviewComment {
        ReviewComment {
            id: Uuid::nil(),
            task_id: Uuid::nil(),
            file_path: path.into(),
            side,
            start_line: lines.0,
            end_line: lines.1,
            quoted_code: code.into(),
            body: body.into(),
            created_at: crate::schema::Timestamp(time::OffsetDateTime::UNIX_EPOCH),
            updated_at: crate::schema::Timestamp(time::OffsetDateTime::UNIX_EPOCH),
            sent_at: None,
        }
    }

    #[test]
    fn a_review_becomes_one_message_with_each_file_lines_code_and_comment() {
        let message = compose(
            &[
                comment("src/lib.rs", Side::New, (3, 4), "let a = 1;\nlet b = 2;", "Name these better."),
                comment("README.md", Side::Old, (7, 7), "uses ``` fences", "Keep this line."),
            ],
            false,
        );
        assert_eq!(
            message,
            "Review comments on your changes:\n\
             \n### src/lib.rs, lines 3–4\n```\nlet a = 1;\nlet b = 2;\n```\nName these better.\n\
             \n### README.md, line 7 (removed lines, as they were)\n~~~~\nuses ``` fences\n~~~~\nKeep this line.\n"
        );
    }
}
