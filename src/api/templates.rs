//! Templates (D5): `POST /api/boards/{id}/templates`, `PATCH`/`DELETE /api/templates/{id}`
//! (a board's templates come with `GET /api/boards/{id}`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::extract::{Id, Json};
use crate::board::limits::{TEMPLATE_NAME_MAX, TEXT_MAX, TITLE_MAX};
use crate::board::templates::{self, TemplateRequest};
use crate::db::boards::Template;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Required when creating.
    #[schemars(length(min = 1, max = TEMPLATE_NAME_MAX), regex(pattern = r"\S"))]
    pub name: Option<String>,
    #[schemars(length(max = TITLE_MAX))]
    pub title: Option<String>,
    #[schemars(length(max = TEXT_MAX))]
    pub description: Option<String>,
}

impl From<TemplateBody> for TemplateRequest {
    fn from(body: TemplateBody) -> Self {
        Self { name: body.name, title: body.title, description: body.description }
    }
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<TemplateBody>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(templates::create(&state.pool, board_id, body.into()).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<TemplateBody>,
) -> Result<axum::Json<Template>, ApiError> {
    Ok(axum::Json(templates::update(&state.pool, id, body.into()).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    templates::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
