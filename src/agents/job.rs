//! One agent run, from its slot to its record: it waits for a place under its
//! column's limit and for a global slot, ensures the task's worktree, writes the
//! prompt file, starts the agent there as a [`process::Supervised`] child, and stores
//! its output as it streams ([`Transcript`]). Under the board's `ask` policy, a CLI
//! that can ask gets its prompt on standard input and its approvals answered there
//! ([`control::Channel`]). Then the next queued chat message, if any, continues the
//! session.

use std::path::{Path, PathBuf};

use tracing::warn;

use super::access::{RunAccess, RunGrant};
use super::control::{self, Channel};
use super::resolve::Agent;
use super::run::{Runner, StopReason};
use super::settings::PermissionPolicy;
use super::transcript::{AgentLines, Chunk, Ending, Transcript};
use super::{CommandLine, Invocation};
use crate::db::sessions::{self, AgentSession};
use crate::db::tasks::Task;
use crate::process::{self, Stop, Supervised, Supervision};

/// How much of the agent's standard error is kept for the record.
const STDERR_TAIL: usize = 16 * 1024;

/// One run, from its slot to its record.
pub(super) struct Job {
    pub(super) runner: Runner,
    pub(super) session: AgentSession,
    pub(super) task: Task,
    pub(super) agent: Agent,
    pub(super) model: Option<String>,
    pub(super) repository: PathBuf,
    pub(super) base: String,
    pub(super) copy: Vec<String>,
    pub(super) policy: Option<PermissionPolicy>,
    /// How long a pending approval waits (`approval_timeout_minutes`).
    pub(super) approval_timeout: std::time::Duration,
}

impl Job {
    pub(super) async fn drive(self, stop: Stop<StopReason>) {
        let runner = self.runner.clone();
        let inner = &runner.0;
        let (task_id, session_id) = (self.task.id, self.session.id);
        let mut transcript = Transcript::new(inner.pool.clone(), task_id, session_id);
        let waited = match inner.columns.place(&inner.pool, self.task.column_id, session_id, &stop).await {
            Ok(place) => tokio::select! {
                permit = inner.slots.clone().acquire_owned() => Ok((place, permit.ok())),
                reason = stop.requested() => Err(reason),
            },
            Err(reason) => Err(reason),
        };
        let (place, permit) = match waited {
            Ok(held) => held,
            Err(reason) => {
                transcript.record(Ending::Stopped(reason), inner.settings.timeout).await;
                runner.finished(task_id, session_id);
                return;
            }
        };
        let ending = self.execute(&stop, &mut transcript).await;
        drop(permit);
        drop(place);
        transcript.record(ending, inner.settings.timeout).await;
        runner.finished(task_id, session_id);
        // Chat messages that came in meanwhile are the hook engine's: rule 9 of
        // docs/hooks.md runs them through the in_progress column's run-agent hook.
    }

    async fn execute(&self, stop: &Stop<StopReason>, transcript: &mut Transcript) -> Ending {
        let inner = &self.runner.0;
        // The worktree.
        let (path, branch) =
            match self.runner.ensure_worktree(&self.task, &self.repository, &self.base, &self.copy).await {
                Ok(made) => made,
                Err(error) => return Ending::NotStarted(error),
            };

        // The command.
        let prompt_file = inner.home.run_dir().join(format!("prompt-{}.md", self.session.id));
        if let Err(error) = crate::home::write_private_file(&prompt_file, self.session.prompt.as_bytes()) {
            return Ending::NotStarted(format!("could not write the prompt file: {error}"));
        }
        // The run's own MCP access (M2): a token that dies with `access`, at the end
        // of this function, and a private file that gives it to the agent.
        let access = inner.tokens.issue(RunGrant { task_id: self.task.id, session_id: self.session.id });
        let mcp_file = inner.home.run_dir().join(format!("mcp-{}.json", self.session.id));
        let mcp = access.as_ref().and_then(|access| {
            crate::home::write_private_file(&mcp_file, super::access::claude_config(access).as_bytes())
                .ok()?;
            Some(super::McpAccess { config_file: mcp_file.as_path(), url: &access.url })
        });
        let line = self.agent.command_line(&Invocation {
            prompt: &self.session.prompt,
            prompt_file: &prompt_file,
            worktree: &path,
            session_id: self.session.external_session_id.as_deref(),
            model: self.model.as_deref(),
            as_root: process::running_as_root(),
            unattended: true,
            policy: self.policy,
            mcp,
        });
        let ending = self.follow(&line, &path, &branch, access.as_ref(), stop, transcript).await;
        let _ = std::fs::remove_file(&prompt_file);
        let _ = std::fs::remove_file(&mcp_file);
        ending
    }

    /// Starts the agent in the worktree and stores its output until it ends.
    async fn follow(
        &self,
        line: &CommandLine,
        worktree: &Path,
        branch: &str,
        access: Option<&RunAccess>,
        stop: &Stop<StopReason>,
        transcript: &mut Transcript,
    ) -> Ending {
        let inner = &self.runner.0;
        let (mut command, program) = match self.agent.command(line, &self.task, worktree) {
            Ok(found) => found,
            Err(not_found) => return Ending::NotStarted(not_found),
        };
        command
            .env("VIBAN_BRANCH", branch)
            .env("VIBAN_WORKTREE", worktree)
            .env("VIBAN_BASE_BRANCH", &self.base)
            .env("VIBAN_SESSION_ID", self.session.id.to_string());
        if let Some(access) = access {
            command.env("VIBAN_MCP_URL", &access.url).env("VIBAN_MCP_TOKEN", &access.token);
        }
        let supervision = Supervision {
            stderr_tail: STDERR_TAIL,
            deadline: Some(inner.settings.timeout),
            stdin: line.control,
            ..Supervision::default()
        };
        let lines = AgentLines(self.agent.format().parser());
        let mut agent = match Supervised::spawn(command, lines, stop.clone(), supervision) {
            Ok(agent) => agent,
            Err(error) => {
                return Ending::NotStarted(format!("could not start {}: {error}", program.display()));
            }
        };
        let mut argv = vec![line.program.clone()];
        argv.extend(line.args.iter().cloned());
        if let Err(error) = sessions::started(&inner.pool, &self.session, &argv, agent.pid()).await {
            warn!("session {}: recording its start failed: {error}", self.session.id);
        }
        if let Some(note) = line.note {
            transcript.note(note).await;
        }
        let mut channel = agent.take_stdin().map(|stdin| {
            let context = control::Context {
                pool: inner.pool.clone(),
                decided: inner.decided.clone(),
                task_id: self.task.id,
                session_id: self.session.id,
                timeout: self.approval_timeout,
            };
            Channel::open(stdin, &self.session.prompt, context)
        });

        // What arrives while a batch is being stored makes the next batch larger: a
        // fast agent is stored in few transactions and a slow one line by line, at once.
        while let Some(chunks) = agent.next().await {
            let chunks = answer(&mut channel, chunks);
            transcript.take(chunks).await;
            while transcript.has_room()
                && let Some(chunks) = agent.try_next()
            {
                let chunks = answer(&mut channel, chunks);
                transcript.take(chunks).await;
            }
            transcript.store().await;
        }
        if let Some(channel) = channel {
            channel.close().await;
        }
        let finished = agent.wait().await;
        if let Some(error) = finished.output_error {
            warn!("session {}: reading the agent's output failed: {error}", self.session.id);
        }
        transcript.set_stderr_tail(finished.stderr_tail);
        finished.outcome.into()
    }
}

/// Hands the control messages among `chunks` to the run's approval channel, and closes
/// its input after the turn's result; the rest is activity.
fn answer(channel: &mut Option<Channel>, mut chunks: Vec<Chunk>) -> Vec<Chunk> {
    let Some(channel) = channel else { return chunks };
    for chunk in &mut chunks {
        if let Some(message) = chunk.take_control() {
            channel.handle(message);
        }
        if chunk.ends_turn() {
            channel.end_of_turn();
        }
    }
    chunks
}
