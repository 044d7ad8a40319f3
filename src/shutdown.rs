//! How things are told to stop, and how their stopping is waited for.
//!
//! [`Shutdown`] is the request to stop: anything may trigger it (SIGINT/SIGTERM, `POST
//! /api/shutdown` from `viban stop`, the tray, a failed server task), and the HTTP server
//! and the WebSockets wind down on it. [`Background`] is the work a server session runs
//! besides requests (the realtime listener and pruning, the instance heartbeat, the
//! runner's follow-ups): spawned on one tracker, ended by one token, and waited for. The
//! session's stop sequence (`app::session`) cancels it at its place in the order and
//! waits for it before the database closes.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
    receiver: watch::Receiver<bool>,
    restart: std::sync::Arc<AtomicBool>,
}

impl Shutdown {
    pub fn new() -> Self {
        let (sender, receiver) = watch::channel(false);
        Self { sender: std::sync::Arc::new(sender), receiver, restart: std::sync::Arc::default() }
    }

    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Shuts down, after which the launcher starts the (updated) binary again.
    pub fn restart(&self) {
        self.restart.store(true, Ordering::SeqCst);
        self.trigger();
    }

    pub fn restart_requested(&self) -> bool {
        self.restart.load(Ordering::SeqCst)
    }

    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once shutdown has been triggered (at once if it already was).
    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        // An error means every sender is gone, which only happens at exit anyway.
        let _ = receiver.wait_for(|triggered| *triggered).await;
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

/// One server session's background work. Each task watches [`Background::cancelled`]
/// at its await points and returns when it fires, finishing what it must record first.
#[derive(Debug, Clone, Default)]
pub struct Background {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Background {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Runs `task` until it returns; the session waits for it before it closes the
    /// database.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(task);
    }

    /// Resolves once the session has told its background work to stop.
    pub(crate) fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A token cancelled with the session's background work, that a task may also
    /// cancel on its own (one step of the hook engine, say).
    pub(crate) fn child_token(&self) -> CancellationToken {
        self.cancel.child_token()
    }

    /// Tells every task to stop; new ones may still be spawned, and see it at once.
    pub(crate) fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes no more tasks and waits up to `limit` for the running ones to end; false
    /// if some were still running then (they are left to the runtime's shutdown).
    pub(crate) async fn close_and_wait(&self, limit: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(limit, self.tracker.wait()).await.is_ok()
    }

    /// Tasks still running.
    pub(crate) fn running(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closing_waits_for_the_tasks_that_watch_the_token() {
        let background = Background::new();
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..3 {
            let (watching, done) = (background.clone(), done.clone());
            background.spawn(async move {
                watching.cancelled().await;
                // What a task records on its way out happens before the wait ends.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = done.send(());
            });
        }
        assert_eq!(background.running(), 3);
        background.cancel();
        assert!(background.close_and_wait(Duration::from_secs(5)).await);
        drop(done);
        let mut count = 0;
        while finished.recv().await.is_some() {
            count += 1;
        }
        assert_eq!(count, 3);
    }

    #[tokio::test]
    async fn a_task_that_ignores_the_token_bounds_the_wait() {
        let background = Background::new();
        background.spawn(std::future::pending());
        background.cancel();
        assert!(!background.close_and_wait(Duration::from_millis(50)).await);
        assert_eq!(background.running(), 1);
    }
}
