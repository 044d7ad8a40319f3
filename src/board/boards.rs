//! Boards (D1): create one with the default workflow ([`DEFAULT_COLUMNS`]), read it
//! with everything its view shows (cached by version), rename, configure, link a
//! repository, delete.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::views::{CachedView, ViewCache};
use super::{Error, Result, bounded_text, optional_text, required_text, settings_object};
use crate::agents::run::Runner;
pub use crate::db::boards::BoardEdit;
use crate::db::boards::{self as rows, Board, Column, ColumnHook, ColumnRole, Template};
use crate::db::columns::NewColumn;
use crate::db::events::{self, EventKind, board_stream};
use crate::db::hooks::NewAttachment;
use crate::db::tasks::{Task, TaskFilter};
use crate::db::templates::TemplateRequest;
use crate::limits::{BOARD_DESCRIPTION_MAX, BOARD_NAME_MAX};
use crate::position;

/// A default column's built-in hook: (builtin, execute_once, transparent, removable,
/// settings as JSON).
type DefaultHook = (&'static str, bool, bool, bool, &'static str);

/// The default board (`docs/hooks.md`): name, colour, role and built-in hooks in order.
pub const DEFAULT_COLUMNS: &[(&str, &str, ColumnRole, &[DefaultHook])] = &[
    ("Todo", "#6b7280", ColumnRole::Todo, &[("builtin:auto-start", true, false, false, "{}")]),
    (
        "In Progress",
        "#3b82f6",
        ColumnRole::InProgress,
        &[
            ("builtin:run-agent", false, false, false, "{}"),
            ("builtin:move-task", false, true, false, r#"{"target": {"role": "review"}}"#),
        ],
    ),
    (
        "Review",
        "#f59e0b",
        ColumnRole::Review,
        &[("builtin:play-sound", false, true, true, r#"{"sound": "done"}"#)],
    ),
    ("Done", "#10b981", ColumnRole::Done, &[]),
    ("Cancelled", "#ef4444", ColumnRole::Cancelled, &[]),
];

/// A board with everything its view shows.
#[derive(Serialize, schemars::JsonSchema)]
pub struct BoardView {
    pub board: Board,
    pub columns: Vec<Column>,
    pub column_hooks: Vec<ColumnHook>,
    pub templates: Vec<Template>,
    pub tasks: Vec<Task>,
}

/// A new board as asked for (the body of `POST /api/boards`).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CreateBoard")]
pub struct BoardRequest {
    #[schemars(length(min = 1, max = BOARD_NAME_MAX), regex(pattern = r"\S"))]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

pub async fn list(pool: &PgPool) -> Result<Vec<crate::db::boards::BoardSummary>> {
    let mut connection = pool.acquire().await?;
    Ok(rows::list(&mut connection).await?)
}

/// Creates a board with the default columns, column hooks and templates; returns its
/// view.
pub async fn create(pool: &PgPool, request: BoardRequest) -> Result<BoardView> {
    let name = required_text("name", &request.name, BOARD_NAME_MAX)?;
    let description = bounded_text("description", &request.description, BOARD_DESCRIPTION_MAX)?;
    let mut tx = pool.begin().await?;
    let board = insert_with_defaults(&mut tx, &name, &description, None).await?;
    tx.commit().await?;
    Ok(snapshot(pool, board.id).await?.1)
}

/// Inserts a board with the default columns, column hooks and templates in the caller's
/// transaction (checked names), publishing `board.created`: [`create`], and an import
/// (`board::imports`), which links its repository at once.
pub(crate) async fn insert_with_defaults(
    connection: &mut PgConnection,
    name: &str,
    description: &str,
    repository_id: Option<Uuid>,
) -> Result<Board> {
    let board = rows::insert(connection, name, description, repository_id).await?;
    for ((name, color, role, hooks), key) in
        DEFAULT_COLUMNS.iter().zip(position::spread(DEFAULT_COLUMNS.len()))
    {
        let new = NewColumn { name: (*name).into(), color: (*color).into(), role: *role };
        let column = crate::db::columns::insert(connection, board.id, &new, &key).await?;
        for ((builtin, execute_once, transparent, removable, settings), key) in
            hooks.iter().zip(position::spread(hooks.len()))
        {
            let attachment = NewAttachment {
                hook_id: None,
                builtin: Some(builtin),
                execute_once: *execute_once,
                transparent: *transparent,
                removable: *removable,
                settings: serde_json::from_str(settings).unwrap_or_default(),
            };
            crate::db::hooks::insert_attachment(connection, column.id, &attachment, &key).await?;
        }
    }
    let templates = super::templates::DEFAULTS;
    for ((name, title, description), key) in templates.iter().zip(position::spread(templates.len())) {
        let fields = TemplateRequest {
            name: Some((*name).into()),
            title: Some((*title).into()),
            description: Some((*description).into()),
        };
        crate::db::templates::insert(connection, board.id, fields, &key).await?;
    }
    events::publish_on_board(connection, board.id, EventKind::BoardCreated, &json!(board)).await?;
    Ok(board)
}

/// The board's view as JSON (and gzipped), from the cache while the board is unchanged:
/// every change to what a view shows publishes on the board's stream, so the sequence
/// of the last such event ([`events::view_seq`]) is the view's version. Events that
/// change nothing in it (a hook's progress, a sound) leave the cached view valid.
pub async fn view(pool: &PgPool, cache: &ViewCache, id: Uuid) -> Result<CachedView> {
    let seq = {
        let mut connection = pool.acquire().await?;
        events::view_seq(&mut connection, &board_stream(id)).await?
    };
    if let Some(cached) = cache.get(id, seq) {
        return Ok(cached);
    }
    let _filling = cache.filling.lock().await;
    if let Some(cached) = cache.get(id, seq) {
        return Ok(cached);
    }
    let (seq, view) = snapshot(pool, id).await?;
    let json =
        serde_json::to_vec(&view).map_err(|error| Error::Database(sqlx::Error::Encode(Box::new(error))))?;
    Ok(cache.put(id, seq, json))
}

/// One consistent snapshot of a board and its version ([`events::view_seq`]),
/// read in a single repeatable-read transaction.
async fn snapshot(pool: &PgPool, id: Uuid) -> Result<(i64, BoardView)> {
    let mut tx = pool.begin().await?;
    rows::read_only_snapshot(&mut tx).await?;
    let seq = events::view_seq(&mut tx, &board_stream(id)).await?;
    let board = existing(&mut tx, id).await?;
    let view = BoardView {
        columns: rows::columns(&mut tx, id).await?,
        column_hooks: rows::column_hooks(&mut tx, id).await?,
        templates: rows::templates(&mut tx, id).await?,
        tasks: crate::db::tasks::list(&mut tx, id, &TaskFilter::default()).await?,
        board,
    };
    tx.commit().await?;
    Ok((seq, view))
}

pub async fn update(pool: &PgPool, id: Uuid, edit: BoardEdit) -> Result<Board> {
    if let Some(settings) = &edit.settings {
        settings_object("settings", settings)?;
        super::requests::check_settings(settings)?;
        super::housekeeping::check_settings(settings)?;
    }
    let changes = BoardEdit {
        name: optional_text("name", edit.name, BOARD_NAME_MAX)?,
        description: edit
            .description
            .map(|text| bounded_text("description", &text, BOARD_DESCRIPTION_MAX))
            .transpose()?,
        settings: edit.settings,
        repository_id: edit.repository_id,
    };
    let mut tx = pool.begin().await?;
    if let Some(Some(repository_id)) = changes.repository_id
        && crate::db::repositories::get(&mut tx, repository_id).await?.is_none()
    {
        return Err(Error::invalid("repository_id", format!("no repository {repository_id}")));
    }
    let board = rows::update(&mut tx, id, changes).await?.ok_or_else(|| Error::not_found("board", id))?;
    events::publish_on_board(&mut tx, id, EventKind::BoardUpdated, &json!(board)).await?;
    tx.commit().await?;
    Ok(board)
}

/// Stops the board's agents, deletes it, then removes its tasks' worktrees where that
/// loses no work (D1).
pub async fn delete(pool: &PgPool, runner: &Runner, id: Uuid) -> Result<()> {
    let doomed = {
        let mut connection = pool.acquire().await?;
        existing(&mut connection, id).await?;
        crate::db::tasks::list(&mut connection, id, &TaskFilter::default()).await?
    };
    for task in &doomed {
        runner.stop_and_wait(task.id).await;
    }
    let mut tx = pool.begin().await?;
    for task in &doomed {
        crate::db::executions::cancel_stay(&mut tx, task.id).await?;
    }
    if !rows::delete(&mut tx, id).await? {
        return Err(Error::not_found("board", id));
    }
    events::publish_on_board(&mut tx, id, EventKind::BoardDeleted, &json!({ "id": id })).await?;
    tx.commit().await?;
    for task in &doomed {
        runner.remove_worktree(task).await;
    }
    Ok(())
}

pub(crate) async fn existing(connection: &mut PgConnection, id: Uuid) -> Result<Board> {
    rows::get(connection, id).await?.ok_or_else(|| Error::not_found("board", id))
}
