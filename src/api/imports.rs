//! `/api/import/vibe-kanban` (D9): Vibe Kanban's boards brought over, or with `dry_run`
//! only the report of what would be. The work is [`crate::import`]'s.

use axum::extract::State;

use super::extract::Json;
use crate::error::ApiError;
use crate::import::{self, ImportReport, ImportRequest};
use crate::state::AppState;

pub async fn vibe_kanban(
    State(state): State<AppState>,
    Json(body): Json<ImportRequest>,
) -> Result<axum::Json<ImportReport>, ApiError> {
    let report =
        import::vibe_kanban(&state.pool, &state.home, body).await.map_err(crate::board::Error::from)?;
    Ok(axum::Json(report))
}
