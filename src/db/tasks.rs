//! Tasks' SQL (D3): insert, read, update, place, copy, delete, filter. The rules and
//! the transactions are `board::tasks`'s; these run on the connection they are given.
//!
//! Positions are fractional keys scoped to a column. The caller locks the target
//! column's row ([`lock_column`]) before computing a key with [`slot`], so concurrent
//! moves into one column are serialized and never compute the same key.

use crate::schema::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::events::{self, EventKind, board_stream, task_stream};
use crate::limits::{TEXT_MAX, TITLE_MAX};
use crate::position::{self, PlaceError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "agent_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Idle,
    Queued,
    Running,
    Error,
    Interrupted,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Task {
    pub id: Uuid,
    pub board_id: Uuid,
    pub column_id: Uuid,
    pub position: String,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub agent_status: AgentStatus,
    pub status_message: Option<String>,
    pub error: Option<String>,
    pub agent: Option<String>,
    pub agent_settings: Value,
    pub base_branch: Option<String>,
    pub branch: Option<String>,
    pub worktree_path: Option<String>,
    pub pr_url: Option<String>,
    pub pr_number: Option<i32>,
    pub pr_status: Option<String>,
    /// What GitHub's review says, as of the last sync: `approved`, `changes_requested`,
    /// `review_required`, or null (none required, or not synced yet).
    pub pr_review_decision: Option<String>,
    /// The pull request's checks, as of the last sync.
    #[schemars(with = "Option<crate::gh::Checks>")]
    pub pr_checks: Option<sqlx::types::Json<crate::gh::Checks>>,
    /// When viban last asked gh about the pull request.
    pub pr_synced_at: Option<Timestamp>,
    /// Why that failed (gh missing, not logged in), until a sync succeeds.
    pub pr_sync_error: Option<String>,
    /// Commits on the task's branch that its base lacks, and commits on the base the
    /// branch lacks, as of the last time viban computed them (opening the task, its
    /// diff, a pull request, a sync); null when never computed or the branch is gone.
    pub branch_ahead: Option<i32>,
    pub branch_behind: Option<i32>,
    pub parent_task_id: Option<Uuid>,
    pub auto_start: bool,
    /// Tasks that must be done before this one's agent starts (D11).
    pub blocked_by: Vec<Uuid>,
    /// What the task's agent waits for from the user (M3): its oldest pending request's
    /// kind (`GET /api/tasks/{id}/requests`), or null. Shown as "Needs you".
    pub waiting_for: Option<super::requests::RequestKind>,
    /// What housekeeping (H6) last did to the worktree while the task was done or
    /// cancelled: removed it, or kept it and why; null once the task moves.
    #[schemars(with = "Option<super::housekeeping::WorktreeCleanup>")]
    pub worktree_cleanup: Option<sqlx::types::Json<super::housekeeping::WorktreeCleanup>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! task_fields {
    () => {
        "id, board_id, column_id, position, number, title, description, agent_status, status_message, error, \
         agent, agent_settings, base_branch, branch, worktree_path, pr_url, pr_number, pr_status, \
         pr_review_decision, pr_checks, pr_synced_at, pr_sync_error, branch_ahead, branch_behind, parent_task_id, \
         auto_start, ARRAY(SELECT blocker_id FROM task_blockers WHERE task_id = tasks.id ORDER BY created_at, blocker_id) \
         AS blocked_by, (SELECT r.kind FROM requests r WHERE r.task_id = tasks.id AND r.status = 'pending' \
         ORDER BY r.created_at LIMIT 1) AS waiting_for, worktree_cleanup, created_at, updated_at"
    };
}
super::record::record!(Task, task_fields, "tasks");
pub(crate) use task_fields;

/// What a new task is made of, checked by the domain.
#[derive(Debug, Default)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    pub auto_start: bool,
    pub agent: Option<String>,
    pub base_branch: Option<String>,
    pub parent_task_id: Option<Uuid>,
}

/// Takes the board's next task number; `None` if there is no such board. Also
/// serializes creations on one board.
pub async fn next_number(connection: &mut PgConnection, board_id: Uuid) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE boards SET task_counter = task_counter + 1 WHERE id = $1 RETURNING task_counter",
    )
    .bind(board_id)
    .fetch_optional(connection)
    .await
}

pub async fn insert(
    connection: &mut PgConnection,
    board_id: Uuid,
    column_id: Uuid,
    position: &str,
    number: i64,
    new: &NewTask,
) -> Result<Task, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO tasks (board_id, column_id, position, number, title, description, auto_start, agent,
                            base_branch, parent_task_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
        task_fields!()
    ))
    .bind(board_id)
    .bind(column_id)
    .bind(position)
    .bind(number)
    .bind(&new.title)
    .bind(&new.description)
    .bind(new.auto_start)
    .bind(&new.agent)
    .bind(&new.base_branch)
    .bind(new.parent_task_id)
    .fetch_one(connection)
    .await
}

/// Whether `task_id` is a task of `board_id`.
pub async fn on_board(
    connection: &mut PgConnection,
    task_id: Uuid,
    board_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tasks WHERE id = $1 AND board_id = $2)")
        .bind(task_id)
        .bind(board_id)
        .fetch_one(connection)
        .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Task>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

/// The task, locked until the transaction ends.
pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<Task>, sqlx::Error> {
    super::record::one(connection, "id = $1 FOR UPDATE", id).await
}

#[derive(Debug, Default)]
pub struct TaskFilter {
    pub column_id: Option<Uuid>,
    /// Text that must appear in the title or the description.
    pub text: Option<String>,
}

/// A board's tasks in board order (column, then position), filtered.
pub async fn list(
    connection: &mut PgConnection,
    board_id: Uuid,
    filter: &TaskFilter,
) -> Result<Vec<Task>, sqlx::Error> {
    let pattern = filter.text.as_deref().map(|text| {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    sqlx::query_as(concat!(
        "SELECT ",
        task_fields!(),
        " FROM tasks
         WHERE board_id = $1
           AND ($2::uuid IS NULL OR column_id = $2)
           AND ($3::text IS NULL OR title ILIKE $3 OR description ILIKE $3)
         ORDER BY (SELECT c.position FROM columns c WHERE c.id = tasks.column_id), position"
    ))
    .bind(board_id)
    .bind(filter.column_id)
    .bind(pattern)
    .fetch_all(connection)
    .await
}

/// The ids of a column's tasks, in order.
pub async fn in_column(connection: &mut PgConnection, column_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM tasks WHERE column_id = $1 ORDER BY position")
        .bind(column_id)
        .fetch_all(connection)
        .await
}

// Checked by `board::tasks` before it gets here; `blocked_by` is the domain's to record.
/// A patch of a task: absent fields stay; `agent` and `base_branch` may be set to null.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UpdateTask")]
pub struct TaskEdit {
    #[schemars(length(min = 1, max = TITLE_MAX), regex(pattern = r"\S"))]
    pub title: Option<String>,
    #[schemars(length(max = TEXT_MAX))]
    pub description: Option<String>,
    pub auto_start: Option<bool>,
    #[serde(default, deserialize_with = "crate::schema::present")]
    pub agent: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::schema::present")]
    pub base_branch: Option<Option<String>>,
    /// Replaces the tasks that must be done before this one's agent starts.
    pub blocked_by: Option<Vec<Uuid>>,
}

pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    changes: TaskEdit,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET title = coalesce($2, title), description = coalesce($3, description),
                auto_start = coalesce($4, auto_start),
                agent = CASE WHEN $5 THEN $6 ELSE agent END,
                base_branch = CASE WHEN $7 THEN $8 ELSE base_branch END,
                updated_at = now()
         WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(changes.title)
    .bind(changes.description)
    .bind(changes.auto_start)
    .bind(changes.agent.is_some())
    .bind(changes.agent.flatten())
    .bind(changes.base_branch.is_some())
    .bind(changes.base_branch.flatten())
    .fetch_optional(connection)
    .await
}

/// Puts the task at `position` in `column_id`; a new column starts a new stay there
/// (its hook executions belong to one stay).
pub async fn place(
    connection: &mut PgConnection,
    id: Uuid,
    column_id: Uuid,
    position: &str,
) -> Result<Task, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET column_id = $2, position = $3, updated_at = now(),
                column_stay = CASE WHEN column_id = $2 THEN column_stay ELSE gen_random_uuid() END,
                column_entered_at = CASE WHEN column_id = $2 THEN column_entered_at ELSE now() END,
                worktree_cleanup = CASE WHEN column_id = $2 THEN worktree_cleanup END
         WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(column_id)
    .bind(position)
    .fetch_one(connection)
    .await
}

/// A copy of the task at `position` beside it, idle, with the number given.
pub async fn copy(
    connection: &mut PgConnection,
    id: Uuid,
    position: &str,
    number: i64,
) -> Result<Task, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO tasks (board_id, column_id, position, number, title, description, auto_start, agent,
                            agent_settings, base_branch, parent_task_id)
         SELECT board_id, column_id, $2, $3, left(title || ' (copy)', 500), description, false, agent,
                agent_settings, base_branch, parent_task_id
         FROM tasks WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(position)
    .bind(number)
    .fetch_one(connection)
    .await
}

pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM tasks WHERE id = $1").bind(id).execute(connection).await?;
    Ok(())
}

/// Publishes `kind` with the whole task on its board's and its own stream.
pub async fn publish(connection: &mut PgConnection, task: &Task, kind: EventKind) -> Result<(), sqlx::Error> {
    publish_payload(connection, task, kind, &json!(task)).await
}

/// Publishes `kind` with `payload` on the task's board's and its own stream.
pub async fn publish_payload(
    connection: &mut PgConnection,
    task: &Task,
    kind: EventKind,
    payload: &Value,
) -> Result<(), sqlx::Error> {
    events::publish(connection, &[board_stream(task.board_id), task_stream(task.id)], kind, payload).await
}

/// Serializes position changes within one column.
pub async fn lock_column(connection: &mut PgConnection, column_id: Uuid) -> Result<(), sqlx::Error> {
    super::hooks::lock_column(connection, column_id).await?;
    Ok(())
}

/// The board a column belongs to, if the column exists.
pub async fn board_of_column(
    connection: &mut PgConnection,
    column_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1")
        .bind(column_id)
        .fetch_optional(connection)
        .await
}

/// The column new tasks go to: the `todo` column, else the first one.
pub async fn first_column(
    connection: &mut PgConnection,
    board_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM columns WHERE board_id = $1 ORDER BY role <> 'todo', position LIMIT 1")
        .bind(board_id)
        .fetch_optional(connection)
        .await
}

/// Where in a column a task goes.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    End,
    Between { after: Option<Uuid>, before: Option<Uuid> },
}

/// A free position in `column_id` for `moving` (excluded from the neighbours); the
/// inner error says why the neighbours given do not work.
pub async fn slot(
    connection: &mut PgConnection,
    column_id: Uuid,
    moving: Option<Uuid>,
    place: Place,
) -> Result<Result<String, PlaceError<Uuid>>, sqlx::Error> {
    let neighbour = async |connection: &mut PgConnection, id: Uuid| {
        sqlx::query_scalar::<_, String>(
            "SELECT position FROM tasks WHERE id = $1 AND column_id = $2 AND id <> $3",
        )
        .bind(id)
        .bind(column_id)
        .bind(moving.unwrap_or(Uuid::nil()))
        .fetch_optional(connection)
        .await
    };
    // The nearest position strictly above or below `pivot` (or the extremes).
    let adjacent = async |connection: &mut PgConnection, pivot: Option<&str>, upwards: bool| {
        let query = if upwards {
            "SELECT min(position) FROM tasks WHERE column_id = $1 AND id <> $2 AND ($3::text IS NULL OR position > $3)"
        } else {
            "SELECT max(position) FROM tasks WHERE column_id = $1 AND id <> $2 AND ($3::text IS NULL OR position < $3)"
        };
        sqlx::query_scalar::<_, Option<String>>(query)
            .bind(column_id)
            .bind(moving.unwrap_or(Uuid::nil()))
            .bind(pivot)
            .fetch_one(connection)
            .await
    };
    let unknown = |field: &'static str, id: Uuid| Ok(Err(PlaceError::UnknownNeighbour { field, id }));
    let (low, high) = match place {
        Place::End | Place::Between { after: None, before: None } => {
            (adjacent(connection, None, false).await?, None)
        }
        Place::Between { after: Some(after), before } => {
            let Some(low) = neighbour(connection, after).await? else { return unknown("after", after) };
            let high = match before {
                Some(before) => match neighbour(connection, before).await? {
                    Some(high) => Some(high),
                    None => return unknown("before", before),
                },
                None => adjacent(connection, Some(&low), true).await?,
            };
            (Some(low), high)
        }
        Place::Between { after: None, before: Some(before) } => {
            let Some(high) = neighbour(connection, before).await? else { return unknown("before", before) };
            let low = adjacent(connection, Some(&high), false).await?;
            (low, Some(high))
        }
    };
    Ok(position::between(low.as_deref(), high.as_deref()).map_err(|_| PlaceError::OutOfOrder))
}

/// Sets what the task's card says about its work: status, message and error.
pub async fn set_status(
    connection: &mut PgConnection,
    id: Uuid,
    status: AgentStatus,
    message: Option<&str>,
    error: Option<&str>,
) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE tasks SET agent_status = $2, status_message = $3, error = $4, updated_at = now()
         WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(status)
    .bind(message)
    .bind(error)
    .fetch_optional(connection)
    .await
}

/// The first column of the board with `role`.
pub async fn column_with_role(
    connection: &mut PgConnection,
    board_id: Uuid,
    role: super::boards::ColumnRole,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM columns WHERE board_id = $1 AND role = $2 ORDER BY position LIMIT 1")
        .bind(board_id)
        .bind(role)
        .fetch_optional(connection)
        .await
}

/// The column after `column_id` on its board.
pub async fn next_column(
    connection: &mut PgConnection,
    column_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT n.id FROM columns c JOIN columns n ON n.board_id = c.board_id AND n.position > c.position
         WHERE c.id = $1 ORDER BY n.position LIMIT 1",
    )
    .bind(column_id)
    .fetch_optional(connection)
    .await
}

/// Queues a chat message for the task's agent.
pub async fn queue_message(
    connection: &mut PgConnection,
    task_id: Uuid,
    text: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO queued_messages (task_id, body) VALUES ($1, $2)")
        .bind(task_id)
        .bind(text)
        .execute(connection)
        .await?;
    Ok(())
}

/// Whether chat messages wait for the task's agent.
pub async fn has_messages(connection: &mut PgConnection, task_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM queued_messages WHERE task_id = $1)")
        .bind(task_id)
        .fetch_one(connection)
        .await
}

/// The task's next queued chat message, removed from the queue.
pub async fn next_message(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "DELETE FROM queued_messages WHERE id = (SELECT id FROM queued_messages WHERE task_id = $1 ORDER BY id LIMIT 1)
         RETURNING body",
    )
    .bind(task_id)
    .fetch_optional(connection)
    .await
}

/// Whether the task has a hook pending or running in its current stay.
pub async fn hooks_active(connection: &mut PgConnection, task_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM hook_executions e JOIN tasks t ON t.id = e.task_id
                        WHERE e.task_id = $1 AND e.column_stay = t.column_stay AND e.status IN ('pending', 'running'))",
    )
    .bind(task_id)
    .fetch_one(connection)
    .await
}

/// Replaces the tasks that block `task_id`.
pub async fn set_blockers(
    connection: &mut PgConnection,
    task_id: Uuid,
    blockers: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM task_blockers WHERE task_id = $1")
        .bind(task_id)
        .execute(&mut *connection)
        .await?;
    sqlx::query("INSERT INTO task_blockers (task_id, blocker_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING")
        .bind(task_id)
        .bind(blockers)
        .execute(connection)
        .await?;
    Ok(())
}

/// Whether making `blockers` block `task_id` would close a cycle (a blocker that is,
/// through its own blockers, waiting for the task).
pub async fn would_cycle(
    connection: &mut PgConnection,
    task_id: Uuid,
    blockers: &[Uuid],
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE upstream(id) AS (
             SELECT unnest($2::uuid[])
             UNION SELECT k.blocker_id FROM task_blockers k JOIN upstream u ON k.task_id = u.id
         )
         SELECT EXISTS (SELECT 1 FROM upstream WHERE id = $1)",
    )
    .bind(task_id)
    .bind(blockers)
    .fetch_one(connection)
    .await
}

/// How many of `ids` are tasks of `board_id`.
pub async fn count_on_board(
    connection: &mut PgConnection,
    board_id: Uuid,
    ids: &[Uuid],
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM tasks WHERE board_id = $1 AND id = ANY($2)")
        .bind(board_id)
        .bind(ids)
        .fetch_one(connection)
        .await
}
