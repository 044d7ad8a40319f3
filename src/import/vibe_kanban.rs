//! Vibe Kanban's local SQLite database, read-only, in any of its three schema eras
//! (`docs/import.md`): **a** one repository per project, **b** several repositories
//! per project, **c** workspaces and sessions. The era is told by its tables and checked
//! against sqlx's `_sqlx_migrations`; ids are 16-byte BLOB UUIDs (or text), timestamps
//! UTC text in three spellings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Row};
use time::OffsetDateTime;

use super::{Attempt, ImportError, Project, PullRequest, Source, SourceTask};

/// The schema eras this reader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// `projects.git_repo_path`, `task_attempts.target_branch`.
    A,
    /// `repos`, `project_repos`, `attempt_repos`.
    B,
    /// `workspaces`, `workspace_repos`, `sessions`, `coding_agent_turns`, `pull_requests`.
    C,
}

impl Era {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::A => "a (one repository per project)",
            Self::B => "b (several repositories per project)",
            Self::C => "c (workspaces and sessions)",
        }
    }
}

/// Reads the whole database at `path`.
pub(crate) fn read(path: &Path) -> Result<Source, ImportError> {
    let unreadable = |error: rusqlite::Error| ImportError::Unreadable {
        path: path.to_path_buf(),
        reason: format!(
            "{error}. It is not a complete SQLite database: copy it again from Vibe Kanban's data \
             directory (with Vibe Kanban stopped)"
        ),
    };
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(unreadable)?;
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .map_err(unreadable)?;
    let has = |name: &str| tables.iter().any(|table| table == name);
    if !has("tasks") || !has("projects") || !has("_sqlx_migrations") {
        return Err(ImportError::NotVibeKanban {
            path: path.to_path_buf(),
            reason: "it has no `projects`, `tasks` and `_sqlx_migrations` tables".into(),
        });
    }
    let era = if has("workspaces") {
        Era::C
    } else if has("project_repos") {
        Era::B
    } else {
        Era::A
    };
    let migration: Option<i64> = connection
        .query_row("SELECT max(version) FROM _sqlx_migrations WHERE success", [], |row| row.get(0))
        .map_err(unreadable)?;
    let reader = Reader { connection: &connection, era };
    let mut source = reader.read().map_err(unreadable)?;
    source.era = Some(format!("{}, migration {}", era.name(), migration.unwrap_or_default()));
    Ok(source)
}

struct Reader<'a> {
    connection: &'a Connection,
    era: Era,
}

impl Reader<'_> {
    fn rows<T>(
        &self,
        sql: &str,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut statement = self.connection.prepare(sql)?;
        let rows = statement.query_map([], map)?;
        rows.collect()
    }

    fn has_column(&self, table: &str, column: &str) -> rusqlite::Result<bool> {
        let columns = self.rows(&format!("PRAGMA table_info({table})"), |row| row.get::<_, String>(1))?;
        Ok(columns.iter().any(|name| name == column))
    }

    fn read(&self) -> rusqlite::Result<Source> {
        let era = self.era;
        // Projects and their (first) repository.
        let projects: Vec<(String, String, Option<String>, Option<String>)> = match era {
            Era::A => self.rows(
                "SELECT id, name, git_repo_path, NULL FROM projects ORDER BY created_at, rowid",
                |row| Ok((id(row, 0)?, text(row, 1)?, opt_text(row, 2)?, opt_text(row, 3)?)),
            )?,
            Era::B | Era::C => self.rows(
                "SELECT p.id, p.name,
                        (SELECT r.path FROM project_repos pr JOIN repos r ON r.id = pr.repo_id
                         WHERE pr.project_id = p.id ORDER BY r.created_at, r.rowid LIMIT 1),
                        (SELECT group_concat(r.path, ', ') FROM project_repos pr JOIN repos r ON r.id = pr.repo_id
                         WHERE pr.project_id = p.id)
                 FROM projects p ORDER BY p.created_at, p.rowid",
                |row| Ok((id(row, 0)?, text(row, 1)?, opt_text(row, 2)?, opt_text(row, 3)?)),
            )?,
        };
        let parent_column = if era == Era::C { "parent_workspace_id" } else { "parent_task_attempt" };
        let has_parent = self.has_column("tasks", parent_column)?;
        let tasks_sql = format!(
            "SELECT id, project_id, title, description, status, created_at, updated_at, {} FROM tasks",
            if has_parent { parent_column } else { "NULL" }
        );
        let tasks = self.rows(&tasks_sql, |row| {
            Ok((
                id(row, 1)?,
                SourceTask {
                    id: id(row, 0)?,
                    title: text(row, 2)?,
                    description: opt_text(row, 3)?.unwrap_or_default(),
                    status: text(row, 4)?,
                    created_at: timestamp(row, 5)?,
                    updated_at: timestamp(row, 6)?,
                    parent_id: None,
                    header: None,
                    attempt: None,
                    attempts: 0,
                    attachments: Vec::new(),
                },
                opt_id(row, 7)?,
            ))
        })?;
        let attempts = self.attempts()?;
        let sessions = self.sessions()?;
        let pulls = self.pull_requests()?;

        let attempt_task: HashMap<&str, &str> =
            attempts.iter().map(|(task, attempt)| (attempt.id.as_str(), task.as_str())).collect();
        let mut by_task: HashMap<String, Vec<Attempt>> = HashMap::new();
        for (task, attempt) in &attempts {
            by_task.entry(task.clone()).or_default().push(attempt.clone());
        }
        let mut by_project: HashMap<String, Vec<SourceTask>> = HashMap::new();
        for (project, mut task, parent_attempt) in tasks {
            task.parent_id = parent_attempt
                .and_then(|attempt| attempt_task.get(attempt.as_str()).map(|task| task.to_string()));
            if let Some(mut attempts) = by_task.remove(&task.id) {
                task.attempts = attempts.len();
                // The latest attempt is the one that counts.
                attempts.sort_by_key(|attempt| attempt.created_at);
                if let Some(mut latest) = attempts.pop() {
                    if let Some((session, prompt)) = sessions.get(&latest.id) {
                        latest.session_id = Some(session.clone());
                        latest.prompt = prompt.clone();
                    }
                    latest.pr = pulls.get(&latest.id).cloned();
                    task.attempt = Some(latest);
                }
            }
            by_project.entry(project).or_default().push(task);
        }
        let projects = projects
            .into_iter()
            .map(|(id, name, repository, all_repositories)| {
                let others = all_repositories
                    .filter(|all| all.contains(", "))
                    .map(|all| format!("the project has several repositories ({all}); the first is linked"));
                Project {
                    tasks: by_project.remove(&id).unwrap_or_default(),
                    id,
                    name,
                    repository: repository.filter(|path| !path.is_empty()).map(PathBuf::from),
                    note: others,
                }
            })
            .collect();
        Ok(Source { projects, ..Source::default() })
    }

    /// Every attempt (a workspace in era c) with its task: branch, base, worktree, agent.
    fn attempts(&self) -> rusqlite::Result<Vec<(String, Attempt)>> {
        let map = |row: &Row<'_>| {
            let container: Option<String> = opt_text(row, 3)?;
            let repository_name: Option<String> = opt_text(row, 6)?;
            // Era c (and multi-repository era b) keep each repository's worktree in
            // `container_ref/<repository name>`.
            let worktree = container.map(|container| {
                let nested = repository_name.map(|name| Path::new(&container).join(name));
                match nested {
                    Some(nested) if nested.exists() || self.era == Era::C => nested,
                    _ => PathBuf::from(container),
                }
            });
            Ok((
                id(row, 1)?,
                Attempt {
                    id: id(row, 0)?,
                    branch: opt_text(row, 2)?.filter(|branch| !branch.is_empty()),
                    worktree,
                    base_branch: opt_text(row, 4)?,
                    executor: opt_text(row, 5)?,
                    deleted: row.get::<_, Option<bool>>(7)?.unwrap_or(false),
                    created_at: timestamp(row, 8)?,
                    session_id: None,
                    prompt: None,
                    pr: None,
                },
            ))
        };
        match self.era {
            Era::A => self.rows(
                "SELECT a.id, a.task_id, a.branch, a.container_ref, a.target_branch, a.executor, NULL,
                        a.worktree_deleted, a.created_at
                 FROM task_attempts a",
                map,
            ),
            Era::B => self.rows(
                "SELECT a.id, a.task_id, a.branch, a.container_ref,
                        (SELECT ar.target_branch FROM attempt_repos ar WHERE ar.attempt_id = a.id LIMIT 1),
                        a.executor,
                        (SELECT r.name FROM attempt_repos ar JOIN repos r ON r.id = ar.repo_id
                         WHERE ar.attempt_id = a.id LIMIT 1),
                        NULL, a.created_at
                 FROM task_attempts a",
                map,
            ),
            Era::C => self.rows(
                "SELECT w.id, w.task_id, w.branch, w.container_ref,
                        (SELECT wr.target_branch FROM workspace_repos wr WHERE wr.workspace_id = w.id LIMIT 1),
                        (SELECT s.executor FROM sessions s WHERE s.workspace_id = w.id
                         ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1),
                        (SELECT r.name FROM workspace_repos wr JOIN repos r ON r.id = wr.repo_id
                         WHERE wr.workspace_id = w.id LIMIT 1),
                        w.worktree_deleted, w.created_at
                 FROM workspaces w WHERE w.task_id IS NOT NULL",
                map,
            ),
        }
    }

    /// Per attempt, the latest agent session id and its prompt.
    fn sessions(&self) -> rusqlite::Result<HashMap<String, (String, Option<String>)>> {
        let sql = match self.era {
            Era::A | Era::B => {
                "SELECT task_attempt_id, session_id, prompt FROM executor_sessions
                 WHERE session_id IS NOT NULL AND session_id <> '' ORDER BY created_at, rowid"
            }
            Era::C => {
                "SELECT s.workspace_id, t.agent_session_id, t.prompt
                 FROM coding_agent_turns t
                 JOIN execution_processes e ON e.id = t.execution_process_id
                 JOIN sessions s ON s.id = e.session_id
                 WHERE t.agent_session_id IS NOT NULL AND t.agent_session_id <> ''
                 ORDER BY t.created_at, t.rowid"
            }
        };
        // Later rows replace earlier ones: the latest session wins.
        let rows = self.rows(sql, |row| Ok((id(row, 0)?, text(row, 1)?, opt_text(row, 2)?)))?;
        Ok(rows.into_iter().map(|(attempt, session, prompt)| (attempt, (session, prompt))).collect())
    }

    /// Per attempt, its latest pull request.
    fn pull_requests(&self) -> rusqlite::Result<HashMap<String, PullRequest>> {
        let map = |row: &Row<'_>| {
            Ok((id(row, 0)?, PullRequest { url: text(row, 1)?, number: row.get(2)?, status: text(row, 3)? }))
        };
        let mut rows = match self.era {
            Era::A | Era::B => self.rows(
                "SELECT task_attempt_id, pr_url, pr_number, pr_status FROM merges
                 WHERE merge_type = 'pr' AND pr_url IS NOT NULL ORDER BY created_at, rowid",
                map,
            )?,
            Era::C => self.rows(
                "SELECT workspace_id, pr_url, pr_number, pr_status FROM merges
                 WHERE merge_type = 'pr' AND pr_url IS NOT NULL ORDER BY created_at, rowid",
                map,
            )?,
        };
        if self.era == Era::C {
            rows.extend(self.rows(
                "SELECT workspace_id, pr_url, pr_number, pr_status FROM pull_requests
                 WHERE workspace_id IS NOT NULL ORDER BY created_at, rowid",
                map,
            )?);
        }
        Ok(rows.into_iter().collect())
    }
}

fn text(row: &Row<'_>, index: usize) -> rusqlite::Result<String> {
    Ok(opt_text(row, index)?.unwrap_or_default())
}

fn opt_text(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get::<_, Value>(index)? {
        Value::Null => None,
        Value::Text(text) => Some(text),
        Value::Integer(number) => Some(number.to_string()),
        Value::Real(number) => Some(number.to_string()),
        Value::Blob(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
    })
}

fn id(row: &Row<'_>, index: usize) -> rusqlite::Result<String> {
    Ok(opt_id(row, index)?.unwrap_or_default())
}

/// A UUID stored as 16 bytes (what Vibe Kanban writes) or as text, spelled as text.
fn opt_id(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get::<_, Value>(index)? {
        Value::Blob(bytes) => Some(match uuid::Uuid::from_slice(&bytes) {
            Ok(id) => id.to_string(),
            Err(_) => bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
        }),
        Value::Text(text) => Some(uuid::Uuid::parse_str(&text).map_or(text, |id| id.to_string())),
        Value::Integer(number) => Some(number.to_string()),
        Value::Null | Value::Real(_) => None,
    })
}

fn timestamp(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    Ok(opt_text(row, index)?.as_deref().and_then(parse_timestamp))
}

/// `YYYY-MM-DD HH:MM:SS`, the same with `.SSS`, or RFC 3339; UTC unless an offset is given.
pub(crate) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    if let Ok(parsed) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(parsed);
    }
    let mut normal = text.replacen(' ', "T", 1);
    let date_time = normal.split_once('T').map(|(_, time)| time.to_string()).unwrap_or_default();
    if !date_time.contains(['Z', 'z', '+']) && !date_time.contains('-') {
        normal.push('Z');
    }
    OffsetDateTime::parse(&normal, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_timestamp_spellings_read_as_utc() {
        let plain = parse_timestamp("2025-11-03 09:15:30").unwrap();
        let millis = parse_timestamp("2025-11-03 09:15:30.123").unwrap();
        let rfc = parse_timestamp("2025-11-03T10:15:30.123+01:00").unwrap();
        assert_eq!(plain.unix_timestamp(), 1_762_161_330);
        assert_eq!(millis.unix_timestamp(), 1_762_161_330);
        assert_eq!(rfc, millis);
        assert_eq!(parse_timestamp("2026-01-05T09:00:00Z").map(|t| t.hour()), Some(9));
        assert!(parse_timestamp("yesterday").is_none());
    }
}
