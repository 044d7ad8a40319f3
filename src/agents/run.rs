//! Agent runs (A4–A7). A run takes a slot (the global limit: extra runs wait as
//! `queued`, first come first served), ensures the task's worktree, starts the agent
//! in its own process group there, and turns its output into activity entries line
//! by line as it streams, in batches of whatever is already buffered. It ends when
//! the agent exits, is stopped, times out, or viban shuts down; each is recorded
//! with the exit status, cost and tokens, and the task's status says what happened
//! in the agent's own words when it failed.
//!
//! Stopping is TERM to the whole group, then KILL after a grace period, and a KILL
//! to the group whenever a run ends ([`process::Supervised`]), so nothing an agent
//! started outlives it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tracing::{info, warn};
use uuid::Uuid;

use super::parse::{Entry, Format, Parsed, Parser};
use super::{Adapter, CommandLine, CustomAgent, Invocation};
use crate::db::sessions::{self, AgentSession, Outcome, SessionStatus};
use crate::db::tasks::{AgentStatus, Task};
use crate::home::Home;
use crate::process::{self, Stop, Supervised, Supervision};
use crate::worktree::{self, Worktrees};

/// Entries written in one transaction at most.
const BATCH: usize = 2000;
/// How much of standard error is kept for the record.
const STDERR_TAIL: usize = 16 * 1024;
const DEFAULT_AGENT: &str = "claude-code";
pub const CONTINUE_PROMPT: &str = "Continue working on this task.";

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Agent runs at once across the instance (A5).
    pub max_concurrent: usize,
    pub timeout: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self { max_concurrent: 4, timeout: Duration::from_secs(2 * 60 * 60) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no task {0}")]
    TaskNotFound(Uuid),
    #[error("an agent is already working on this task; send a message to queue it, or stop the run first")]
    Busy,
    #[error(
        "the task's board has no repository; link one to the board first (PATCH /api/boards/{{id}} with repository_id)"
    )]
    NoRepository,
    #[error("unknown agent '{0}'; one of: {1}")]
    UnknownAgent(String, String),
    #[error("no agent is running on this task")]
    NotRunning,
    #[error("this task has no earlier agent session to resume")]
    NothingToResume,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a run was asked to do.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub prompt: Option<String>,
    /// An adapter id or `custom:<name>` (a board setting); default: the task's, the
    /// board's `default_agent`, then Claude Code.
    pub agent: Option<String>,
    pub model: Option<String>,
    /// Continue the task's latest agent session.
    pub resume: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    User,
    Shutdown,
}

enum Agent {
    Builtin(&'static Adapter),
    Custom(CustomAgent),
}

impl Agent {
    fn format(&self) -> Format {
        match self {
            Agent::Builtin(adapter) => adapter.format,
            Agent::Custom(custom) => custom.format,
        }
    }

    fn command_line(&self, invocation: &Invocation) -> CommandLine {
        match self {
            Agent::Builtin(adapter) => adapter.command_line(invocation),
            Agent::Custom(custom) => custom.command_line(invocation),
        }
    }

    fn install_hint(&self) -> Option<&'static str> {
        match self {
            Agent::Builtin(adapter) => Some(adapter.install_hint),
            Agent::Custom(_) => None,
        }
    }
}

struct Active {
    session_id: Uuid,
    stop: Stop<StopReason>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Clone)]
pub struct Runner(Arc<Inner>);

struct Inner {
    pool: PgPool,
    home: Home,
    worktrees: Worktrees,
    slots: Arc<Semaphore>,
    settings: RunnerSettings,
    instance_id: String,
    active: Mutex<HashMap<Uuid, Active>>,
    /// Per-column limits (A5): runs counted and waiting, by column.
    columns: Mutex<ColumnGates>,
    column_freed: tokio::sync::Notify,
    /// Queued chat messages to start once a run ends (a run cannot start the next
    /// one itself: `run` spawns the run's future, which would then contain `run`).
    follow_ups: mpsc::UnboundedSender<(Uuid, StartRequest)>,
}

impl Runner {
    /// Also marks what this instance left running before as `interrupted` (A7).
    pub async fn start(pool: PgPool, home: Home, settings: RunnerSettings) -> Result<Self, sqlx::Error> {
        let instance_id = home.root().display().to_string();
        let groups = sessions::interrupt_orphans(&pool, &instance_id).await?;
        for group in groups {
            let killed = process::kill_group_within(group, &home.worktrees_dir());
            if killed > 0 {
                warn!("stopped {killed} process(es) an agent run left behind when viban last stopped");
            }
        }
        let (follow_ups, mut requests) = mpsc::unbounded_channel();
        let runner = Self(Arc::new(Inner {
            pool,
            home,
            worktrees: Worktrees::default(),
            slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            settings,
            instance_id,
            active: Mutex::default(),
            columns: Mutex::default(),
            column_freed: tokio::sync::Notify::new(),
            follow_ups,
        }));
        let weak = Arc::downgrade(&runner.0);
        tokio::spawn(async move {
            while let Some((task_id, request)) = requests.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                if let Err(error) = Runner(inner).run(task_id, request).await {
                    warn!("task {task_id}: could not start the queued message: {error}");
                }
            }
        });
        Ok(runner)
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Active>> {
        self.0.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_running(&self, task_id: Uuid) -> bool {
        self.active().contains_key(&task_id)
    }

    /// Runs underway or waiting for a slot.
    pub fn active_runs(&self) -> usize {
        self.active().len()
    }

    /// Queues a run of the task's agent; it starts when a slot is free.
    pub async fn run(&self, task_id: Uuid, request: StartRequest) -> Result<AgentSession, RunError> {
        let inner = &self.0;
        let mut connection = inner.pool.acquire().await?;
        let task =
            crate::db::tasks::get(&mut connection, task_id).await?.ok_or(RunError::TaskNotFound(task_id))?;
        let board = crate::db::boards::get(&mut connection, task.board_id)
            .await?
            .ok_or(RunError::TaskNotFound(task_id))?;
        let repository_id = board.repository_id.ok_or(RunError::NoRepository)?;
        let repository = crate::db::repositories::get(&mut connection, repository_id)
            .await?
            .ok_or(RunError::NoRepository)?;
        let agent_id = request
            .agent
            .clone()
            .or_else(|| task.agent.clone())
            .or_else(|| board.settings.get("default_agent").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| DEFAULT_AGENT.to_string());
        let agent = resolve_agent(&agent_id, &board.settings)?;

        let previous = sessions::for_task(&mut connection, task_id).await?;
        let resumes = if request.resume {
            let latest = sessions::latest_resumable(&mut connection, task_id).await?;
            match latest {
                Some(session) if session.agent == agent_id => session.external_session_id,
                _ if request.prompt.is_none() => return Err(RunError::NothingToResume),
                _ => None,
            }
        } else {
            None
        };
        let prompt = match (&request.prompt, previous.is_empty()) {
            (prompt, true) => first_prompt(&task, prompt.as_deref()),
            (Some(prompt), false) => prompt.clone(),
            (None, false) => CONTINUE_PROMPT.to_string(),
        };
        drop(connection);

        let stop = Stop::new();
        let session = {
            // Claim the task before the row exists, so two starts cannot both pass.
            {
                let mut active = self.active();
                if active.contains_key(&task_id) {
                    return Err(RunError::Busy);
                }
                active.insert(task_id, Active { session_id: Uuid::nil(), stop: stop.clone(), handle: None });
            }
            match sessions::create(
                &inner.pool,
                task_id,
                &agent_id,
                &prompt,
                resumes.as_deref(),
                &inner.instance_id,
            )
            .await
            {
                Ok(session) => session,
                Err(error) => {
                    self.active().remove(&task_id);
                    return Err(error.into());
                }
            }
        };
        let base = task_base(&task, &repository.default_branch);
        let job = Job {
            runner: self.clone(),
            session: session.clone(),
            task,
            agent,
            model: request.model,
            repository: PathBuf::from(&repository.path),
            base,
            copy: copy_patterns(&board.settings),
        };
        let handle = tokio::spawn(job.drive(stop));
        if let Some(active) = self.active().get_mut(&task_id) {
            active.session_id = session.id;
            active.handle = Some(handle);
        }
        Ok(session)
    }

    /// A chat message (HOOKS.md 9, 10): queued while a run is underway, else it starts
    /// one that continues the agent's session. `None` means it was queued.
    pub async fn message(&self, task_id: Uuid, text: &str) -> Result<Option<AgentSession>, RunError> {
        if self.is_running(task_id) {
            let mut tx = self.0.pool.begin().await?;
            sqlx::query("INSERT INTO queued_messages (task_id, body) VALUES ($1, $2)")
                .bind(task_id)
                .bind(text)
                .execute(&mut *tx)
                .await?;
            sessions::append(
                &mut tx,
                task_id,
                None,
                &[json!({ "kind": "user_message", "text": text, "queued": true })],
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let request =
            StartRequest { prompt: Some(text.to_string()), resume: true, ..StartRequest::default() };
        self.run(task_id, request).await.map(Some)
    }

    /// Stops the task's run: TERM to its group, KILL after the grace period.
    pub fn stop(&self, task_id: Uuid) -> Result<Uuid, RunError> {
        let active = self.active();
        let run = active.get(&task_id).ok_or(RunError::NotRunning)?;
        run.stop.request(StopReason::User);
        Ok(run.session_id)
    }

    /// Stops the task's run, if any, and waits until it has been recorded (before the
    /// task is deleted, D3).
    pub async fn stop_and_wait(&self, task_id: Uuid) {
        let handle = self.active().get_mut(&task_id).and_then(|run| {
            run.stop.request(StopReason::User);
            run.handle.take()
        });
        if let Some(handle) = handle
            && tokio::time::timeout(process::STOP_GRACE + Duration::from_secs(5), handle).await.is_err()
        {
            warn!("task {task_id}: its agent did not stop in time");
        }
    }

    /// Removes a deleted task's worktree and branch, unless that would lose work: a
    /// dirty worktree or an unmerged branch is kept, and the log says where.
    pub async fn remove_worktree(&self, task: &Task) {
        let (Some(path), Some(branch)) = (&task.worktree_path, &task.branch) else { return };
        let found = async {
            let mut connection = self.0.pool.acquire().await.ok()?;
            let board = crate::db::boards::get(&mut connection, task.board_id).await.ok().flatten()?;
            let repository =
                crate::db::repositories::get(&mut connection, board.repository_id?).await.ok().flatten()?;
            Some((repository, copy_patterns(&board.settings)))
        };
        let Some((repository, copied)) = found.await else { return };
        let worktree = worktree::Worktree { path: PathBuf::from(path), branch: branch.clone() };
        match self.0.worktrees.remove(Path::new(&repository.path), &worktree, &copied).await {
            Ok(worktree::Removal::Removed) => info!("removed the worktree {path} and branch {branch}"),
            Ok(worktree::Removal::KeptDirty) => warn!("kept the worktree {path}: it has uncommitted changes"),
            Ok(worktree::Removal::KeptBranch) => warn!("kept the branch {branch}: it has commits not merged"),
            Err(error) => warn!("could not remove the worktree {path}: {error}"),
        }
    }

    /// Shutdown (L9): every run is stopped and recorded as interrupted.
    pub async fn stop_all(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut active = self.active();
            active
                .values_mut()
                .filter_map(|run| {
                    run.stop.request(StopReason::Shutdown);
                    run.handle.take()
                })
                .collect()
        };
        if handles.is_empty() {
            return;
        }
        info!("stopping {} agent run(s)", handles.len());
        let all = futures_join(handles);
        if tokio::time::timeout(process::STOP_GRACE + Duration::from_secs(3), all).await.is_err() {
            warn!("agent runs did not finish stopping in time");
        }
    }

    fn finished(&self, task_id: Uuid, session_id: Uuid) {
        let mut active = self.active();
        if active.get(&task_id).is_some_and(|run| run.session_id == session_id) {
            active.remove(&task_id);
        }
    }

    /// The next queued chat message of a task, if any, removed from the queue.
    async fn next_message(&self, task_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "DELETE FROM queued_messages WHERE id = (SELECT id FROM queued_messages WHERE task_id = $1 ORDER BY id LIMIT 1)
             RETURNING body",
        )
        .bind(task_id)
        .fetch_optional(&self.0.pool)
        .await
    }
}

async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        let _ = handle.await;
    }
}

fn resolve_agent(id: &str, board_settings: &Value) -> Result<Agent, RunError> {
    if let Some(adapter) = super::adapter(id) {
        return Ok(Agent::Builtin(adapter));
    }
    let custom = board_settings.get("custom_agents").and_then(Value::as_object);
    if let Some(name) = id.strip_prefix("custom:")
        && let Some(definition) = custom.and_then(|agents| agents.get(name))
        && let Ok(agent) = serde_json::from_value::<CustomAgent>(definition.clone())
        && !agent.command.is_empty()
    {
        return Ok(Agent::Custom(agent));
    }
    let mut known: Vec<String> = super::ADAPTERS.iter().map(|adapter| adapter.id.to_string()).collect();
    known.extend(custom.into_iter().flat_map(|agents| agents.keys().map(|name| format!("custom:{name}"))));
    Err(RunError::UnknownAgent(id.to_string(), known.join(", ")))
}

/// The branch a task's worktree starts from: its own choice, else the repository's default.
fn task_base(task: &Task, default_branch: &str) -> String {
    task.base_branch.clone().unwrap_or_else(|| default_branch.to_string())
}

/// The board's "copy into worktrees" globs (setting `copy_files`).
fn copy_patterns(settings: &Value) -> Vec<String> {
    settings
        .get("copy_files")
        .and_then(Value::as_array)
        .map(|patterns| patterns.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default()
}

/// HOOKS.md: `# Task: <title>`, `## Description`, `## Instructions`; empty ones left out.
pub fn first_prompt(task: &Task, instructions: Option<&str>) -> String {
    let mut prompt = format!("# Task: {}\n", task.title);
    if !task.description.trim().is_empty() {
        prompt.push_str(&format!("\n## Description\n\n{}\n", task.description.trim()));
    }
    if let Some(instructions) = instructions.filter(|text| !text.trim().is_empty()) {
        prompt.push_str(&format!("\n## Instructions\n\n{}\n", instructions.trim()));
    }
    prompt
}

/// One run, from its slot to its record.
struct Job {
    runner: Runner,
    session: AgentSession,
    task: Task,
    agent: Agent,
    model: Option<String>,
    repository: PathBuf,
    base: String,
    copy: Vec<String>,
}

/// How a run's output ended.
#[derive(Default)]
struct Transcript {
    result: Option<(bool, Option<String>)>,
    last_error: Option<String>,
    outcome: Outcome,
    external_id: Option<String>,
    pull_request_seen: bool,
}

enum Ending {
    Exited(Option<ExitStatus>),
    Stopped(StopReason),
    TimedOut,
    /// It never started; the message says why.
    NotStarted(String),
}

/// Runs counted against each column's `max_concurrent`, and those waiting for one of
/// its places, oldest first. A run counts against the column its card was in when it
/// was started.
#[derive(Default)]
struct ColumnGates {
    running: HashMap<Uuid, usize>,
    waiting: HashMap<Uuid, std::collections::VecDeque<Uuid>>,
}

/// A place in a column's limit, given back when dropped.
struct ColumnPlace {
    runner: Runner,
    column: Uuid,
}

impl Drop for ColumnPlace {
    fn drop(&mut self) {
        let mut gates = self.runner.0.columns.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(running) = gates.running.get_mut(&self.column) {
            *running = running.saturating_sub(1);
        }
        drop(gates);
        self.runner.0.column_freed.notify_waiters();
    }
}

impl Runner {
    /// Waits, in order, for a place under the column's limit (none if it has no limit);
    /// `Err` if the run was stopped meanwhile.
    async fn column_place(
        &self,
        column: Uuid,
        session_id: Uuid,
        stop: &Stop<StopReason>,
    ) -> Result<Option<ColumnPlace>, StopReason> {
        let inner = &self.0;
        let gates = || inner.columns.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        gates().waiting.entry(column).or_default().push_back(session_id);
        let leave = |gates: &mut ColumnGates| {
            if let Some(queue) = gates.waiting.get_mut(&column) {
                queue.retain(|waiting| *waiting != session_id);
            }
        };
        loop {
            let freed = inner.column_freed.notified();
            let limit = column_limit(&inner.pool, column).await;
            {
                let mut gates = gates();
                let first = gates.waiting.get(&column).and_then(|queue| queue.front()) == Some(&session_id);
                let running = gates.running.get(&column).copied().unwrap_or(0);
                match limit {
                    None => {
                        leave(&mut gates);
                        drop(gates);
                        inner.column_freed.notify_waiters();
                        return Ok(None);
                    }
                    Some(limit) if first && running < limit => {
                        leave(&mut gates);
                        *gates.running.entry(column).or_default() += 1;
                        drop(gates);
                        // The next in line may fit too.
                        inner.column_freed.notify_waiters();
                        return Ok(Some(ColumnPlace { runner: self.clone(), column }));
                    }
                    Some(_) => {}
                }
            }
            tokio::select! {
                () = freed => {}
                // The limit may be raised or removed meanwhile.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                reason = stop.requested() => {
                    leave(&mut gates());
                    inner.column_freed.notify_waiters();
                    return Err(reason);
                }
            }
        }
    }
}

/// A column's `max_concurrent`; `None` for no limit, or when it cannot be read.
async fn column_limit(pool: &PgPool, column: Uuid) -> Option<usize> {
    let limit: Option<Option<i32>> = sqlx::query_scalar("SELECT max_concurrent FROM columns WHERE id = $1")
        .bind(column)
        .fetch_optional(pool)
        .await
        .ok()
        .flatten();
    limit.flatten().and_then(|limit| usize::try_from(limit).ok())
}

impl Job {
    async fn drive(self, stop: Stop<StopReason>) {
        let runner = self.runner.clone();
        let (task_id, session_id) = (self.task.id, self.session.id);
        let slots = runner.0.slots.clone();
        let waited = match runner.column_place(self.task.column_id, session_id, &stop).await {
            Ok(place) => tokio::select! {
                permit = slots.acquire_owned() => Ok((place, permit.ok())),
                reason = stop.requested() => Err(reason),
            },
            Err(reason) => Err(reason),
        };
        let (place, permit) = match waited {
            Ok(held) => held,
            Err(reason) => {
                self.record(Ending::Stopped(reason), Transcript::default()).await;
                runner.finished(task_id, session_id);
                return;
            }
        };
        let (ending, transcript) = self.execute(&stop).await;
        drop(permit);
        drop(place);
        let stopped_by_user = matches!(ending, Ending::Stopped(_));
        self.record(ending, transcript).await;
        runner.finished(task_id, session_id);
        // Chat messages that came in meanwhile continue the session (HOOKS.md 9).
        if !stopped_by_user {
            match runner.next_message(task_id).await {
                Ok(Some(text)) => {
                    let request = StartRequest {
                        prompt: Some(text),
                        agent: Some(self.session.agent.clone()),
                        resume: true,
                        ..StartRequest::default()
                    };
                    if runner.0.follow_ups.send((task_id, request)).is_err() {
                        warn!("task {task_id}: the queued message could not be handed on");
                    }
                }
                Ok(None) => {}
                Err(error) => warn!("task {task_id}: reading queued messages failed: {error}"),
            }
        }
    }

    async fn execute(&self, stop: &Stop<StopReason>) -> (Ending, Transcript) {
        let inner = self.runner.0.clone();
        let mut transcript = Transcript::default();
        // The worktree.
        let (path, branch) = match (&self.task.worktree_path, &self.task.branch) {
            (Some(path), Some(branch)) => (PathBuf::from(path), branch.clone()),
            _ => (
                inner
                    .home
                    .worktrees_dir()
                    .join(self.task.board_id.to_string())
                    .join(self.task.id.to_string()),
                worktree::branch_name(self.task.id, &self.task.title),
            ),
        };
        match inner.worktrees.ensure(&self.repository, &path, &branch, &self.base, &self.copy).await {
            Ok(_) => {
                if self.task.worktree_path.is_none()
                    && let Err(error) =
                        sessions::set_worktree(&inner.pool, self.task.id, &path.to_string_lossy(), &branch)
                            .await
                {
                    warn!("task {}: recording its worktree failed: {error}", self.task.id);
                }
            }
            Err(error) => return (Ending::NotStarted(error.to_string()), transcript),
        }

        // The command.
        let prompt_file = inner.home.run_dir().join(format!("prompt-{}.md", self.session.id));
        if let Err(error) = crate::home::write_private_file(&prompt_file, self.session.prompt.as_bytes()) {
            return (Ending::NotStarted(format!("could not write the prompt file: {error}")), transcript);
        }
        let line = self.agent.command_line(&Invocation {
            prompt: &self.session.prompt,
            prompt_file: &prompt_file,
            worktree: &path,
            session_id: self.session.external_session_id.as_deref(),
            model: self.model.as_deref(),
            as_root: process::running_as_root(),
        });
        let ending = self.spawn_and_follow(&line, &path, &branch, stop, &mut transcript).await;
        let _ = std::fs::remove_file(&prompt_file);
        (ending, transcript)
    }

    async fn spawn_and_follow(
        &self,
        line: &CommandLine,
        worktree: &Path,
        branch: &str,
        stop: &Stop<StopReason>,
        transcript: &mut Transcript,
    ) -> Ending {
        let inner = &self.runner.0;
        // A path (a custom command's `./script`), or a name to look up.
        let program = if Path::new(&line.program).components().nth(1).is_some() {
            Some(PathBuf::from(&line.program))
        } else {
            process::find_program(&line.program)
        };
        let Some(program) = program else {
            let hint =
                self.agent.install_hint().map(|hint| format!(" — install with: {hint}")).unwrap_or_default();
            return Ending::NotStarted(format!("{} not found{hint}", line.program));
        };
        let (executable, leading) = process::launcher(&program);
        let mut command = process::command(&executable, process::Privilege::Inherit);
        command
            .args(leading)
            .args(&line.args)
            .current_dir(worktree)
            .env("VIBAN_TASK_ID", self.task.id.to_string())
            .env("VIBAN_TASK_TITLE", &self.task.title)
            .env("VIBAN_BOARD_ID", self.task.board_id.to_string())
            .env("VIBAN_BRANCH", branch)
            .env("VIBAN_WORKTREE", worktree)
            .env("VIBAN_BASE_BRANCH", &self.base)
            .env("VIBAN_SESSION_ID", self.session.id.to_string());
        let supervision = Supervision {
            stderr_tail: STDERR_TAIL,
            deadline: Some(inner.settings.timeout),
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
            self.persist(&[Entry::System { message: note.to_string() }]).await;
        }

        // What arrives while a batch is being stored makes the next batch larger: a
        // fast agent is stored in few transactions and a slow one line by line, at once.
        let mut batch = Vec::new();
        while let Some(chunks) = agent.next().await {
            self.take(chunks, &mut batch, transcript).await;
            while batch.len() < BATCH
                && let Some(chunks) = agent.try_next()
            {
                self.take(chunks, &mut batch, transcript).await;
            }
            self.persist(&std::mem::take(&mut batch)).await;
        }
        let finished = agent.wait().await;
        if let Some(error) = finished.output_error {
            warn!("session {}: reading the agent's output failed: {error}", self.session.id);
        }
        transcript.outcome.stderr_tail = Some(finished.stderr_tail).filter(|text| !text.trim().is_empty());
        match finished.outcome {
            process::Outcome::Exited(status) => Ending::Exited(status),
            process::Outcome::Stopped(reason) => Ending::Stopped(reason),
            process::Outcome::TimedOut => Ending::TimedOut,
        }
    }

    async fn take(&self, chunks: Vec<Chunk>, batch: &mut Vec<Stored>, transcript: &mut Transcript) {
        for chunk in chunks {
            self.take_chunk(chunk, batch, transcript).await;
        }
    }

    async fn take_chunk(&self, parsed: Chunk, batch: &mut Vec<Stored>, transcript: &mut Transcript) {
        if let Some(external) = parsed.session_id
            && transcript.external_id.as_deref() != Some(external.as_str())
        {
            if let Err(error) =
                sessions::set_external_id(&self.runner.0.pool, self.session.id, &external).await
            {
                warn!("session {}: recording the agent's session id failed: {error}", self.session.id);
            }
            transcript.external_id = Some(external);
        }
        for stored in parsed.entries {
            self.note_entry(&stored.entry, transcript).await;
            batch.push(stored);
        }
    }

    /// Keeps what the record needs from an entry, and attaches PR links (A6).
    async fn note_entry(&self, entry: &Entry, transcript: &mut Transcript) {
        let text = match entry {
            Entry::Error { message } => {
                transcript.last_error = Some(message.clone());
                None
            }
            Entry::Result { ok, summary, cost_usd, input_tokens, output_tokens, .. } => {
                transcript.result = Some((*ok, summary.clone()));
                let outcome = &mut transcript.outcome;
                outcome.cost_usd = cost_usd.or(outcome.cost_usd);
                outcome.input_tokens = input_tokens.or(outcome.input_tokens);
                outcome.output_tokens = output_tokens.or(outcome.output_tokens);
                summary.as_deref()
            }
            Entry::AssistantText { text } => Some(text.as_str()),
            Entry::ToolResult { output, .. } => Some(output.as_str()),
            _ => None,
        };
        // The first link only: an agent repeats its PR's address.
        if !transcript.pull_request_seen
            && let Some((url, number)) = text.and_then(pull_request_link)
        {
            transcript.pull_request_seen = true;
            if let Err(error) =
                sessions::attach_pull_request(&self.runner.0.pool, self.task.id, &url, number).await
            {
                warn!("task {}: attaching its pull request failed: {error}", self.task.id);
            }
        }
    }

    async fn persist<T: sessions::ActivityKind + serde::Serialize + Sync>(&self, entries: &[T]) {
        if entries.is_empty() {
            return;
        }
        let pool = &self.runner.0.pool;
        let written = async {
            let mut tx = pool.begin().await?;
            sessions::append(&mut tx, self.task.id, Some(self.session.id), entries).await?;
            tx.commit().await
        };
        if let Err(error) = written.await {
            warn!("session {}: {} entries could not be stored: {error}", self.session.id, entries.len());
        }
    }

    /// Stores how the run ended and what the task shows for it.
    async fn record(&self, ending: Ending, mut transcript: Transcript) {
        let timeout = self.runner.0.settings.timeout.as_secs();
        let timeout = if timeout.is_multiple_of(60) {
            format!("{} minutes", timeout / 60)
        } else {
            format!("{timeout} seconds")
        };
        let (status, task_status, message, error) = match ending {
            Ending::Stopped(StopReason::User) => {
                (SessionStatus::Stopped, AgentStatus::Idle, Some("Stopped".to_string()), None)
            }
            Ending::Stopped(StopReason::Shutdown) => (
                SessionStatus::Interrupted,
                AgentStatus::Interrupted,
                Some("viban stopped during this run; resume it to continue".to_string()),
                None,
            ),
            Ending::TimedOut => {
                let error = format!("the agent did not finish within {timeout} and was stopped");
                (SessionStatus::TimedOut, AgentStatus::Error, None, Some(error))
            }
            Ending::NotStarted(why) => (SessionStatus::Failed, AgentStatus::Error, None, Some(why)),
            Ending::Exited(exit) => {
                transcript.outcome.exit_code = exit.and_then(|status| status.code());
                let succeeded = exit.is_some_and(|status| status.success())
                    && transcript.result.as_ref().is_none_or(|(ok, _)| *ok);
                if succeeded {
                    (SessionStatus::Completed, AgentStatus::Idle, None, None)
                } else {
                    (SessionStatus::Failed, AgentStatus::Error, None, Some(failure_text(exit, &transcript)))
                }
            }
        };
        if let Some(error) = &error
            && transcript.last_error.as_deref() != Some(error.as_str())
        {
            self.persist(&[Entry::Error { message: error.clone() }]).await;
        }
        if let Err(db_error) = sessions::finish(
            &self.runner.0.pool,
            self.session.id,
            status,
            &transcript.outcome,
            task_status,
            message.as_deref(),
            error.as_deref(),
        )
        .await
        {
            warn!("session {}: recording its end failed: {db_error}", self.session.id);
        }
    }
}

/// The agent's own words for why it failed: its error result, its last error, the end
/// of its standard error, or at least its exit status.
fn failure_text(exit: Option<ExitStatus>, transcript: &Transcript) -> String {
    if let Some((false, Some(summary))) = &transcript.result
        && !summary.trim().is_empty()
    {
        return summary.clone();
    }
    if let Some(error) = &transcript.last_error {
        return error.clone();
    }
    if let Some(stderr) = &transcript.outcome.stderr_tail {
        let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
        let last = &lines[lines.len().saturating_sub(10)..];
        return last.join("\n");
    }
    match exit.and_then(|status| status.code()) {
        Some(code) => format!("the agent exited with status {code}"),
        None => "the agent was killed by a signal".to_string(),
    }
}

/// An entry with its JSON, serialized by the reader task rather than on the way to
/// the database.
struct Stored {
    entry: Entry,
    json: Box<serde_json::value::RawValue>,
}

impl serde::Serialize for Stored {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl sessions::ActivityKind for Stored {
    fn kind(&self) -> &str {
        self.entry.kind()
    }
}

/// What one line produced, ready to store.
struct Chunk {
    entries: Vec<Stored>,
    session_id: Option<String>,
}

impl From<Parsed> for Chunk {
    fn from(parsed: Parsed) -> Self {
        let entries = parsed
            .entries
            .into_iter()
            .filter_map(|entry| {
                let json = serde_json::value::to_raw_value(&entry).ok()?;
                Some(Stored { entry, json })
            })
            .collect();
        Self { entries, session_id: parsed.session_id }
    }
}

/// The agent's output parsed line by line on the reader task of [`Supervised`].
struct AgentLines(Parser);

impl process::Lines for AgentLines {
    type Item = Chunk;

    fn line(&mut self, line: &str) -> Chunk {
        Chunk::from(self.0.line(line))
    }

    fn end(mut self) -> Option<Chunk> {
        Some(Chunk::from(self.0.finish()))
    }
}

/// `https://github.com/<owner>/<repo>/pull/<n>` in a text, with its number.
pub fn pull_request_link(text: &str) -> Option<(String, i32)> {
    const PREFIX: &str = "https://github.com/";
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let candidate = &rest[at..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']' | '>' | '"' | '\'' | ','))
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches(['.', '/']);
        let parts: Vec<&str> = url[PREFIX.len()..].split('/').collect();
        if let [owner, repo, "pull", number, ..] = parts.as_slice()
            && !owner.is_empty()
            && !repo.is_empty()
            && let Ok(number) = number.parse::<i32>()
        {
            return Some((format!("{PREFIX}{owner}/{repo}/pull/{number}"), number));
        }
        rest = &candidate[PREFIX.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_links_are_found_in_prose() {
        assert_eq!(
            pull_request_link("Opened (https://github.com/acme/widgets/pull/42)."),
            Some(("https://github.com/acme/widgets/pull/42".into(), 42))
        );
        assert_eq!(
            pull_request_link(
                "see https://github.com/acme/widgets/issues/1 and https://github.com/a/b/pull/7/files"
            ),
            Some(("https://github.com/a/b/pull/7".into(), 7))
        );
        assert_eq!(pull_request_link("https://github.com/acme/widgets/pull/x"), None);
    }
}
