//! What imports write (D9): the map from another tool's ids to the boards and tasks they
//! became (`import_sources`), and imported tasks and their agent sessions, many rows per
//! statement. The rules and the transaction are `board::imports`'s.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::tasks::{Task, task_fields};

/// What an id of the source was mapped to, and whether that board or task still exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub target_id: Uuid,
    pub exists: bool,
}

/// The ids among `source_ids` (of `kind`, `board` or `task`) imported before, with
/// what they became.
pub async fn known(
    connection: &mut PgConnection,
    source: &str,
    kind: &str,
    source_ids: &[String],
) -> Result<Vec<(String, Mapped)>, sqlx::Error> {
    let rows: Vec<(String, Uuid, bool)> = sqlx::query_as(
        "SELECT s.source_id, s.target_id,
                CASE s.kind WHEN 'board' THEN EXISTS (SELECT 1 FROM boards b WHERE b.id = s.target_id)
                            ELSE EXISTS (SELECT 1 FROM tasks t WHERE t.id = s.target_id) END
         FROM import_sources s
         WHERE s.source = $1 AND s.kind = $2 AND s.source_id = ANY($3)",
    )
    .bind(source)
    .bind(kind)
    .bind(source_ids)
    .fetch_all(connection)
    .await?;
    Ok(rows.into_iter().map(|(id, target_id, exists)| (id, Mapped { target_id, exists })).collect())
}

/// Serializes imports of one source until the transaction ends.
pub async fn lock_source(connection: &mut PgConnection, source: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('viban-import:' || $1))")
        .bind(source)
        .execute(connection)
        .await?;
    Ok(())
}

/// Records that `source_ids[i]` became `target_ids[i]`.
pub async fn remember(
    connection: &mut PgConnection,
    source: &str,
    kind: &str,
    source_ids: &[String],
    target_ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO import_sources (source, kind, source_id, target_id)
         SELECT $1, $2, source_id, target_id FROM UNNEST($3::text[], $4::uuid[]) AS t(source_id, target_id)",
    )
    .bind(source)
    .bind(kind)
    .bind(source_ids)
    .bind(target_ids)
    .execute(connection)
    .await?;
    Ok(())
}

/// Reserves `count` task numbers on the board; the first of them, or `None` if there is
/// no such board.
pub async fn reserve_numbers(
    connection: &mut PgConnection,
    board_id: Uuid,
    count: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let last: Option<i64> = sqlx::query_scalar(
        "UPDATE boards SET task_counter = task_counter + $2 WHERE id = $1 RETURNING task_counter",
    )
    .bind(board_id)
    .bind(count)
    .fetch_optional(connection)
    .await?;
    Ok(last.map(|last| last - count + 1))
}

/// The last position in a column, if it has tasks.
pub async fn last_position(
    connection: &mut PgConnection,
    column_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(position) FROM tasks WHERE column_id = $1")
        .bind(column_id)
        .fetch_one(connection)
        .await
}

/// What a task brings of the work done elsewhere: its agent, branches, worktree and
/// pull request.
#[derive(Debug, Clone, Default)]
pub struct TaskWork {
    pub agent: Option<String>,
    pub base_branch: Option<String>,
    pub branch: Option<String>,
    /// A worktree adopted where it is (viban never removes a branch outside `viban/`).
    pub worktree_path: Option<String>,
    pub pr_url: Option<String>,
    pub pr_number: Option<i32>,
    /// `open`, `draft`, `merged` or `closed`.
    pub pr_status: Option<String>,
}

/// One imported task's row, checked by the domain.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub column_id: Uuid,
    pub position: String,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub work: TaskWork,
    pub auto_start: bool,
    pub agent_settings: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One `UNNEST` parameter: `field` of each of `rows`.
macro_rules! column {
    ($rows:ident, $($field:ident).+) => {
        $rows.iter().map(|row| row.$($field).+.clone()).collect::<Vec<_>>()
    };
}

/// Inserts the tasks in one statement; returns them in the order given.
pub async fn insert_tasks(
    connection: &mut PgConnection,
    board_id: Uuid,
    rows: &[TaskRow],
) -> Result<Vec<Task>, sqlx::Error> {
    let inserted: Vec<Task> = sqlx::query_as(concat!(
        "INSERT INTO tasks (board_id, column_id, position, number, title, description, agent, base_branch, branch,
                            worktree_path, pr_url, pr_number, pr_status, auto_start, agent_settings, created_at,
                            updated_at)
         SELECT $1, column_id, position, number, title, description, agent, base_branch, branch, worktree_path,
                pr_url, pr_number, pr_status, auto_start, agent_settings, created_at, updated_at
         FROM UNNEST($2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::int[], $13::text[], $14::bool[], $15::jsonb[],
                     $16::timestamptz[], $17::timestamptz[])
              AS t(column_id, position, number, title, description, agent, base_branch, branch, worktree_path,
                   pr_url, pr_number, pr_status, auto_start, agent_settings, created_at, updated_at)
         RETURNING ",
        task_fields!()
    ))
    .bind(board_id)
    .bind(column!(rows, column_id))
    .bind(column!(rows, position))
    .bind(column!(rows, number))
    .bind(column!(rows, title))
    .bind(column!(rows, description))
    .bind(column!(rows, work.agent))
    .bind(column!(rows, work.base_branch))
    .bind(column!(rows, work.branch))
    .bind(column!(rows, work.worktree_path))
    .bind(column!(rows, work.pr_url))
    .bind(column!(rows, work.pr_number))
    .bind(column!(rows, work.pr_status))
    .bind(column!(rows, auto_start))
    .bind(column!(rows, agent_settings))
    .bind(column!(rows, created_at))
    .bind(column!(rows, updated_at))
    .fetch_all(connection)
    .await?;
    // Numbers are unique on the board: they put the rows back in the order given.
    let mut by_number: std::collections::HashMap<i64, Task> =
        inserted.into_iter().map(|task| (task.number, task)).collect();
    Ok(rows.iter().filter_map(|row| by_number.remove(&row.number)).collect())
}

/// Sets each `children[i]`'s parent task to `parents[i]`.
pub async fn set_parents(
    connection: &mut PgConnection,
    children: &[Uuid],
    parents: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tasks SET parent_task_id = p.parent FROM UNNEST($1::uuid[], $2::uuid[]) AS p(child, parent)
         WHERE tasks.id = p.child",
    )
    .bind(children)
    .bind(parents)
    .execute(connection)
    .await?;
    Ok(())
}

/// Makes each `blockers[i]` block `tasks[i]`.
pub async fn insert_blockers(
    connection: &mut PgConnection,
    tasks: &[Uuid],
    blockers: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO task_blockers (task_id, blocker_id) SELECT * FROM UNNEST($1::uuid[], $2::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(tasks)
    .bind(blockers)
    .execute(connection)
    .await?;
    Ok(())
}

/// A finished agent session of another tool, kept so the next follow-up resumes it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub task_id: Uuid,
    pub agent: String,
    pub external_session_id: String,
    pub prompt: String,
    pub created_at: OffsetDateTime,
}

pub async fn insert_sessions(connection: &mut PgConnection, rows: &[SessionRow]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agent_sessions (task_id, agent, external_session_id, status, prompt, created_at, started_at,
                                     finished_at)
         SELECT task_id, agent, external_session_id, 'completed', prompt, created_at, created_at, created_at
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
              AS t(task_id, agent, external_session_id, prompt, created_at)",
    )
    .bind(column!(rows, task_id))
    .bind(column!(rows, agent))
    .bind(column!(rows, external_session_id))
    .bind(column!(rows, prompt))
    .bind(column!(rows, created_at))
    .execute(connection)
    .await?;
    Ok(())
}
