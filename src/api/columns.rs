//! Columns (D2): `POST /api/boards/{id}/columns`, `PATCH` and `DELETE /api/columns/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Id, Json, required_text};
use crate::db::boards::{Column, ColumnRole};
use crate::db::columns::{self, ColumnChanges, ColumnError, NewColumn, Placement};
use crate::error::ApiError;
use crate::state::AppState;

const NAME_MAX: usize = 100;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateColumn {
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    pub name: String,
    /// `#rgb` or `#rrggbb`.
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateColumn {
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    pub name: Option<String>,
    /// `#rgb` or `#rrggbb`.
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub color: Option<String>,
    pub role: Option<ColumnRole>,
    pub hooks_enabled: Option<bool>,
    /// At least 1, or null for no limit.
    #[serde(default, deserialize_with = "super::extract::present")]
    #[schemars(range(min = 1))]
    pub max_concurrent: Option<Option<i32>>,
    pub after: Option<Uuid>,
    pub before: Option<Uuid>,
    /// Move the column to the end.
    #[serde(default)]
    pub move_to_end: bool,
}

pub async fn create(
    State(state): State<AppState>,
    Id(board_id): Id,
    Json(body): Json<CreateColumn>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewColumn {
        name: required_text("name", &body.name, NAME_MAX)?,
        color: body.color.map(|color| hex_color(&color)).transpose()?.unwrap_or_else(|| "#6b7280".into()),
        role: body.role.unwrap_or(ColumnRole::Custom),
        placement: Placement { after: body.after, before: body.before },
    };
    let column = columns::create(&state.pool, board_id, new).await?;
    Ok((StatusCode::CREATED, axum::Json(column)))
}

pub async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Json(body): Json<UpdateColumn>,
) -> Result<axum::Json<Column>, ApiError> {
    if let Some(Some(limit)) = body.max_concurrent
        && limit < 1
    {
        return Err(ApiError::invalid("max_concurrent must be at least 1, or null for no limit")
            .with_field("max_concurrent"));
    }
    let moves = body.after.is_some() || body.before.is_some() || body.move_to_end;
    let changes = ColumnChanges {
        name: body.name.map(|name| required_text("name", &name, NAME_MAX)).transpose()?,
        color: body.color.map(|color| hex_color(&color)).transpose()?,
        role: body.role,
        hooks_enabled: body.hooks_enabled,
        max_concurrent: body.max_concurrent,
        placement: moves.then_some(Placement { after: body.after, before: body.before }),
    };
    Ok(axum::Json(columns::update(&state.pool, id, changes).await?))
}

pub async fn delete(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    columns::delete(&state.pool, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `#rgb` or `#rrggbb`, lower-cased.
fn hex_color(value: &str) -> Result<String, ApiError> {
    let digits = value.strip_prefix('#').unwrap_or_default();
    if matches!(digits.len(), 3 | 6) && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid(format!("'{value}' is not a colour like #3b82f6")).with_field("color"))
    }
}

impl From<ColumnError> for ApiError {
    fn from(error: ColumnError) -> Self {
        let detail = error.to_string();
        match error {
            ColumnError::NotFound(_) | ColumnError::BoardNotFound(_) => {
                Self::not_found(detail).with_field("id")
            }
            ColumnError::Neighbour { field, .. } => Self::invalid(detail).with_field(field),
            ColumnError::NeighboursOutOfOrder => Self::invalid(detail).with_field("before"),
            ColumnError::LastColumn => Self::new(StatusCode::CONFLICT, "Conflict", detail),
            ColumnError::Database(error) => error.into(),
        }
    }
}
