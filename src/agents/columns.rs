//! Per-column limits on agent runs (A5): a column's `max_concurrent` runs at once, the
//! rest waiting in order. A run counts against the column its card was in when it was
//! started, from when it gets its place until it ends.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::run::StopReason;
use crate::process::Stop;

/// The runs counted against each column's limit and those waiting for a place.
#[derive(Default)]
pub(super) struct Columns {
    gates: Mutex<Gates>,
    /// A place was given back, or a run left a queue.
    freed: Notify,
}

/// Runs counted by column, and those waiting for one of its places, oldest first.
#[derive(Default)]
struct Gates {
    running: HashMap<Uuid, usize>,
    waiting: HashMap<Uuid, VecDeque<Uuid>>,
}

/// A place in a column's limit, given back when dropped.
pub(super) struct ColumnPlace {
    columns: Arc<Columns>,
    column: Uuid,
}

impl Drop for ColumnPlace {
    fn drop(&mut self) {
        let mut gates = self.columns.gates();
        if let Some(running) = gates.running.get_mut(&self.column) {
            *running = running.saturating_sub(1);
        }
        drop(gates);
        self.columns.freed.notify_waiters();
    }
}

impl Columns {
    fn gates(&self) -> MutexGuard<'_, Gates> {
        self.gates.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits, in order, for a place under the column's limit (none if it has no limit);
    /// `Err` if the run was stopped meanwhile.
    pub(super) async fn place(
        self: &Arc<Self>,
        pool: &PgPool,
        column: Uuid,
        session_id: Uuid,
        stop: &Stop<StopReason>,
    ) -> Result<Option<ColumnPlace>, StopReason> {
        self.gates().waiting.entry(column).or_default().push_back(session_id);
        let leave = |gates: &mut Gates| {
            if let Some(queue) = gates.waiting.get_mut(&column) {
                queue.retain(|waiting| *waiting != session_id);
            }
        };
        loop {
            let freed = self.freed.notified();
            let limit = column_limit(pool, column).await;
            {
                let mut gates = self.gates();
                let first = gates.waiting.get(&column).and_then(|queue| queue.front()) == Some(&session_id);
                let running = gates.running.get(&column).copied().unwrap_or(0);
                match limit {
                    None => {
                        leave(&mut gates);
                        drop(gates);
                        self.freed.notify_waiters();
                        return Ok(None);
                    }
                    Some(limit) if first && running < limit => {
                        leave(&mut gates);
                        *gates.running.entry(column).or_default() += 1;
                        drop(gates);
                        // The next in line may fit too.
                        self.freed.notify_waiters();
                        return Ok(Some(ColumnPlace { columns: self.clone(), column }));
                    }
                    Some(_) => {}
                }
            }
            tokio::select! {
                () = freed => {}
                // The limit may be raised or removed meanwhile.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                reason = stop.requested() => {
                    leave(&mut self.gates());
                    self.freed.notify_waiters();
                    return Err(reason);
                }
            }
        }
    }
}

/// A column's `max_concurrent`; `None` for no limit, or when it cannot be read.
async fn column_limit(pool: &PgPool, column: Uuid) -> Option<usize> {
    let limit: Option<Option<i32>> = sqlx::query_scalar("SELECT max_concurrent FROM columns WHERE id = $1")
        .bind(column)
        .fetch_optional(pool)
        .await
        .ok()
        .flatten();
    limit.flatten().and_then(|limit| usize::try_from(limit).ok())
}
