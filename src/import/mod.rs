//! `viban import vibe-kanban` (D9): Vibe Kanban's boards brought over, losing nothing.
//! An adapter over the domain, like the API: it finds and reads the source
//! ([`vibe_kanban`]: the local SQLite database in any of its schema eras; [`cloud`]: the
//! cloud's export archive), decides what each project and task becomes (the report, which
//! `--dry-run` stops at), and hands each board to `board::imports::import_board`.
//! `docs/import.md` describes the mapping.
//!
//! Worktrees are adopted where they are: a task keeps its branch and its worktree when
//! that directory is a worktree of the board's repository; nothing is moved, checked out
//! or deleted, and viban never removes a branch outside `viban/` (`worktree::Worktrees::remove`).

mod cloud;
mod render;
mod vibe_kanban;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

pub use render::render;

use crate::board::imports::{BoardOutcome, ImportedBoard};
use crate::board::tasks::{ImportedSession, ImportedTask, TaskWork};
use crate::db::boards::ColumnRole;
use crate::home::Home;
use crate::limits::{TEXT_MAX, TITLE_MAX};

/// The `import_sources` names of the two kinds of source.
const LOCAL: &str = "vibe-kanban";
const CLOUD: &str = "vibe-kanban-cloud";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    NotFound(String),
    #[error("{path} is not a Vibe Kanban database or export: {reason}")]
    NotVibeKanban { path: PathBuf, reason: String },
    #[error("could not read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(transparent)]
    Board(#[from] crate::board::Error),
}

impl From<ImportError> for crate::board::Error {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Board(error) => error,
            other => crate::board::Error::invalid("path", other.to_string()),
        }
    }
}

/// `POST /api/import/vibe-kanban`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// A Vibe Kanban data directory, a database file (`db.v2.sqlite`, `db.sqlite`) or a
    /// cloud export `.zip`, on the machine viban runs on. Default: Vibe Kanban's data
    /// directory for this OS.
    pub path: Option<String>,
    /// Say what would happen; write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an import did, or would do (`dry_run`): per board and task, what was created,
/// adopted or skipped, and why.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// The file read.
    pub source: String,
    /// Why that file (when a directory was given or none at all).
    pub chosen_because: Option<String>,
    /// `database` or `cloud_export`.
    pub kind: String,
    /// The database's schema era, when it is one.
    pub era: Option<String>,
    pub dry_run: bool,
    pub boards: Vec<BoardReport>,
    pub totals: Totals,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Totals {
    pub boards_created: usize,
    pub tasks_created: usize,
    pub tasks_skipped: usize,
    pub worktrees_adopted: usize,
    pub worktrees_gone: usize,
    pub sessions_resumable: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BoardReport {
    /// The Vibe Kanban project's id (its name in a cloud export).
    pub source_id: String,
    pub name: String,
    /// `create`, `existing` (imported before; only new tasks are added) or `skip`.
    pub action: String,
    pub board_id: Option<Uuid>,
    /// The repository linked, when the project's is a git repository here.
    pub repository: Option<String>,
    pub notes: Vec<String>,
    pub tasks: Vec<TaskReport>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TaskReport {
    pub source_id: String,
    pub title: String,
    /// `create` or `skip`.
    pub action: String,
    /// The role of the column it lands in.
    pub column: ColumnRole,
    pub task_id: Option<Uuid>,
    pub number: Option<i64>,
    pub branch: Option<String>,
    /// `adopted` (kept where it is), `gone`, or absent when it never had one.
    pub worktree: Option<String>,
    pub worktree_path: Option<String>,
    pub agent: Option<String>,
    pub resumes_session: Option<String>,
    pub pr_url: Option<String>,
    pub notes: Vec<String>,
}

/// What the readers produce, whatever the source.
#[derive(Debug, Default)]
pub(crate) struct Source {
    pub era: Option<String>,
    pub projects: Vec<Project>,
}

#[derive(Debug)]
pub(crate) struct Project {
    pub id: String,
    pub name: String,
    pub repository: Option<PathBuf>,
    pub note: Option<String>,
    pub tasks: Vec<SourceTask>,
}

#[derive(Debug, Clone)]
pub(crate) struct SourceTask {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Vibe Kanban's status (`todo`, `inprogress`, …) or, from the cloud, its name.
    pub status: String,
    pub created_at: Option<OffsetDateTime>,
    pub updated_at: Option<OffsetDateTime>,
    pub parent_id: Option<String>,
    /// Fields viban has no place for (priority, dates), shown above the description.
    pub header: Option<String>,
    /// The latest attempt, and how many there were.
    pub attempt: Option<Attempt>,
    pub attempts: usize,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub id: String,
    pub branch: Option<String>,
    pub base_branch: Option<String>,
    pub worktree: Option<PathBuf>,
    /// Vibe Kanban marked the worktree deleted.
    pub deleted: bool,
    pub executor: Option<String>,
    pub created_at: Option<OffsetDateTime>,
    pub session_id: Option<String>,
    pub prompt: Option<String>,
    pub pr: Option<PullRequest>,
}

#[derive(Debug, Clone)]
pub(crate) struct PullRequest {
    pub url: String,
    pub number: i64,
    pub status: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub name: String,
    pub content_type: String,
    pub content: Option<Vec<u8>>,
    /// Why it could not be read.
    pub problem: Option<String>,
}

/// Vibe Kanban's data directory for this OS: `~/.local/share/vibe-kanban`,
/// `~/Library/Application Support/ai.bloop.vibe-kanban`, `%APPDATA%\bloop\vibe-kanban\data`.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("ai", "bloop", "vibe-kanban").map(|dirs| dirs.data_dir().to_path_buf())
}

/// The file to read for `path` (default: the data directory), and why that one.
fn locate(path: Option<&str>) -> Result<(PathBuf, Option<String>), ImportError> {
    let (dir, given) = match path.filter(|path| !path.trim().is_empty()) {
        Some(path) => (PathBuf::from(path), true),
        None => (
            default_data_dir().ok_or_else(|| {
                ImportError::NotFound(
                    "this system has no home directory to find Vibe Kanban's data in".into(),
                )
            })?,
            false,
        ),
    };
    // Relative to what? The running viban's working folder is no answer a user expects.
    if !dir.is_absolute() {
        return Err(ImportError::NotFound(format!("'{}' is not an absolute path", dir.display())));
    }
    if dir.is_file() {
        return Ok((dir, None));
    }
    if !dir.is_dir() {
        return Err(ImportError::NotFound(if given {
            format!("{} does not exist", dir.display())
        } else {
            format!(
                "no Vibe Kanban data in {} (its data directory on this system); give the path of \
                 db.v2.sqlite, db.sqlite or a cloud export .zip",
                dir.display()
            )
        }));
    }
    let (v2, v1) = (dir.join("db.v2.sqlite"), dir.join("db.sqlite"));
    match (v2.is_file(), v1.is_file()) {
        (true, true) => Ok((
            v2,
            Some(
                "db.v2.sqlite is Vibe Kanban's current database; the db.sqlite beside it is what an upgrade \
                  left behind and may be stale"
                    .into(),
            ),
        )),
        (true, false) => Ok((v2, Some("db.v2.sqlite is Vibe Kanban's current database".into()))),
        (false, true) => Ok((v1, Some("there is no db.v2.sqlite: this Vibe Kanban predates it".into()))),
        (false, false) => {
            Err(ImportError::NotFound(format!("{} holds neither db.v2.sqlite nor db.sqlite", dir.display())))
        }
    }
}

/// Reads the source, decides what each project and task becomes and, unless
/// `request.dry_run`, imports it; the report either way.
pub async fn vibe_kanban(
    pool: &PgPool,
    home: &Home,
    request: ImportRequest,
) -> Result<ImportReport, ImportError> {
    let (path, chosen_because) = locate(request.path.as_deref())?;
    let is_zip = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("zip"));
    let reading = path.clone();
    let source =
        tokio::task::spawn_blocking(
            move || {
                if is_zip { cloud::read(&reading) } else { vibe_kanban::read(&reading) }
            },
        )
        .await
        .map_err(|error| ImportError::Unreadable { path: path.clone(), reason: error.to_string() })??;
    let namespace = if is_zip { CLOUD } else { LOCAL };
    let mut report = ImportReport {
        source: path.display().to_string(),
        chosen_because,
        kind: if is_zip { "cloud_export" } else { "database" }.into(),
        era: source.era.clone(),
        dry_run: request.dry_run,
        boards: Vec::new(),
        totals: Totals::default(),
    };
    let board_ids: Vec<String> = source.projects.iter().map(|project| project.id.clone()).collect();
    let task_ids: Vec<String> =
        source.projects.iter().flat_map(|project| project.tasks.iter().map(|task| task.id.clone())).collect();
    let known = crate::board::imports::known(pool, namespace, &board_ids, &task_ids).await?;

    for project in source.projects {
        let (board_report, imported, files) = plan(project, &known, home, namespace).await;
        let Some(mut imported) = imported.filter(|_| !request.dry_run) else {
            report.boards.push(board_report);
            continue;
        };
        let mut board_report = board_report;
        if board_report.action == "create"
            && let Some(repository) = &board_report.repository
        {
            let linked = crate::board::repositories::link(pool, home, Some(repository.clone()), None).await?;
            imported.repository_id = Some(linked.repository.id);
        }
        save_attachments(files, &mut board_report);
        match crate::board::imports::import_board(pool, namespace, imported).await? {
            BoardOutcome::Imported { board_id, tasks, .. } => {
                board_report.board_id = Some(board_id);
                let made: HashMap<String, crate::db::tasks::Task> = tasks.into_iter().collect();
                for task in &mut board_report.tasks {
                    if let Some(created) = made.get(&task.source_id) {
                        task.task_id = Some(created.id);
                        task.number = Some(created.number);
                    }
                }
            }
            BoardOutcome::DeletedSince { board_id } => {
                board_report.action = "skip".into();
                board_report.board_id = Some(board_id);
                board_report.notes.push("imported before and deleted since".into());
            }
        }
        report.boards.push(board_report);
    }
    for board in &report.boards {
        report.totals.boards_created += usize::from(board.action == "create");
        for task in &board.tasks {
            let created = task.action == "create" && board.action != "skip";
            report.totals.tasks_created += usize::from(created);
            report.totals.tasks_skipped += usize::from(!created);
            if created {
                report.totals.worktrees_adopted += usize::from(task.worktree.as_deref() == Some("adopted"));
                report.totals.worktrees_gone += usize::from(task.worktree.as_deref() == Some("gone"));
                report.totals.sessions_resumable += usize::from(task.resumes_session.is_some());
            }
        }
    }
    Ok(report)
}

/// What one project becomes: its report and, when anything is to be written, the board.
async fn plan(
    project: Project,
    known: &crate::board::imports::Known,
    home: &Home,
    namespace: &str,
) -> (BoardReport, Option<ImportedBoard>, Vec<(PathBuf, Vec<u8>)>) {
    let mut files = Vec::new();
    let mut report = BoardReport {
        source_id: project.id.clone(),
        name: project.name.clone(),
        action: "create".into(),
        board_id: None,
        repository: None,
        notes: project.note.iter().cloned().collect(),
        tasks: Vec::new(),
    };
    match known.boards.get(&project.id) {
        Some(mapped) if !mapped.exists => {
            report.action = "skip".into();
            report.board_id = Some(mapped.target_id);
            report.notes.push("imported before and deleted since".into());
            return (report, None, files);
        }
        Some(mapped) => {
            report.action = "existing".into();
            report.board_id = Some(mapped.target_id);
        }
        None => {}
    }
    // The repository, when it is one here, and its worktrees.
    let mut worktrees: HashSet<PathBuf> = HashSet::new();
    let repository = match &project.repository {
        Some(path) => match crate::git::toplevel(path).await {
            Ok(top) => {
                let listed =
                    crate::git::run(&top, &["worktree", "list", "--porcelain"], Duration::from_secs(30))
                        .await
                        .unwrap_or_default();
                worktrees = listed
                    .lines()
                    .filter_map(|line| line.strip_prefix("worktree "))
                    .map(|path| canonical(Path::new(path)))
                    .collect();
                Some(top)
            }
            Err(_) => {
                report.notes.push(format!(
                    "its repository {} is not a git repository here: the board has none (link one in its settings)",
                    path.display()
                ));
                None
            }
        },
        None => None,
    };
    report.repository = repository.as_ref().map(|top| top.display().to_string());

    let mut tasks = project.tasks;
    // Newest first in each column, as Vibe Kanban showed them.
    tasks.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.title.cmp(&b.title)));
    let mut imported = Vec::new();
    for task in tasks {
        let (task_report, task) =
            plan_task(task, known, repository.as_deref(), &worktrees, namespace, home, &mut files);
        report.tasks.push(task_report);
        imported.extend(task);
    }
    let board = (report.action == "create" || !imported.is_empty()).then(|| ImportedBoard {
        source_id: project.id,
        name: project.name,
        description: String::new(),
        repository_id: None,
        tasks: imported,
    });
    (report, board, files)
}

fn plan_task(
    task: SourceTask,
    known: &crate::board::imports::Known,
    repository: Option<&Path>,
    worktrees: &HashSet<PathBuf>,
    namespace: &str,
    home: &Home,
    files: &mut Vec<(PathBuf, Vec<u8>)>,
) -> (TaskReport, Option<ImportedTask>) {
    let mut notes = Vec::new();
    let role = role_of(&task.status).unwrap_or_else(|| {
        notes.push(format!("unknown status \"{}\": put in the todo column", task.status));
        ColumnRole::Todo
    });
    let mut title: String = task.title.trim().to_string();
    if title.is_empty() {
        title = "(untitled)".into();
        notes.push("it had no title".into());
    }
    if title.chars().count() > TITLE_MAX {
        title = title.chars().take(TITLE_MAX).collect();
        notes.push(format!("its title was cut to {TITLE_MAX} characters"));
    }
    let mut description = match &task.header {
        Some(header) if task.description.is_empty() => header.clone(),
        Some(header) => format!("{header}\n\n{}", task.description),
        None => task.description.clone(),
    };
    if !task.attachments.is_empty() {
        let dir = attachments_dir(home, namespace, &task.id);
        let lines: Vec<String> = task
            .attachments
            .iter()
            .map(|attachment| match &attachment.problem {
                None => format!(
                    "- {} ({}): {}",
                    attachment.name,
                    attachment.content_type,
                    dir.join(safe_name(&attachment.name)).display()
                ),
                Some(problem) => {
                    notes.push(format!("attachment {} left out: {problem}", attachment.name));
                    format!("- {} (not imported: {problem})", attachment.name)
                }
            })
            .collect();
        description =
            format!("{description}\n\n**Attachments**\n{}", lines.join("\n")).trim_start().to_string();
    }
    if description.chars().count() > TEXT_MAX {
        description = description.chars().take(TEXT_MAX).collect();
        notes.push(format!("its description was cut to {TEXT_MAX} characters"));
    }
    let mut report = TaskReport {
        source_id: task.id.clone(),
        title: title.clone(),
        action: "create".into(),
        column: role,
        task_id: None,
        number: None,
        branch: None,
        worktree: None,
        worktree_path: None,
        agent: None,
        resumes_session: None,
        pr_url: None,
        notes,
    };
    if let Some(mapped) = known.tasks.get(&task.id) {
        report.action = "skip".into();
        report.task_id = Some(mapped.target_id);
        report
            .notes
            .push(if mapped.exists { "imported before" } else { "imported before and deleted since" }.into());
        return (report, None);
    }
    let dir = attachments_dir(home, namespace, &task.id);
    for attachment in &task.attachments {
        if let Some(content) = &attachment.content {
            files.push((dir.join(safe_name(&attachment.name)), content.clone()));
        }
    }
    if task.attempts > 1 {
        report.notes.push(format!("{} attempts: the latest is imported", task.attempts));
    }
    let mut imported = ImportedTask {
        source_id: task.id,
        title,
        description,
        role,
        created_at: task.created_at,
        updated_at: task.updated_at,
        work: TaskWork::default(),
        parent_source_id: task.parent_id,
        session: None,
    };
    if let Some(attempt) = task.attempt {
        imported.work.base_branch = attempt.base_branch.clone();
        imported.work.branch = attempt.branch.clone();
        report.branch = attempt.branch.clone();
        let adopted = attempt.worktree.as_ref().filter(|path| {
            !attempt.deleted && repository.is_some() && path.is_dir() && worktrees.contains(&canonical(path))
        });
        match (adopted, &attempt.worktree) {
            (Some(path), _) => {
                imported.work.worktree_path = Some(path.display().to_string());
                report.worktree = Some("adopted".into());
                report.worktree_path = imported.work.worktree_path.clone();
            }
            (None, Some(path)) => {
                report.worktree = Some("gone".into());
                report.worktree_path = Some(path.display().to_string());
                let why = if attempt.deleted || !path.exists() {
                    "it no longer exists"
                } else if repository.is_none() {
                    "the board has no repository"
                } else {
                    "it is not a worktree of the board's repository"
                };
                report.notes.push(format!(
                    "worktree gone: {} ({why}); the next run starts a new one",
                    path.display()
                ));
            }
            (None, None) => {}
        }
        match attempt.executor.as_deref().map(agent_of) {
            Some(Some(agent)) => {
                imported.work.agent = Some(agent.to_string());
                report.agent = Some(agent.to_string());
                if let Some(session) = &attempt.session_id {
                    imported.session = Some(ImportedSession {
                        agent: agent.to_string(),
                        external_session_id: session.clone(),
                        prompt: attempt.prompt.clone().unwrap_or_default(),
                    });
                    report.resumes_session = Some(session.clone());
                }
            }
            Some(None) => report.notes.push(format!(
                "agent {} has no viban equivalent: the board's default agent runs it next",
                attempt.executor.as_deref().unwrap_or_default()
            )),
            None => {}
        }
        if let Some(pr) = attempt.pr {
            let status = pr.status.to_lowercase();
            imported.work.pr_status =
                ["open", "draft", "merged", "closed"].contains(&status.as_str()).then_some(status);
            imported.work.pr_number = i32::try_from(pr.number).ok();
            imported.work.pr_url = Some(pr.url.clone());
            report.pr_url = Some(pr.url);
        }
    }
    (report, Some(imported))
}

/// Vibe Kanban's status (or a cloud status name) as a column role.
fn role_of(status: &str) -> Option<ColumnRole> {
    let normal: String = status.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
    Some(match normal.as_str() {
        "todo" | "backlog" => ColumnRole::Todo,
        "inprogress" => ColumnRole::InProgress,
        "inreview" | "review" => ColumnRole::Review,
        "done" => ColumnRole::Done,
        "cancelled" | "canceled" => ColumnRole::Cancelled,
        _ => return None,
    })
}

/// Vibe Kanban's executor as a viban agent id.
fn agent_of(executor: &str) -> Option<&'static str> {
    Some(match executor.to_uppercase().replace('-', "_").as_str() {
        "CLAUDE_CODE" | "CLAUDE" => "claude-code",
        "CODEX" => "codex",
        "GEMINI" => "gemini",
        "OPENCODE" => "opencode",
        "CURSOR" | "CURSOR_AGENT" => "cursor-agent",
        "AMP" => "amp",
        _ => return None,
    })
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Where an imported task's attachments are kept: `<home>/attachments/<source>/<id>/`.
fn attachments_dir(home: &Home, namespace: &str, source_id: &str) -> PathBuf {
    home.root().join("attachments").join(namespace).join(safe_name(source_id))
}

/// A file name that stays inside its directory.
fn safe_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    match cleaned.trim_start_matches('.') {
        "" => "attachment".into(),
        rest => rest.to_string(),
    }
}

/// Writes the attachments of the tasks about to be created; one that cannot be written
/// is said so in the report, and its task is still imported.
fn save_attachments(files: Vec<(PathBuf, Vec<u8>)>, report: &mut BoardReport) {
    for (path, content) in files {
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, content));
        if let Err(error) = written {
            report.notes.push(format!("could not save the attachment {}: {error}", path.display()));
        }
    }
}
