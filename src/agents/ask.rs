//! One-shot agent calls (`builtin:refine`): a prompt in, the agent's final answer out.
//!
//! The agent is the task's (or the board's default), its arguments built and its
//! process supervised as a run's are ([`process::Supervised`]), and it waits for a
//! global slot like a run. But it is no part of the task's conversation: nothing is
//! recorded as an agent session, so neither a resume nor a chat message ever continues
//! it; and it does not work unattended (`{approve}` stays empty): it may read, and
//! whatever its CLI would ask permission for is refused. It runs in the task's
//! worktree, or in the repository itself while the task has none.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Invocation;
use super::resolve;
use super::run::{Runner, where_it_runs};
use super::settings::BoardSettings;
use super::transcript::{AgentLines, Chunk, Verdict};
use crate::process::{self, Stop, Supervised, Supervision};

/// How much of the agent's standard error is kept for a failure's message.
const STDERR_TAIL: usize = 16 * 1024;

/// How a one-shot call ended.
#[derive(Debug)]
pub enum Answer {
    /// The agent's final answer (its result's text, else what it said last).
    Text(String),
    /// It could not start, failed, or ran past its deadline: why, in the agent's own
    /// words when it gave some.
    Failed(String),
    /// `cancel` fired: the agent's process group was stopped.
    Cancelled,
}

#[derive(Debug, Clone, Copy)]
struct Cancelled;

impl Runner {
    /// Asks the task's agent `prompt` once, within `deadline`; `cancel` stops it.
    pub async fn ask(
        &self,
        task_id: Uuid,
        prompt: &str,
        deadline: Duration,
        cancel: &CancellationToken,
    ) -> Answer {
        let inner = &self.0;
        let found = async {
            let mut connection = inner.pool.acquire().await?;
            where_it_runs(&mut connection, task_id).await
        };
        let (task, board, repository) = match found.await {
            Ok(found) => found,
            Err(error) => return Answer::Failed(error.to_string()),
        };
        let settings = BoardSettings::read(&board.settings);
        let agent = match resolve::agent(&resolve::agent_id(None, &task, &settings), &settings) {
            Ok(agent) => agent,
            Err(error) => return Answer::Failed(error.to_string()),
        };
        let directory = task
            .worktree_path
            .as_deref()
            .map(PathBuf::from)
            .filter(|path| path.join(".git").exists())
            .unwrap_or_else(|| PathBuf::from(&repository.path));

        let _slot = tokio::select! {
            () = cancel.cancelled() => return Answer::Cancelled,
            permit = inner.slots.clone().acquire_owned() => permit.ok(),
        };
        let prompt_file =
            inner.home.run_dir().join(format!("ask-{task_id}-{}.md", &crate::home::random_secret()[..16]));
        if let Err(error) = crate::home::write_private_file(&prompt_file, prompt.as_bytes()) {
            return Answer::Failed(format!("could not write the prompt file: {error}"));
        }
        let line = agent.command_line(&Invocation {
            prompt,
            prompt_file: &prompt_file,
            worktree: &directory,
            session_id: None,
            model: None,
            as_root: process::running_as_root(),
            unattended: false,
            policy: None,
            mcp: None,
        });
        let answer = match agent.command(&line, &task, &directory) {
            Ok((command, program)) => {
                let lines = AgentLines(agent.format().parser());
                follow(command, lines, &program, deadline, cancel).await
            }
            Err(not_found) => Answer::Failed(not_found),
        };
        let _ = std::fs::remove_file(&prompt_file);
        answer
    }
}

/// Runs the agent until it ends, keeping what its entries say.
async fn follow(
    command: std::process::Command,
    lines: AgentLines,
    program: &Path,
    deadline: Duration,
    cancel: &CancellationToken,
) -> Answer {
    let stop = Stop::new();
    let supervision =
        Supervision { stderr_tail: STDERR_TAIL, deadline: Some(deadline), ..Supervision::default() };
    let mut agent = match Supervised::spawn(command, lines, stop.clone(), supervision) {
        Ok(agent) => agent,
        Err(error) => return Answer::Failed(format!("could not start {}: {error}", program.display())),
    };
    let mut verdict = Verdict::default();
    let mut stopping = false;
    loop {
        tokio::select! {
            chunks = agent.next() => match chunks {
                Some(chunks) => chunks.iter().flat_map(Chunk::entries).for_each(|entry| verdict.note(entry)),
                None => break,
            },
            () = cancel.cancelled(), if !stopping => {
                stopping = true;
                stop.request(Cancelled);
            }
        }
    }
    let finished = agent.wait().await;
    match finished.outcome {
        process::Outcome::Stopped(Cancelled) => Answer::Cancelled,
        process::Outcome::TimedOut => Answer::Failed(format!(
            "the agent did not answer within {} s and was stopped",
            deadline.as_secs()
        )),
        process::Outcome::Exited(exit) if verdict.succeeded(exit) => Answer::Text(verdict.answer()),
        process::Outcome::Exited(exit) => {
            Answer::Failed(verdict.failure_text(Some(&finished.stderr_tail), exit))
        }
    }
}
