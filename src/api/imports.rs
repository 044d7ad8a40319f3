//! Bringing boards in and out: `/api/import/vibe-kanban` (D9), Vibe Kanban's boards, or
//! with `dry_run` only the report of what would be ([`crate::import`]); and the board
//! document (D10, `board::document`): `GET /api/boards/{id}/export`,
//! `POST /api/import/board`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Id, Json};
use crate::board::document::{self, BoardDocument};
use crate::error::ApiError;
use crate::import::{self, ImportReport, ImportRequest};
use crate::state::AppState;

/// `POST /api/import/board`: a board document, inline or in a file on the machine viban
/// runs on (for documents past the request size limit).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBoard {
    /// A board document (`GET /api/boards/{id}/export`)…
    pub document: Option<serde_json::Value>,
    /// …or the path of a file holding one.
    pub path: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportedBoard {
    pub board_id: Uuid,
}

pub async fn export(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<axum::Json<BoardDocument>, ApiError> {
    Ok(axum::Json(document::export(&state.pool, id).await?))
}

pub async fn board(
    State(state): State<AppState>,
    Json(body): Json<ImportBoard>,
) -> Result<impl IntoResponse, ApiError> {
    let text = match (body.document, body.path) {
        (Some(document), None) => document.to_string().into_bytes(),
        (None, Some(path)) => tokio::fs::read(&path).await.map_err(|error| {
            crate::board::Error::invalid("path", format!("could not read {path}: {error}"))
        })?,
        _ => {
            return Err(
                crate::board::Error::invalid_request("give exactly one of `document` or `path`").into()
            );
        }
    };
    let parsed = document::parse(&text)?;
    let board_id = document::import(&state.pool, &state.home, parsed).await?;
    Ok((StatusCode::CREATED, axum::Json(ImportedBoard { board_id })))
}

pub async fn vibe_kanban(
    State(state): State<AppState>,
    Json(body): Json<ImportRequest>,
) -> Result<axum::Json<ImportReport>, ApiError> {
    let report =
        import::vibe_kanban(&state.pool, &state.home, body).await.map_err(crate::board::Error::from)?;
    Ok(axum::Json(report))
}
