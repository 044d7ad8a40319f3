//! Serialized board views, cached by version: the sequence of the last event on the
//! board's stream that changed what the view shows (`db::events::view_seq`).
//!
//! Every change to anything a board view shows publishes an event on the board's
//! stream in the same transaction, so that sequence is an exact version: a cached view
//! is served only while it is unchanged, by every viban on the database. Code that
//! changes a board's data must keep publishing such an event, of a kind that
//! `EventKind::changes_board_view`; events that change nothing shown (a hook's
//! progress, a sound) do not invalidate the view.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use axum::body::Bytes;
use uuid::Uuid;

/// Total bytes of cached views kept; the least recently stored go first.
const BUDGET: usize = 32 * 1024 * 1024;

#[derive(Default)]
pub struct ViewCache {
    entries: Mutex<Entries>,
    /// Held while a missing view is built, so that concurrent misses build it once
    /// (the others find it in the cache when they get the lock).
    pub filling: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Entries {
    by_board: HashMap<Uuid, CachedView>,
    bytes: usize,
    clock: u64,
}

#[derive(Clone)]
pub struct CachedView {
    pub seq: i64,
    pub json: Bytes,
    pub gzip: Bytes,
    stored: u64,
}

impl ViewCache {
    pub fn get(&self, board: Uuid, seq: i64) -> Option<CachedView> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.by_board.get(&board).filter(|view| view.seq == seq).cloned()
    }

    /// Stores `json` as board `board`'s view at `seq` (gzipping it once, here).
    pub fn put(&self, board: Uuid, seq: i64, json: Vec<u8>) -> CachedView {
        let gzip = {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = encoder.write_all(&json);
            encoder.finish().unwrap_or_default()
        };
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.clock += 1;
        let view = CachedView { seq, json: json.into(), gzip: gzip.into(), stored: entries.clock };
        let size = view.json.len() + view.gzip.len();
        if let Some(old) = entries.by_board.insert(board, view.clone()) {
            entries.bytes -= old.json.len() + old.gzip.len();
        }
        entries.bytes += size;
        while entries.bytes > BUDGET && entries.by_board.len() > 1 {
            let oldest =
                entries.by_board.iter().filter(|(id, _)| **id != board).min_by_key(|(_, view)| view.stored);
            let Some((&oldest, _)) = oldest else { break };
            if let Some(evicted) = entries.by_board.remove(&oldest) {
                entries.bytes -= evicted.json.len() + evicted.gzip.len();
            }
        }
        view
    }
}
