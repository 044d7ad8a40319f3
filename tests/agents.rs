//! Running agents (issue: agents in per-task worktrees), against the real binary, real
//! git repositories and real child processes. The agent is `tests/fixtures/bin/claude`,
//! which replays recorded stream-json the way Claude Code prints it; the real CLIs
//! are exercised in `agent_clis.rs`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Viban, board_on, eventually, fixtures, git, repository, temp_home};
use serde_json::{Value, json};

struct Setup {
    _home: tempfile::TempDir,
    repo: tempfile::TempDir,
    scratch: tempfile::TempDir,
    viban: Viban,
    board_id: String,
}

impl Setup {
    /// viban with the fake Claude first on PATH, and a board on a fresh repository.
    fn new(config: &str, extra_env: &[(&str, &str)]) -> Self {
        let home = temp_home();
        std::fs::write(home.path().join("config.toml"), config).unwrap();
        let repo = tempfile::tempdir().unwrap();
        repository(repo.path());
        let scratch = tempfile::tempdir().unwrap();
        let path =
            format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let transcript = fixtures().join("transcripts/claude-tools.jsonl");
        let codex_transcript = fixtures().join("transcripts/codex-items.jsonl");
        let log = scratch.path().join("calls.log");
        let pids = scratch.path().join("pids");
        let mut env = vec![
            ("PATH", path.as_str()),
            ("FAKE_TRANSCRIPT", transcript.to_str().unwrap()),
            ("FAKE_CODEX_TRANSCRIPT", codex_transcript.to_str().unwrap()),
            ("FAKE_AGENT_LOG", log.to_str().unwrap()),
            ("FAKE_AGENT_PIDS", pids.to_str().unwrap()),
        ];
        env.extend_from_slice(extra_env);
        let viban = Viban::spawn(home.path(), &[], &env);
        viban.wait_healthy(common::START_TIMEOUT);
        let board_id = board_on(&viban, repo.path(), json!({ "copy_files": [".env*"] }));
        Self { _home: home, repo, scratch, viban, board_id }
    }

    fn task(&self, title: &str) -> String {
        let path = format!("/api/boards/{}/tasks", self.board_id);
        let response =
            self.viban.send_json("POST", &path, &json!({ "title": title, "description": "Say hello." }));
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["id"].as_str().unwrap().to_string()
    }

    fn run(&self, task_id: &str, body: Value) -> Value {
        let response = self.viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &body);
        assert_eq!(response.status, 202, "{}", response.text());
        response.json()
    }

    fn sessions(&self, task_id: &str) -> Vec<Value> {
        self.viban.get(&format!("/api/tasks/{task_id}/sessions")).json().as_array().unwrap().clone()
    }

    /// The task's latest session once it has ended.
    fn ended(&self, task_id: &str) -> Value {
        let mut last = Value::Null;
        let done = eventually(Duration::from_secs(60), || {
            last = self.sessions(task_id).last().cloned().unwrap_or(Value::Null);
            !matches!(last["status"].as_str(), Some("queued" | "running") | None)
        });
        assert!(done, "the run did not end: {last}\n{}", self.viban.output());
        last
    }

    fn task_state(&self, task_id: &str) -> Value {
        self.viban.get(&format!("/api/tasks/{task_id}")).json()
    }

    fn activity(&self, task_id: &str) -> Vec<Value> {
        let page = self.viban.get(&format!("/api/tasks/{task_id}/activity?limit=500")).json();
        page["entries"].as_array().unwrap().clone()
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.scratch.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.scratch.path().join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purposes: it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

#[test]
fn a_run_works_in_its_own_worktree_and_its_entries_stream_live_and_persist() {
    let setup = Setup::new("", &[]);
    let task_id = setup.task("Add greet()");
    let mut socket = setup.viban.socket();
    socket.subscribe(&format!("task:{task_id}"), None);

    let session = setup.run(&task_id, json!({ "prompt": "Use Rust." }));
    assert_eq!(session["status"], "queued");
    assert!(
        session["prompt"]
            .as_str()
            .unwrap()
            .starts_with("# Task: Add greet()\n\n## Description\n\nSay hello.")
    );
    let mut streamed = Vec::new();
    while !streamed.iter().any(|entry: &Value| entry["kind"] == "result") {
        let event = socket.next();
        if event["kind"] == "activity.appended" {
            streamed
                .extend(event["payload"]["entries"].as_array().unwrap().iter().map(|e| e["data"].clone()));
        }
    }
    let ended = setup.ended(&task_id);
    assert_eq!(ended["status"], "completed", "{ended}");
    assert_eq!(ended["external_session_id"], "5f1c2a7e-0d3b-4c55-9a4e-2f7b8c9d0e11");
    assert_eq!(ended["exit_code"], 0);
    assert_eq!(ended["cost_usd"], 0.0421);
    assert_eq!((ended["input_tokens"].as_i64(), ended["output_tokens"].as_i64()), (Some(3192), Some(175)));

    // What streamed is what was stored, in order, starting with the user's prompt.
    let stored: Vec<Value> =
        setup.activity(&task_id).into_iter().map(|entry| entry["data"].clone()).collect();
    assert_eq!(stored, streamed);
    // As root, a note says why Claude runs without --dangerously-skip-permissions.
    let root_note =
        streamed.iter().position(|entry| entry["message"].as_str().is_some_and(|m| m.contains("as root")));
    assert_eq!(root_note.is_some(), viban::process::running_as_root());
    let streamed: Vec<Value> =
        streamed.into_iter().enumerate().filter(|(n, _)| Some(*n) != root_note).map(|(_, e)| e).collect();
    let kinds: Vec<&str> = streamed.iter().map(|entry| entry["kind"].as_str().unwrap()).collect();
    let expected = [
        "user_message",
        "system",
        "thinking",
        "todo_list",
        "tool_result",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "assistant_text",
        "raw",
        "result",
    ];
    assert_eq!(kinds, expected);
    assert_eq!(streamed[5]["summary"], "cargo test --quiet");

    // The worktree: viban's own branch from main, the .env file copied in, and the
    // agent ran there.
    let task = setup.task_state(&task_id);
    let branch = task["branch"].as_str().unwrap();
    assert!(branch.starts_with(&format!("viban/{}-add-greet", &task_id[..8])), "{branch}");
    let worktree = PathBuf::from(task["worktree_path"].as_str().unwrap());
    assert_eq!(git(&worktree, &["rev-parse", "--abbrev-ref", "HEAD"]), branch);
    assert_eq!(std::fs::read_to_string(worktree.join(".env.local")).unwrap(), "SECRET=1\n");
    let calls = setup.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].starts_with(&format!("{}\t", worktree.display())), "{calls:?}");
    // The PR link in the agent's message is attached to the task (A6), and the task is idle.
    assert_eq!(task["pr_url"], "https://github.com/acme/widgets/pull/42");
    assert_eq!(task["pr_number"], 42);
    assert_eq!((task["agent_status"].as_str(), task["error"].as_str()), (Some("idle"), None));
}

#[test]
fn a_follow_up_message_resumes_the_agents_session_and_one_sent_while_running_waits() {
    let setup = Setup::new("", &[]);
    let task_id = setup.task("Chat");
    setup.run(&task_id, json!({}));
    setup.ended(&task_id);

    let path = format!("/api/tasks/{task_id}/messages");
    let reply = setup.viban.send_json("POST", &path, &json!({ "text": "Now add tests. MODE:slow" }));
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.json()["queued"], false);
    // Sent while that run is underway (or just queued): it waits its turn.
    let queued = setup.viban.send_json("POST", &path, &json!({ "text": "And docs." })).json();
    assert_eq!(queued["queued"], true);

    assert!(eventually(Duration::from_secs(60), || setup.sessions(&task_id).len() == 3
        && setup.sessions(&task_id)[2]["status"] == "completed"));
    let calls = setup.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    for (call, prompt) in calls[1..].iter().zip(["Now add tests. MODE:slow", "And docs."]) {
        assert!(call.contains("--resume 5f1c2a7e-0d3b-4c55-9a4e-2f7b8c9d0e11 -- "), "{call}");
        assert!(call.trim_end().ends_with(prompt), "{call}");
    }
    assert!(!calls[0].contains("--resume"));
}

#[test]
fn stopping_a_run_kills_the_agent_and_every_process_it_started() {
    let setup = Setup::new("", &[]);
    let task_id = setup.task("Hang");
    setup.run(&task_id, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.pids().len() == 2), "the fake agent did not start");
    // The init line came in two writes and still parsed: the session id is known.
    assert!(eventually(Duration::from_secs(10), || setup.sessions(&task_id)[0]["external_session_id"]
        == "hang-session-1"));
    let pids = setup.pids();
    assert!(pids.iter().all(|pid| alive(*pid)));

    let stop = setup.viban.send_json("POST", &format!("/api/tasks/{task_id}/stop"), &json!({}));
    assert_eq!(stop.status, 202, "{}", stop.text());
    let ended = setup.ended(&task_id);
    assert_eq!(ended["status"], "stopped");
    // The grandchild ignores SIGTERM; the KILL after the grace period gets it.
    assert!(
        eventually(Duration::from_secs(10), || pids.iter().all(|pid| !alive(*pid))),
        "{pids:?} still alive"
    );
    assert_eq!(setup.task_state(&task_id)["agent_status"], "idle");
    let again = setup.viban.send_json("POST", &format!("/api/tasks/{task_id}/stop"), &json!({}));
    assert_eq!(again.status, 409);
}

/// A timestamp from the API (RFC 3339; as text they do not sort: fractions vary in length).
fn at(value: &Value) -> time::OffsetDateTime {
    let text = value.as_str().unwrap_or_else(|| panic!("not a timestamp: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

#[test]
fn runs_past_the_global_limit_wait_as_queued_and_start_in_order() {
    let setup = Setup::new("[agents]\nmax_concurrent = 1\n", &[]);
    let (first, second, third) = (setup.task("first"), setup.task("second"), setup.task("third"));
    setup.run(&first, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.sessions(&first)[0]["status"] == "running"));
    setup.run(&second, json!({}));
    setup.run(&third, json!({}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(setup.sessions(&second)[0]["status"], "queued");
    assert_eq!(setup.task_state(&second)["agent_status"], "queued");

    setup.viban.send_json("POST", &format!("/api/tasks/{first}/stop"), &json!({}));
    let (second_end, third_end) = (setup.ended(&second), setup.ended(&third));
    assert_eq!(
        (second_end["status"].as_str(), third_end["status"].as_str()),
        (Some("completed"), Some("completed"))
    );
    assert!(at(&second_end["started_at"]) < at(&third_end["started_at"]));
}

#[test]
fn a_columns_limit_queues_its_runs_in_order_while_other_columns_run() {
    let setup = Setup::new("[agents]\nmax_concurrent = 4\n", &[]);
    let board = setup.viban.get(&format!("/api/boards/{}", setup.board_id)).json();
    let columns = board["columns"].as_array().unwrap();
    let limited = columns[0]["id"].as_str().unwrap();
    // A column without hooks: moving a card into In Progress would run its agent itself.
    let added = setup.viban.send_json(
        "POST",
        &format!("/api/boards/{}/columns", setup.board_id),
        &json!({ "name": "Elsewhere" }),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let free = added.json()["id"].as_str().unwrap().to_string();
    let patched =
        setup.viban.send_json("PATCH", &format!("/api/columns/{limited}"), &json!({ "max_concurrent": 1 }));
    assert_eq!(patched.status, 200, "{}", patched.text());
    // New tasks land in the first column.
    let (first, second, third) = (setup.task("first"), setup.task("second"), setup.task("third"));
    let elsewhere = setup.task("elsewhere");
    let moved = setup.viban.send_json(
        "POST",
        &format!("/api/tasks/{elsewhere}/move"),
        &json!({ "column_id": &free }),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());

    setup.run(&first, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.sessions(&first)[0]["status"] == "running"));
    setup.run(&second, json!({}));
    setup.run(&third, json!({}));
    setup.run(&elsewhere, json!({ "prompt": "MODE:hang" }));
    assert!(
        eventually(Duration::from_secs(30), || setup.sessions(&elsewhere)[0]["status"] == "running"),
        "another column's run is not held up by this column's limit"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(setup.sessions(&second)[0]["status"], "queued");
    assert_eq!(setup.sessions(&third)[0]["status"], "queued");

    setup.viban.send_json("POST", &format!("/api/tasks/{first}/stop"), &json!({}));
    let (second_end, third_end) = (setup.ended(&second), setup.ended(&third));
    assert_eq!(
        (second_end["status"].as_str(), third_end["status"].as_str()),
        (Some("completed"), Some("completed"))
    );
    assert!(at(&second_end["started_at"]) < at(&third_end["started_at"]), "in order");
    // Only one at a time: the third started after the second finished.
    assert!(at(&third_end["started_at"]) >= at(&second_end["finished_at"]));
    setup.viban.send_json("POST", &format!("/api/tasks/{elsewhere}/stop"), &json!({}));
}

#[test]
fn ten_tasks_create_their_worktrees_on_one_repository_at_once() {
    let setup = Setup::new("[agents]\nmax_concurrent = 10\n", &[]);
    let tasks: Vec<String> = (0..10).map(|n| setup.task(&format!("parallel {n}"))).collect();
    std::thread::scope(|scope| {
        for task in &tasks {
            scope.spawn(|| setup.run(task, json!({})));
        }
    });
    for task in &tasks {
        assert_eq!(setup.ended(task)["status"], "completed");
    }
    let listed = git(setup.repo.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(listed.matches("branch refs/heads/viban/").count(), 10, "{listed}");
}

#[test]
fn a_restart_during_a_run_leaves_it_interrupted_and_resume_continues_the_session() {
    let mut setup = Setup::new("", &[]);
    let task_id = setup.task("Survive a restart");
    setup.run(&task_id, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.sessions(&task_id)[0]["external_session_id"]
        == "hang-session-1"));
    let pids = setup.pids();

    setup.viban.signal(libc::SIGTERM);
    assert!(setup.viban.wait_exit(Duration::from_secs(20)).is_some(), "viban did not stop");
    assert!(eventually(Duration::from_secs(10), || pids.iter().all(|pid| !alive(*pid))), "agent left behind");
    let env_path =
        format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let transcript = fixtures().join("transcripts/claude-tools.jsonl");
    let log = setup.scratch.path().join("calls.log");
    setup.viban = Viban::spawn(
        &setup.viban.home.clone(),
        &[],
        &[
            ("PATH", &env_path),
            ("FAKE_TRANSCRIPT", transcript.to_str().unwrap()),
            ("FAKE_AGENT_LOG", log.to_str().unwrap()),
        ],
    );
    setup.viban.wait_healthy(common::START_TIMEOUT);
    assert_eq!(setup.sessions(&task_id)[0]["status"], "interrupted");
    assert_eq!(setup.task_state(&task_id)["agent_status"], "interrupted");

    let resumed = setup.viban.send_json("POST", &format!("/api/tasks/{task_id}/resume"), &json!({}));
    assert_eq!(resumed.status, 202, "{}", resumed.text());
    assert_eq!(setup.ended(&task_id)["status"], "completed");
    let last = setup.calls().last().cloned().unwrap();
    assert!(last.contains("--resume hang-session-1 -- Continue working on this task."), "{last}");
}

#[test]
fn a_failing_agent_puts_its_own_words_on_the_task() {
    let not_logged_in = fixtures().join("transcripts/claude-not-logged-in.jsonl");
    let setup =
        Setup::new("", &[("FAKE_TRANSCRIPT", not_logged_in.to_str().unwrap()), ("FAKE_AGENT_EXIT", "1")]);
    let task_id = setup.task("Doomed");
    setup.run(&task_id, json!({}));
    let ended = setup.ended(&task_id);
    assert_eq!((ended["status"].as_str(), ended["exit_code"].as_i64()), (Some("failed"), Some(1)));
    let task = setup.task_state(&task_id);
    assert_eq!(task["agent_status"], "error");
    assert_eq!(task["error"], "Not logged in · Please run /login");
}

#[test]
fn bad_run_requests_are_refused_with_what_to_do() {
    let setup = Setup::new("", &[]);
    let task_id = setup.task("Picky");
    let path = format!("/api/tasks/{task_id}/runs");
    let unknown = setup.viban.send_json("POST", &path, &json!({ "agent": "clippy" }));
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.json()["field"], "agent");
    assert!(unknown.json()["detail"].as_str().unwrap().contains("claude-code"));
    let nothing = setup.viban.send_json("POST", &format!("/api/tasks/{task_id}/resume"), &json!({}));
    assert_eq!(nothing.status, 409, "{}", nothing.text());
    let missing =
        setup.viban.send_json("POST", "/api/tasks/00000000-0000-0000-0000-000000000000/runs", &json!({}));
    assert_eq!((missing.status, missing.json()["field"].as_str()), (404, Some("id")));

    // A board without a repository cannot run agents.
    let other = setup.viban.send_json("POST", "/api/boards", &json!({ "name": "Bare" })).json();
    let bare = setup.viban.send_json(
        "POST",
        &format!("/api/boards/{}/tasks", other["board"]["id"].as_str().unwrap()),
        &json!({ "title": "x" }),
    );
    let refused = setup.viban.send_json(
        "POST",
        &format!("/api/tasks/{}/runs", bare.json()["id"].as_str().unwrap()),
        &json!({}),
    );
    assert_eq!(refused.status, 409);
    assert!(refused.json()["detail"].as_str().unwrap().contains("repository"));

    // An agent that is not installed says how to install it.
    let gemini = setup.run(&task_id, json!({ "agent": "gemini" }));
    assert_eq!(gemini["agent"], "gemini");
    setup.ended(&task_id);
    let error = setup.task_state(&task_id)["error"].as_str().unwrap_or_default().to_string();
    if !setup
        .viban
        .get("/api/agents")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == "gemini" && a["found"] == true)
    {
        assert_eq!(error, "gemini not found — install with: npm i -g @google/gemini-cli");
    }
}

#[test]
fn the_agents_list_says_which_are_installed_with_versions_and_install_hints() {
    let setup = Setup::new("", &[]);
    let agents = setup.viban.get("/api/agents").json();
    let agents = agents.as_array().unwrap();
    let ids: Vec<&str> = agents.iter().map(|agent| agent["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["claude-code", "codex", "gemini", "opencode", "cursor-agent", "amp"]);
    let claude = &agents[0];
    assert_eq!(claude["found"], true);
    assert_eq!(claude["version"], "9.9.9 (Fake Claude Code)");
    assert_eq!(claude["path"].as_str().unwrap(), fixtures().join("bin/claude").to_str().unwrap());
    assert_eq!(
        (agents[1]["found"].as_bool(), agents[1]["version"].as_str()),
        (Some(true), Some("codex-cli 0.0.0-fake"))
    );
    assert!(agents.iter().all(|agent| !agent["install_hint"].as_str().unwrap().is_empty()));
}

#[test]
fn deleting_a_task_stops_its_agent_and_removes_its_worktree_unless_it_holds_work() {
    let setup = Setup::new("", &[]);
    let (clean, dirty, running) = (setup.task("clean"), setup.task("dirty"), setup.task("running"));
    for task in [&clean, &dirty] {
        setup.run(task, json!({}));
        setup.ended(task);
    }
    setup.run(&running, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.pids().len() == 2));
    let worktree = |task: &str| PathBuf::from(setup.task_state(task)["worktree_path"].as_str().unwrap());
    let (clean_tree, dirty_tree, running_tree) = (worktree(&clean), worktree(&dirty), worktree(&running));
    std::fs::write(dirty_tree.join("unsaved.txt"), "work in progress").unwrap();

    for task in [&clean, &dirty, &running] {
        assert_eq!(setup.viban.delete(&format!("/api/tasks/{task}")).status, 204);
    }
    assert!(setup.pids().iter().all(|pid| !alive(*pid)), "the running agent was not stopped");
    assert!(!clean_tree.exists() && !running_tree.exists());
    assert!(dirty_tree.join("unsaved.txt").exists(), "a worktree with changes must be kept");
    let branches = git(setup.repo.path(), &["branch", "--list", "viban/*"]);
    assert_eq!(branches.lines().count(), 1, "{branches}");
}

#[test]
fn codex_runs_from_a_managed_clone_and_its_follow_up_uses_exec_resume() {
    let setup = Setup::new("", &[]);
    // A managed clone: viban clones the repository into its home, and the worktree
    // starts from the clone's origin.
    let url = format!("file://{}", setup.repo.path().display());
    let cloned = setup.viban.send_json("POST", "/api/repositories", &json!({ "clone_url": url }));
    assert_eq!(cloned.status, 201, "{}", cloned.text());
    let patch = json!({ "repository_id": cloned.json()["id"], "settings": { "default_agent": "codex" } });
    setup.viban.send_json("PATCH", &format!("/api/boards/{}", setup.board_id), &patch);
    let task_id = setup.task("From the clone");
    setup.run(&task_id, json!({}));
    let ended = setup.ended(&task_id);
    assert_eq!(
        (ended["status"].as_str(), ended["agent"].as_str()),
        (Some("completed"), Some("codex")),
        "{ended}"
    );
    assert_eq!(ended["external_session_id"], "0199a213-81c0-7800-8aa1-bbab2a035a53");
    assert_eq!((ended["input_tokens"].as_i64(), ended["output_tokens"].as_i64()), (Some(24763), Some(122)));
    let worktree = PathBuf::from(setup.task_state(&task_id)["worktree_path"].as_str().unwrap());
    assert!(worktree.join("README.md").exists());
    let kinds: Vec<String> =
        setup.activity(&task_id).iter().map(|entry| entry["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        kinds,
        [
            "user_message",
            "system",
            "thinking",
            "tool_call",
            "tool_result",
            "todo_list",
            "tool_call",
            "assistant_text",
            "result"
        ]
    );

    let reply =
        setup.viban.send_json("POST", &format!("/api/tasks/{task_id}/messages"), &json!({ "text": "More." }));
    assert_eq!(reply.status, 202);
    assert!(eventually(Duration::from_secs(30), || setup.sessions(&task_id).len() == 2));
    setup.ended(&task_id);
    let last = setup.calls().last().cloned().unwrap();
    assert!(last.contains("exec resume --json --skip-git-repo-check"), "{last}");
    assert!(last.trim_end().ends_with("0199a213-81c0-7800-8aa1-bbab2a035a53 More."), "{last}");
}

#[test]
fn after_a_crash_the_next_start_stops_what_the_agent_left_running() {
    let mut setup = Setup::new("", &[]);
    let task_id = setup.task("Outlive a crash");
    setup.run(&task_id, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.pids().len() == 2));
    let pids = setup.pids();

    setup.viban.kill9();
    // The agent itself is told to stop when viban dies; its grandchild ignores that.
    assert!(eventually(Duration::from_secs(10), || !alive(pids[1])), "the agent outlived viban");
    assert!(alive(pids[0]), "the grandchild should still be running before the restart");
    let env_path =
        format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    setup.viban = Viban::spawn(&setup.viban.home.clone(), &[], &[("PATH", &env_path)]);
    setup.viban.wait_healthy(common::START_TIMEOUT);
    assert!(eventually(Duration::from_secs(10), || !alive(pids[0])), "the grandchild survived the restart");
    assert_eq!(setup.sessions(&task_id)[0]["status"], "interrupted");
}

#[test]
fn a_run_past_its_time_limit_is_stopped_with_every_process_it_started() {
    let setup = Setup::new("", &[("VIBAN_AGENT_TIMEOUT_SECONDS", "3")]);
    let task_id = setup.task("Never done");
    setup.run(&task_id, json!({ "prompt": "MODE:hang" }));
    assert!(eventually(Duration::from_secs(30), || setup.pids().len() == 2), "the fake agent did not start");
    let pids = setup.pids();

    let ended = setup.ended(&task_id);
    assert_eq!(ended["status"], "timed_out", "{ended}");
    // Its output up to then was kept: the init line's session id.
    assert_eq!(ended["external_session_id"], "hang-session-1");
    let task = setup.task_state(&task_id);
    assert_eq!(task["agent_status"], "error");
    assert_eq!(task["error"], "the agent did not finish within 3 seconds and was stopped");
    // The grandchild ignores SIGTERM; the KILL after the grace period gets it.
    assert!(
        eventually(Duration::from_secs(10), || pids.iter().all(|pid| !alive(*pid))),
        "{pids:?} still alive"
    );
}
