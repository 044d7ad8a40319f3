//! Vibe Kanban Cloud's export archive (a `.zip`): `issues.csv` (issues by simple id,
//! `API-1`), `projects.csv`, `users.csv`, `attachments.csv` and the files under
//! `attachments/<issue>/`. Statuses are names (`Backlog`, `To do`, …); priority,
//! assignees and dates have no field of their own here and go into a header above the
//! description.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::vibe_kanban::parse_timestamp;
use super::{Attachment, ImportError, Project, Source, SourceTask};

/// Attachments larger than this are left out (and said so): an export is read whole.
const ATTACHMENT_MAX: u64 = 50 * 1024 * 1024;

pub(crate) fn read(path: &Path) -> Result<Source, ImportError> {
    let bad = |reason: String| ImportError::NotVibeKanban { path: path.to_path_buf(), reason };
    let file = std::fs::File::open(path)
        .map_err(|error| ImportError::Unreadable { path: path.to_path_buf(), reason: error.to_string() })?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|error| bad(format!("it is not a readable zip archive: {error}")))?;
    let mut text_of = |name: &str| -> Result<Option<String>, ImportError> {
        let mut entry = match archive.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(error) => return Err(bad(format!("{name}: {error}"))),
        };
        let mut text = String::new();
        entry.read_to_string(&mut text).map_err(|error| bad(format!("{name}: {error}")))?;
        Ok(Some(text))
    };
    let issues = text_of("issues.csv")?.ok_or_else(|| {
        bad("it has no issues.csv: a Vibe Kanban Cloud export holds issues.csv, projects.csv and attachments/".into())
    })?;
    let projects_csv = text_of("projects.csv")?.unwrap_or_default();
    let attachments_csv = text_of("attachments.csv")?.unwrap_or_default();

    let issues = Table::parse(&issues).map_err(|reason| bad(format!("issues.csv: {reason}")))?;
    for column in ["Issue ID", "Title", "Status", "Project"] {
        if !issues.has(column) {
            return Err(bad(format!("issues.csv has no \"{column}\" column")));
        }
    }
    let mut order: Vec<String> = Vec::new();
    if let Ok(projects) = Table::parse(&projects_csv) {
        order.extend(projects.rows.iter().map(|row| projects.get(row, "Name").to_string()));
    }
    let mut by_project: HashMap<String, Vec<SourceTask>> = HashMap::new();
    for row in &issues.rows {
        let field = |name: &str| issues.get(row, name).trim().to_string();
        let simple_id = field("Issue ID");
        if simple_id.is_empty() {
            continue;
        }
        let mut header = Vec::new();
        for (label, column) in
            [("Priority", "Priority"), ("Assignees", "Assignee(s)"), ("Creator", "Creator")]
        {
            let value = field(column);
            if !value.is_empty() {
                header.push(format!("**{label}:** {value}"));
            }
        }
        for (label, column) in [("Start", "Start Date"), ("Due", "Due Date"), ("Completed", "Completed")] {
            let value = field(column);
            if !value.is_empty() {
                header.push(format!("**{label}:** {value}"));
            }
        }
        header.push(format!("*Imported from Vibe Kanban Cloud issue {simple_id}.*"));
        let project = field("Project");
        if !order.contains(&project) {
            order.push(project.clone());
        }
        by_project.entry(project).or_default().push(SourceTask {
            id: simple_id,
            title: field("Title"),
            description: issues.get(row, "Description").to_string(),
            status: field("Status"),
            created_at: parse_timestamp(&field("Created")),
            updated_at: parse_timestamp(&field("Updated")),
            parent_id: Some(field("Parent Issue")).filter(|parent| !parent.is_empty()),
            header: Some(header.join(" · ")),
            attempt: None,
            attempts: 0,
            attachments: Vec::new(),
        });
    }
    if let Ok(attachments) = Table::parse(&attachments_csv) {
        let tasks: HashMap<&str, (&str, usize)> = by_project
            .iter()
            .flat_map(|(project, tasks)| {
                tasks
                    .iter()
                    .enumerate()
                    .map(move |(index, task)| (task.id.as_str(), (project.as_str(), index)))
            })
            .collect();
        let mut found: Vec<(String, usize, Attachment)> = Vec::new();
        for row in &attachments.rows {
            let issue = attachments.get(row, "Issue ID").trim();
            let Some((project, index)) = tasks.get(issue) else { continue };
            let name = attachments.get(row, "Filename").trim().to_string();
            let inside = attachments.get(row, "File Path in ZIP").trim().to_string();
            let content = match archive.by_name(&inside) {
                Ok(entry) if entry.size() > ATTACHMENT_MAX => {
                    Err(format!("larger than {ATTACHMENT_MAX} bytes"))
                }
                Ok(mut entry) => {
                    let mut bytes = Vec::new();
                    entry.read_to_end(&mut bytes).map(|_| bytes).map_err(|error| error.to_string())
                }
                Err(error) => Err(format!("{inside}: {error}")),
            };
            let attachment = Attachment {
                name,
                content_type: attachments.get(row, "Content Type").trim().to_string(),
                content: content.as_ref().ok().cloned(),
                problem: content.err(),
            };
            found.push((project.to_string(), *index, attachment));
        }
        for (project, index, attachment) in found {
            if let Some(task) = by_project.get_mut(&project).and_then(|tasks| tasks.get_mut(index)) {
                task.attachments.push(attachment);
            }
        }
    }
    let projects = order
        .into_iter()
        .filter(|name| !name.is_empty())
        .map(|name| Project {
            id: name.clone(),
            tasks: by_project.remove(&name).unwrap_or_default(),
            name,
            repository: None,
            note: Some("a cloud project names no local repository: link one in the board's settings".into()),
        })
        .collect();
    Ok(Source { projects, ..Source::default() })
}

/// A CSV file (RFC 4180: quoted fields may hold commas, quotes doubled, newlines) with
/// a header row.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse(text: &str) -> Result<Self, String> {
        let mut records = records(text.trim_start_matches('\u{feff}'))?.into_iter();
        let header = records.next().ok_or("it is empty")?;
        Ok(Self { header, rows: records.filter(|row| row.iter().any(|field| !field.is_empty())).collect() })
    }

    fn has(&self, column: &str) -> bool {
        self.header.iter().any(|name| name.trim() == column)
    }

    fn get<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        self.header
            .iter()
            .position(|name| name.trim() == column)
            .and_then(|index| row.get(index))
            .map_or("", String::as_str)
    }
}

fn records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n' | '\r') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_quotes_and_newlines() {
        let table = Table::parse("A,B\r\n\"x, \"\"y\"\"\",\"line one\nline two\"\r\nplain,\r\n").unwrap();
        assert_eq!(table.rows, vec![vec!["x, \"y\"", "line one\nline two"], vec!["plain", ""]]);
        assert!(Table::parse("A\n\"open").is_err());
    }
}
