//! The board document (D10): one board as one versioned JSON document — its columns
//! with their roles and settings, its hooks and their attachments to columns, its
//! templates, and its tasks with their positions — to move a board between vibans
//! (`viban export`, `viban import board`). `docs/board-document.md` describes it.
//!
//! Inside a document things refer to each other by `key` (a column's, hook's or task's
//! id where it was exported); an import gives everything new ids. A document of a newer
//! version than this viban knows is refused; a malformed one is refused with the path of
//! the bad field, and nothing is written.

use crate::schema::Timestamp;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Error, Result, bounded_text, optional_text, required_text, settings_object};
use crate::db::boards::{self as rows, ColumnRole};
use crate::db::columns::{ColumnChanges, NewColumn};
use crate::db::events::{self, EventKind};
use crate::db::hooks::{HookKind, NewAttachment};
use crate::db::imports::{self, TaskRow, TaskWork};
use crate::db::tasks::TaskFilter;
use crate::db::templates::TemplateRequest;
use crate::limits::{
    BOARD_DESCRIPTION_MAX, BOARD_NAME_MAX, COLUMN_NAME_MAX, NAME_MAX, PATH_MAX, TEMPLATE_NAME_MAX, TEXT_MAX,
    TITLE_MAX,
};

/// What `format` says in every board document.
pub const FORMAT: &str = "viban.board";
/// The newest document version this viban writes and reads.
pub const VERSION: u32 = 1;

/// A board as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardDocument {
    /// Always `viban.board`.
    pub format: String,
    /// The document's version; a viban reads versions up to its own.
    pub version: u32,
    pub board: BoardPart,
    pub columns: Vec<ColumnPart>,
    #[serde(default)]
    pub hooks: Vec<HookPart>,
    #[serde(default)]
    pub templates: Vec<TemplatePart>,
    #[serde(default)]
    pub tasks: Vec<TaskPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardPart {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The board's settings object (default agent, copy-files globs, …).
    #[serde(default = "empty_object")]
    pub settings: Value,
    /// The linked repository's path where it was exported; linked on import when it is
    /// a git repository there too.
    #[serde(default)]
    pub repository: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnPart {
    /// How tasks name this column.
    pub key: String,
    pub name: String,
    pub color: String,
    pub role: ColumnRole,
    /// Its place among the columns (a fractional key, `src/position.rs`).
    pub position: String,
    #[serde(default = "yes")]
    pub hooks_enabled: bool,
    #[serde(default)]
    pub max_concurrent: Option<i32>,
    /// Its hooks in order: a board hook (by key) or a built-in.
    #[serde(default)]
    pub hooks: Vec<AttachmentPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentPart {
    /// The key of one of the document's hooks…
    #[serde(default)]
    pub hook: Option<String>,
    /// …or a built-in, e.g. `builtin:run-agent`.
    #[serde(default)]
    pub builtin: Option<String>,
    pub position: String,
    #[serde(default)]
    pub execute_once: bool,
    #[serde(default)]
    pub transparent: bool,
    #[serde(default = "yes")]
    pub removable: bool,
    #[serde(default = "empty_object")]
    pub settings: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookPart {
    pub key: String,
    pub name: String,
    pub kind: HookKind,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    pub timeout_seconds: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePart {
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub position: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPart {
    pub key: String,
    /// The key of its column.
    pub column: String,
    /// Its place in the column.
    pub position: String,
    pub number: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default = "empty_object")]
    pub agent_settings: Value,
    #[serde(default)]
    pub base_branch: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub pr_url: Option<String>,
    #[serde(default)]
    pub pr_number: Option<i32>,
    #[serde(default)]
    pub pr_status: Option<String>,
    /// The key of its parent task.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub auto_start: bool,
    /// Keys of the tasks that must be done before its agent starts.
    #[serde(default)]
    pub blocked_by: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn empty_object() -> Value {
    json!({})
}

fn yes() -> bool {
    true
}

/// The board as a document, read in one consistent snapshot.
pub async fn export(pool: &PgPool, board_id: Uuid) -> Result<BoardDocument> {
    let mut tx = pool.begin().await?;
    rows::read_only_snapshot(&mut tx).await?;
    let board = super::boards::existing(&mut tx, board_id).await?;
    let repository = match board.repository_id {
        Some(id) => crate::db::repositories::get(&mut tx, id).await?.map(|repository| repository.path),
        None => None,
    };
    let columns = rows::columns(&mut tx, board_id).await?;
    let attachments = rows::column_hooks(&mut tx, board_id).await?;
    let hooks = crate::db::hooks::list(&mut tx, board_id).await?;
    let templates = rows::templates(&mut tx, board_id).await?;
    let tasks = crate::db::tasks::list(&mut tx, board_id, &TaskFilter::default()).await?;
    tx.commit().await?;
    Ok(BoardDocument {
        format: FORMAT.into(),
        version: VERSION,
        board: BoardPart {
            name: board.name,
            description: board.description,
            settings: board.settings,
            repository,
        },
        columns: columns
            .into_iter()
            .map(|column| ColumnPart {
                hooks: attachments
                    .iter()
                    .filter(|attached| attached.column_id == column.id)
                    .map(|attached| AttachmentPart {
                        hook: attached.hook_id.map(|id| id.to_string()),
                        builtin: attached.builtin.clone(),
                        position: attached.position.clone(),
                        execute_once: attached.execute_once,
                        transparent: attached.transparent,
                        removable: attached.removable,
                        settings: attached.settings.clone(),
                    })
                    .collect(),
                key: column.id.to_string(),
                name: column.name,
                color: column.color,
                role: column.role,
                position: column.position,
                hooks_enabled: column.hooks_enabled,
                max_concurrent: column.max_concurrent,
            })
            .collect(),
        hooks: hooks
            .into_iter()
            .map(|hook| HookPart {
                key: hook.id.to_string(),
                name: hook.name,
                kind: hook.kind,
                command: hook.command,
                prompt: hook.prompt,
                agent: hook.agent,
                timeout_seconds: hook.timeout_seconds,
            })
            .collect(),
        templates: templates
            .into_iter()
            .map(|template| TemplatePart {
                name: template.name,
                title: template.title,
                description: template.description,
                position: template.position,
            })
            .collect(),
        tasks: tasks
            .into_iter()
            .map(|task| TaskPart {
                key: task.id.to_string(),
                column: task.column_id.to_string(),
                position: task.position,
                number: task.number,
                title: task.title,
                description: task.description,
                agent: task.agent,
                agent_settings: task.agent_settings,
                base_branch: task.base_branch,
                branch: task.branch,
                pr_url: task.pr_url,
                pr_number: task.pr_number,
                pr_status: task.pr_status,
                parent: task.parent_task_id.map(|id| id.to_string()),
                auto_start: task.auto_start,
                blocked_by: task.blocked_by.iter().map(Uuid::to_string).collect(),
                created_at: task.created_at,
                updated_at: task.updated_at,
            })
            .collect(),
    })
}

/// A document from its JSON text: a newer version is refused as such, anything else
/// malformed with the path of the first bad field.
pub fn parse(text: &[u8]) -> Result<BoardDocument> {
    let value: Value = serde_json::from_slice(text)
        .map_err(|error| Error::invalid_request(format!("the file is not JSON: {error}")))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(Error::invalid(
            "format",
            format!("format: not a viban board document (\"format\": \"{FORMAT}\")"),
        ));
    }
    if let Some(version) = value.get("version").and_then(Value::as_u64)
        && version > u64::from(VERSION)
    {
        return Err(Error::invalid(
            "version",
            format!(
                "version: this board document is version {version}, written by a newer viban; this viban \
                 reads versions up to {VERSION}. Update viban (`viban update`) and import it again"
            ),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        Error::invalid(path.clone(), format!("{path}: {}", error.inner()))
    })
}

/// Creates a new board from the document, all or nothing; returns its id. Tasks keep
/// their numbers and positions; no hook fires (as with `board::tasks::create_imported`).
pub async fn import(pool: &PgPool, home: &crate::home::Home, document: BoardDocument) -> Result<Uuid> {
    let checked = check(&document)?;
    let repository_id = match &document.board.repository {
        Some(path) if std::path::Path::new(path).is_dir() => {
            super::repositories::link(pool, home, Some(path.clone()), None)
                .await
                .ok()
                .map(|view| view.repository.id)
        }
        _ => None,
    };
    let mut tx = pool.begin().await?;
    let board = rows::insert(&mut tx, &checked.name, &checked.description, repository_id).await?;
    let edit = crate::db::boards::BoardEdit {
        settings: Some(document.board.settings.clone()),
        ..Default::default()
    };
    let board =
        rows::update(&mut tx, board.id, edit).await?.ok_or_else(|| Error::not_found("board", board.id))?;
    let mut hook_ids: HashMap<&str, Uuid> = HashMap::new();
    for hook in &document.hooks {
        let definition = super::hooks::definition(super::hooks::HookRequest {
            name: hook.name.clone(),
            kind: hook.kind,
            command: hook.command.clone(),
            prompt: hook.prompt.clone(),
            agent: hook.agent.clone(),
            timeout_seconds: Some(hook.timeout_seconds),
        })?;
        let made = crate::db::hooks::insert(&mut tx, board.id, &definition).await?;
        hook_ids.insert(&hook.key, made.id);
    }
    let mut column_ids: HashMap<&str, Uuid> = HashMap::new();
    for column in &document.columns {
        let new = NewColumn { name: column.name.clone(), color: column.color.clone(), role: column.role };
        let made = crate::db::columns::insert(&mut tx, board.id, &new, &column.position).await?;
        let changes = ColumnChanges {
            hooks_enabled: Some(column.hooks_enabled),
            max_concurrent: Some(column.max_concurrent),
            ..Default::default()
        };
        crate::db::columns::update(&mut tx, made.id, changes).await?;
        column_ids.insert(&column.key, made.id);
        for attached in &column.hooks {
            let attachment = NewAttachment {
                hook_id: attached.hook.as_deref().and_then(|key| hook_ids.get(key).copied()),
                builtin: attached.builtin.as_deref(),
                execute_once: attached.execute_once,
                transparent: attached.transparent,
                removable: attached.removable,
                settings: attached.settings.clone(),
            };
            crate::db::hooks::insert_attachment(&mut tx, made.id, &attachment, &attached.position).await?;
        }
    }
    for template in &document.templates {
        let fields = TemplateRequest {
            name: Some(template.name.clone()),
            title: Some(template.title.clone()),
            description: Some(template.description.clone()),
        };
        crate::db::templates::insert(&mut tx, board.id, fields, &template.position).await?;
    }
    let highest = document.tasks.iter().map(|task| task.number).max().unwrap_or(0);
    imports::reserve_numbers(&mut tx, board.id, highest).await?;
    let task_rows: Vec<TaskRow> = document
        .tasks
        .iter()
        .zip(checked.tasks)
        .map(|(task, (title, description))| TaskRow {
            column_id: column_ids.get(task.column.as_str()).copied().unwrap_or_default(),
            position: task.position.clone(),
            number: task.number,
            title,
            description,
            work: TaskWork {
                agent: task.agent.clone(),
                base_branch: task.base_branch.clone(),
                branch: task.branch.clone(),
                worktree_path: None,
                pr_url: task.pr_url.clone(),
                pr_number: task.pr_number,
                pr_status: task.pr_status.clone(),
            },
            auto_start: task.auto_start,
            agent_settings: task.agent_settings.clone(),
            created_at: *task.created_at,
            updated_at: *task.updated_at,
        })
        .collect();
    let created = imports::insert_tasks(&mut tx, board.id, &task_rows).await?;
    let task_ids: HashMap<&str, Uuid> =
        document.tasks.iter().zip(&created).map(|(task, row)| (task.key.as_str(), row.id)).collect();
    let (children, parents): (Vec<Uuid>, Vec<Uuid>) = document
        .tasks
        .iter()
        .filter_map(|task| Some((task_ids[task.key.as_str()], *task_ids.get(task.parent.as_deref()?)?)))
        .unzip();
    imports::set_parents(&mut tx, &children, &parents).await?;
    let (blocked, blockers): (Vec<Uuid>, Vec<Uuid>) = document
        .tasks
        .iter()
        .flat_map(|task| task.blocked_by.iter().map(move |blocker| (task, blocker)))
        .filter_map(|(task, blocker)| Some((task_ids[task.key.as_str()], *task_ids.get(blocker.as_str())?)))
        .unzip();
    imports::insert_blockers(&mut tx, &blocked, &blockers).await?;
    events::publish_on_board(&mut tx, board.id, EventKind::BoardCreated, &json!(board)).await?;
    tx.commit().await?;
    Ok(board.id)
}

/// The document's checked names and texts.
struct Checked {
    name: String,
    description: String,
    /// Each task's title and description.
    tasks: Vec<(String, String)>,
}

/// Everything an import needs to hold before it writes: limits, well-formed positions,
/// keys that resolve, no two columns at one position.
fn check(document: &BoardDocument) -> Result<Checked> {
    let position = |field: String, key: &str| {
        if crate::position::is_valid(key) {
            Ok(())
        } else {
            Err(Error::invalid(field.clone(), format!("{field}: '{key}' is not a position")))
        }
    };
    let name = required_text("board.name", &document.board.name, BOARD_NAME_MAX)?;
    let description = bounded_text("board.description", &document.board.description, BOARD_DESCRIPTION_MAX)?;
    settings_object("board.settings", &document.board.settings)?;
    optional_text("board.repository", document.board.repository.clone(), PATH_MAX)?;
    if document.columns.is_empty() {
        return Err(Error::invalid("columns", "columns: a board needs at least one column"));
    }
    let hook_keys: HashSet<&str> = document.hooks.iter().map(|hook| hook.key.as_str()).collect();
    let mut column_keys = HashSet::new();
    let mut column_positions = HashSet::new();
    for (index, column) in document.columns.iter().enumerate() {
        let field = |name: &str| format!("columns[{index}].{name}");
        required_text(&field("name"), &column.name, COLUMN_NAME_MAX)?;
        position(field("position"), &column.position)?;
        if !column_keys.insert(column.key.as_str()) {
            return Err(Error::invalid(
                field("key"),
                format!("{}: another column has this key", field("key")),
            ));
        }
        if !column_positions.insert(column.position.as_str()) {
            return Err(Error::invalid(
                field("position"),
                format!("{}: another column has it", field("position")),
            ));
        }
        if column.max_concurrent.is_some_and(|max| max < 1) {
            return Err(Error::invalid(
                field("max_concurrent"),
                format!("{}: must be at least 1", field("max_concurrent")),
            ));
        }
        let mut attachment_positions = HashSet::new();
        for (at, attached) in column.hooks.iter().enumerate() {
            let field = |name: &str| format!("columns[{index}].hooks[{at}].{name}");
            position(field("position"), &attached.position)?;
            if !attachment_positions.insert(attached.position.as_str()) {
                return Err(Error::invalid(
                    field("position"),
                    format!("{}: another hook of the column has it", field("position")),
                ));
            }
            settings_object(&field("settings"), &attached.settings)?;
            match (&attached.hook, &attached.builtin) {
                (Some(key), None) if hook_keys.contains(key.as_str()) => {}
                (Some(key), None) => {
                    return Err(Error::invalid(
                        field("hook"),
                        format!("{}: no hook with key {key}", field("hook")),
                    ));
                }
                (None, Some(builtin)) if crate::hooks::builtin(builtin).is_some() => {}
                (None, Some(builtin)) => {
                    return Err(Error::invalid(
                        field("builtin"),
                        format!("{}: unknown built-in '{builtin}'", field("builtin")),
                    ));
                }
                _ => {
                    return Err(Error::invalid(
                        field("hook"),
                        format!("{}: give exactly one of hook or builtin", field("hook")),
                    ));
                }
            }
        }
    }
    for (index, template) in document.templates.iter().enumerate() {
        let field = |name: &str| format!("templates[{index}].{name}");
        required_text(&field("name"), &template.name, TEMPLATE_NAME_MAX)?;
        bounded_text(&field("title"), &template.title, TITLE_MAX)?;
        bounded_text(&field("description"), &template.description, TEXT_MAX)?;
        position(field("position"), &template.position)?;
    }
    let task_keys: HashSet<&str> = document.tasks.iter().map(|task| task.key.as_str()).collect();
    if task_keys.len() != document.tasks.len() {
        return Err(Error::invalid("tasks", "tasks: two tasks have the same key"));
    }
    let mut numbers = HashSet::new();
    let mut tasks = Vec::with_capacity(document.tasks.len());
    for (index, task) in document.tasks.iter().enumerate() {
        let field = |name: &str| format!("tasks[{index}].{name}");
        if !column_keys.contains(task.column.as_str()) {
            return Err(Error::invalid(
                field("column"),
                format!("{}: no column with key {}", field("column"), task.column),
            ));
        }
        position(field("position"), &task.position)?;
        if task.number < 1 || !numbers.insert(task.number) {
            return Err(Error::invalid(
                field("number"),
                format!("{}: must be positive and unique", field("number")),
            ));
        }
        optional_text(&field("agent"), task.agent.clone(), NAME_MAX)?;
        optional_text(&field("base_branch"), task.base_branch.clone(), NAME_MAX)?;
        optional_text(&field("branch"), task.branch.clone(), NAME_MAX)?;
        settings_object(&field("agent_settings"), &task.agent_settings)?;
        if let Some(status) = &task.pr_status
            && !["open", "draft", "merged", "closed"].contains(&status.as_str())
        {
            return Err(Error::invalid(
                field("pr_status"),
                format!("{}: open, draft, merged or closed", field("pr_status")),
            ));
        }
        for key in task.parent.iter().chain(&task.blocked_by) {
            if !task_keys.contains(key.as_str()) {
                return Err(Error::invalid(
                    field("parent"),
                    format!("{}: no task with key {key}", field("parent")),
                ));
            }
        }
        tasks.push((
            required_text(&field("title"), &task.title, TITLE_MAX)?,
            bounded_text(&field("description"), &task.description, TEXT_MAX)?,
        ));
    }
    Ok(Checked { name, description, tasks })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/board-document.schema.json` is the JSON Schema of [`BoardDocument`], kept
    /// equal to the type here.
    #[test]
    fn board_document_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/board-document.schema.json");
        let current = serde_json::to_value(schemars::schema_for!(BoardDocument)).unwrap();
        if std::env::var_os("VIBAN_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, serde_json::to_string_pretty(&current).unwrap() + "\n").unwrap();
        }
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or(Value::Null);
        assert!(
            committed == current,
            "docs/board-document.schema.json is stale; refresh it with \
             `VIBAN_UPDATE_SCHEMA=1 cargo test --lib board_document_schema`"
        );
    }

    #[test]
    fn a_newer_version_is_refused_before_anything_else_is_read() {
        let text = br#"{"format": "viban.board", "version": 9, "board": 5}"#;
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains("version 9") && error.contains("up to 1"), "{error}");
        let wrong =
            br#"{"format": "viban.board", "version": 1, "board": {"name": "x"}, "columns": [{"key": 1}]}"#;
        assert!(parse(wrong).unwrap_err().to_string().starts_with("columns[0].key: invalid type"));
    }
}
