//! Task templates (D5): Feature, Bugfix, Refactor and Research by default; editable.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::boards::{Template, template_fields};
use super::events::{self, board_stream};
use crate::position;

#[derive(Debug, Default)]
pub struct TemplateFields {
    pub name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// Adds a template at the end of the board's list; `None` if there is no such board.
pub async fn create(
    pool: &PgPool,
    board_id: Uuid,
    fields: TemplateFields,
) -> Result<Option<Template>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let board: Option<Uuid> = sqlx::query_scalar("SELECT id FROM boards WHERE id = $1 FOR UPDATE")
        .bind(board_id)
        .fetch_optional(&mut *tx)
        .await?;
    if board.is_none() {
        return Ok(None);
    }
    let last: Option<String> = sqlx::query_scalar("SELECT max(position) FROM templates WHERE board_id = $1")
        .bind(board_id)
        .fetch_one(&mut *tx)
        .await?;
    let key = position::between(last.as_deref(), None).unwrap_or_else(|_| "V".into());
    let template: Template = sqlx::query_as(concat!(
        "INSERT INTO templates (board_id, name, title, description, position) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        template_fields!()
    ))
    .bind(board_id)
    .bind(fields.name.unwrap_or_default())
    .bind(fields.title.unwrap_or_default())
    .bind(fields.description.unwrap_or_default())
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    events::publish(&mut tx, &[board_stream(board_id)], "template.created", &json!(template)).await?;
    tx.commit().await?;
    Ok(Some(template))
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    fields: TemplateFields,
) -> Result<Option<Template>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let template: Option<Template> = sqlx::query_as(concat!(
        "UPDATE templates SET name = coalesce($2, name), title = coalesce($3, title),
                description = coalesce($4, description), updated_at = now()
         WHERE id = $1 RETURNING ",
        template_fields!()
    ))
    .bind(id)
    .bind(fields.name)
    .bind(fields.title)
    .bind(fields.description)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(template) = &template {
        events::publish(&mut tx, &[board_stream(template.board_id)], "template.updated", &json!(template))
            .await?;
    }
    tx.commit().await?;
    Ok(template)
}

pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let board: Option<Uuid> = sqlx::query_scalar("DELETE FROM templates WHERE id = $1 RETURNING board_id")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(board_id) = board {
        events::publish(&mut tx, &[board_stream(board_id)], "template.deleted", &json!({ "id": id })).await?;
    }
    tx.commit().await?;
    Ok(board.is_some())
}
