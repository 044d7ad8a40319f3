//! Contract tests against the real agent CLIs, installed from the npm registry by
//! scripts/test.sh (VIBAN_TEST_AGENT_CLIS names their bin folder). They cannot reach
//! their model APIs here, so what is checked is what a signed-out or offline user
//! sees: the CLIs accept viban's arguments, their own error text reaches the task,
//! session ids are captured, and runs that never end are ended by Stop and the timeout.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Viban, eventually, git, temp_home};
use serde_json::{Value, json};

fn clis() -> String {
    std::env::var("VIBAN_TEST_AGENT_CLIS")
        .expect("VIBAN_TEST_AGENT_CLIS must name the bin folder of the npm-installed agent CLIs; scripts/test.sh installs them")
}

struct Cli {
    _home: tempfile::TempDir,
    _repo: tempfile::TempDir,
    _user_home: tempfile::TempDir,
    viban: Viban,
    task_id: String,
}

impl Cli {
    /// viban with the real CLIs on PATH (and a throwaway HOME for their state), a board
    /// on a fresh repository, and one task.
    fn new(env: &[(&str, &str)]) -> Self {
        let home = temp_home();
        let repo = tempfile::tempdir().unwrap();
        git(repo.path(), &["init", "--quiet", "--initial-branch=main"]);
        git(
            repo.path(),
            &[
                "-c",
                "user.email=t@example.com",
                "-c",
                "user.name=T",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                "first",
            ],
        );
        let user_home = tempfile::tempdir().unwrap();
        let path = format!("{}:{}", clis(), std::env::var("PATH").unwrap_or_default());
        let mut all = vec![("PATH", path.as_str()), ("HOME", user_home.path().to_str().unwrap())];
        all.extend_from_slice(env);
        let viban = Viban::spawn(home.path(), &[], &all);
        viban.wait_healthy(common::START_TIMEOUT);
        let linked = viban.send_json("POST", "/api/repositories", &json!({ "path": repo.path() })).json();
        let board = viban.send_json("POST", "/api/boards", &json!({ "name": "CLIs" })).json();
        let board_id = board["board"]["id"].as_str().unwrap();
        viban.send_json(
            "PATCH",
            &format!("/api/boards/{board_id}"),
            &json!({ "repository_id": linked["id"] }),
        );
        let task = viban
            .send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "Say hi" }))
            .json();
        let task_id = task["id"].as_str().unwrap().to_string();
        Self { _home: home, _repo: repo, _user_home: user_home, viban, task_id }
    }

    fn run(&self, agent: &str) -> Value {
        let path = format!("/api/tasks/{}/runs", self.task_id);
        let response = self.viban.send_json("POST", &path, &json!({ "agent": agent, "prompt": "say hi" }));
        assert_eq!(response.status, 202, "{}", response.text());
        response.json()
    }

    fn session(&self) -> Value {
        let sessions = self.viban.get(&format!("/api/tasks/{}/sessions", self.task_id)).json();
        sessions.as_array().unwrap().last().cloned().unwrap_or(Value::Null)
    }

    fn ended(&self, within: Duration) -> Value {
        let mut last = Value::Null;
        let done = eventually(within, || {
            last = self.session();
            !matches!(last["status"].as_str(), Some("queued" | "running") | None)
        });
        assert!(done, "the run did not end: {last}\n{}", self.viban.output());
        last
    }

    fn task(&self) -> Value {
        self.viban.get(&format!("/api/tasks/{}", self.task_id)).json()
    }

    fn activity_text(&self) -> String {
        self.viban.get(&format!("/api/tasks/{}/activity?limit=500", self.task_id)).text()
    }

    /// Processes whose working directory is the task's worktree.
    fn processes_in_worktree(&self) -> Vec<u32> {
        let Some(worktree) = self.task()["worktree_path"].as_str().map(PathBuf::from) else {
            return Vec::new();
        };
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&worktree))
            })
            .collect()
    }
}

#[test]
fn claude_signed_out_puts_not_logged_in_on_the_task_and_its_session_id_is_kept() {
    let cli = Cli::new(&[]);
    cli.run("claude-code");
    let session = cli.ended(Duration::from_secs(90));
    assert_eq!(
        (session["status"].as_str(), session["exit_code"].as_i64()),
        (Some("failed"), Some(1)),
        "{session}"
    );
    let external = session["external_session_id"].as_str().expect("Claude's session id is captured");
    assert!(uuid::Uuid::parse_str(external).is_ok(), "{external}");
    let task = cli.task();
    assert_eq!(task["error"], "Not logged in · Please run /login");
    assert_eq!(task["agent_status"], "error");
    // The real CLI accepted viban's arguments; as root, not the one it refuses as root.
    let argv: Vec<&str> =
        session["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(argv.windows(2).any(|pair| pair == ["--output-format", "stream-json"]));
    if viban::process::running_as_root() {
        assert!(!argv.contains(&"--dangerously-skip-permissions"), "{argv:?}");
        assert!(argv.windows(2).any(|pair| pair == ["--permission-mode", "acceptEdits"]), "{argv:?}");
        assert!(cli.activity_text().contains("refuses --dangerously-skip-permissions as root"));
    } else {
        assert!(argv.contains(&"--dangerously-skip-permissions"));
    }
}

#[test]
fn claude_under_the_ask_policy_accepts_the_control_flags_reads_its_prompt_on_stdin_and_ends_when_it_closes() {
    let cli = Cli::new(&[]);
    let board_id = cli.task()["board_id"].as_str().unwrap().to_string();
    let patch = json!({ "settings": { "permission_policy": "ask" } });
    assert_eq!(cli.viban.send_json("PATCH", &format!("/api/boards/{board_id}"), &patch).status, 200);
    cli.run("claude-code");
    // It answers the prompt it read on stdin (signed out), and exits once viban closes
    // stdin after the result: well before the run's timeout.
    let session = cli.ended(Duration::from_secs(90));
    assert_eq!(session["status"], "failed", "{session}");
    assert_eq!(cli.task()["error"], "Not logged in · Please run /login");
    let argv: Vec<&str> =
        session["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(argv.windows(2).any(|pair| pair == ["--permission-prompt-tool", "stdio"]), "{argv:?}");
    assert!(argv.windows(2).any(|pair| pair == ["--input-format", "stream-json"]), "{argv:?}");
    assert!(!argv.contains(&"say hi"), "the prompt goes on stdin: {argv:?}");
    assert!(!cli.activity_text().contains("unknown option"));
}

#[test]
fn gemini_signed_out_shows_its_own_auth_hint() {
    let cli = Cli::new(&[]);
    cli.run("gemini");
    let session = cli.ended(Duration::from_secs(90));
    assert_eq!(
        (session["status"].as_str(), session["exit_code"].as_i64()),
        (Some("failed"), Some(41)),
        "{session}"
    );
    let error = cli.task()["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("Please set an Auth method"), "{error}");
    assert!(session["stderr_tail"].as_str().unwrap().contains("GEMINI_API_KEY"));
}

#[test]
fn codex_retrying_without_network_is_ended_by_stop() {
    let cli = Cli::new(&[]);
    cli.run("codex");
    // Its thread id is captured, and its retries show as they happen.
    assert!(
        eventually(Duration::from_secs(60), || cli.session()["external_session_id"].is_string()),
        "{}",
        cli.viban.output()
    );
    assert!(eventually(Duration::from_secs(60), || cli.activity_text().contains("Reconnecting")));
    assert!(!cli.processes_in_worktree().is_empty());
    let stop = cli.viban.send_json("POST", &format!("/api/tasks/{}/stop", cli.task_id), &json!({}));
    assert_eq!(stop.status, 202);
    assert_eq!(cli.ended(Duration::from_secs(30))["status"], "stopped");
    assert!(
        eventually(Duration::from_secs(10), || cli.processes_in_worktree().is_empty()),
        "{:?}",
        cli.processes_in_worktree()
    );
}

#[test]
fn codex_retrying_without_network_is_ended_by_the_timeout() {
    let cli = Cli::new(&[("VIBAN_AGENT_TIMEOUT_SECONDS", "8")]);
    cli.run("codex");
    let session = cli.ended(Duration::from_secs(60));
    assert_eq!(session["status"], "timed_out", "{session}");
    assert_eq!(cli.task()["error"], "the agent did not finish within 8 seconds and was stopped");
    // Codex connected to viban's MCP server with the run's token at its start: its MCP
    // client (rmcp) logs an error when the server cannot be reached or refuses it.
    let command = session["command"].as_array().unwrap();
    assert!(
        command.iter().any(|arg| arg.as_str().unwrap().starts_with("mcp_servers.viban.url=")),
        "{command:?}"
    );
    let stderr = session["stderr_tail"].as_str().unwrap_or_default();
    assert!(stderr.contains("Responses WebSocket") || stderr.contains("Reconnecting"), "it ran: {stderr}");
    assert!(!stderr.contains("rmcp::"), "codex's MCP client failed: {stderr}");
    assert!(eventually(Duration::from_secs(10), || cli.processes_in_worktree().is_empty()));
}
