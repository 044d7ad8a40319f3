//! The hook engine: PostgreSQL as a durable queue of hook executions (`docs/hooks.md`).
//!
//! One dispatcher per viban process claims pending executions — one `UPDATE … WHERE
//! id = (SELECT … FOR UPDATE SKIP LOCKED)` in [`crate::db::executions::claim`] — and
//! runs each on its own task, up to [`CAPACITY`] at once. A claim holds a lease that a
//! keeper renews; every write after it carries the claim's fencing token, so a claim
//! that was cancelled (the task left the column) or retaken (the lease ran out) writes
//! nothing. The dispatcher wakes on every event the realtime hub sees (any instance's
//! moves and finished hooks, through PostgreSQL's NOTIFY) and polls as a fallback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;

use super::Step;
use super::steps::{self, Context};
use crate::agents::run::Runner;
use crate::board::pipeline;
use crate::db::events::EventKind;
use crate::db::executions::{self, Claimed};
use crate::realtime::{Hub, HubMessage};
use crate::shutdown::Background;

/// Executions one process runs at once.
pub const CAPACITY: usize = 64;
/// How long a claim holds without renewal; a claim older than this is another
/// instance's crash, and is retaken.
const LEASE: Duration = Duration::from_secs(30);
/// How often claims are renewed and expired ones retaken.
const KEEP: Duration = Duration::from_secs(5);
/// The fallback when no event wakes the dispatcher.
const POLL: Duration = Duration::from_secs(2);
/// How long the list of repositories this instance cannot reach is trusted.
const REACHABLE_FOR: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Engine(Arc<Inner>);

struct Inner {
    pool: PgPool,
    runner: Runner,
    /// Every committed event: a run-agent step wakes on its run's `session.updated`.
    hub: Hub,
    instance: String,
    wake: Notify,
    slots: Arc<Semaphore>,
    /// Executions running here, with what cancels each.
    running: Mutex<HashMap<Uuid, (i64, CancellationToken)>>,
    /// The session's background work: its cancellation ends claiming and cancels every
    /// running step (their executions stay `running`, for the next start's recovery),
    /// and the session waits for the steps on its tracker.
    background: Background,
    /// Cancelled with `background`.
    stop: CancellationToken,
    /// The repositories whose folder is not here, and when that was looked at.
    reachable: tokio::sync::Mutex<Option<(std::time::Instant, Vec<Uuid>)>>,
}

impl Engine {
    /// Recovers what this instance left running (rule 8: `cancelled/server_restart`;
    /// pending executions simply resume), then starts claiming.
    pub async fn start(
        pool: PgPool,
        runner: Runner,
        hub: &Hub,
        instance: String,
        background: &Background,
    ) -> Result<Self, crate::board::Error> {
        recover(&pool, &instance, false).await?;
        let engine = Self(Arc::new(Inner {
            pool,
            runner,
            hub: hub.clone(),
            instance,
            wake: Notify::new(),
            slots: Arc::new(Semaphore::new(CAPACITY)),
            running: Mutex::default(),
            stop: background.child_token(),
            background: background.clone(),
            reachable: tokio::sync::Mutex::default(),
        }));
        background.spawn(engine.clone().dispatch());
        background.spawn(engine.clone().keep_leases());
        background.spawn(engine.clone().follow(hub.subscribe()));
        Ok(engine)
    }

    /// Claims again now: something may have become runnable.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (i64, CancellationToken)>> {
        self.0.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn dispatch(self) {
        let inner = &self.0;
        loop {
            let Ok(permit) = inner.slots.clone().acquire_owned().await else { return };
            let claimed = tokio::select! {
                () = inner.stop.cancelled() => return,
                claimed = self.claim() => claimed,
            };
            match claimed {
                Some(claimed) => {
                    let engine = self.clone();
                    inner.background.spawn(async move {
                        engine.execute(claimed).await;
                        drop(permit);
                    });
                }
                None => {
                    drop(permit);
                    tokio::select! {
                        () = inner.stop.cancelled() => return,
                        () = inner.wake.notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        }
    }

    /// The repositories whose folder this instance does not see: another instance on
    /// the same database (a container with other mounts) may, and their hooks are left
    /// to it. Looked at again every [`REACHABLE_FOR`]; a repository linked since counts
    /// as reachable.
    async fn unreachable(&self) -> Result<Vec<Uuid>, sqlx::Error> {
        let inner = &self.0;
        if let Some((at, known)) = &*inner.reachable.lock().await
            && at.elapsed() < REACHABLE_FOR
        {
            return Ok(known.clone());
        }
        let repositories = {
            let mut connection = inner.pool.acquire().await?;
            crate::db::repositories::list(&mut connection).await?
        };
        let mut known = Vec::new();
        for repository in repositories {
            if !tokio::fs::metadata(&repository.path).await.is_ok_and(|found| found.is_dir()) {
                known.push(repository.id);
            }
        }
        *inner.reachable.lock().await = Some((std::time::Instant::now(), known.clone()));
        Ok(known)
    }

    async fn claim(&self) -> Option<Claimed> {
        let inner = &self.0;
        let attempt = async {
            let unreachable = self.unreachable().await?;
            let mut tx = inner.pool.begin().await?;
            let claimed = executions::claim(&mut tx, &inner.instance, LEASE, &unreachable).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(claimed)
        };
        match attempt.await {
            Ok(claimed) => claimed,
            // Two instances raced for one task's next hook: the unique index let one win.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                inner.wake.notify_one();
                None
            }
            Err(error) => {
                warn!("hooks: claiming failed: {error}");
                None
            }
        }
    }

    async fn execute(self, claimed: Claimed) {
        let span = info_span!("hook", execution_id = %claimed.id, task_id = %claimed.task_id,
            hook = %claimed.hook_name, instance = %self.0.instance);
        async {
            let token = self.0.stop.child_token();
            self.running().insert(claimed.id, (claimed.fence, token.clone()));
            let step = serde_json::from_value::<Step>(claimed.step.clone())
                .unwrap_or_else(|error| Step::Invalid { message: format!("unreadable step: {error}") });
            if let Err(error) = pipeline::started(&self.0.pool, &claimed, &step).await {
                warn!("recording the start failed: {error}");
            }
            let context = Context {
                pool: &self.0.pool,
                runner: &self.0.runner,
                hub: &self.0.hub,
                claimed: &claimed,
                cancel: &token,
                shutdown: &self.0.stop,
            };
            let outcome = steps::run(&step, &context).await;
            self.running().remove(&claimed.id);
            match outcome {
                // Cancelled (the task left the column: already recorded) or shutting down
                // (left running for the next start's recovery).
                None => info!("stopped"),
                Some(outcome) => match pipeline::finished(&self.0.pool, &claimed, outcome).await {
                    Ok(true) => {}
                    Ok(false) => info!("the claim was lost before the end was recorded"),
                    Err(error) => warn!("recording the end failed: {error}"),
                },
            }
            // The task's next hook, or another task's, may be runnable now.
            self.wake();
        }
        .instrument(span)
        .await;
    }

    /// Renews this instance's claims; a claim that is gone cancels its step. Retakes
    /// claims whose lease ran out (an instance that died).
    async fn keep_leases(self) {
        let inner = &self.0;
        loop {
            tokio::select! {
                () = inner.stop.cancelled() => return,
                () = tokio::time::sleep(KEEP) => {}
            }
            let claims: Vec<(Uuid, i64, CancellationToken)> =
                self.running().iter().map(|(id, (fence, token))| (*id, *fence, token.clone())).collect();
            for (id, fence, token) in claims {
                let renewed = async {
                    let mut connection = inner.pool.acquire().await?;
                    executions::renew(&mut connection, id, fence, LEASE).await
                };
                if let Ok(false) = renewed.await {
                    token.cancel();
                }
            }
            match recover(&inner.pool, &inner.instance, true).await {
                Ok(0) => {}
                Ok(_) => self.wake(),
                Err(error) => warn!("hooks: retaking expired claims failed: {error}"),
            }
        }
    }

    /// Wakes the dispatcher on the events that can make an execution runnable, and
    /// cancels a step here whose execution another request cancelled.
    async fn follow(self, mut events: tokio::sync::broadcast::Receiver<HubMessage>) {
        let inner = &self.0;
        loop {
            let message = tokio::select! {
                () = inner.stop.cancelled() => return,
                message = events.recv() => message,
            };
            match message {
                Ok(HubMessage::Event(event)) => {
                    if event.kind == EventKind::HookExecutionUpdated.as_str()
                        && event.payload["status"] == "cancelled"
                        && let Some(id) = event.payload["id"].as_str().and_then(|id| id.parse::<Uuid>().ok())
                        && let Some((_, token)) = self.running().get(&id)
                    {
                        token.cancel();
                    }
                    if event.kind == EventKind::SessionUpdated.as_str()
                        && !matches!(event.payload["status"].as_str(), Some("queued" | "running"))
                        && let Some(task_id) =
                            event.payload["task_id"].as_str().and_then(|id| id.parse().ok())
                        && let Err(error) = pipeline::pick_up_messages(&inner.pool, task_id).await
                    {
                        warn!(%task_id, "hooks: queued messages could not be handed on: {error}");
                    }
                    // A task's status changing (`task.updated`, the most frequent board
                    // event) and a hook starting make no hook runnable; moves, new tasks,
                    // column changes, hooks queued again and hooks ending can.
                    let makes_nothing_runnable = event.kind == EventKind::TaskUpdated.as_str()
                        || (event.kind == EventKind::HookExecutionUpdated.as_str()
                            && event.payload["status"] == "running");
                    if event.stream.starts_with("board:") && !makes_nothing_runnable {
                        self.wake();
                    }
                }
                Ok(HubMessage::CatchUp) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    self.wake()
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// Rule 8, through [`pipeline::abandoned`]: logs what was recovered.
async fn recover(pool: &PgPool, instance: &str, expired: bool) -> crate::board::Result<usize> {
    let abandoned = pipeline::abandoned(pool, instance, expired).await?;
    if abandoned > 0 {
        warn!("hooks: {abandoned} hook(s) were cut off by a stop of viban and recorded as such");
    }
    Ok(abandoned)
}
