//! What each kind of step does once claimed. A step returns its [`Outcome`], or `None`
//! when it was cancelled: by the task leaving the column (already recorded as
//! `cancelled/user_cancelled`; an agent run is stopped as the user's Stop does) or by
//! viban stopping (recorded at the next start).

use crate::realtime::HubMessage;
use std::time::Duration;
use tokio::sync::broadcast;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Step;
use crate::agents::run::{RunError, Runner, StartRequest};
use crate::board::pipeline::{self, Outcome};
use crate::board::pull_requests::{self, CreateRequest};
use crate::db::executions::Claimed;
use crate::db::sessions::{self, SessionStatus};

/// How often a step waiting for an agent run looks at the run's record.
const RUN_CHECK: Duration = Duration::from_millis(50);
/// How often a waiting run-agent step reads its run's record when no event woke it.
const RUN_FALLBACK: Duration = Duration::from_secs(1);

pub(super) struct Context<'a> {
    pub pool: &'a PgPool,
    pub runner: &'a Runner,
    pub hub: &'a crate::realtime::Hub,
    pub claimed: &'a Claimed,
    /// Cancelled when the step must stop.
    pub cancel: &'a CancellationToken,
    /// Cancelled when viban stops (then `cancel` is too).
    pub shutdown: &'a CancellationToken,
}

pub(super) async fn run(step: &Step, context: &Context<'_>) -> Option<Outcome> {
    let task_id = context.claimed.task_id;
    match step {
        Step::AutoStart => match pipeline::auto_start_target(context.pool, task_id).await {
            Ok(Some(target)) => Some(Outcome::Move { target }),
            Ok(None) => Some(Outcome::Completed { output: "the task does not start by itself".into() }),
            Err(error) => Some(failed(error.to_string())),
        },
        Step::MoveTask { target } => Some(Outcome::Move { target: target.clone() }),
        Step::PlaySound { sound } => Some(Outcome::Sound { sound: sound.clone() }),
        Step::RunAgent => {
            let outcome = run_agent(context).await;
            refresh_branch(context).await;
            outcome
        }
        Step::Agent { prompt, agent } => {
            let request = StartRequest {
                prompt: Some(prompt.clone()),
                agent: agent.clone(),
                ..StartRequest::default()
            };
            let outcome = match start(context, request).await {
                Ok(session) => wait_for_run(context, session).await.map(|(outcome, _)| outcome),
                Err(_) if context.cancel.is_cancelled() => return None,
                Err(error) => return Some(failed(error.to_string())),
            };
            refresh_branch(context).await;
            outcome
        }
        Step::Script { command, timeout_seconds } => {
            super::script::run(
                context,
                command,
                Duration::from_secs(u64::try_from(*timeout_seconds).unwrap_or(600)),
            )
            .await
        }
        Step::CreatePr { draft } => {
            let request = CreateRequest { draft: *draft, ..CreateRequest::default() };
            Some(match pull_requests::create(context.pool, context.runner, task_id, request).await {
                Ok(pr) if pr.created => Outcome::Completed {
                    output: format!(
                        "Pushed {} and opened pull request #{}: {}",
                        pr.branch, pr.number, pr.url
                    ),
                },
                Ok(pr) => Outcome::Completed {
                    output: format!("The task has pull request #{} already: {}", pr.number, pr.url),
                },
                Err(error) => failed(error.to_string()),
            })
        }
        Step::Refine => super::refine::run(context).await,
        Step::Invalid { message } => Some(failed(message.clone())),
    }
}

/// After an agent's runs the branch may hold new commits: the card's ahead/behind follow
/// (`board::pull_requests::branch` keeps them on the task).
async fn refresh_branch(context: &Context<'_>) {
    if let Err(error) = pull_requests::branch(context.pool, context.claimed.task_id).await {
        tracing::debug!(task_id = %context.claimed.task_id, "the branch's ahead/behind were not refreshed: {error}");
    }
}

fn failed(error: impl Into<String>) -> Outcome {
    Outcome::Failed { error: error.into(), output: String::new() }
}

/// `builtin:run-agent`: runs the task's agent on the next queued message (its first run
/// builds the first prompt around it; later ones resume the agent's session), and again
/// while messages are queued (rule 9). The last run's outcome is the step's.
async fn run_agent(context: &Context<'_>) -> Option<Outcome> {
    let task_id = context.claimed.task_id;
    let mut first = true;
    loop {
        let message = match next_message(context.pool, task_id).await {
            Ok(message) => message,
            Err(error) => return Some(failed(format!("reading the queued messages failed: {error}"))),
        };
        if !first && message.is_none() {
            return Some(Outcome::Completed { output: String::new() });
        }
        first = false;
        let resume = StartRequest { prompt: message.clone(), resume: true, ..StartRequest::default() };
        let session = match start(context, resume).await {
            // No earlier session to continue: this is the task's first run.
            Err(RunError::NothingToResume) => {
                start(context, StartRequest { prompt: message, ..StartRequest::default() }).await
            }
            other => other,
        };
        let session = match session {
            Ok(session) => session,
            Err(_) if context.cancel.is_cancelled() => return None,
            Err(error) => return Some(failed(error.to_string())),
        };
        match wait_for_run(context, session).await? {
            (Outcome::Completed { .. }, SessionStatus::Completed) => continue,
            (outcome, _) => return Some(outcome),
        }
    }
}

/// Starts a run of the task's agent; while another run of the task is still ending (a
/// run started by hand, say), waits for it rather than failing.
async fn start(context: &Context<'_>, request: StartRequest) -> Result<sessions::AgentSession, RunError> {
    loop {
        match context.runner.run(context.claimed.task_id, request.clone()).await {
            Err(RunError::Busy) => {
                tokio::select! {
                    () = context.cancel.cancelled() => return Err(RunError::Busy),
                    () = tokio::time::sleep(RUN_CHECK) => {}
                }
            }
            other => return other,
        }
    }
}

/// Waits for an agent run to end; its outcome as the step's. `None` when the step was
/// cancelled: the run is stopped, unless viban is stopping (the runner records it as
/// interrupted then).
async fn wait_for_run(
    context: &Context<'_>,
    session: sessions::AgentSession,
) -> Option<(Outcome, SessionStatus)> {
    // The run's end is its `session.updated` event on the task's stream; the record is
    // read when one arrives (or, should events be missed, every RUN_FALLBACK).
    let mut events = context.hub.subscribe();
    let stream = format!("task:{}", context.claimed.task_id);
    loop {
        let record = async {
            let mut connection = context.pool.acquire().await?;
            sessions::get(&mut connection, session.id).await
        };
        if let Ok(Some(record)) = record.await {
            let outcome = match record.status {
                SessionStatus::Queued | SessionStatus::Running => None,
                SessionStatus::Completed => Some(Outcome::Completed { output: String::new() }),
                SessionStatus::Stopped => Some(Outcome::Completed { output: "the agent was stopped".into() }),
                SessionStatus::Interrupted => return None,
                SessionStatus::Failed | SessionStatus::TimedOut => {
                    let task = crate::board::tasks::get(context.pool, context.claimed.task_id).await.ok();
                    let error = task.and_then(|task| task.error).unwrap_or_else(|| "the agent failed".into());
                    Some(Outcome::Failed { error, output: record.stderr_tail.unwrap_or_default() })
                }
            };
            if let Some(outcome) = outcome {
                return Some((outcome, record.status));
            }
        }
        tokio::select! {
            () = context.cancel.cancelled() => {
                if !context.shutdown.is_cancelled() {
                    context.runner.stop_and_wait(context.claimed.task_id).await;
                }
                return None;
            }
            () = session_changed(&mut events, &stream) => {}
            () = tokio::time::sleep(RUN_FALLBACK) => {}
        }
    }
}

const SESSION_UPDATED: &str = crate::db::events::EventKind::SessionUpdated.as_str();

/// Returns when an agent session of `stream`'s task changed, or when events may have
/// been missed.
async fn session_changed(events: &mut broadcast::Receiver<HubMessage>, stream: &str) {
    loop {
        match events.recv().await {
            Ok(HubMessage::Event(event)) if event.stream == stream && event.kind == SESSION_UPDATED => return,
            Ok(HubMessage::Event(_)) => {}
            Ok(HubMessage::CatchUp) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

async fn next_message(pool: &PgPool, task_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    crate::db::tasks::next_message(&mut connection, task_id).await
}
