//! The shutdown signal handed to every long-running task.
//!
//! Anything may trigger it (SIGINT/SIGTERM, `POST /api/shutdown` from `viban stop`, a
//! failed server task); everything that runs waits on it and winds down. The launcher
//! then stops PostgreSQL last.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

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
