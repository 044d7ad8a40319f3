//! Task templates' SQL (D5). The defaults and the rules are `board::templates`'s.

use sqlx::PgConnection;
use uuid::Uuid;

use super::boards::{Template, template_fields};

#[derive(Debug, Default)]
pub struct TemplateFields {
    pub name: Option<String>,
    pub title: Option<String>,
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
    fields: TemplateFields,
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
    fields: TemplateFields,
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
    sqlx::query_scalar("DELETE FROM templates WHERE id = $1 RETURNING board_id")
        .bind(id)
        .fetch_optional(connection)
        .await
}
