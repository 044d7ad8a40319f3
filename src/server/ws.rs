//! The realtime WebSocket, `GET /api/ws` (D8). The security guard has already checked
//! the token and the Origin before the upgrade is accepted.
//!
//! A client gets a `hello` with the server version, and its socket is closed cleanly
//! when viban shuts down. Topic subscriptions and events are served by the realtime
//! hub built on this socket.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::server::AppState;

pub async fn upgrade(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => upgrade.max_message_size(64 * 1024).on_upgrade(move |socket| session(socket, state)),
        Err(rejection) => {
            ApiError::new(StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade required", rejection.body_text())
                .into_response()
        }
    }
}

async fn session(mut socket: WebSocket, state: AppState) {
    let hello = json!({ "type": "hello", "version": env!("CARGO_PKG_VERSION") });
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            () = state.shutdown.wait() => {
                let frame = CloseFrame { code: close_code::AWAY, reason: "viban is shutting down".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Text(_))) => {
                    let reply = json!({ "type": "error", "message": "unknown message type" });
                    if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
