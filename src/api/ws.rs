//! The realtime WebSocket, `GET /api/ws` (D8). The security guard has checked the
//! token and the Origin before the upgrade is accepted.
//!
//! Protocol, JSON text frames:
//!
//! * client → `{"type":"subscribe","stream":"board:<id>","after":<seq>}` (`after`
//!   optional: the last sequence the client saw, to resume), `{"type":"unsubscribe",
//!   "stream":…}`, `{"type":"ping"}`;
//! * server → `hello` (version), `subscribed` (stream, current `seq`), `event` (stream,
//!   `seq`, `kind`, `payload`), `resync` (events after `after` were pruned: reload the
//!   resource, then continue from `seq`), `unsubscribed`, `pong`, `error` (`message`;
//!   a refused subscribe also names its `stream`, and says `retry: true` when asking
//!   again shortly can succeed).
//!
//! Sequences are per stream and gap-free: a session tracks the last one it sent per
//! stream and refills any gap from the event log, so a client sees every event of its
//! streams exactly once and in order.

use std::collections::HashMap;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::db::events::Event;
use crate::error::ApiError;
use crate::realtime::{self, HubMessage};
use crate::state::AppState;

/// Streams one socket may follow at once.
const MAX_SUBSCRIPTIONS: usize = 256;
/// Events replayed in one catch-up.
const REPLAY_LIMIT: i64 = 10_000;

pub async fn upgrade(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => upgrade.max_message_size(64 * 1024).on_upgrade(move |socket| run(socket, state)),
        Err(rejection) => {
            ApiError::new(StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade required", rejection.body_text())
                .into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Subscribe { stream: String, after: Option<i64> },
    Unsubscribe { stream: String },
    Ping,
}

struct Session {
    socket: WebSocket,
    state: AppState,
    /// Stream → the last sequence sent to the client.
    subscriptions: HashMap<String, i64>,
}

/// The socket is gone; nothing more to do for this session.
struct Closed;

async fn run(socket: WebSocket, state: AppState) {
    // Subscribe to the hub before anything else, so nothing committed from now on is missed.
    let mut hub = state.hub.subscribe();
    // Counted while open: desktop notifications are for when no tab is (`notify`).
    let _client = state.hub.connect();
    let mut session = Session { socket, state, subscriptions: HashMap::new() };
    if session.send(json!({ "type": "hello", "version": env!("CARGO_PKG_VERSION") })).await.is_err() {
        return;
    }
    let shutdown = session.state.shutdown.clone();
    loop {
        let outcome = tokio::select! {
            () = shutdown.wait() => {
                let frame = CloseFrame { code: close_code::AWAY, reason: "viban is shutting down".into() };
                let _ = session.socket.send(Message::Close(Some(frame))).await;
                return;
            }
            message = session.socket.recv() => match message {
                Some(Ok(Message::Text(text))) => session.handle(text.as_str()).await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => Ok(()),
            },
            message = hub.recv() => match message {
                Ok(HubMessage::Event(event)) => session.deliver(&event).await,
                Ok(HubMessage::CatchUp) | Err(RecvError::Lagged(_)) => session.catch_up_all().await,
                Err(RecvError::Closed) => return,
            },
        };
        if outcome.is_err() {
            return;
        }
    }
}

impl Session {
    async fn send(&mut self, message: Value) -> Result<(), Closed> {
        self.socket.send(Message::Text(message.to_string().into())).await.map_err(|_| Closed)
    }

    async fn error(&mut self, message: impl Into<String>) -> Result<(), Closed> {
        self.send(json!({ "type": "error", "message": message.into() })).await
    }

    /// A subscribe refused: the error names the stream, and whether to ask again.
    async fn refuse(&mut self, stream: &str, message: String, retry: bool) -> Result<(), Closed> {
        self.send(json!({ "type": "error", "stream": stream, "message": message, "retry": retry })).await
    }

    async fn handle(&mut self, text: &str) -> Result<(), Closed> {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(error) => return self.error(format!("unreadable message: {error}")).await,
        };
        match message {
            ClientMessage::Ping => self.send(json!({ "type": "pong" })).await,
            ClientMessage::Unsubscribe { stream } => {
                self.subscriptions.remove(&stream);
                self.send(json!({ "type": "unsubscribed", "stream": stream })).await
            }
            ClientMessage::Subscribe { stream, after } => self.subscribe(stream, after).await,
        }
    }

    async fn subscribe(&mut self, stream: String, after: Option<i64>) -> Result<(), Closed> {
        if !valid_stream(&stream) {
            let message = format!("unknown stream '{stream}': use board:<id> or task:<id>");
            return self.refuse(&stream, message, false).await;
        }
        if !self.subscriptions.contains_key(&stream) && self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            let message = format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection");
            return self.refuse(&stream, message, false).await;
        }
        let Ok(current) = realtime::last_seq(&self.state.pool, &stream).await else {
            return self
                .refuse(&stream, "the database is unavailable; subscribe again shortly".into(), true)
                .await;
        };
        match after {
            // Resume: replay what followed `after` (or say it is gone).
            Some(after) if after < current => {
                self.subscriptions.insert(stream.clone(), after.max(0));
                self.catch_up(&stream).await?;
            }
            _ => {
                self.subscriptions.insert(stream.clone(), current);
            }
        }
        let seq = self.subscriptions.get(&stream).copied().unwrap_or(current);
        self.send(json!({ "type": "subscribed", "stream": stream, "seq": seq })).await
    }

    async fn deliver(&mut self, event: &Event) -> Result<(), Closed> {
        let Some(&last) = self.subscriptions.get(&event.stream) else { return Ok(()) };
        if event.seq <= last {
            return Ok(());
        }
        if event.seq > last + 1 {
            // Something went missing on the way: the log has it.
            return self.catch_up(&event.stream).await;
        }
        self.subscriptions.insert(event.stream.clone(), event.seq);
        let message = realtime::render(&self.state.pool, event).await;
        self.send(message).await
    }

    async fn catch_up_all(&mut self) -> Result<(), Closed> {
        let streams: Vec<String> = self.subscriptions.keys().cloned().collect();
        for stream in streams {
            self.catch_up(&stream).await?;
        }
        Ok(())
    }

    /// Sends every event of `stream` after the last one sent, or a `resync`.
    async fn catch_up(&mut self, stream: &str) -> Result<(), Closed> {
        let Some(&last) = self.subscriptions.get(stream) else { return Ok(()) };
        let replay = realtime::replay(&self.state.pool, stream, last, REPLAY_LIMIT).await;
        match replay {
            Ok(Some(replay)) => {
                for event in &replay {
                    self.subscriptions.insert(stream.to_string(), event.seq);
                    let message = realtime::render(&self.state.pool, event).await;
                    self.send(message).await?;
                }
                Ok(())
            }
            Ok(None) => {
                let current = realtime::last_seq(&self.state.pool, stream).await.unwrap_or(last);
                self.subscriptions.insert(stream.to_string(), current);
                self.send(json!({ "type": "resync", "stream": stream, "seq": current })).await
            }
            // The next event or catch-up tries again.
            Err(_) => Ok(()),
        }
    }
}

fn valid_stream(stream: &str) -> bool {
    let id = stream.strip_prefix("board:").or_else(|| stream.strip_prefix("task:"));
    id.is_some_and(|id| id.parse::<Uuid>().is_ok())
}
