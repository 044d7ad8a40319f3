//! The [`Runner`] of agent runs (A4–A7): what the rest of viban calls to start, message
//! and stop them, and what it owns across runs — the global slots (extra runs wait as
//! `queued`, first come first served), the runs underway by task, the per-column
//! limits (`columns`), and the chat messages that start a run once the one before
//! ends. One run, from its slot to its record, is a `job::Job`; how its output becomes
//! activity and a record is `transcript`.
//!
//! Stopping is TERM to the agent's whole process group, then KILL after a grace period,
//! and a KILL to the group whenever a run ends ([`process::Supervised`]), so nothing an
//! agent started outlives it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use uuid::Uuid;

use super::columns::Columns;
use super::job::Job;
use super::settings::BoardSettings;
use super::{prompt, resolve};
use crate::db::sessions::{self, AgentSession};
use crate::db::tasks::Task;
use crate::home::Home;
use crate::process::{self, Stop};
use crate::worktree::{self, Worktrees};

pub use super::prompt::CONTINUE_PROMPT;
pub use super::transcript::pull_request_link;

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
    Database(sqlx::Error),
}

/// The database's own guard of one active session per task (the unique index
/// `agent_sessions_one_active_per_task`): what another viban on the same database hits.
const ONE_ACTIVE_SESSION: &str = "agent_sessions_one_active_per_task";

impl From<sqlx::Error> for RunError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(database) if database.constraint() == Some(ONE_ACTIVE_SESSION) => {
                Self::Busy
            }
            _ => Self::Database(error),
        }
    }
}

/// A task's worktree, ready to work in.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub path: PathBuf,
    pub branch: String,
    pub base: String,
    pub task: Task,
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

/// Why a run was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StopReason {
    User,
    Shutdown,
}

struct Active {
    session_id: Uuid,
    stop: Stop<StopReason>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Clone)]
pub struct Runner(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) pool: PgPool,
    pub(super) home: Home,
    pub(super) worktrees: Worktrees,
    pub(super) slots: Arc<Semaphore>,
    pub(super) settings: RunnerSettings,
    instance_id: String,
    active: Mutex<HashMap<Uuid, Active>>,
    /// Per-column limits (A5).
    pub(super) columns: Arc<Columns>,
    /// Woken when a request is decided on this viban: runs waiting for an approval
    /// read theirs again (`control`).
    pub(super) decided: Arc<tokio::sync::Notify>,
    /// Each run's MCP token (M2).
    pub(super) tokens: super::access::RunTokens,
}

impl Runner {
    /// Also marks what this instance (`instance_id`, [`crate::instance::identity`]) left
    /// running before as `interrupted` (A7).
    pub async fn start(
        pool: PgPool,
        home: Home,
        settings: RunnerSettings,
        instance_id: String,
    ) -> Result<Self, sqlx::Error> {
        let groups = sessions::interrupt_orphans(&pool, &instance_id).await?;
        for group in groups {
            let killed = process::kill_group_within(group, &home.worktrees_dir());
            if killed > 0 {
                warn!("stopped {killed} process(es) an agent run left behind when viban last stopped");
            }
        }
        let runner = Self(Arc::new(Inner {
            pool,
            home,
            worktrees: Worktrees::default(),
            slots: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            settings,
            instance_id,
            active: Mutex::default(),
            columns: Arc::default(),
            decided: Arc::default(),
            tokens: super::access::RunTokens::default(),
        }));
        Ok(runner)
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Active>> {
        self.0.active.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The tokens this runner's runs reach the MCP server with.
    pub fn run_tokens(&self) -> &super::access::RunTokens {
        &self.0.tokens
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
        let (task, board, repository) = where_it_runs(&mut connection, task_id).await?;
        let settings = BoardSettings::read(&board.settings);
        let agent_id = resolve::agent_id(request.agent.as_deref(), &task, &settings);
        let agent = resolve::agent(&agent_id, &settings)?;

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
        let prompt = prompt::for_run(&task, request.prompt.as_deref(), previous.is_empty());
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
            copy: settings.copy_files,
            policy: settings.permission_policy,
            approval_timeout: settings.approval_timeout,
        };
        let handle = tokio::spawn(job.drive(stop));
        if let Some(active) = self.active().get_mut(&task_id) {
            active.session_id = session.id;
            active.handle = Some(handle);
        }
        Ok(session)
    }

    /// A request was decided (`board::requests`): the runs waiting for one read theirs.
    pub fn request_decided(&self) {
        self.0.decided.notify_waiters();
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

    /// The task's worktree, created from its base branch if it does not exist yet, and
    /// recorded on the task: where script hooks run.
    pub async fn prepare_worktree(&self, task_id: Uuid) -> Result<Prepared, String> {
        let found = async {
            let mut connection = self.0.pool.acquire().await?;
            where_it_runs(&mut connection, task_id).await
        };
        let (task, board, repository) = found.await.map_err(|error| error.to_string())?;
        let base = task_base(&task, &repository.default_branch);
        let copy = BoardSettings::read(&board.settings).copy_files;
        let (path, branch) = self.ensure_worktree(&task, Path::new(&repository.path), &base, &copy).await?;
        Ok(Prepared { path, branch, base, task })
    }

    /// The task's worktree and branch, created from `base` (with the `copy` files) if
    /// they do not exist yet, and recorded on the task the first time.
    pub(super) async fn ensure_worktree(
        &self,
        task: &Task,
        repository: &Path,
        base: &str,
        copy: &[String],
    ) -> Result<(PathBuf, String), String> {
        let inner = &self.0;
        let (path, branch) = match (&task.worktree_path, &task.branch) {
            (Some(path), Some(branch)) => (PathBuf::from(path), branch.clone()),
            _ => (
                inner.home.worktrees_dir().join(task.board_id.to_string()).join(task.id.to_string()),
                worktree::branch_name(task.id, &task.title),
            ),
        };
        inner
            .worktrees
            .ensure(repository, &path, &branch, base, copy)
            .await
            .map_err(|error| error.to_string())?;
        if task.worktree_path.is_none()
            && let Err(error) =
                sessions::set_worktree(&inner.pool, task.id, &path.to_string_lossy(), &branch).await
        {
            warn!("task {}: recording its worktree failed: {error}", task.id);
        }
        Ok((path, branch))
    }

    /// Removes a deleted task's worktree and branch, unless that would lose work: a
    /// dirty worktree or a branch with commits only it has is kept, and the log says
    /// where.
    pub async fn remove_worktree(&self, task: &Task) {
        let (Some(path), Some(branch)) = (&task.worktree_path, &task.branch) else { return };
        let found = async {
            let mut connection = self.0.pool.acquire().await.ok()?;
            let board = crate::db::boards::get(&mut connection, task.board_id).await.ok().flatten()?;
            let repository =
                crate::db::repositories::get(&mut connection, board.repository_id?).await.ok().flatten()?;
            Some((repository, BoardSettings::read(&board.settings).copy_files))
        };
        let Some((repository, copied)) = found.await else { return };
        let base = task_base(task, &repository.default_branch);
        let worktree = worktree::Worktree { path: PathBuf::from(path), branch: branch.clone() };
        let root = self.0.home.worktrees_dir();
        let target = worktree::Removable {
            repository: Path::new(&repository.path),
            worktree: &worktree,
            task_id: task.id,
            root: &root,
            base: &base,
            copied: &copied,
        };
        match self.0.worktrees.remove(&target).await {
            Ok(worktree::Removal::Removed { .. }) => info!("removed the worktree {path} and branch {branch}"),
            Ok(worktree::Removal::Kept(keep)) => {
                warn!("kept the worktree {path}: {}", keep.reason(branch, &base));
            }
            Err(error) => warn!("could not remove the worktree {path}: {error}"),
        }
    }

    /// The one rule for removing a task's worktree (`worktree::Worktrees`), with its
    /// per-repository serialization.
    pub fn worktrees(&self) -> &worktree::Worktrees {
        &self.0.worktrees
    }

    /// Where this instance makes worktrees (`<home>/worktrees`).
    pub fn worktrees_dir(&self) -> PathBuf {
        self.0.home.worktrees_dir()
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
        let all = async {
            for handle in handles {
                let _ = handle.await;
            }
        };
        if tokio::time::timeout(process::STOP_GRACE + Duration::from_secs(3), all).await.is_err() {
            warn!("agent runs did not finish stopping in time");
        }
    }

    /// A run has been recorded: the task is free for the next.
    pub(super) fn finished(&self, task_id: Uuid, session_id: Uuid) {
        let mut active = self.active();
        if active.get(&task_id).is_some_and(|run| run.session_id == session_id) {
            active.remove(&task_id);
        }
    }
}

/// A task with its board and the board's repository: where its agent or hook runs.
pub(super) async fn where_it_runs(
    connection: &mut sqlx::PgConnection,
    task_id: Uuid,
) -> Result<(Task, crate::db::boards::Board, crate::db::repositories::Repository), RunError> {
    let task = crate::db::tasks::get(connection, task_id).await?.ok_or(RunError::TaskNotFound(task_id))?;
    let board =
        crate::db::boards::get(connection, task.board_id).await?.ok_or(RunError::TaskNotFound(task_id))?;
    let repository_id = board.repository_id.ok_or(RunError::NoRepository)?;
    let repository =
        crate::db::repositories::get(connection, repository_id).await?.ok_or(RunError::NoRepository)?;
    Ok((task, board, repository))
}

/// The branch a task's worktree starts from: its own choice, else the repository's default.
fn task_base(task: &Task, default_branch: &str) -> String {
    task.base_branch.clone().unwrap_or_else(|| default_branch.to_string())
}
