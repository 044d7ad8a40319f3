//! A board's webhooks (N3): added, edited, deleted and tested by the user. What calls
//! them, and when, is `notify`'s; this checks what a webhook may be: an `http(s)` URL
//! (private and loopback hosts allowed: ntfy and home servers are local), a known body
//! shape, known events, columns of the board.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Error, Result};
pub use crate::db::webhooks::WebhookRequest;
use crate::db::webhooks::{self as rows, Webhook};
use crate::limits::{WEBHOOK_URL_MAX, WEBHOOKS_PER_BOARD_MAX};
use crate::notify::webhook::{self, Delivery, FORMATS};
use crate::notify::{EVENTS, Notice};

pub async fn list(pool: &PgPool, board_id: Uuid) -> Result<Vec<Webhook>> {
    let mut connection = pool.acquire().await?;
    if crate::db::boards::get(&mut connection, board_id).await?.is_none() {
        return Err(Error::not_found("board", board_id));
    }
    Ok(rows::list(&mut connection, board_id).await?)
}

pub async fn create(pool: &PgPool, board_id: Uuid, request: WebhookRequest) -> Result<Webhook> {
    if request.url.is_none() {
        return Err(Error::invalid("url", "url is required"));
    }
    let mut tx = pool.begin().await?;
    if !crate::db::columns::lock_board(&mut tx, board_id).await? {
        return Err(Error::not_found("board", board_id));
    }
    let request = checked(&mut tx, board_id, request).await?;
    if rows::count(&mut tx, board_id).await? >= WEBHOOKS_PER_BOARD_MAX {
        return Err(Error::conflict(format!("a board has at most {WEBHOOKS_PER_BOARD_MAX} webhooks")));
    }
    let events = request.events.unwrap_or_else(|| EVENTS.iter().map(|event| event.to_string()).collect());
    let webhook = rows::insert(
        &mut tx,
        board_id,
        request.url.as_deref().unwrap_or_default(),
        request.format.as_deref().unwrap_or("json"),
        &events,
        &request.column_ids.unwrap_or_default(),
    )
    .await?;
    tx.commit().await?;
    Ok(webhook)
}

pub async fn update(pool: &PgPool, id: Uuid, request: WebhookRequest) -> Result<Webhook> {
    let mut tx = pool.begin().await?;
    let existing = rows::get(&mut tx, id).await?.ok_or_else(|| Error::not_found("webhook", id))?;
    let request = checked(&mut tx, existing.board_id, request).await?;
    let webhook =
        rows::update(&mut tx, id, &request).await?.ok_or_else(|| Error::not_found("webhook", id))?;
    tx.commit().await?;
    Ok(webhook)
}

pub async fn delete(pool: &PgPool, id: Uuid) -> Result<()> {
    let mut connection = pool.acquire().await?;
    rows::delete(&mut connection, id).await?.ok_or_else(|| Error::not_found("webhook", id))?;
    Ok(())
}

/// "Send test": one delivery now, recorded like any other; answers what the receiver
/// said.
pub async fn test(pool: &PgPool, id: Uuid) -> Result<Delivery> {
    let mut connection = pool.acquire().await?;
    let hook = rows::get(&mut connection, id).await?.ok_or_else(|| Error::not_found("webhook", id))?;
    let board = crate::db::boards::get(&mut connection, hook.board_id)
        .await?
        .ok_or_else(|| Error::not_found("board", hook.board_id))?;
    drop(connection);
    let (url, body) = webhook::request(&hook.format, &hook.url, &Notice::test(board.id, &board.name));
    let delivery =
        tokio::task::spawn_blocking(move || webhook::post(&url, &body)).await.unwrap_or_else(|error| {
            Delivery { status: None, error: Some(error.to_string()), answer: String::new() }
        });
    let mut connection = pool.acquire().await?;
    rows::record_delivery(&mut connection, id, delivery.status, delivery.error.as_deref()).await?;
    Ok(delivery)
}

/// The request with its fields checked and trimmed.
async fn checked(
    connection: &mut PgConnection,
    board_id: Uuid,
    request: WebhookRequest,
) -> Result<WebhookRequest> {
    let url = request.url.map(|url| checked_url(url.trim())).transpose()?;
    if let Some(format) = &request.format
        && !FORMATS.contains(&format.as_str())
    {
        return Err(Error::invalid("format", format!("format must be one of {}", FORMATS.join(", "))));
    }
    let events = match request.events {
        Some(mut events) => {
            if let Some(unknown) = events.iter().find(|event| !EVENTS.contains(&event.as_str())) {
                return Err(Error::invalid(
                    "events",
                    format!("unknown event '{unknown}': use {}", EVENTS.join(", ")),
                ));
            }
            if events.is_empty() {
                return Err(Error::invalid("events", "choose at least one event"));
            }
            let mut seen = std::collections::HashSet::new();
            events.retain(|event| seen.insert(event.clone()));
            Some(events)
        }
        None => None,
    };
    if let Some(column_ids) = &request.column_ids {
        let columns = crate::db::boards::columns(connection, board_id).await?;
        if let Some(stranger) = column_ids.iter().find(|id| !columns.iter().any(|column| column.id == **id)) {
            return Err(Error::invalid("column_ids", format!("no column {stranger} on this board")));
        }
    }
    Ok(WebhookRequest { url, format: request.format, events, column_ids: request.column_ids })
}

fn checked_url(url: &str) -> Result<String> {
    let length = url.chars().count();
    if length == 0 || length > WEBHOOK_URL_MAX {
        return Err(Error::invalid("url", format!("url must be 1 to {WEBHOOK_URL_MAX} characters long")));
    }
    let parsed: http::Uri =
        url.parse().map_err(|error| Error::invalid("url", format!("url is not a URL: {error}")))?;
    let scheme = parsed.scheme_str().unwrap_or_default().to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Error::invalid("url", "url must start with http:// or https://"));
    }
    if parsed.host().is_none_or(str::is_empty) {
        return Err(Error::invalid("url", "url has no host"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_webhooks() {
        assert!(checked_url("http://127.0.0.1:8080/viban").is_ok());
        assert!(checked_url("https://hooks.slack.com/services/T/B/x").is_ok());
        for bad in ["file:///etc/passwd", "ftp://example.com/", "hooks.slack.com/x", "http://", ""] {
            assert!(checked_url(bad).is_err(), "{bad}");
        }
    }
}
