//! A task's pull request (V5) and its branch's ahead/behind counts (V4): the `pr_*`
//! and `branch_*` columns of `tasks`. The rules are `board::pull_requests`'s.

use sqlx::PgConnection;
use uuid::Uuid;

use super::tasks::{Task, task_fields};
use crate::gh::{PrStatus, PrView};

/// Records the pull request just opened (or found open) for the task.
pub async fn set_created(
    connection: &mut PgConnection,
    id: Uuid,
    url: &str,
    number: i32,
    status: PrStatus,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET pr_url = $2, pr_number = $3, pr_status = $4, pr_review_decision = NULL,
                          pr_checks = NULL, pr_synced_at = now(), pr_sync_error = NULL, updated_at = now()
         WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(url)
    .bind(number)
    .bind(status.as_str())
    .fetch_optional(connection)
    .await
}

/// Records what `gh pr view` said about the task's pull request.
pub async fn set_synced(
    connection: &mut PgConnection,
    id: Uuid,
    view: &PrView,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET pr_url = $2, pr_number = $3, pr_status = $4, pr_review_decision = $5,
                          pr_checks = $6, pr_synced_at = now(), pr_sync_error = NULL, updated_at = now()
         WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(&view.url)
    .bind(view.number)
    .bind(view.status.as_str())
    .bind(view.review_decision.map(|decision| decision.as_str()))
    .bind(sqlx::types::Json(view.checks))
    .fetch_optional(connection)
    .await
}

/// Records why the last sync failed; the task when that changed what it says.
pub async fn set_sync_error(
    connection: &mut PgConnection,
    id: Uuid,
    error: &str,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET pr_sync_error = $2, pr_synced_at = now(), updated_at = now()
         WHERE id = $1 AND pr_sync_error IS DISTINCT FROM $2 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(error)
    .fetch_optional(connection)
    .await
}

/// Claims up to `limit` tasks whose open or draft pull request was not synced for
/// `older_than_seconds`, by stamping `pr_synced_at` now: another instance running the
/// same query skips the rows locked meanwhile and finds the stamped ones fresh.
pub async fn claim_due(
    connection: &mut PgConnection,
    older_than_seconds: f64,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE tasks SET pr_synced_at = now()
         WHERE id IN (SELECT id FROM tasks
                      WHERE pr_status IN ('open', 'draft') AND pr_url IS NOT NULL
                        AND (pr_synced_at IS NULL OR pr_synced_at < now() - make_interval(secs => $1))
                      ORDER BY pr_synced_at NULLS FIRST
                      LIMIT $2
                      FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(older_than_seconds)
    .bind(limit)
    .fetch_all(connection)
    .await
}

/// Keeps the branch's ahead/behind counts (null: unknown); the task when they changed.
pub async fn set_position(
    connection: &mut PgConnection,
    id: Uuid,
    ahead: Option<i32>,
    behind: Option<i32>,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET branch_ahead = $2, branch_behind = $3, updated_at = now()
         WHERE id = $1 AND (branch_ahead IS DISTINCT FROM $2 OR branch_behind IS DISTINCT FROM $3)
         RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(ahead)
    .bind(behind)
    .fetch_optional(connection)
    .await
}

/// The summary of the task's last agent run that reported one (its `result` entry).
pub async fn last_result(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT data->>'summary' FROM task_activity
         WHERE task_id = $1 AND kind = 'result' AND coalesce(data->>'summary', '') <> ''
         ORDER BY id DESC LIMIT 1",
    )
    .bind(task_id)
    .fetch_optional(connection)
    .await
}
