//! Tasks (D3): create, read, edit, move (a reorder or a column change), copy, delete,
//! and their activity.
//!
//! A column change goes through [`enter_column`] whoever makes it — a move, a column
//! deleted under the task, a chat message, the hook engine's `move-task` — so leaving a
//! column always records what happens to the hooks running there, entering one always
//! queues its hooks (`board::pipeline`), and `task.moved` is always published. A new
//! task enters its first column the same way.

use serde::Deserialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Result, bounded_text, nullable_text, optional_text, required_text};
use crate::agents::run::Runner;
use crate::db::activity::{self, ActivityEntry};
use crate::db::boards::ColumnRole;
use crate::db::events::EventKind;
use crate::db::executions;
pub use crate::db::imports::TaskWork;
pub use crate::db::tasks::TaskEdit;
use crate::db::tasks::{self as rows, NewTask, Place, Task, TaskFilter};
use crate::limits::{ACTIVITY_PAGE_DEFAULT, ACTIVITY_PAGE_MAX, NAME_MAX, TEXT_MAX, TITLE_MAX};

/// A new task as asked for (the body of `POST /api/boards/{id}/tasks`), checked here.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CreateTask")]
pub struct TaskRequest {
    #[schemars(length(min = 1, max = TITLE_MAX), regex(pattern = r"\S"))]
    pub title: String,
    #[serde(default)]
    #[schemars(length(max = TEXT_MAX))]
    pub description: String,
    /// Default: the board's `todo` column, else its first.
    pub column_id: Option<Uuid>,
    #[serde(default)]
    pub auto_start: bool,
    pub agent: Option<String>,
    pub base_branch: Option<String>,
    pub parent_task_id: Option<Uuid>,
    /// Tasks of the board that must be done before this one's agent starts.
    #[serde(default)]
    pub blocked_by: Vec<Uuid>,
}

/// Where a moved task goes: a column (default: its own) and, optionally, the
/// neighbours it lands between. No neighbours: the end of the column.
#[derive(Debug, Default, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MoveTask")]
pub struct Destination {
    pub column_id: Option<Uuid>,
    /// The task it lands right after.
    pub after: Option<Uuid>,
    /// The task it lands right before.
    pub before: Option<Uuid>,
}

pub async fn create(pool: &PgPool, board_id: Uuid, request: TaskRequest) -> Result<Task> {
    let new = checked(&request)?;
    // Retried: a create can deadlock with the hook engine's writes on the same board
    // (the column's lock against the board stream's row) and lose; it then runs again.
    crate::db::retrying(|| create_once(pool, board_id, &new, request.column_id, &request.blocked_by)).await
}

/// [`create`] in the caller's transaction (a schedule firing: the task and the
/// schedule's record of it commit together).
pub(crate) async fn create_in(
    connection: &mut PgConnection,
    board_id: Uuid,
    request: &TaskRequest,
) -> Result<Task> {
    let new = checked(request)?;
    insert_new(connection, board_id, &new, request.column_id, &request.blocked_by).await
}

fn checked(request: &TaskRequest) -> Result<NewTask> {
    Ok(NewTask {
        title: required_text("title", &request.title, TITLE_MAX)?,
        description: bounded_text("description", &request.description, TEXT_MAX)?,
        auto_start: request.auto_start,
        agent: optional_text("agent", request.agent.clone(), NAME_MAX)?,
        base_branch: optional_text("base_branch", request.base_branch.clone(), NAME_MAX)?,
        parent_task_id: request.parent_task_id,
    })
}

async fn create_once(
    pool: &PgPool,
    board_id: Uuid,
    new: &NewTask,
    column_id: Option<Uuid>,
    blocked_by: &[Uuid],
) -> Result<Task> {
    let mut tx = pool.begin().await?;
    let task = insert_new(&mut tx, board_id, new, column_id, blocked_by).await?;
    tx.commit().await?;
    Ok(task)
}

/// Inserts the checked task at the end of its column (default: the board's first),
/// publishes it and queues its column's hooks.
async fn insert_new(
    tx: &mut PgConnection,
    board_id: Uuid,
    new: &NewTask,
    column_id: Option<Uuid>,
    blocked_by: &[Uuid],
) -> Result<Task> {
    let number = rows::next_number(tx, board_id).await?.ok_or_else(|| Error::not_found("board", board_id))?;
    let column_id = match column_id {
        Some(column_id) => column_of_board(tx, column_id, board_id).await?,
        None => rows::first_column(tx, board_id).await?.ok_or_else(|| Error::not_found("board", board_id))?,
    };
    if let Some(parent) = new.parent_task_id
        && !rows::on_board(tx, parent, board_id).await?
    {
        return Err(Error::invalid(
            "parent_task_id",
            format!("parent_task_id: no task {parent} on this board"),
        ));
    }
    rows::lock_column(tx, column_id).await?;
    let position = slot(tx, column_id, None, Place::End).await?;
    let mut task = rows::insert(tx, board_id, column_id, &position, number, new).await?;
    if !blocked_by.is_empty() {
        super::pipeline::set_blockers(tx, &task, blocked_by).await?;
        task = existing(tx, task.id).await?;
    }
    rows::publish(tx, &task, EventKind::TaskCreated).await?;
    super::pipeline::queue_on_entry(tx, &task).await?;
    Ok(task)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Task> {
    let mut connection = pool.acquire().await?;
    existing(&mut connection, id).await
}

/// A board's tasks in board order; `text` (blank: no filter) must appear in the title
/// or the description.
pub async fn list(
    pool: &PgPool,
    board_id: Uuid,
    column_id: Option<Uuid>,
    text: Option<String>,
) -> Result<Vec<Task>> {
    let mut connection = pool.acquire().await?;
    super::boards::existing(&mut connection, board_id).await?;
    let filter = TaskFilter { column_id, text: text.filter(|text| !text.trim().is_empty()) };
    Ok(rows::list(&mut connection, board_id, &filter).await?)
}

pub async fn update(pool: &PgPool, id: Uuid, edit: TaskEdit) -> Result<Task> {
    let mut tx = pool.begin().await?;
    let task = self::edit(&mut tx, id, edit).await?;
    tx.commit().await?;
    Ok(task)
}

/// Edits a task in the caller's transaction (a user's patch, a `refine` hook's new
/// description), publishing `task.updated`.
pub(crate) async fn edit(connection: &mut PgConnection, id: Uuid, edit: TaskEdit) -> Result<Task> {
    let changes = TaskEdit {
        title: optional_text("title", edit.title, TITLE_MAX)?,
        description: edit.description.map(|text| bounded_text("description", &text, TEXT_MAX)).transpose()?,
        auto_start: edit.auto_start,
        agent: nullable_text("agent", edit.agent, NAME_MAX)?,
        base_branch: nullable_text("base_branch", edit.base_branch, NAME_MAX)?,
        blocked_by: None,
    };
    let mut task =
        rows::update(connection, id, changes).await?.ok_or_else(|| Error::not_found("task", id))?;
    if let Some(blockers) = &edit.blocked_by {
        super::pipeline::set_blockers(connection, &task, blockers).await?;
        task = existing(connection, id).await?;
    }
    rows::publish(connection, &task, EventKind::TaskUpdated).await?;
    Ok(task)
}

/// Moves a task: within its column (a reorder, which changes nothing else) or into
/// another column of its board, through [`enter_column`].
pub async fn move_task(pool: &PgPool, id: Uuid, destination: Destination) -> Result<Task> {
    crate::db::retrying(|| move_task_once(pool, id, destination)).await
}

async fn move_task_once(pool: &PgPool, id: Uuid, destination: Destination) -> Result<Task> {
    super::not_next_to_itself(id, destination.after, destination.before, "task")?;
    let mut tx = pool.begin().await?;
    let current = rows::lock(&mut tx, id).await?.ok_or_else(|| Error::not_found("task", id))?;
    let column_id = match destination.column_id {
        Some(column_id) => column_of_board(&mut tx, column_id, current.board_id).await?,
        None => current.column_id,
    };
    rows::lock_column(&mut tx, column_id).await?;
    let place = match (destination.after, destination.before) {
        (None, None) => Place::End,
        (after, before) => Place::Between { after, before },
    };
    let position = slot(&mut tx, column_id, Some(id), place).await?;
    let task = if column_id == current.column_id {
        let task = rows::place(&mut tx, id, column_id, &position).await?;
        let payload = json!({ "task": task, "from_column_id": current.column_id, "column_changed": false });
        rows::publish_payload(&mut tx, &task, EventKind::TaskMoved, &payload).await?;
        task
    } else {
        enter_column(&mut tx, &current, column_id, &position).await?
    };
    tx.commit().await?;
    Ok(task)
}

/// The one way a task changes column, inside the caller's transaction: the stay in the
/// old column ends (its hook executions are recorded as cancelled), the task takes
/// `position` in `column_id` with a new stay, `task.moved` is published, and then the
/// new column's hooks are queued (so a board's subscribers see the move first).
pub(crate) async fn enter_column(
    connection: &mut PgConnection,
    task: &Task,
    column_id: Uuid,
    position: &str,
) -> Result<Task> {
    executions::cancel_stay(connection, task.id).await?;
    let moved = rows::place(connection, task.id, column_id, position).await?;
    let payload = json!({ "task": moved, "from_column_id": task.column_id, "column_changed": true });
    rows::publish_payload(connection, &moved, EventKind::TaskMoved, &payload).await?;
    super::pipeline::queue_on_entry(connection, &moved).await?;
    Ok(moved)
}

/// A copy of the task right after it, idle, with a fresh number.
pub async fn duplicate(pool: &PgPool, id: Uuid) -> Result<Task> {
    let mut tx = pool.begin().await?;
    let original = rows::lock(&mut tx, id).await?.ok_or_else(|| Error::not_found("task", id))?;
    let number = rows::next_number(&mut tx, original.board_id)
        .await?
        .ok_or_else(|| Error::not_found("board", original.board_id))?;
    rows::lock_column(&mut tx, original.column_id).await?;
    let place = Place::Between { after: Some(original.id), before: None };
    let position = slot(&mut tx, original.column_id, None, place).await?;
    let task = rows::copy(&mut tx, id, &position, number).await?;
    rows::publish(&mut tx, &task, EventKind::TaskCreated).await?;
    super::pipeline::queue_on_entry(&mut tx, &task).await?;
    tx.commit().await?;
    Ok(task)
}

/// Stops the task's agent, deletes the task, then removes its worktree if that loses
/// no work (D3).
pub async fn delete(pool: &PgPool, runner: &Runner, id: Uuid) -> Result<()> {
    get(pool, id).await?;
    runner.stop_and_wait(id).await;
    // Retried: it locks the task, then the board's stream, and a column's deletion on
    // the board takes them the other way round.
    let task = crate::db::retrying(|| delete_row(pool, id)).await?;
    runner.remove_worktree(&task).await;
    Ok(())
}

async fn delete_row(pool: &PgPool, id: Uuid) -> Result<Task> {
    let mut tx = pool.begin().await?;
    let task = rows::lock(&mut tx, id).await?.ok_or_else(|| Error::not_found("task", id))?;
    // Its running hook is stopped at once (the engine follows the cancellation), not
    // when the lease it can no longer renew runs out.
    executions::cancel_stay(&mut tx, id).await?;
    rows::delete(&mut tx, id).await?;
    let payload = json!({ "id": id, "column_id": task.column_id });
    rows::publish_payload(&mut tx, &task, EventKind::TaskDeleted, &payload).await?;
    tx.commit().await?;
    Ok(task)
}

/// One page of the task's activity, oldest first: `limit` entries (default 100) after
/// the entry `after`, and the `after` of the next page (`None` on the last).
pub async fn activity(
    pool: &PgPool,
    id: Uuid,
    after: Option<i64>,
    limit: Option<i64>,
) -> Result<(Vec<ActivityEntry>, Option<i64>)> {
    let limit = activity_limit(limit)?;
    let mut connection = pool.acquire().await?;
    existing(&mut connection, id).await?;
    let entries = activity::page(&mut connection, id, after, limit).await?;
    let next_after = (entries.len() as i64 == limit).then(|| entries.last().map(|entry| entry.id)).flatten();
    Ok((entries, next_after))
}

/// The task's newest activity before the entry `before`, oldest first, and the
/// `before` of the page above it (none when this one holds the first entry).
pub async fn activity_before(
    pool: &PgPool,
    id: Uuid,
    before: i64,
    limit: Option<i64>,
) -> Result<(Vec<ActivityEntry>, Option<i64>)> {
    let limit = activity_limit(limit)?;
    let mut connection = pool.acquire().await?;
    existing(&mut connection, id).await?;
    let entries = activity::page_before(&mut connection, id, before, limit).await?;
    let above = (entries.len() as i64 == limit).then(|| entries.first().map(|entry| entry.id)).flatten();
    Ok((entries, above))
}

fn activity_limit(limit: Option<i64>) -> Result<i64> {
    let limit = limit.unwrap_or(ACTIVITY_PAGE_DEFAULT);
    if !(1..=ACTIVITY_PAGE_MAX).contains(&limit) {
        return Err(Error::invalid("limit", format!("limit must be between 1 and {ACTIVITY_PAGE_MAX}")));
    }
    Ok(limit)
}

pub(crate) async fn existing(connection: &mut PgConnection, id: Uuid) -> Result<Task> {
    rows::get(connection, id).await?.ok_or_else(|| Error::not_found("task", id))
}

/// `column_id` if it is a column of `board_id`; the error names the request's field.
async fn column_of_board(connection: &mut PgConnection, column_id: Uuid, board_id: Uuid) -> Result<Uuid> {
    match rows::board_of_column(connection, column_id).await? {
        None => Err(Error::invalid("column_id", format!("no column {column_id}"))),
        Some(owner) if owner != board_id => {
            Err(Error::invalid("column_id", format!("column {column_id} belongs to another board")))
        }
        Some(_) => Ok(column_id),
    }
}

/// A free position in the column, or why the neighbours given do not work.
pub(crate) async fn slot(
    connection: &mut PgConnection,
    column_id: Uuid,
    moving: Option<Uuid>,
    place: Place,
) -> Result<String> {
    rows::slot(connection, column_id, moving, place)
        .await?
        .map_err(|error| Error::placement(error, "task", "in the target column"))
}

/// A task brought over from another tool (`crate::import`), as it was there.
#[derive(Debug, Clone)]
pub struct ImportedTask {
    /// The other tool's id (`import_sources`).
    pub source_id: String,
    pub title: String,
    pub description: String,
    /// The column it goes to: the board's first of this role, else its first column.
    pub role: ColumnRole,
    pub created_at: Option<OffsetDateTime>,
    pub updated_at: Option<OffsetDateTime>,
    pub work: TaskWork,
    /// The other tool's id of its parent task, imported now or before.
    pub parent_source_id: Option<String>,
    /// The agent's own session id, so the next follow-up resumes it.
    pub session: Option<ImportedSession>,
}

#[derive(Debug, Clone)]
pub struct ImportedSession {
    pub agent: String,
    pub external_session_id: String,
    pub prompt: String,
}

/// Creates imported tasks at the end of their columns, in the order given, in the
/// caller's transaction. Unlike [`create`] this queues no column hooks: an imported task
/// is not entering its column, it has been there all along, and its agent must not start
/// on its own. Each task is published as `task.created` on its board's stream. `parents`
/// maps source ids imported before to their tasks. Returns the tasks in the order given.
pub(crate) async fn create_imported(
    connection: &mut PgConnection,
    board_id: Uuid,
    tasks: &[ImportedTask],
    parents: &std::collections::HashMap<String, Uuid>,
) -> Result<Vec<Task>> {
    use std::collections::HashMap;

    use crate::db::imports::{self, SessionRow, TaskRow};
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let first = imports::reserve_numbers(connection, board_id, tasks.len() as i64)
        .await?
        .ok_or_else(|| Error::not_found("board", board_id))?;
    // The column of each role met so far, and the last position taken in each column.
    let mut column_of: Vec<(ColumnRole, Uuid)> = Vec::new();
    let mut last_in: HashMap<Uuid, Option<String>> = HashMap::new();
    let now = OffsetDateTime::now_utc();
    // Numbers follow when the tasks were made (#1 the oldest); positions the order given.
    let mut by_age: Vec<usize> = (0..tasks.len()).collect();
    by_age.sort_by_key(|&index| (tasks[index].created_at.unwrap_or(now), index));
    let mut numbers = vec![0; tasks.len()];
    for (rank, index) in by_age.into_iter().enumerate() {
        numbers[index] = first + rank as i64;
    }
    let mut task_rows = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        let field = |name: &str| format!("tasks[{index}].{name}");
        let column_id = match column_of.iter().find(|(role, _)| *role == task.role) {
            Some((_, column_id)) => *column_id,
            None => {
                let column_id = match rows::column_with_role(connection, board_id, task.role).await? {
                    Some(column_id) => column_id,
                    None => rows::first_column(connection, board_id)
                        .await?
                        .ok_or_else(|| Error::conflict("the board has no column to import tasks into"))?,
                };
                column_of.push((task.role, column_id));
                column_id
            }
        };
        if let std::collections::hash_map::Entry::Vacant(entry) = last_in.entry(column_id) {
            rows::lock_column(connection, column_id).await?;
            entry.insert(imports::last_position(connection, column_id).await?);
        }
        let last = last_in.entry(column_id).or_default();
        let position = crate::position::between(last.as_deref(), None)
            .map_err(|error| Error::invalid(field("position"), error.to_string()))?;
        *last = Some(position.clone());
        task_rows.push(TaskRow {
            column_id,
            position,
            number: numbers[index],
            title: required_text(&field("title"), &task.title, TITLE_MAX)?,
            description: bounded_text(&field("description"), &task.description, TEXT_MAX)?,
            work: TaskWork {
                agent: optional_text(&field("agent"), task.work.agent.clone(), NAME_MAX)?,
                base_branch: optional_text(&field("base_branch"), task.work.base_branch.clone(), NAME_MAX)?,
                branch: optional_text(&field("branch"), task.work.branch.clone(), NAME_MAX)?,
                ..task.work.clone()
            },
            auto_start: false,
            agent_settings: json!({}),
            created_at: task.created_at.unwrap_or(now),
            updated_at: task.updated_at.or(task.created_at).unwrap_or(now),
        });
    }
    let mut created = imports::insert_tasks(connection, board_id, &task_rows).await?;

    let mut by_source: HashMap<&str, Uuid> =
        parents.iter().map(|(source_id, id)| (source_id.as_str(), *id)).collect();
    for (task, row) in tasks.iter().zip(&created) {
        by_source.insert(&task.source_id, row.id);
    }
    let (children, parent_ids): (Vec<Uuid>, Vec<Uuid>) = tasks
        .iter()
        .zip(&created)
        .filter_map(|(task, row)| {
            let parent = by_source.get(task.parent_source_id.as_deref()?)?;
            (*parent != row.id).then_some((row.id, *parent))
        })
        .unzip();
    if !children.is_empty() {
        imports::set_parents(connection, &children, &parent_ids).await?;
        for (child, parent) in children.iter().zip(&parent_ids) {
            if let Some(task) = created.iter_mut().find(|task| task.id == *child) {
                task.parent_task_id = Some(*parent);
            }
        }
    }
    let sessions: Vec<SessionRow> = tasks
        .iter()
        .zip(&created)
        .filter_map(|(task, row)| {
            let session = task.session.as_ref()?;
            Some(SessionRow {
                task_id: row.id,
                agent: session.agent.clone(),
                external_session_id: session.external_session_id.clone(),
                prompt: session.prompt.clone(),
                created_at: *row.updated_at,
            })
        })
        .collect();
    if !sessions.is_empty() {
        imports::insert_sessions(connection, &sessions).await?;
    }
    let stream = [crate::db::events::board_stream(board_id)];
    for task in &created {
        crate::db::events::publish(connection, &stream, EventKind::TaskCreated, &json!(task)).await?;
    }
    Ok(created)
}
