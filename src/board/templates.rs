//! Task templates (D5): Feature, Bugfix, Refactor and Research on a new board
//! ([`DEFAULTS`]); added, edited and deleted by the user.

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Error, Result, bounded_text, optional_text};
use crate::db::boards::Template;
use crate::db::events::{self, EventKind};
use crate::db::templates as rows;
pub use crate::db::templates::TemplateRequest;
use crate::limits::{TEMPLATE_NAME_MAX, TEXT_MAX, TITLE_MAX};
use crate::position;

/// The templates of a new board: name, title prefix, description skeleton.
pub const DEFAULTS: &[(&str, &str, &str)] = &[
    ("Feature", "", "## Goal\n\n## Acceptance criteria\n- \n\n## Out of scope\n"),
    ("Bugfix", "Fix: ", "## What happens\n\n## What should happen\n\n## Steps to reproduce\n1. \n"),
    ("Refactor", "Refactor: ", "## What to change\n\n## Why\n\n## Behaviour that must not change\n"),
    (
        "Research",
        "Research: ",
        "## Question\n\n## What to look at\n\n## Expected output\nA short written summary.\n",
    ),
];

/// The request with its fields checked and trimmed.
fn checked(request: TemplateRequest) -> Result<TemplateRequest> {
    Ok(TemplateRequest {
        name: optional_text("name", request.name, TEMPLATE_NAME_MAX)?,
        title: request.title.map(|title| bounded_text("title", &title, TITLE_MAX)).transpose()?,
        description: request
            .description
            .map(|text| bounded_text("description", &text, TEXT_MAX))
            .transpose()?,
    })
}

/// Adds a template at the end of the board's list.
pub async fn create(pool: &PgPool, board_id: Uuid, request: TemplateRequest) -> Result<Template> {
    if request.name.is_none() {
        return Err(Error::invalid("name", "name is required"));
    }
    let fields = checked(request)?;
    let mut tx = pool.begin().await?;
    if !crate::db::columns::lock_board(&mut tx, board_id).await? {
        return Err(Error::not_found("board", board_id));
    }
    let template = append(&mut tx, board_id, fields).await?;
    tx.commit().await?;
    Ok(template)
}

/// Inserts a template after the board's last one and publishes it.
pub(crate) async fn append(
    connection: &mut PgConnection,
    board_id: Uuid,
    fields: TemplateRequest,
) -> Result<Template> {
    let last = rows::last_position(connection, board_id).await?;
    let key = position::between(last.as_deref(), None).unwrap_or_else(|_| "V".into());
    let template = rows::insert(connection, board_id, fields, &key).await?;
    events::publish_on_board(connection, template.board_id, EventKind::TemplateCreated, &template).await?;
    Ok(template)
}

pub async fn update(pool: &PgPool, id: Uuid, request: TemplateRequest) -> Result<Template> {
    let fields = checked(request)?;
    let mut tx = pool.begin().await?;
    let template =
        rows::update(&mut tx, id, fields).await?.ok_or_else(|| Error::not_found("template", id))?;
    events::publish_on_board(&mut tx, template.board_id, EventKind::TemplateUpdated, &template).await?;
    tx.commit().await?;
    Ok(template)
}

pub async fn delete(pool: &PgPool, id: Uuid) -> Result<()> {
    let mut tx = pool.begin().await?;
    let board_id = rows::delete(&mut tx, id).await?.ok_or_else(|| Error::not_found("template", id))?;
    events::publish_on_board(&mut tx, board_id, EventKind::TemplateDeleted, &json!({ "id": id })).await?;
    tx.commit().await?;
    Ok(())
}
