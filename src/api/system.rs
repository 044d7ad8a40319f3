//! Health, version and shutdown: the routes the launcher and scripts rely on; and what
//! the system page shows of this machine (`GET /api/system`): viban's data directory,
//! the `git` and `gh` it would run, and the disk its worktrees use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Json;
use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db;
use crate::disk::{DiskUsage, disk_usage};
use crate::error::ApiError;
use crate::process;
use crate::state::AppState;

#[derive(Serialize, schemars::JsonSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// `GET /api/health`: a database round trip. Public; says nothing but status.
///
/// For the embedded server the supervisor's view counts too: down before or after the
/// round trip, or restarted during it (the pool's reconnects can hide a short outage),
/// is reported as down.
pub async fn health(State(state): State<AppState>) -> Response {
    let supervisor = || state.postgres_liveness.as_ref().map_or((true, 0), |liveness| liveness.snapshot());
    let before = supervisor();
    let answered = before.0 && db::ping(&state.pool).await;
    if answered && supervisor() == before {
        Json(Health { status: "ok", database: "ok" }).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable", database: "down" }))
            .into_response()
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Version {
    pub version: &'static str,
    pub postgres: String,
    /// The newest migration this binary knows.
    pub schema: i64,
    pub uptime_seconds: u64,
}

/// `GET /api/version`.
pub async fn version(State(state): State<AppState>) -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION"),
        postgres: state.postgres_version.to_string(),
        schema: db::latest_known(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Stopping {
    /// Always `stopping`.
    pub status: &'static str,
}

/// `POST /api/shutdown`: what `viban stop` calls. The server answers, then winds down.
pub async fn shutdown(State(state): State<AppState>) -> impl IntoResponse {
    tracing::info!("shutdown requested through the API");
    state.shutdown.trigger();
    (StatusCode::ACCEPTED, Json(Stopping { status: "stopping" }))
}

/// How long `git --version` or `gh --version` may take before it counts as not answering.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long counting the worktrees' disk usage may take; the figure is a lower bound then.
const DISK_USAGE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Serialize, schemars::JsonSchema)]
pub struct SystemInfo {
    /// viban's data directory: its database, worktrees, logs and settings.
    pub home: PathBuf,
    /// Where the tasks' worktrees are made (`<home>/worktrees/<board>/<task>`).
    pub worktrees: PathBuf,
    pub worktrees_disk: DiskUsage,
    pub git: ExternalTool,
    pub gh: ExternalTool,
}

/// A program viban runs on the user's behalf, found or not.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ExternalTool {
    pub found: bool,
    pub path: Option<PathBuf>,
    /// The first line of `<program> --version`; none when it did not answer in time.
    pub version: Option<String>,
    pub install_hint: &'static str,
}

const GIT_HINT: &str = "Install git from https://git-scm.com/downloads (apt install git, brew install git, \
     winget install Git.Git): viban makes each task's worktree with it";
const GH_HINT: &str = "Install the GitHub CLI from https://cli.github.com (apt install gh, brew install gh, \
     winget install GitHub.cli), then run `gh auth login`: pull requests are opened with it";

/// `GET /api/system`: the two programs are asked for their versions and the worktrees
/// are measured at the same time, each within its time limit.
pub async fn system(State(state): State<AppState>) -> Json<SystemInfo> {
    let worktrees = state.home.worktrees_dir();
    let (git, gh, worktrees_disk) = tokio::join!(
        external_tool("git", GIT_HINT),
        external_tool("gh", GH_HINT),
        disk_usage(worktrees.clone(), DISK_USAGE_TIMEOUT),
    );
    Json(SystemInfo { home: state.home.root().to_path_buf(), worktrees, worktrees_disk, git, gh })
}

/// `name` as found on PATH (or in the usual install folders), with its version.
async fn external_tool(name: &'static str, install_hint: &'static str) -> ExternalTool {
    let lookup = tokio::task::spawn_blocking(move || process::find_program(name));
    let Some(path) = lookup.await.ok().flatten() else {
        return ExternalTool { found: false, path: None, version: None, install_hint };
    };
    let version = version_of(&path, VERSION_TIMEOUT).await;
    ExternalTool { found: true, path: Some(path), version, install_hint }
}

/// The first non-empty line `<program> --version` prints, if it answers within `timeout`.
async fn version_of(program: &Path, timeout: Duration) -> Option<String> {
    let mut command = tokio::process::Command::from(process::command(program, process::Privilege::Inherit));
    command.arg("--version").kill_on_drop(true);
    let output = tokio::time::timeout(timeout, command.output()).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().map(str::trim).find(|line| !line.is_empty()).map(String::from)
}

/// Any `/api` path without a route.
pub async fn unknown_route(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API route {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_program_says_how_to_install_it() {
        let tool = external_tool("viban-no-such-program", GH_HINT).await;
        assert!(!tool.found);
        assert_eq!(tool.version, None);
        assert!(tool.install_hint.contains("cli.github.com"));
    }
}
