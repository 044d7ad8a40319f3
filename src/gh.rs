//! The GitHub CLI (`gh`), for pull requests (V5): `gh pr create` and `gh pr view
//! --json`. viban runs the user's own `gh`, found on PATH, with arguments (never a
//! shell), its own process group and a timeout, like `git` (`crate::git`); it never
//! prompts (`GH_PROMPT_DISABLED`). What gh prints is read into typed results here, in
//! gh's own shapes (`gh pr view --json state,isDraft,reviewDecision,statusCheckRollup,
//! mergedAt,url,number`), and its failures become a [`GhError`] that says what to do.
//! `docs/pull-requests.md` describes the feature.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::process::{self, Privilege};

/// `gh` talks to GitHub: creating a pull request may take a while.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What `gh pr view` is asked for.
pub(crate) const VIEW_FIELDS: &str = "state,isDraft,reviewDecision,statusCheckRollup,mergedAt,url,number";

#[derive(Debug, thiserror::Error)]
pub enum GhError {
    #[error(
        "the GitHub CLI (gh) is not installed or not on PATH; install it from https://cli.github.com \
         (apt install gh, brew install gh, winget install GitHub.cli), then run `gh auth login`"
    )]
    Missing,
    #[error("gh is not logged in to GitHub; run `gh auth login` (or set GH_TOKEN) and try again")]
    NotAuthenticated,
    #[error("`gh {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("`gh {command}` did not finish within {timeout:?}")]
    TimedOut { command: String, timeout: Duration },
    #[error("`gh {command}` printed what viban cannot read: {detail}")]
    Unreadable { command: String, detail: String },
}

/// A pull request `gh pr create` opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub url: String,
    pub number: i32,
}

/// `state` of `gh pr view --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

/// What viban keeps of a pull request's state: `open`, `draft`, `merged`, `closed`
/// (the `pr_status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrStatus {
    Open,
    Draft,
    Merged,
    Closed,
}

impl PrStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Draft => "draft",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }
}

/// `reviewDecision` of `gh pr view --json` (empty when the repository requires no
/// review).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approved,
    ChangesRequested,
    ReviewRequired,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::ChangesRequested => "changes_requested",
            Self::ReviewRequired => "review_required",
        }
    }
}

/// How many of a pull request's checks passed, failed, and are still to finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Checks {
    pub passed: u32,
    pub failed: u32,
    pub pending: u32,
}

/// One entry of `statusCheckRollup`: a check run (GitHub Actions, apps) or a commit
/// status (older CI integrations).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
enum RollupEntry {
    CheckRun {
        #[serde(default)]
        status: String,
        #[serde(default)]
        conclusion: Option<String>,
    },
    StatusContext {
        #[serde(default)]
        state: String,
    },
    #[serde(other)]
    Other,
}

/// Where one check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Passed,
    Failed,
    Pending,
    /// Neither: skipped, neutral, or a kind gh may add later.
    Ignored,
}

impl RollupEntry {
    fn verdict(&self) -> Verdict {
        match self {
            Self::CheckRun { status, conclusion } => {
                if !status.eq_ignore_ascii_case("COMPLETED") {
                    return Verdict::Pending;
                }
                match conclusion.as_deref().unwrap_or_default().to_ascii_uppercase().as_str() {
                    "SUCCESS" => Verdict::Passed,
                    "FAILURE" | "TIMED_OUT" | "CANCELLED" | "ACTION_REQUIRED" | "STARTUP_FAILURE" => {
                        Verdict::Failed
                    }
                    "" => Verdict::Pending,
                    _ => Verdict::Ignored,
                }
            }
            Self::StatusContext { state } => match state.to_ascii_uppercase().as_str() {
                "SUCCESS" => Verdict::Passed,
                "FAILURE" | "ERROR" => Verdict::Failed,
                "PENDING" | "EXPECTED" => Verdict::Pending,
                _ => Verdict::Ignored,
            },
            Self::Other => Verdict::Ignored,
        }
    }
}

/// `gh pr view --json` with [`VIEW_FIELDS`], as gh prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawView {
    state: PrState,
    #[serde(default)]
    is_draft: bool,
    #[serde(default)]
    review_decision: Option<String>,
    #[serde(default)]
    status_check_rollup: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    merged_at: Option<String>,
    url: String,
    number: i32,
}

/// A pull request as `gh pr view` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrView {
    pub url: String,
    pub number: i32,
    pub status: PrStatus,
    pub review_decision: Option<ReviewDecision>,
    pub checks: Checks,
    pub merged_at: Option<String>,
}

/// Reads what `gh pr view --json` printed.
pub(crate) fn parse_view(json: &[u8]) -> Result<PrView, String> {
    let raw: RawView = serde_json::from_slice(json).map_err(|error| error.to_string())?;
    let status = match raw.state {
        PrState::Merged => PrStatus::Merged,
        PrState::Closed => PrStatus::Closed,
        PrState::Open if raw.is_draft => PrStatus::Draft,
        PrState::Open => PrStatus::Open,
    };
    let review_decision = match raw.review_decision.as_deref().unwrap_or_default() {
        "APPROVED" => Some(ReviewDecision::Approved),
        "CHANGES_REQUESTED" => Some(ReviewDecision::ChangesRequested),
        "REVIEW_REQUIRED" => Some(ReviewDecision::ReviewRequired),
        _ => None,
    };
    let mut checks = Checks::default();
    // An entry of a kind this version does not know counts as nothing, not as an error.
    for value in raw.status_check_rollup.unwrap_or_default() {
        let check = serde_json::from_value::<RollupEntry>(value).unwrap_or(RollupEntry::Other);
        match check.verdict() {
            Verdict::Passed => checks.passed += 1,
            Verdict::Failed => checks.failed += 1,
            Verdict::Pending => checks.pending += 1,
            Verdict::Ignored => {}
        }
    }
    let merged_at = raw.merged_at.filter(|at| !at.is_empty());
    Ok(PrView { url: raw.url, number: raw.number, status, review_decision, checks, merged_at })
}

/// The pull request's url and number from what `gh pr create` printed: its last line
/// that is a URL (`https://github.com/o/r/pull/12`).
pub(crate) fn parse_created(stdout: &str) -> Option<Created> {
    let url = stdout
        .lines()
        .rev()
        .flat_map(str::split_whitespace)
        .find(|word| word.starts_with("https://") || word.starts_with("http://"))?;
    let number = url.trim_end_matches('/').rsplit('/').next()?.parse().ok()?;
    Some(Created { url: url.to_string(), number })
}

/// What `gh pr create` is asked to open.
pub struct NewPullRequest<'a> {
    pub head: &'a str,
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

/// `gh pr create --head … --base … --title … --body … [--draft]` in `dir` (a checkout
/// of the repository, whose remotes tell gh which GitHub repository it is).
pub(crate) async fn create(dir: &Path, new: &NewPullRequest<'_>) -> Result<Created, GhError> {
    let mut args: Vec<String> =
        ["pr", "create", "--head", new.head, "--base", new.base].into_iter().map(String::from).collect();
    args.extend(["--title".into(), new.title.into(), "--body".into(), new.body.into()]);
    if new.draft {
        args.push("--draft".into());
    }
    let output = match run(dir, args).await {
        // gh names the pull request the branch has already: that one is the answer.
        Err(GhError::Failed { stderr, .. })
            if stderr.contains("already exists") && stderr.contains("/pull/") =>
        {
            stderr.replace(" | ", "\n")
        }
        other => other?,
    };
    parse_created(&output).ok_or_else(|| GhError::Unreadable {
        command: "pr create".into(),
        detail: format!("no pull request URL in {output:?}"),
    })
}

/// `gh pr view <url> --json …`.
pub(crate) async fn view(dir: &Path, url: &str) -> Result<PrView, GhError> {
    let args = vec!["pr".into(), "view".into(), url.into(), "--json".into(), VIEW_FIELDS.into()];
    let output = run(dir, args).await?;
    parse_view(output.as_bytes())
        .map_err(|detail| GhError::Unreadable { command: format!("pr view {url}"), detail })
}

/// Runs `gh args…` in `dir`; its standard output when it succeeds.
async fn run(dir: &Path, args: Vec<String>) -> Result<String, GhError> {
    let dir: PathBuf = dir.to_path_buf();
    tokio::task::spawn_blocking(move || run_blocking(&dir, &args))
        .await
        .unwrap_or_else(|error| Err(GhError::Failed { command: "(task)".into(), stderr: error.to_string() }))
}

fn run_blocking(dir: &Path, args: &[String]) -> Result<String, GhError> {
    let gh = process::find_program("gh").ok_or(GhError::Missing)?;
    let mut command = process::command(gh, Privilege::Inherit);
    command
        .current_dir(dir)
        .args(args)
        .env("GH_PROMPT_DISABLED", "1")
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("NO_COLOR", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    // The command as a person would read it, without the (long) body.
    let rendered = args.iter().take(3).cloned().collect::<Vec<_>>().join(" ");
    let output = process::output_with_timeout(&mut command, TIMEOUT).map_err(|error| match error.kind() {
        std::io::ErrorKind::TimedOut => GhError::TimedOut { command: rendered.clone(), timeout: TIMEOUT },
        std::io::ErrorKind::NotFound => GhError::Missing,
        _ => GhError::Failed { command: rendered.clone(), stderr: error.to_string() },
    })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(failure(rendered, output.status.code(), &stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What a failed gh run means. gh exits 4 when it has no credentials and then says to
/// run `gh auth login`.
fn failure(command: String, code: Option<i32>, stderr: &str) -> GhError {
    let lower = stderr.to_ascii_lowercase();
    if code == Some(4)
        || lower.contains("gh auth login")
        || lower.contains("not logged in")
        || lower.contains("authentication required")
    {
        return GhError::NotAuthenticated;
    }
    let lines: Vec<&str> = stderr.trim().lines().rev().take(5).collect();
    let stderr = lines.into_iter().rev().collect::<Vec<_>>().join(" | ");
    GhError::Failed { command, stderr }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_becomes_status_review_decision_and_a_count_of_checks() {
        // As gh 2.x prints `gh pr view 12 --json state,isDraft,reviewDecision,...`.
        let json = br#"{
            "isDraft": false,
            "mergedAt": null,
            "number": 12,
            "reviewDecision": "CHANGES_REQUESTED",
            "state": "OPEN",
            "statusCheckRollup": [
                {"__typename": "CheckRun", "completedAt": "2026-12-01T10:01:00Z", "conclusion": "SUCCESS",
                 "detailsUrl": "https://github.com/o/r/actions/runs/1", "name": "build",
                 "startedAt": "2026-12-01T10:00:00Z", "status": "COMPLETED", "workflowName": "CI"},
                {"__typename": "CheckRun", "conclusion": "FAILURE", "name": "test", "status": "COMPLETED"},
                {"__typename": "CheckRun", "conclusion": "", "name": "lint", "status": "IN_PROGRESS"},
                {"__typename": "CheckRun", "conclusion": "SKIPPED", "name": "deploy", "status": "COMPLETED"},
                {"__typename": "StatusContext", "context": "ci/legacy", "state": "SUCCESS",
                 "startedAt": "2026-12-01T10:00:00Z", "targetUrl": "https://ci.example/1"},
                {"__typename": "StatusContext", "context": "ci/slow", "state": "PENDING"},
                {"__typename": "SomethingNew", "name": "x"}
            ],
            "url": "https://github.com/o/r/pull/12"
        }"#;
        let view = parse_view(json).unwrap();
        assert_eq!(view.status, PrStatus::Open);
        assert_eq!(view.number, 12);
        assert_eq!(view.review_decision, Some(ReviewDecision::ChangesRequested));
        assert_eq!(view.checks, Checks { passed: 2, failed: 1, pending: 2 });

        let draft = parse_view(
            br#"{"isDraft":true,"mergedAt":null,"number":3,"reviewDecision":"","state":"OPEN",
                 "statusCheckRollup":[],"url":"https://github.com/o/r/pull/3"}"#,
        )
        .unwrap();
        assert_eq!((draft.status, draft.review_decision), (PrStatus::Draft, None));
        let merged = parse_view(
            br#"{"isDraft":false,"mergedAt":"2026-12-02T09:00:00Z","number":3,"reviewDecision":"APPROVED",
                 "state":"MERGED","statusCheckRollup":null,"url":"https://github.com/o/r/pull/3"}"#,
        )
        .unwrap();
        assert_eq!(merged.status, PrStatus::Merged);
        assert_eq!(merged.merged_at.as_deref(), Some("2026-12-02T09:00:00Z"));
        assert!(parse_view(br#"{"state":"WEIRD","url":"u","number":1}"#).is_err());
    }

    #[test]
    fn the_created_pull_request_is_the_last_url_gh_prints() {
        let printed = "Warning: 1 uncommitted change\nhttps://github.com/o/r/pull/42\n";
        assert_eq!(
            parse_created(printed),
            Some(Created { url: "https://github.com/o/r/pull/42".into(), number: 42 })
        );
        assert_eq!(parse_created("nothing here\n"), None);
    }

    #[test]
    fn gh_without_credentials_says_to_log_in() {
        let stderr = "To get started with GitHub CLI, please run:  gh auth login\n\
                      Alternatively, populate the GH_TOKEN environment variable with a GitHub API authentication token.";
        assert!(matches!(failure("pr create".into(), Some(4), stderr), GhError::NotAuthenticated));
        assert!(matches!(
            failure("pr create".into(), Some(1), "a pull request for branch \"x\" already exists"),
            GhError::Failed { .. }
        ));
    }
}
