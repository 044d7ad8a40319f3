//! Task templates' SQL (D5). The defaults and the rules are `board::templates`'s.

use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::boards::{Template, template_fields};
use crate::limits::{TEMPLATE_NAME_MAX, TEXT_MAX, TITLE_MAX};

// Checked by `board::templates` before it gets here.
/// A template as asked for; absent fields stay when editing.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TemplateBody")]
pub struct TemplateRequest {
    /// Required when creating.
    #[schemars(length(min = 1, max = TEMPLATE_NAME_MAX), regex(pattern = r"\S"))]
    pub name: Option<String>,
    #[schemars(length(max = TITLE_MAX))]
    pub title: Option<String>,
    #[schemars(length(max = TEXT_MAX))]
    pub description: Option<String>,
}

/// The position after the board's last template.
pub async fn last_position(
    connection: &mut PgConnection,
    board_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(position) FROM templates WHERE board_id = $1")
        .bind(board_id)
        .fetch_one(connection)
        .await
}

pub async fn insert(
    connection: &mut PgConnection,
    board_id: Uuid,
    fields: TemplateRequest,
    position: &str,
) -> Result<Template, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO templates (board_id, name, title, description, position) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        template_fields!()
    ))
    .bind(board_id)
    .bind(fields.name.unwrap_or_default())
    .bind(fields.title.unwrap_or_default())
    .bind(fields.description.unwrap_or_default())
    .bind(position)
    .fetch_one(connection)
    .await
}

pub async fn update(
    connection: &mut PgConnection,
    id: Uuid,
    fields: TemplateRequest,
) -> Result<Option<Template>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE templates SET name = coalesce($2, name), title = coalesce($3, title),
                description = coalesce($4, description), updated_at = now()
         WHERE id = $1 RETURNING ",
        template_fields!()
    ))
    .bind(id)
    .bind(fields.name)
    .bind(fields.title)
    .bind(fields.description)
    .fetch_optional(connection)
    .await
}

/// Deletes a template; its board, if there was one.
pub async fn delete(connection: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    super::record::delete_on_board::<Template>(connection, id).await
}
