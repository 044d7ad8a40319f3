//! Board tools: `list_boards`, `get_board`, and `list_agents`.

use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{Caller, NoArguments};
use crate::board::{self, Result};
use crate::db::boards::BoardSummary;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BoardId {
    /// The board's id (from `list_boards`).
    pub board_id: Uuid,
}

pub(super) async fn list(caller: Caller, _: NoArguments) -> Result<Vec<BoardSummary>> {
    board::boards::list(&caller.state.pool).await
}

/// The board view the web UI reads (`GET /api/boards/{id}`), from the same cache.
pub(super) async fn get(caller: Caller, arguments: BoardId) -> Result<Box<RawValue>> {
    let state = &caller.state;
    let cached = board::boards::view(&state.pool, &state.board_views, arguments.board_id).await?;
    let text = String::from_utf8_lossy(&cached.json).into_owned();
    RawValue::from_string(text).map_err(|error| board::Error::Database(sqlx::Error::Decode(Box::new(error))))
}

pub(super) async fn agents(_: Caller, _: NoArguments) -> Result<Vec<crate::agents::detect::Availability>> {
    Ok(crate::agents::detect::all().await)
}
