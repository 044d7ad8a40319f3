//! Which agent a run uses: the request's choice, the task's, the board's
//! `default_agent`, then Claude Code; and that id resolved to a built-in adapter or to
//! a custom agent of the board's settings (A1).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::parse::Format;
use super::run::RunError;
use super::settings::BoardSettings;
use super::{Adapter, CommandLine, CustomAgent, Invocation};
use crate::db::tasks::Task;
use crate::process;

const DEFAULT_AGENT: &str = "claude-code";

/// An agent a run can start.
pub(super) enum Agent {
    Builtin(&'static Adapter),
    Custom(CustomAgent),
}

impl Agent {
    pub(super) fn format(&self) -> Format {
        match self {
            Agent::Builtin(adapter) => adapter.format,
            Agent::Custom(custom) => custom.format,
        }
    }

    pub(super) fn command_line(&self, invocation: &Invocation) -> CommandLine {
        match self {
            Agent::Builtin(adapter) => adapter.command_line(invocation),
            Agent::Custom(custom) => custom.command_line(invocation),
        }
    }

    pub(super) fn install_hint(&self) -> Option<&'static str> {
        match self {
            Agent::Builtin(adapter) => Some(adapter.install_hint),
            Agent::Custom(_) => None,
        }
    }

    /// The command that runs `line` for `task` in `directory`, with the task's
    /// `VIBAN_*` variables, and the program it found; or why the program is not there.
    pub(super) fn command(
        &self,
        line: &CommandLine,
        task: &Task,
        directory: &Path,
    ) -> Result<(Command, PathBuf), String> {
        // A path (a custom command's `./script`), or a name to look up.
        let program = if Path::new(&line.program).components().nth(1).is_some() {
            Some(PathBuf::from(&line.program))
        } else {
            process::find_program(&line.program)
        };
        let Some(program) = program else {
            let hint = self.install_hint().map(|hint| format!(" — install with: {hint}")).unwrap_or_default();
            return Err(format!("{} not found{hint}", line.program));
        };
        let (executable, leading) = process::launcher(&program);
        let mut command = process::command(&executable, process::Privilege::Inherit);
        command
            .args(leading)
            .args(&line.args)
            .current_dir(directory)
            .env("VIBAN_TASK_ID", task.id.to_string())
            .env("VIBAN_TASK_TITLE", &task.title)
            .env("VIBAN_BOARD_ID", task.board_id.to_string());
        Ok((command, program))
    }
}

/// The id of the agent a run uses, `requested` first.
pub(super) fn agent_id(requested: Option<&str>, task: &Task, settings: &BoardSettings) -> String {
    requested
        .map(String::from)
        .or_else(|| task.agent.clone())
        .or_else(|| settings.default_agent.clone())
        .unwrap_or_else(|| DEFAULT_AGENT.to_string())
}

/// A built-in adapter by its id, or `custom:<name>` from the board's `custom_agents`.
pub(super) fn agent(id: &str, settings: &BoardSettings) -> Result<Agent, RunError> {
    if let Some(adapter) = super::adapter(id) {
        return Ok(Agent::Builtin(adapter));
    }
    if let Some(agent) = id.strip_prefix("custom:").and_then(|name| settings.custom_agents.get(name)) {
        return Ok(Agent::Custom(agent.clone()));
    }
    let mut known: Vec<String> = super::ADAPTERS.iter().map(|adapter| adapter.id.to_string()).collect();
    known.extend(settings.custom_agents.keys().map(|name| format!("custom:{name}")));
    Err(RunError::UnknownAgent(id.to_string(), known.join(", ")))
}
