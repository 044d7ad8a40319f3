//! The import report as the command line prints it: per board and task what was (or
//! would be) created, adopted or skipped, and why. It reads the report's JSON, so the
//! CLI prints exactly what the server answered.

use std::fmt::Write;

use serde_json::Value;

/// The report (`crate::import::ImportReport` as JSON) as lines of text.
pub fn render(report: &Value) -> String {
    let mut out = String::new();
    let dry = report["dry_run"].as_bool().unwrap_or(false);
    let _ = writeln!(out, "Source: {}", report["source"].as_str().unwrap_or("?"));
    if let Some(why) = report["chosen_because"].as_str() {
        let _ = writeln!(out, "  chosen because {why}");
    }
    if let Some(era) = report["era"].as_str() {
        let _ = writeln!(out, "  schema era {era}");
    }
    let create = if dry { "would create" } else { "created" };
    for board in report["boards"].as_array().into_iter().flatten() {
        let name = board["name"].as_str().unwrap_or("?");
        let action = match board["action"].as_str() {
            Some("create") => format!("{create} board"),
            Some("existing") => "board imported before; adding what is new to".into(),
            _ => "skipped board".into(),
        };
        let _ = writeln!(out, "\n{action} \"{name}\"");
        match board["repository"].as_str() {
            Some(repository) => {
                let _ = writeln!(out, "  repository {repository}");
            }
            None => {
                let _ = writeln!(out, "  no repository");
            }
        }
        for note in board["notes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  note: {}", note.as_str().unwrap_or_default());
        }
        for task in board["tasks"].as_array().into_iter().flatten() {
            let title = task["title"].as_str().unwrap_or("?");
            let column = task["column"].as_str().unwrap_or("?");
            let number = task["number"].as_i64().map(|number| format!("#{number} ")).unwrap_or_default();
            if task["action"] == "skip" || board["action"] == "skip" {
                let _ = writeln!(out, "  - skip {title}");
            } else {
                let _ = writeln!(out, "  + {number}{title} → {column}");
            }
            if let Some(branch) = task["branch"].as_str() {
                let _ = writeln!(out, "      branch {branch}");
            }
            match (task["worktree"].as_str(), task["worktree_path"].as_str()) {
                (Some("adopted"), Some(path)) => {
                    let _ = writeln!(out, "      worktree {path} adopted where it is");
                }
                (Some(_), Some(path)) => {
                    let _ = writeln!(out, "      worktree {path} gone");
                }
                _ => {}
            }
            if let (Some(agent), Some(session)) = (task["agent"].as_str(), task["resumes_session"].as_str()) {
                let _ = writeln!(out, "      {agent}: the next follow-up resumes session {session}");
            }
            if let Some(url) = task["pr_url"].as_str() {
                let _ = writeln!(out, "      pull request {url}");
            }
            for note in task["notes"].as_array().into_iter().flatten() {
                let _ = writeln!(out, "      note: {}", note.as_str().unwrap_or_default());
            }
        }
    }
    let totals = &report["totals"];
    let count = |name: &str| totals[name].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "\n{}: {} board(s) and {} task(s) {}, {} task(s) skipped; {} worktree(s) adopted, {} gone; {} agent \
         session(s) to resume.",
        if dry { "Dry run, nothing written" } else { "Imported" },
        count("boards_created"),
        count("tasks_created"),
        if dry { "to create" } else { "created" },
        count("tasks_skipped"),
        count("worktrees_adopted"),
        count("worktrees_gone"),
        count("sessions_resumable"),
    );
    out
}
