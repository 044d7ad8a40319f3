//! What an agent is told: the first prompt of a task (`docs/hooks.md`: `# Task: <title>`,
//! `## Description`, `## Instructions`), the message of a later run, or
//! [`CONTINUE_PROMPT`] when a later run brings none.

use crate::db::tasks::Task;

pub const CONTINUE_PROMPT: &str = "Continue working on this task.";

/// The prompt of a run: the first prompt on the task's first run, else `message`.
pub(super) fn for_run(task: &Task, message: Option<&str>, first_run: bool) -> String {
    match (message, first_run) {
        (message, true) => first_prompt(task, message),
        (Some(message), false) => message.to_string(),
        (None, false) => CONTINUE_PROMPT.to_string(),
    }
}

/// `# Task: <title>`, `## Description`, `## Instructions`; empty ones left out.
fn first_prompt(task: &Task, instructions: Option<&str>) -> String {
    let mut prompt = format!("# Task: {}\n", task.title);
    if !task.description.trim().is_empty() {
        prompt.push_str(&format!("\n## Description\n\n{}\n", task.description.trim()));
    }
    if let Some(instructions) = instructions.filter(|text| !text.trim().is_empty()) {
        prompt.push_str(&format!("\n## Instructions\n\n{}\n", instructions.trim()));
    }
    prompt
}
