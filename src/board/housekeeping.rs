//! Worktree housekeeping (H6): a task that has been in a `done` or `cancelled` column
//! for longer than its board's `worktree_ttl_days` (default 7) loses its worktree and
//! its `viban/` branch — unless that would lose work. Whether it would is the one rule
//! a deleted task's worktree also goes by (`worktree::Worktrees::verdict`, through the
//! runner): uncommitted changes (untracked files included), or commits that are
//! neither in the base branch nor on any remote branch, keep it, and the task says why
//! (`worktree_cleanup`). Only worktrees in this viban's own worktrees folder are looked
//! at; nothing else in the user's repository is touched.
//!
//! [`plan`] is the dry run (`GET /api/housekeeping`): every worktree with its disk use
//! and what a clean-up would do with it. [`run`] does it (`POST
//! /api/housekeeping/run`, and hourly through `crate::upkeep`), judging each task
//! again under a row lock (`FOR UPDATE SKIP LOCKED`), so two viban processes on one
//! database, or a move of the task meanwhile, never race on one worktree.
//! `docs/housekeeping.md` describes it for users.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Result};
use crate::agents::run::Runner;
use crate::agents::settings::BoardSettings;
use crate::db::boards::ColumnRole;
use crate::db::events::EventKind;
use crate::db::housekeeping::{self as rows, Candidate, CleanupOutcome, WorktreeCleanup};
use crate::disk;
use crate::schema::Timestamp;
use crate::worktree::{Removable, Removal, Worktree};

/// How long measuring the worktrees' disk use may take in one report, all together.
const DISK_USAGE_BUDGET: Duration = Duration::from_secs(5);

/// What a clean-up would do (the dry run) or did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "HousekeepingReport")]
pub struct Report {
    /// True for `GET /api/housekeeping`: nothing was changed.
    pub dry_run: bool,
    /// viban's worktrees on this machine, board by board, task by task.
    pub worktrees: Vec<WorktreeReport>,
    /// Their disk use together, in bytes.
    pub bytes: u64,
    /// Measuring ran out of time somewhere: the figures are lower bounds.
    pub partial: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorktreeReport {
    pub task_id: Uuid,
    pub board_id: Uuid,
    pub board_name: String,
    pub number: i64,
    pub title: String,
    /// The column the task is in.
    pub column: String,
    pub path: String,
    pub branch: Option<String>,
    /// Disk used by the worktree (before its removal, for a removed one).
    pub bytes: u64,
    /// Measuring ran out of time: it uses at least `bytes`.
    pub partial: bool,
    pub verdict: Verdict,
    /// Why it goes or stays, in words.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The dry run: it would be removed; the run: it was.
    Remove,
    Keep,
}

/// The dry run: each worktree, what it uses and what a clean-up would do now.
pub async fn plan(pool: &PgPool, runner: &Runner) -> Result<Report> {
    let candidates = listed(pool, runner).await?;
    let deadline = Instant::now() + DISK_USAGE_BUDGET;
    let now = OffsetDateTime::now_utc();
    let mut worktrees = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let (verdict, reason) = match due(&candidate, now, runner) {
            Err(why) => (Verdict::Keep, why),
            Ok(due) => match judge(runner, &candidate, &due).await {
                Some(keep) => (Verdict::Keep, keep),
                None => (Verdict::Remove, removable_reason(&candidate, &due)),
            },
        };
        worktrees.push(report(&candidate, measure(&candidate, deadline).await, verdict, reason));
    }
    Ok(summed(true, worktrees))
}

/// Removes the worktrees that are due and lose nothing; flags the due ones that are
/// kept. Returns every worktree with what was done and why.
pub async fn run(pool: &PgPool, runner: &Runner) -> Result<Report> {
    let candidates = listed(pool, runner).await?;
    let deadline = Instant::now() + DISK_USAGE_BUDGET;
    let mut worktrees = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let usage = measure(&candidate, deadline).await;
        let (verdict, reason) = match due(&candidate, OffsetDateTime::now_utc(), runner) {
            Err(why) => (Verdict::Keep, why),
            Ok(_) => clean(pool, runner, candidate.task_id).await?,
        };
        worktrees.push(report(&candidate, usage, verdict, reason));
    }
    let report = summed(false, worktrees);
    let removed = report.worktrees.iter().filter(|worktree| worktree.verdict == Verdict::Remove).count();
    if removed > 0 {
        tracing::info!(removed, "housekeeping removed worktrees of done and cancelled tasks");
    }
    Ok(report)
}

/// The board setting, when given: `worktree_ttl_days` is a number of days, 0 or more.
pub(crate) fn check_settings(settings: &serde_json::Value) -> Result<()> {
    if let Some(days) = settings.get("worktree_ttl_days").filter(|days| !days.is_null())
        && !days.as_f64().is_some_and(|days| days.is_finite() && days >= 0.0)
    {
        return Err(Error::invalid(
            "settings.worktree_ttl_days",
            "settings.worktree_ttl_days must be a number of days, 0 or more",
        ));
    }
    Ok(())
}

/// What judging a due task's worktree needs.
struct Due {
    repository: PathBuf,
    worktree: Worktree,
    base: String,
    copied: Vec<String>,
    /// How long it has been done or cancelled, in words.
    age: String,
}

impl Due {
    /// The worktree as the removal rule takes it; `root` is viban's worktrees folder.
    fn target<'a>(&'a self, task_id: Uuid, root: &'a Path) -> Removable<'a> {
        Removable {
            repository: &self.repository,
            worktree: &self.worktree,
            task_id,
            root,
            base: &self.base,
            copied: &self.copied,
        }
    }
}

/// The tasks whose worktree is in this viban's worktrees folder and still there.
async fn listed(pool: &PgPool, runner: &Runner) -> Result<Vec<Candidate>> {
    let mut connection = pool.acquire().await?;
    let root = runner.worktrees_dir();
    let candidates = rows::candidates(&mut connection).await?;
    Ok(candidates
        .into_iter()
        .filter(|candidate| {
            let path = Path::new(&candidate.worktree_path);
            path.starts_with(&root) && path.exists()
        })
        .collect())
}

/// The task's worktree is up for removal: its task has been done or cancelled for
/// longer than the board's TTL, and nothing is at work in it. Otherwise, why not.
fn due(candidate: &Candidate, now: OffsetDateTime, runner: &Runner) -> std::result::Result<Due, String> {
    if !matches!(candidate.role, ColumnRole::Done | ColumnRole::Cancelled) {
        return Err(format!(
            "the task is in {}: only the worktrees of done or cancelled tasks are cleaned up",
            candidate.column_name
        ));
    }
    let settings = BoardSettings::read(&candidate.board_settings);
    let stayed = now - candidate.column_entered_at;
    let age = words(stayed.unsigned_abs());
    if stayed < settings.worktree_ttl {
        return Err(format!(
            "in {} for {age}; cleaned up once it has been there {} (the board's worktree_ttl_days)",
            candidate.column_name,
            words(settings.worktree_ttl)
        ));
    }
    if candidate.agent_busy || candidate.hook_busy || runner.is_running(candidate.task_id) {
        return Err("its agent or a hook is at work in it".to_string());
    }
    let (Some(repository), Some(branch)) = (&candidate.repository_path, &candidate.branch) else {
        return Err("the task's board has no repository, or the task no branch: nothing to clean up".into());
    };
    let base = candidate
        .base_branch
        .clone()
        .or_else(|| candidate.default_branch.clone())
        .unwrap_or_else(|| "main".to_string());
    Ok(Due {
        repository: PathBuf::from(repository),
        worktree: Worktree { path: PathBuf::from(&candidate.worktree_path), branch: branch.clone() },
        base,
        copied: settings.copy_files,
        age,
    })
}

/// Why the due worktree would be kept, or `None` when it would go.
async fn judge(runner: &Runner, candidate: &Candidate, due: &Due) -> Option<String> {
    let root = runner.worktrees_dir();
    match runner.worktrees().verdict(&due.target(candidate.task_id, &root)).await {
        Ok(None) => None,
        Ok(Some(keep)) => Some(keep.reason(&due.worktree.branch, &due.base)),
        Err(error) => Some(format!("git could not say whether it holds work: {error}")),
    }
}

fn removable_reason(candidate: &Candidate, due: &Due) -> String {
    format!(
        "in {} for {}; nothing in it is lost: no uncommitted change, and every commit of {} is in {} or on a remote",
        candidate.column_name, due.age, due.worktree.branch, due.base
    )
}

/// One task's clean-up, under a lock on its row: judged again (it may have moved, or
/// another process may have cleaned it), removed when that loses nothing, and the
/// outcome noted on the task in the same transaction.
async fn clean(pool: &PgPool, runner: &Runner, task_id: Uuid) -> Result<(Verdict, String)> {
    let mut tx = pool.begin().await?;
    let Some(candidate) = rows::lock(&mut tx, task_id).await? else {
        return Ok((
            Verdict::Keep,
            "another clean-up or a change of the task is under way; next time".into(),
        ));
    };
    let due = match due(&candidate, OffsetDateTime::now_utc(), runner) {
        Ok(due) => due,
        Err(why) => return Ok((Verdict::Keep, why)),
    };
    let root = runner.worktrees_dir();
    let removal = runner.worktrees().remove(&due.target(task_id, &root)).await;
    let branch = &due.worktree.branch;
    let (outcome, reason) = match removal {
        Ok(Removal::Removed { branch_deleted: true }) => (
            CleanupOutcome::Removed,
            format!(
                "removed after {} in {}; the branch {branch} was deleted too: its commits are in {} or on a remote",
                due.age, candidate.column_name, due.base
            ),
        ),
        Ok(Removal::Removed { branch_deleted: false }) => (
            CleanupOutcome::Removed,
            format!("removed after {} in {}; it had no branch left", due.age, candidate.column_name),
        ),
        Ok(Removal::Kept(keep)) => (CleanupOutcome::Kept, keep.reason(branch, &due.base)),
        Err(error) => (CleanupOutcome::Kept, format!("git could not remove it: {error}")),
    };
    let unchanged = candidate.cleanup.as_ref().is_some_and(|sqlx::types::Json(previous)| {
        previous.outcome == outcome && previous.reason == reason && outcome == CleanupOutcome::Kept
    });
    if !unchanged {
        let note = WorktreeCleanup { outcome, reason: reason.clone(), at: Timestamp::now() };
        let task = rows::set_cleanup(&mut tx, task_id, &note).await?;
        crate::db::tasks::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    }
    tx.commit().await?;
    let verdict = if outcome == CleanupOutcome::Removed { Verdict::Remove } else { Verdict::Keep };
    Ok((verdict, reason))
}

async fn measure(candidate: &Candidate, deadline: Instant) -> disk::DiskUsage {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return disk::DiskUsage { bytes: 0, partial: true };
    }
    disk::disk_usage(PathBuf::from(&candidate.worktree_path), left).await
}

fn report(candidate: &Candidate, usage: disk::DiskUsage, verdict: Verdict, reason: String) -> WorktreeReport {
    WorktreeReport {
        task_id: candidate.task_id,
        board_id: candidate.board_id,
        board_name: candidate.board_name.clone(),
        number: candidate.number,
        title: candidate.title.clone(),
        column: candidate.column_name.clone(),
        path: candidate.worktree_path.clone(),
        branch: candidate.branch.clone(),
        bytes: usage.bytes,
        partial: usage.partial,
        verdict,
        reason,
    }
}

fn summed(dry_run: bool, worktrees: Vec<WorktreeReport>) -> Report {
    let bytes = worktrees.iter().map(|worktree| worktree.bytes).sum();
    let partial = worktrees.iter().any(|worktree| worktree.partial);
    Report { dry_run, worktrees, bytes, partial }
}

/// A duration as a person says it: `3 days`, `5 hours`, `12 minutes`.
fn words(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (count, unit) = if seconds >= 2 * 86_400 {
        (seconds / 86_400, "day")
    } else if seconds >= 2 * 3600 {
        (seconds / 3600, "hour")
    } else if seconds >= 120 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(words(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(words(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(words(Duration::from_secs(3 * 60)), "3 minutes");
        assert_eq!(words(Duration::from_secs(1)), "1 second");
    }

    #[test]
    fn the_ttl_setting_is_a_number_of_days_zero_or_more() {
        assert!(check_settings(&serde_json::json!({ "worktree_ttl_days": 0 })).is_ok());
        assert!(check_settings(&serde_json::json!({ "worktree_ttl_days": 1.5 })).is_ok());
        assert!(check_settings(&serde_json::json!({ "worktree_ttl_days": null })).is_ok());
        assert!(check_settings(&serde_json::json!({ "worktree_ttl_days": -1 })).is_err());
        assert!(check_settings(&serde_json::json!({ "worktree_ttl_days": "7" })).is_err());
    }
}
