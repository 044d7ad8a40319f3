//! Which agents this machine has (A2): each adapter's binary on PATH or in the usual
//! install folders, with its version, or how to install it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{ADAPTERS, Adapter};
use crate::process;

const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Availability {
    pub id: &'static str,
    pub display_name: &'static str,
    pub binary: &'static str,
    pub found: bool,
    pub path: Option<PathBuf>,
    /// The first line of `<binary> --version`.
    pub version: Option<String>,
    pub install_hint: &'static str,
    /// Whether, under a board's `ask` permission policy, it asks viban before risky
    /// tool calls (docs/approvals.md); otherwise it runs as `accept_edits` there.
    pub can_ask: bool,
}

/// How long a look-up is reused: starting six CLIs for their versions takes seconds.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// Every adapter, as last looked up within [`FRESH_FOR`], or looked up now.
pub async fn all() -> Vec<Availability> {
    static CACHE: std::sync::Mutex<Option<(std::time::Instant, Vec<Availability>)>> =
        std::sync::Mutex::new(None);
    let cached = |cache: &Option<(std::time::Instant, Vec<Availability>)>| {
        cache.as_ref().filter(|(at, _)| at.elapsed() < FRESH_FOR).map(|(_, found)| found.clone())
    };
    if let Some(found) = cached(&CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())) {
        return found;
    }
    let found = look_up().await;
    *CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
        Some((std::time::Instant::now(), found.clone()));
    found
}

/// Every adapter, looked up at once (version checks run in parallel: node CLIs are slow
/// to start).
async fn look_up() -> Vec<Availability> {
    let checks = ADAPTERS.iter().map(|adapter| tokio::task::spawn_blocking(move || check(adapter)));
    let mut found = Vec::with_capacity(ADAPTERS.len());
    for (adapter, check) in ADAPTERS.iter().zip(checks.collect::<Vec<_>>()) {
        found.push(check.await.unwrap_or_else(|_| missing(adapter)));
    }
    found
}

fn check(adapter: &'static Adapter) -> Availability {
    let Some(path) = process::find_program(adapter.binary) else {
        return missing(adapter);
    };
    let mut command = process::command(&path, process::Privilege::Inherit);
    command.arg("--version");
    let version = process::output_with_timeout(&mut command, VERSION_TIMEOUT).ok().and_then(|output| {
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines().map(str::trim).find(|line| !line.is_empty()).map(String::from)
    });
    Availability { path: Some(path), version, found: true, ..missing(adapter) }
}

fn missing(adapter: &'static Adapter) -> Availability {
    Availability {
        id: adapter.id,
        display_name: adapter.display_name,
        binary: adapter.binary,
        found: false,
        path: None,
        version: None,
        install_hint: adapter.install_hint,
        can_ask: adapter.ask.is_some(),
    }
}
