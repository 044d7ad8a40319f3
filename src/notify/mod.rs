//! Telling the user about a task when they are not looking at it: webhooks (N3) and
//! viban's own desktop notification (N2). The browser's notification and sound (N1) are
//! the web UI's (`assets/web/src/lib/attention.svelte.ts`).
//!
//! The [`Notifier`] is an adapter driven by the event log, like the hook engine: it
//! follows the realtime hub, turns the events a person may care about into [`Notice`]s
//! (a task entered a column, its run finished or failed, it needs you), and delivers
//! each to the board's webhooks ([`webhook`], retried with back-off) and, for "needs
//! you" while no browser tab is connected, to the desktop ([`desktop`]). Every viban
//! process on a database hears every event; the one that claims it
//! (`db::webhooks::claim_event`) delivers, so a webhook is called once.
//! `docs/notifications.md` describes it for users.

pub(crate) mod desktop;
pub mod webhook;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::agents::settings::BoardSettings;
use crate::db::boards::ColumnRole;
use crate::db::events::{Event, EventKind};
use crate::db::webhooks::{self, Webhook};
use crate::realtime::{Hub, HubMessage};
use crate::shutdown::Background;

/// The events a webhook may ask for.
pub const EVENTS: &[&str] = &[ENTERED_COLUMN, RUN_FINISHED, RUN_FAILED, NEEDS_YOU];
pub(crate) const ENTERED_COLUMN: &str = "task.entered_column";
pub(crate) const RUN_FINISHED: &str = "run.finished";
pub(crate) const RUN_FAILED: &str = "run.failed";
pub(crate) const NEEDS_YOU: &str = "needs_you";
/// An event kind another part of viban publishes when an agent waits for an approval
/// or an answer (on the task's stream, the task's id in its payload or stream name).
const REQUEST_OPENED: &str = "request.opened";
/// The event kinds notices come from.
const SOURCES: &[&str] = &[
    EventKind::TaskMoved.as_str(),
    EventKind::SessionUpdated.as_str(),
    EventKind::HookExecutionUpdated.as_str(),
    REQUEST_OPENED,
];
/// How many of the latest events a starting notifier looks through for ones no process
/// delivered: those its own start published (runs it found interrupted) and those a
/// crashed viban committed but never delivered.
const START_LOOKBACK: i64 = 10_000;
/// The waits between a failed delivery and the next attempt.
pub(crate) const RETRY_DELAYS: [Duration; 3] =
    [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30)];

/// Something that happened to a task, as a webhook's `json` body carries it.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// One of [`EVENTS`], or `test` for "Send test".
    pub event: &'static str,
    pub board: Named,
    pub task: Option<TaskRef>,
    /// The column the task entered, or is in.
    pub column: Option<Named>,
    /// One line for a person: what the Slack, Discord and ntfy bodies show.
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRef {
    pub id: Uuid,
    pub number: i64,
    pub title: String,
}

impl Notice {
    /// What "Send test" delivers.
    pub(crate) fn test(board_id: Uuid, board_name: &str) -> Self {
        Self {
            event: "test",
            board: Named { id: board_id, name: board_name.to_string() },
            task: None,
            column: None,
            text: format!("viban: a test from board {board_name}; this webhook works"),
            at: OffsetDateTime::now_utc(),
        }
    }

    fn wanted_by(&self, hook: &Webhook) -> bool {
        hook.events.iter().any(|event| event == self.event)
            && (self.event != ENTERED_COLUMN
                || hook.column_ids.is_empty()
                || self.column.as_ref().is_some_and(|column| hook.column_ids.contains(&column.id)))
    }
}

/// Delivers notices as the session's background work.
pub(crate) struct Notifier {
    pool: PgPool,
    hub: Hub,
    background: Background,
}

impl Notifier {
    /// Starts following the hub from the events committed from now on.
    pub(crate) fn start(pool: PgPool, hub: &Hub, background: &Background) {
        let notifier = Self { pool, hub: hub.clone(), background: background.clone() };
        let receiver = hub.subscribe();
        background.spawn(notifier.run(receiver));
    }

    async fn run(self, mut receiver: tokio::sync::broadcast::Receiver<HubMessage>) {
        let since = match self.pool.acquire().await {
            Ok(mut connection) => latest_event(&mut connection).await.unwrap_or_default(),
            Err(_) => 0,
        };
        self.catch_up((since - START_LOOKBACK).max(0)).await;
        loop {
            let message = tokio::select! {
                () = self.background.cancelled() => return,
                message = receiver.recv() => message,
            };
            match message {
                Ok(HubMessage::Event(event)) => {
                    if SOURCES.contains(&event.kind.as_str()) {
                        self.handle(&event).await;
                    }
                }
                Ok(HubMessage::CatchUp) | Err(RecvError::Lagged(_)) => self.catch_up(since).await,
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Events this process may have missed (the listener reconnected, the channel
    /// lagged) that no process has claimed yet.
    async fn catch_up(&self, since: i64) {
        let missed: Result<Vec<Event>, sqlx::Error> = sqlx::query_as(
            "SELECT id, stream, seq, kind, payload FROM events e
             WHERE id > $1 AND kind = ANY($2) AND created_at > now() - interval '10 minutes'
               AND NOT EXISTS (SELECT 1 FROM notified_events n WHERE n.event_id = e.id)
             ORDER BY id LIMIT 1000",
        )
        .bind(since)
        .bind(SOURCES)
        .fetch_all(&self.pool)
        .await;
        match missed {
            Ok(missed) => {
                for event in &missed {
                    self.handle(event).await;
                }
            }
            Err(error) => debug!("notify: could not read missed events: {error}"),
        }
    }

    async fn handle(&self, event: &Event) {
        if !may_matter(event) {
            return;
        }
        let outcome = async {
            let mut connection = self.pool.acquire().await?;
            let notices = notices(&mut connection, event).await?;
            if notices.is_empty() || !webhooks::claim_event(&mut connection, event.id).await? {
                return Ok::<_, sqlx::Error>(None);
            }
            let board_id = notices[0].board.id;
            let settings = crate::db::boards::get(&mut connection, board_id)
                .await?
                .map(|board| BoardSettings::read(&board.settings))
                .unwrap_or_default();
            let hooks = webhooks::list(&mut connection, board_id).await?;
            Ok(Some((notices, settings, hooks)))
        }
        .await;
        let (notices, settings, hooks) = match outcome {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                warn!(
                    event_id = event.id,
                    "notify: could not read what event {} concerns: {error}", event.kind
                );
                return;
            }
        };
        for notice in notices {
            for hook in hooks.iter().filter(|hook| notice.wanted_by(hook)) {
                self.background.spawn(deliver(
                    self.pool.clone(),
                    hook.clone(),
                    notice.clone(),
                    self.background.clone(),
                ));
            }
            if notice.event == NEEDS_YOU && settings.notify && self.hub.clients() == 0 && desktop::available()
            {
                let summary = match &notice.task {
                    Some(task) => format!("#{} {}", task.number, task.title),
                    None => "viban".to_string(),
                };
                let body = notice.text.clone();
                self.background.spawn(async move {
                    let shown = tokio::task::spawn_blocking(move || desktop::show(&summary, &body)).await;
                    match shown {
                        Ok(Ok(())) => info!("notify: desktop notification shown"),
                        Ok(Err(error)) => debug!("notify: no desktop notification: {error}"),
                        Err(error) => debug!("notify: the desktop notification failed: {error}"),
                    }
                });
            }
        }
    }
}

/// The newest event's id (0 for none).
async fn latest_event(connection: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM events").fetch_one(connection).await
}

/// Delivers `notice` to `hook`, retrying after each of [`RETRY_DELAYS`]; each attempt's
/// outcome is recorded on the webhook for settings to show.
async fn deliver(pool: PgPool, hook: Webhook, notice: Notice, background: Background) {
    let (url, body) = webhook::request(&hook.format, &hook.url, &notice);
    for attempt in 0..=RETRY_DELAYS.len() {
        let (target, payload) = (url.clone(), body.clone());
        let delivery = match tokio::task::spawn_blocking(move || webhook::post(&target, &payload)).await {
            Ok(delivery) => delivery,
            Err(error) => {
                webhook::Delivery { status: None, error: Some(error.to_string()), answer: String::new() }
            }
        };
        if let Ok(mut connection) = pool.acquire().await
            && let Err(error) = webhooks::record_delivery(
                &mut connection,
                hook.id,
                delivery.status,
                delivery.error.as_deref(),
            )
            .await
        {
            debug!(webhook_id = %hook.id, "notify: could not record a delivery: {error}");
        }
        let Some(error) = delivery.error else { return };
        let Some(delay) = RETRY_DELAYS.get(attempt) else {
            warn!(webhook_id = %hook.id, "notify: webhook {} gave up after {} attempts: {error}", hook.url, attempt + 1);
            return;
        };
        debug!(webhook_id = %hook.id, "notify: webhook attempt {} failed ({error}); retrying in {delay:?}", attempt + 1);
        tokio::select! {
            () = background.cancelled() => return,
            () = tokio::time::sleep(*delay) => {}
        }
    }
}

/// Whether `event` can mean anything to a person, judged from the event alone, so that
/// the many that cannot (a hook queued or started, a run starting) cost no database
/// connection. [`notices`] reads only the events this lets through.
fn may_matter(event: &Event) -> bool {
    let payload = &event.payload;
    let kind = event.kind.as_str();
    if kind == EventKind::TaskMoved.as_str() {
        // On the board's stream only: the same move is on the task's too.
        event.stream.starts_with("board:") && payload["column_changed"] == Value::Bool(true)
    } else if kind == EventKind::SessionUpdated.as_str() {
        matches!(payload["status"].as_str(), Some("completed" | "failed" | "timed_out" | "interrupted"))
    } else if kind == EventKind::HookExecutionUpdated.as_str() {
        // On the task's stream only (it is on the board's too); a transparent hook's
        // failure does not put the task in error.
        event.stream.starts_with("task:")
            && payload["status"] == "failed"
            && payload["transparent"] == Value::Bool(false)
    } else {
        true
    }
}

/// What `event` means to a person, if anything (`event` passed [`may_matter`]).
async fn notices(connection: &mut PgConnection, event: &Event) -> Result<Vec<Notice>, sqlx::Error> {
    let payload = &event.payload;
    let kind = event.kind.as_str();
    let task_id = if kind == EventKind::TaskMoved.as_str() {
        id_at(payload, &["task", "id"])
    } else if kind == EventKind::HookExecutionUpdated.as_str() {
        // A failed agent run was told already, by its own end.
        let Some(execution_id) = id_at(payload, &["id"]) else { return Ok(Vec::new()) };
        if crate::db::sessions::failed_for_execution(connection, execution_id).await? {
            return Ok(Vec::new());
        }
        id_at(payload, &["task_id"])
    } else {
        id_at(payload, &["task_id"])
            .or_else(|| id_at(payload, &["task", "id"]))
            .or_else(|| event.stream.strip_prefix("task:").and_then(|id| id.parse().ok()))
    };
    let Some(task_id) = task_id else { return Ok(Vec::new()) };
    let Some(task) = crate::db::tasks::get(connection, task_id).await? else { return Ok(Vec::new()) };
    let Some(board) = crate::db::boards::get(connection, task.board_id).await? else { return Ok(Vec::new()) };
    let columns = crate::db::boards::columns(connection, board.id).await?;
    // A move names the column entered, a hook execution its own: the task may have
    // moved on since.
    let column_id = if kind == EventKind::TaskMoved.as_str() {
        id_at(payload, &["task", "column_id"])
    } else if kind == EventKind::HookExecutionUpdated.as_str() {
        id_at(payload, &["column_id"])
    } else {
        None
    };
    let column_id = column_id.unwrap_or(task.column_id);
    let column = columns.iter().find(|column| column.id == column_id);
    let base = Notice {
        event: NEEDS_YOU,
        board: Named { id: board.id, name: board.name.clone() },
        task: Some(TaskRef { id: task.id, number: task.number, title: task.title.clone() }),
        column: column.map(|column| Named { id: column.id, name: column.name.clone() }),
        text: String::new(),
        at: OffsetDateTime::now_utc(),
    };
    let name = format!("#{} {}", task.number, task.title);
    let with = |event: &'static str, text: String| Notice { event, text, ..base.clone() };
    let mut found = Vec::new();
    if kind == EventKind::TaskMoved.as_str() {
        let Some(column) = column else { return Ok(Vec::new()) };
        found.push(with(ENTERED_COLUMN, format!("{name} moved to {} on {}", column.name, board.name)));
        if column.role == ColumnRole::Review {
            found.push(with(
                NEEDS_YOU,
                format!("{name} needs you: it is in {} on {}", column.name, board.name),
            ));
        }
    } else if kind == EventKind::SessionUpdated.as_str() {
        match payload["status"].as_str() {
            Some("completed") => {
                found.push(with(
                    RUN_FINISHED,
                    format!("{name}: the agent finished its run on {}", board.name),
                ));
            }
            Some(status @ ("failed" | "timed_out")) => {
                let why = if status == "timed_out" { "ran out of time" } else { "failed" };
                let detail = task.error.as_deref().map(|error| format!(": {error}")).unwrap_or_default();
                found.push(with(RUN_FAILED, format!("{name}: the agent's run {why}{detail}")));
                found.push(with(NEEDS_YOU, format!("{name} needs you: the agent's run {why}{detail}")));
            }
            Some("interrupted") => {
                found.push(with(
                    NEEDS_YOU,
                    format!(
                        "{name} needs you: viban stopped during the agent's run; resume it from the task"
                    ),
                ));
            }
            _ => {}
        }
    } else if kind == EventKind::HookExecutionUpdated.as_str() {
        let hook = payload["hook_name"].as_str().unwrap_or("a hook");
        let error =
            payload["error"].as_str().and_then(|error| error.lines().next()).unwrap_or("no reason given");
        let where_ = column.map(|column| format!(" in {}", column.name)).unwrap_or_default();
        found.push(with(RUN_FAILED, format!("{name}: hook {hook}{where_} failed: {error}")));
        found.push(with(NEEDS_YOU, format!("{name} needs you: hook {hook}{where_} failed: {error}")));
    } else if kind == REQUEST_OPENED {
        found.push(with(NEEDS_YOU, format!("{name} needs you: the agent is waiting for your answer")));
    }
    Ok(found)
}

fn id_at(value: &Value, path: &[&str]) -> Option<Uuid> {
    path.iter().try_fold(value, |value, key| value.get(key))?.as_str()?.parse().ok()
}
