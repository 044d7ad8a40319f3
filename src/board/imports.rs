//! Imports (D9) as the domain offers them: a board of another tool, with its tasks,
//! brought over in one transaction, remembering each source id (`import_sources`) so
//! that importing the same source again creates nothing twice. What the other tool's
//! data means is the importer's (`crate::import`); the rules are here.
//!
//! A board or task imported before is never imported again, even after it was deleted
//! here: the deletion was the user's choice and the next import respects it.

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use super::tasks::ImportedTask;
use super::{Result, bounded_text, required_text};
use crate::db::imports::{self, Mapped};
use crate::db::tasks::Task;
use crate::limits::{BOARD_DESCRIPTION_MAX, BOARD_NAME_MAX};

/// A board of another tool and the tasks on it.
#[derive(Debug, Clone)]
pub struct ImportedBoard {
    /// The other tool's id of the board (a project).
    pub source_id: String,
    pub name: String,
    pub description: String,
    /// The repository linked to a new board (`board::repositories::link` first).
    pub repository_id: Option<Uuid>,
    pub tasks: Vec<ImportedTask>,
}

/// What became of an [`ImportedBoard`].
#[derive(Debug)]
pub enum BoardOutcome {
    /// Imported, onto a new board or one an earlier import made (`created` false).
    Imported { board_id: Uuid, created: bool, tasks: Vec<(String, Task)> },
    /// Imported before and deleted since: left alone.
    DeletedSince { board_id: Uuid },
}

/// What earlier imports of `source` made of these boards and tasks.
#[derive(Debug, Default)]
pub struct Known {
    pub boards: HashMap<String, Mapped>,
    pub tasks: HashMap<String, Mapped>,
}

pub async fn known(pool: &PgPool, source: &str, boards: &[String], tasks: &[String]) -> Result<Known> {
    let mut connection = pool.acquire().await?;
    Ok(Known {
        boards: imports::known(&mut connection, source, "board", boards).await?.into_iter().collect(),
        tasks: imports::known(&mut connection, source, "task", tasks).await?.into_iter().collect(),
    })
}

/// Imports one board of `source` and those of its tasks not imported before, all or
/// nothing. A new board gets the default columns (`board::boards::DEFAULT_COLUMNS`);
/// no task fires a hook.
pub async fn import_board(pool: &PgPool, source: &str, board: ImportedBoard) -> Result<BoardOutcome> {
    let name = required_text("name", &board.name, BOARD_NAME_MAX)?;
    let description = bounded_text("description", &board.description, BOARD_DESCRIPTION_MAX)?;
    let mut tx = pool.begin().await?;
    // One import of a source at a time: the second waits and then finds the first's work.
    imports::lock_source(&mut tx, source).await?;
    let board_ids = [board.source_id.clone()];
    let (board_id, created) = match imports::known(&mut tx, source, "board", &board_ids).await?.first() {
        Some((_, Mapped { target_id, exists: false })) => {
            return Ok(BoardOutcome::DeletedSince { board_id: *target_id });
        }
        Some((_, Mapped { target_id, exists: true })) => (*target_id, false),
        None => {
            let made = super::boards::insert_with_defaults(&mut tx, &name, &description, board.repository_id)
                .await?;
            imports::remember(&mut tx, source, "board", &board_ids, &[made.id]).await?;
            (made.id, true)
        }
    };
    let source_ids: Vec<String> = board.tasks.iter().map(|task| task.source_id.clone()).collect();
    let earlier: HashMap<String, Mapped> =
        imports::known(&mut tx, source, "task", &source_ids).await?.into_iter().collect();
    let parents: HashMap<String, Uuid> = earlier
        .iter()
        .filter(|(_, mapped)| mapped.exists)
        .map(|(source_id, mapped)| (source_id.clone(), mapped.target_id))
        .collect();
    let fresh: Vec<ImportedTask> =
        board.tasks.into_iter().filter(|task| !earlier.contains_key(&task.source_id)).collect();
    let tasks = super::tasks::create_imported(&mut tx, board_id, &fresh, &parents).await?;
    let fresh_ids: Vec<String> = fresh.iter().map(|task| task.source_id.clone()).collect();
    let task_ids: Vec<Uuid> = tasks.iter().map(|task| task.id).collect();
    imports::remember(&mut tx, source, "task", &fresh_ids, &task_ids).await?;
    tx.commit().await?;
    Ok(BoardOutcome::Imported { board_id, created, tasks: fresh_ids.into_iter().zip(tasks).collect() })
}
