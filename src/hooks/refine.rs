//! `builtin:refine`: one call of the task's agent ([`Runner::ask`]) that rewrites the
//! task's description into an objective, acceptance criteria and a scope. Nothing the
//! user wrote is lost: the new description ends with the original under
//! [`ORIGINAL_HEADING`] (a description refined before keeps its first original). The
//! description changes in the transaction that completes the hook, through the
//! domain's task edit, so `task.updated` is published with it.
//!
//! [`Runner::ask`]: crate::agents::run::Runner

use std::time::Duration;

use super::steps::Context;
use crate::agents::ask::Answer;
use crate::board::pipeline::Outcome;
use crate::db::tasks::Task;
use crate::limits::TEXT_MAX;

/// The heading the original request is kept under, at the end of the new description.
pub const ORIGINAL_HEADING: &str = "## Original request";
/// How long the agent may take.
const DEADLINE: Duration = Duration::from_secs(10 * 60);

pub(super) async fn run(context: &Context<'_>) -> Option<Outcome> {
    let task = match crate::board::tasks::get(context.pool, context.claimed.task_id).await {
        Ok(task) => task,
        Err(error) => return Some(failed(error.to_string())),
    };
    let answer = context.runner.ask(task.id, &prompt(&task), DEADLINE, context.cancel).await;
    let refined = match answer {
        Answer::Cancelled => return None,
        Answer::Failed(error) => return Some(failed(error)),
        Answer::Text(text) if text.trim().is_empty() => {
            return Some(failed("the agent answered with nothing; the description is unchanged"));
        }
        Answer::Text(text) => text,
    };
    let description = rewritten(&refined, &task.description);
    let length = description.chars().count();
    if length > TEXT_MAX {
        return Some(Outcome::Failed {
            error: format!(
                "the refined description would be {length} characters long; the limit is {TEXT_MAX}, so the \
                 description is unchanged"
            ),
            output: refined,
        });
    }
    Some(Outcome::Describe { was: task.description, description, output: refined })
}

fn failed(error: impl Into<String>) -> Outcome {
    Outcome::Failed { error: error.into(), output: String::new() }
}

/// What the agent is asked.
fn prompt(task: &Task) -> String {
    let request = match task.description.trim() {
        "" => "(no description: work from the title)",
        description => description,
    };
    format!(
        "Refine the task below into a clear description before a coding agent works on it. Read the \
         repository as much as you need to understand the request, but change nothing: no edits, no \
         commands that modify anything.\n\n\
         Reply with the new description only, in Markdown, with exactly these three sections and \
         nothing before or after them:\n\n\
         ## Objective\nWhat the task achieves and why, in a few sentences.\n\n\
         ## Acceptance criteria\nA checklist (`- [ ] …`) of observable results that show the task is done.\n\n\
         ## Scope\nWhat is in scope, and what is explicitly out of scope.\n\n\
         Keep every requirement the request states and invent none.\n\n\
         # Task: {title}\n\n{request}\n",
        title = task.title,
    )
}

/// The refined text, then the original request under [`ORIGINAL_HEADING`] (none if the
/// task had no description).
fn rewritten(refined: &str, description: &str) -> String {
    let original = original_request(description);
    if original.is_empty() {
        return format!("{}\n", refined.trim());
    }
    format!("{}\n\n{ORIGINAL_HEADING}\n\n{original}\n", refined.trim())
}

/// What the user first wrote: the part under [`ORIGINAL_HEADING`] of a description
/// refined before, else the whole description.
fn original_request(description: &str) -> &str {
    let heading = format!("\n{ORIGINAL_HEADING}\n");
    match description.rfind(&heading) {
        Some(at) => description[at + heading.len()..].trim(),
        None => description.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_request_is_kept_once_however_often_a_task_is_refined() {
        let refined = "## Objective\nGreet.\n";
        let once = rewritten(refined, "say hi");
        assert_eq!(once, "## Objective\nGreet.\n\n## Original request\n\nsay hi\n");
        let twice = rewritten("## Objective\nGreet politely.", &once);
        assert_eq!(twice, "## Objective\nGreet politely.\n\n## Original request\n\nsay hi\n");
        assert_eq!(rewritten(refined, "  "), "## Objective\nGreet.\n");
    }
}
