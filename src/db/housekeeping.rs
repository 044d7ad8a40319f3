//! Worktree housekeeping's SQL (H6): the tasks that have a worktree, with what the
//! clean-up needs to judge each (its column's role, how long it has been there, the
//! board's settings, the repository), the lock one clean-up takes on a task while it
//! removes the worktree, and the note it leaves on the task. The rules are
//! `board::housekeeping`'s.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::boards::ColumnRole;
use super::tasks::{Task, task_fields};
use crate::schema::Timestamp;

/// What housekeeping did to a task's worktree, kept on the task (`worktree_cleanup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorktreeCleanup {
    pub outcome: CleanupOutcome,
    /// In words: why the worktree stays, or what became of the branch.
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CleanupOutcome {
    Removed,
    Kept,
}

/// A task with a worktree, and what judging it needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub task_id: Uuid,
    pub board_id: Uuid,
    pub number: i64,
    pub title: String,
    pub worktree_path: String,
    pub branch: Option<String>,
    pub base_branch: Option<String>,
    pub column_name: String,
    pub role: ColumnRole,
    pub column_entered_at: OffsetDateTime,
    pub agent_busy: bool,
    /// A hook execution of the task is pending or running.
    pub hook_busy: bool,
    pub board_name: String,
    pub board_settings: Value,
    pub repository_path: Option<String>,
    pub default_branch: Option<String>,
    /// The note the last clean-up left.
    pub cleanup: Option<sqlx::types::Json<WorktreeCleanup>>,
}

macro_rules! candidate_query {
    ($where:literal, $lock:literal) => {
        concat!(
            "SELECT t.id AS task_id, t.board_id, t.number, t.title, t.worktree_path, t.branch, t.base_branch,
                    c.name AS column_name, c.role, t.column_entered_at,
                    t.agent_status IN ('running', 'queued') AS agent_busy,
                    EXISTS (SELECT 1 FROM hook_executions e WHERE e.task_id = t.id
                            AND e.status IN ('pending', 'running')) AS hook_busy,
                    b.name AS board_name, b.settings AS board_settings,
                    r.path AS repository_path, r.default_branch, t.worktree_cleanup AS cleanup
             FROM tasks t
             JOIN columns c ON c.id = t.column_id
             JOIN boards b ON b.id = t.board_id
             LEFT JOIN repositories r ON r.id = b.repository_id
             WHERE t.worktree_path IS NOT NULL ",
            $where,
            " ORDER BY b.name, b.id, t.number ",
            $lock
        )
    };
}

/// Every task that has a worktree (or had one: the path is kept once it is removed).
pub async fn candidates(connection: &mut PgConnection) -> Result<Vec<Candidate>, sqlx::Error> {
    sqlx::query_as(candidate_query!("", "")).fetch_all(connection).await
}

/// The task as [`candidates`] reads it, locked until the caller's transaction ends;
/// `None` when another transaction holds it (another clean-up, a move) or it is gone.
pub async fn lock(connection: &mut PgConnection, task_id: Uuid) -> Result<Option<Candidate>, sqlx::Error> {
    sqlx::query_as(candidate_query!("AND t.id = $1", "FOR UPDATE OF t SKIP LOCKED"))
        .bind(task_id)
        .fetch_optional(connection)
        .await
}

/// Leaves housekeeping's note on the task.
pub async fn set_cleanup(
    connection: &mut PgConnection,
    task_id: Uuid,
    cleanup: &WorktreeCleanup,
) -> Result<Task, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET worktree_cleanup = $2, updated_at = now() WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(task_id)
    .bind(sqlx::types::Json(cleanup))
    .fetch_one(connection)
    .await
}
