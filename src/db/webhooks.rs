//! Webhooks' SQL (N3): a board's webhooks, the outcome of each one's last delivery, and
//! the claim on an event's notifications that makes one viban process deliver them. The
//! rules are `board::webhooks`'s; the delivery is `notify`'s.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::limits::WEBHOOK_URL_MAX;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub board_id: Uuid,
    pub url: String,
    /// The body's shape: `json`, `slack`, `discord` or `ntfy`.
    pub format: String,
    /// What it is called for: `task.entered_column`, `run.finished`, `run.failed`,
    /// `needs_you`.
    pub events: Vec<String>,
    /// For `task.entered_column`: the columns it fires for; empty means every column.
    pub column_ids: Vec<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub created_at: OffsetDateTime,
    /// When it was last called (a delivery attempt or a test).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub last_delivery_at: Option<OffsetDateTime>,
    /// The HTTP status the receiver answered last; absent when it never answered.
    pub last_status: Option<i32>,
    /// Why the last delivery failed; absent when it succeeded.
    pub last_error: Option<String>,
}

macro_rules! webhook_fields {
    () => {
        "id, board_id, url, format, events, column_ids, created_at, last_delivery_at, last_status, last_error"
    };
}
super::record::record!(Webhook, webhook_fields, "webhooks", on_board);

// Checked by `board::webhooks` before it gets here.
/// A webhook as asked for; absent fields stay when editing.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookBody")]
pub struct WebhookRequest {
    /// An `http` or `https` URL (required when creating). Loopback and private
    /// addresses are allowed: ntfy and home servers are often local.
    #[schemars(length(min = 1, max = WEBHOOK_URL_MAX))]
    pub url: Option<String>,
    /// `json` (default), `slack`, `discord` or `ntfy`.
    pub format: Option<String>,
    /// Any of `task.entered_column`, `run.finished`, `run.failed`, `needs_you`
    /// (default: all).
    pub events: Option<Vec<String>>,
    /// For `task.entered_column`: only these columns; empty or absent means every column.
    pub column_ids: Option<Vec<Uuid>>,
}

pub async fn list(connection: &mut PgConnection, board_id: Uuid) -> Result<Vec<Webhook>, sqlx::Error> {
    super::record::all(connection, "board_id = $1 ORDER BY created_at, id", board_id).await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Webhook>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

pub async fn count(connection: &mut PgConnection, board_id: Uuid) -> Result<i64, sqlx::Error> {
    super::record::count_on_board::<Webhook>(connection, board_id).await
}

pub async fn insert(
    connection: &mut PgConnection,
    board_id: Uuid,
    url: &str,
    format: &str,
    events: &[String],
    column_ids: &[Uuid],
) -> Result<Webhook, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO webhooks (board_id, url, format, events, column_ids) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        webhook_fields!()
    ))
    .bind(board_id)
    .bind(url)
    .bind(format)
    .bind(events)
    .bind(column_ids)
    .fetch_one(connection)
    .await
}

pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    request: &WebhookRequest,
) -> Result<Option<Webhook>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE webhooks SET url = coalesce($2, url), format = coalesce($3, format),
                events = coalesce($4, events), column_ids = coalesce($5, column_ids)
         WHERE id = $1 RETURNING ",
        webhook_fields!()
    ))
    .bind(id)
    .bind(&request.url)
    .bind(&request.format)
    .bind(&request.events)
    .bind(&request.column_ids)
    .fetch_optional(connection)
    .await
}

/// Deletes a webhook; its board, if there was one.
pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    super::record::delete_on_board::<Webhook>(connection, id).await
}

/// Records one delivery attempt: the status the receiver answered (if it did) and the
/// error (none when it succeeded).
pub async fn record_delivery(
    connection: &mut PgConnection,
    id: Uuid,
    status: Option<i32>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhooks SET last_delivery_at = now(), last_status = $2, last_error = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Takes on the notifications of event `event_id`: true for the one caller (of every
/// viban process on the database) that got it first.
pub async fn claim_event(connection: &mut PgConnection, event_id: i64) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO notified_events (event_id) SELECT $1 WHERE EXISTS (SELECT 1 FROM events WHERE id = $1)
         ON CONFLICT DO NOTHING",
    )
    .bind(event_id)
    .execute(connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
