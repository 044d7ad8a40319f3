//! The realtime hub (D8): one `LISTEN viban_events` connection per viban process,
//! fanning every committed event out to this process's WebSocket sessions. Because
//! events travel through PostgreSQL, several viban processes on one database see each
//! other's changes (T2).
//!
//! Delivery is made reliable by the event log, not by this channel: sessions track
//! the last sequence they sent per stream and refill gaps from the `events` table
//! whenever the listener reconnects, the channel lags, or a sequence jumps.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use tracing::{debug, warn};

use crate::db::events::{self, CHANNEL, Event, EventKind};
use crate::db::sessions;
use crate::shutdown::Background;

/// How long events are kept for reconnecting clients; older ones mean a resync.
pub const RETENTION: time::Duration = time::Duration::hours(24);

#[derive(Debug, Clone)]
pub enum HubMessage {
    Event(Arc<Event>),
    /// Notifications may have been missed: sessions re-read their streams' tails.
    CatchUp,
}

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<HubMessage>,
    /// WebSocket sessions open now: browser tabs showing viban (see [`Hub::connect`]).
    clients: Arc<AtomicUsize>,
}

/// One connected WebSocket client, counted while it lives.
pub struct Client(Arc<AtomicUsize>);

impl Drop for Client {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hub {
    /// Starts listening and pruning, as the session's background work.
    pub fn start(pool: PgPool, background: &Background) -> Self {
        let (sender, _) = broadcast::channel(4096);
        background.spawn(listen(pool.clone(), sender.clone(), background.clone()));
        background.spawn(prune_periodically(pool, background.clone()));
        Self { sender, clients: Arc::default() }
    }

    /// Counts a WebSocket client until the returned guard is dropped.
    pub fn connect(&self) -> Client {
        self.clients.fetch_add(1, Ordering::SeqCst);
        Client(self.clients.clone())
    }

    /// How many WebSocket clients (browser tabs) are connected to this process.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::SeqCst)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<HubMessage> {
        self.sender.subscribe()
    }
}

async fn listen(pool: PgPool, sender: broadcast::Sender<HubMessage>, background: Background) {
    let mut backoff = Duration::from_millis(200);
    while !background.is_cancelled() {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                warn!("realtime: cannot listen for events ({error}); retrying in {backoff:?}");
                tokio::select! {
                    () = background.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        // Whatever was committed while no one listened is in the log.
        let _ = sender.send(HubMessage::CatchUp);
        loop {
            let received = tokio::select! {
                () = background.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Some(event) = decode(&pool, notification.payload()).await {
                        // No receivers is fine: no one is watching.
                        let _ = sender.send(HubMessage::Event(Arc::new(event)));
                    }
                }
                // The connection dropped; try_recv reconnects on the next call.
                Ok(None) => {
                    let _ = sender.send(HubMessage::CatchUp);
                }
                Err(error) => {
                    warn!("realtime: the event listener failed ({error}); reconnecting");
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// A notification carries the whole event, or only its id when it was too large.
async fn decode(pool: &PgPool, payload: &str) -> Option<Event> {
    #[derive(serde::Deserialize)]
    struct Notice {
        id: i64,
        stream: Option<String>,
        seq: Option<i64>,
        kind: Option<String>,
        payload: Option<serde_json::Value>,
    }
    let notice: Notice = serde_json::from_str(payload).ok()?;
    match (notice.stream, notice.seq, notice.kind, notice.payload) {
        (Some(stream), Some(seq), Some(kind), Some(payload)) => {
            Some(Event { id: notice.id, stream, seq, kind, payload })
        }
        _ => {
            let mut connection = pool.acquire().await.ok()?;
            events::by_id(&mut connection, notice.id).await.ok().flatten()
        }
    }
}

async fn prune_periodically(pool: PgPool, background: Background) {
    loop {
        tokio::select! {
            () = background.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        if let Ok(mut connection) = pool.acquire().await {
            match events::prune(&mut connection, RETENTION).await {
                Ok(pruned) if pruned > 0 => debug!("realtime: pruned {pruned} old events"),
                Ok(_) => {}
                Err(error) => warn!("realtime: pruning old events failed: {error}"),
            }
        }
    }
}

/// The stream's latest sequence number (0 if nothing happened on it yet).
pub async fn last_seq(pool: &PgPool, stream: &str) -> Result<i64, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    events::last_seq(&mut connection, stream).await
}

/// Events of `stream` after `after`, or `None` when some were pruned (a resync).
pub async fn replay(
    pool: &PgPool,
    stream: &str,
    after: i64,
    limit: i64,
) -> Result<Option<Vec<Event>>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    events::since(&mut connection, stream, after, limit).await
}

/// A client's message for an event; an `activity.appended` event names a range of
/// entries, read here for the clients that follow the task.
pub async fn render(pool: &PgPool, event: &Event) -> Value {
    let mut message = event_message(event);
    if event.kind == EventKind::ActivityAppended.as_str() && event.payload.get("entries").is_none() {
        let entries = match pool.acquire().await {
            Ok(mut connection) => sessions::activity_range(&mut connection, &event.payload).await,
            Err(error) => Err(error),
        };
        message["payload"]["entries"] = json!(entries.unwrap_or_default());
    }
    message
}

fn event_message(event: &Event) -> Value {
    json!({ "type": "event", "stream": event.stream, "seq": event.seq, "kind": event.kind, "payload": event.payload })
}
