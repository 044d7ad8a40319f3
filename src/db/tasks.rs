//! Tasks (D3): create, read, update, move between neighbours, duplicate, delete, filter.
//!
//! Positions are fractional keys scoped to a column. Every move and every insertion
//! locks the target column's row first, so concurrent moves into one column are
//! serialized and never compute the same key.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::events::{self, board_stream, task_stream};
use crate::position;

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
    pub parent_task_id: Option<Uuid>,
    pub auto_start: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub updated_at: OffsetDateTime,
}

macro_rules! task_fields {
    () => {
        "id, board_id, column_id, position, number, title, description, agent_status, status_message, error, \
         agent, agent_settings, base_branch, branch, worktree_path, pr_url, pr_number, pr_status, parent_task_id, \
         auto_start, created_at, updated_at"
    };
}
pub(crate) use task_fields;

/// Why a task operation was refused; each names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("no task {0}")]
    NotFound(Uuid),
    #[error("no board {0}")]
    BoardNotFound(Uuid),
    #[error("no column {0}")]
    ColumnNotFound(Uuid),
    #[error("column {0} belongs to another board")]
    ForeignColumn(Uuid),
    #[error("{field}: no task {id} in the target column")]
    Neighbour { field: &'static str, id: Uuid },
    #[error("`after` must come before `before` in the column")]
    NeighboursOutOfOrder,
    #[error("parent_task_id: no task {0} on this board")]
    ParentNotFound(Uuid),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Default)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    pub column_id: Option<Uuid>,
    pub auto_start: bool,
    pub agent: Option<String>,
    pub base_branch: Option<String>,
    pub parent_task_id: Option<Uuid>,
}

pub async fn create(pool: &PgPool, board_id: Uuid, new: NewTask) -> Result<Task, TaskError> {
    let mut tx = pool.begin().await?;
    // Numbering also serializes creations on one board.
    let number: Option<i64> = sqlx::query_scalar(
        "UPDATE boards SET task_counter = task_counter + 1 WHERE id = $1 RETURNING task_counter",
    )
    .bind(board_id)
    .fetch_optional(&mut *tx)
    .await?;
    let number = number.ok_or(TaskError::BoardNotFound(board_id))?;
    let column_id = match new.column_id {
        Some(column_id) => column_of_board(&mut tx, column_id, board_id).await?,
        None => first_column(&mut tx, board_id).await?.ok_or(TaskError::BoardNotFound(board_id))?,
    };
    if let Some(parent) = new.parent_task_id {
        let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tasks WHERE id = $1 AND board_id = $2")
            .bind(parent)
            .bind(board_id)
            .fetch_optional(&mut *tx)
            .await?;
        found.ok_or(TaskError::ParentNotFound(parent))?;
    }
    lock_column(&mut tx, column_id).await?;
    let position = slot(&mut tx, column_id, None, Place::End).await?;
    let task: Task = sqlx::query_as(concat!(
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
    .fetch_one(&mut *tx)
    .await?;
    publish(&mut tx, &task, "task.created").await?;
    tx.commit().await?;
    Ok(task)
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Task>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", task_fields!(), " FROM tasks WHERE id = $1"))
        .bind(id)
        .fetch_optional(connection)
        .await
}

#[derive(Debug, Default)]
pub struct TaskFilter {
    pub column_id: Option<Uuid>,
    /// Words that must all appear in the title or the description.
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

#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub auto_start: Option<bool>,
    pub agent: Option<Option<String>>,
    pub base_branch: Option<Option<String>>,
}

pub async fn update(pool: &PgPool, id: Uuid, changes: TaskChanges) -> Result<Task, TaskError> {
    let mut tx = pool.begin().await?;
    let task: Option<Task> = sqlx::query_as(concat!(
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
    .fetch_optional(&mut *tx)
    .await?;
    let task = task.ok_or(TaskError::NotFound(id))?;
    publish(&mut tx, &task, "task.updated").await?;
    tx.commit().await?;
    Ok(task)
}

/// Where a moved task goes: a column (default: its own) and, optionally, the
/// neighbours it lands between. No neighbours: the end of the column.
#[derive(Debug, Default)]
pub struct Destination {
    pub column_id: Option<Uuid>,
    /// The task it lands right after.
    pub after: Option<Uuid>,
    /// The task it lands right before.
    pub before: Option<Uuid>,
}

#[derive(Debug)]
pub struct Moved {
    pub task: Task,
    /// True when the column changed: that, not a reorder, is what fires hooks.
    pub column_changed: bool,
}

pub async fn move_to(pool: &PgPool, id: Uuid, destination: Destination) -> Result<Moved, TaskError> {
    let mut tx = pool.begin().await?;
    let current = lock_task(&mut tx, id).await?;
    let column_id = match destination.column_id {
        Some(column_id) => column_of_board(&mut tx, column_id, current.board_id).await?,
        None => current.column_id,
    };
    lock_column(&mut tx, column_id).await?;
    let place = match (destination.after, destination.before) {
        (None, None) => Place::End,
        (after, before) => Place::Between { after, before },
    };
    let position = slot(&mut tx, column_id, Some(id), place).await?;
    let column_changed = column_id != current.column_id;
    let task: Task = sqlx::query_as(concat!(
        "UPDATE tasks SET column_id = $2, position = $3, updated_at = now(),
                column_stay = CASE WHEN column_id = $2 THEN column_stay ELSE gen_random_uuid() END
         WHERE id = $1 RETURNING ",
        task_fields!()
    ))
    .bind(id)
    .bind(column_id)
    .bind(position)
    .fetch_one(&mut *tx)
    .await?;
    let payload =
        json!({ "task": task, "from_column_id": current.column_id, "column_changed": column_changed });
    events::publish(&mut tx, &[board_stream(task.board_id), task_stream(task.id)], "task.moved", &payload)
        .await?;
    tx.commit().await?;
    Ok(Moved { task, column_changed })
}

/// A copy of the task right after it, idle, with a fresh number.
pub async fn duplicate(pool: &PgPool, id: Uuid) -> Result<Task, TaskError> {
    let mut tx = pool.begin().await?;
    let original = lock_task(&mut tx, id).await?;
    let number: i64 = sqlx::query_scalar(
        "UPDATE boards SET task_counter = task_counter + 1 WHERE id = $1 RETURNING task_counter",
    )
    .bind(original.board_id)
    .fetch_one(&mut *tx)
    .await?;
    lock_column(&mut tx, original.column_id).await?;
    let position =
        slot(&mut tx, original.column_id, None, Place::Between { after: Some(original.id), before: None })
            .await?;
    let task: Task = sqlx::query_as(concat!(
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
    .fetch_one(&mut *tx)
    .await?;
    publish(&mut tx, &task, "task.created").await?;
    tx.commit().await?;
    Ok(task)
}

pub async fn delete(pool: &PgPool, id: Uuid) -> Result<Task, TaskError> {
    let mut tx = pool.begin().await?;
    let task = lock_task(&mut tx, id).await?;
    sqlx::query("DELETE FROM tasks WHERE id = $1").bind(id).execute(&mut *tx).await?;
    let payload = json!({ "id": id, "column_id": task.column_id });
    events::publish(&mut tx, &[board_stream(task.board_id), task_stream(id)], "task.deleted", &payload)
        .await?;
    tx.commit().await?;
    Ok(task)
}

async fn publish(connection: &mut PgConnection, task: &Task, kind: &str) -> Result<(), sqlx::Error> {
    events::publish(connection, &[board_stream(task.board_id), task_stream(task.id)], kind, &json!(task))
        .await
}

async fn lock_task(connection: &mut PgConnection, id: Uuid) -> Result<Task, TaskError> {
    let task: Option<Task> =
        sqlx::query_as(concat!("SELECT ", task_fields!(), " FROM tasks WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(connection)
            .await?;
    task.ok_or(TaskError::NotFound(id))
}

/// Serializes position changes within one column.
pub(crate) async fn lock_column(connection: &mut PgConnection, column_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM columns WHERE id = $1 FOR UPDATE").bind(column_id).execute(connection).await?;
    Ok(())
}

async fn column_of_board(
    connection: &mut PgConnection,
    column_id: Uuid,
    board_id: Uuid,
) -> Result<Uuid, TaskError> {
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT board_id FROM columns WHERE id = $1")
        .bind(column_id)
        .fetch_optional(connection)
        .await?;
    match owner {
        None => Err(TaskError::ColumnNotFound(column_id)),
        Some(owner) if owner != board_id => Err(TaskError::ForeignColumn(column_id)),
        Some(_) => Ok(column_id),
    }
}

/// The column new tasks go to: the `todo` column, else the first one.
async fn first_column(connection: &mut PgConnection, board_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM columns WHERE board_id = $1 ORDER BY role <> 'todo', position LIMIT 1")
        .bind(board_id)
        .fetch_optional(connection)
        .await
}

enum Place {
    End,
    Between { after: Option<Uuid>, before: Option<Uuid> },
}

/// A free position in `column_id` for `moving` (excluded from the neighbours).
async fn slot(
    connection: &mut PgConnection,
    column_id: Uuid,
    moving: Option<Uuid>,
    place: Place,
) -> Result<String, TaskError> {
    let neighbour = async |connection: &mut PgConnection, field: &'static str, id: Uuid| {
        let found: Option<String> =
            sqlx::query_scalar("SELECT position FROM tasks WHERE id = $1 AND column_id = $2 AND id <> $3")
                .bind(id)
                .bind(column_id)
                .bind(moving.unwrap_or(Uuid::nil()))
                .fetch_optional(connection)
                .await?;
        found.ok_or(TaskError::Neighbour { field, id })
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
    let (low, high) = match place {
        Place::End => (adjacent(connection, None, false).await?, None),
        Place::Between { after: Some(after), before: Some(before) } => (
            Some(neighbour(connection, "after", after).await?),
            Some(neighbour(connection, "before", before).await?),
        ),
        Place::Between { after: Some(after), before: None } => {
            let low = neighbour(connection, "after", after).await?;
            let high = adjacent(connection, Some(&low), true).await?;
            (Some(low), high)
        }
        Place::Between { after: None, before: Some(before) } => {
            let high = neighbour(connection, "before", before).await?;
            let low = adjacent(connection, Some(&high), false).await?;
            (low, Some(high))
        }
        Place::Between { after: None, before: None } => (adjacent(connection, None, false).await?, None),
    };
    position::between(low.as_deref(), high.as_deref()).map_err(|_| TaskError::NeighboursOutOfOrder)
}
