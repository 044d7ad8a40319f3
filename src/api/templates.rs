//! Templates (D5): `POST /api/boards/{id}/templates`, `PATCH`/`DELETE /api/templates/{id}`
//! (a board's templates come with `GET /api/boards/{id}`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::extract::{Id, Json, bounded_text, required_text};
use crate::db::boards::Template;
use crate::db::templates::{self, TemplateFields};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Required when creating.
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    pub name: Option<String>,
    #[schemars(length(max = 500))]
    pub title: Option<String>,
    #[schemars(length(max = 100_000))]
    pub description: Option<String>,
}

fn validate(body: TemplateBody) -> Result<TemplateFields, ApiError> {
    Ok(TemplateFields {
        name: body.name.map(|name| required_text("name", &name, 100)).transpose()?,
        title: body.title.map(|title| bounded_text("title", &title, 500)).transpose()?,
        description: body.description.map(|text| bounded_text("description", &text, 100_000)).transpose()?,
    })
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<TemplateBody>,
) -> Result<impl IntoResponse, ApiError> {
    if body.name.is_none() {
        return Err(ApiError::invalid("name is required").with_field("name"));
    }
    let template = templates::create(&state.pool, board_id, validate(body)?).await?;
    let template = template.ok_or_else(|| super::boards::no_board(board_id))?;
    Ok((StatusCode::CREATED, axum::Json(template)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<TemplateBody>,
) -> Result<axum::Json<Template>, ApiError> {
    let template = templates::update(&state.pool, id, validate(body)?).await?;
    template.map(axum::Json).ok_or_else(|| no_template(id))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    if templates::delete(&state.pool, id).await? { Ok(StatusCode::NO_CONTENT) } else { Err(no_template(id)) }
}

fn no_template(id: uuid::Uuid) -> ApiError {
    ApiError::not_found(format!("no template {id}")).with_field("id")
}
