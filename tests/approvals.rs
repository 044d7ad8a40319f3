//! Tool-call approvals and questions (M3; docs/approvals.md), against the real binary.
//! The agent is `tests/fixtures/bin/claude`, which under the board's `ask` policy speaks
//! Claude Code's control protocol (`claude-control.py`): a prompt with MODE:ask makes it
//! ask to run `Bash`, and what it prints next depends on the decision it reads back.
//! The real CLI's acceptance of the same flags is checked in `agent_clis.rs`.

mod common;

use std::time::Duration;

use common::{Viban, board_on, eventually, repository, temp_home};
use serde_json::{Value, json};

struct Setup {
    home: tempfile::TempDir,
    _repo: tempfile::TempDir,
    _scratch: tempfile::TempDir,
    env: Vec<(String, String)>,
    viban: Viban,
    board_id: String,
}

impl Setup {
    /// viban with the fake Claude first on PATH and a board on a fresh repository with
    /// `settings` (the `ask` policy, usually).
    fn new(settings: Value) -> Self {
        let home = temp_home();
        let repo = tempfile::tempdir().unwrap();
        repository(repo.path());
        let scratch = tempfile::tempdir().unwrap();
        let env = common::fake_agent_env(&scratch.path().join("calls.log"), &[]);
        let viban = Self::start(home.path(), &env);
        let board_id = board_on(&viban, repo.path(), settings);
        Self { home, _repo: repo, _scratch: scratch, env, viban, board_id }
    }

    fn start(home: &std::path::Path, env: &[(String, String)]) -> Viban {
        let env: Vec<(&str, &str)> =
            env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let viban = Viban::spawn(home, &[], &env);
        viban.wait_healthy(common::START_TIMEOUT);
        viban
    }

    /// A task whose run asks (`mode`: MODE:ask or MODE:ask-twice), started.
    fn asking_task(&self, mode: &str) -> String {
        let path = format!("/api/boards/{}/tasks", self.board_id);
        let body = json!({ "title": "List the files", "description": format!("{mode} please") });
        let response = self.viban.send_json("POST", &path, &body);
        assert_eq!(response.status, 201, "{}", response.text());
        let task_id = response.json()["id"].as_str().unwrap().to_string();
        let started = self.viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({}));
        assert_eq!(started.status, 202, "{}", started.text());
        task_id
    }

    fn requests(&self, task_id: &str) -> Vec<Value> {
        let response = self.viban.get(&format!("/api/tasks/{task_id}/requests"));
        assert_eq!(response.status, 200, "{}", response.text());
        response.json().as_array().unwrap().clone()
    }

    /// The task's pending approval, once its agent has asked.
    fn pending(&self, task_id: &str) -> Value {
        let mut pending = Value::Null;
        let asked = eventually(Duration::from_secs(30), || {
            pending =
                self.requests(task_id).into_iter().find(|r| r["status"] == "pending").unwrap_or(Value::Null);
            !pending.is_null()
        });
        assert!(asked, "the agent did not ask\n{}", self.viban.output());
        pending
    }

    fn decide(&self, request_id: &str, body: Value) -> common::Response {
        self.viban.send_json("POST", &format!("/api/approvals/{request_id}"), &body)
    }

    fn task(&self, task_id: &str) -> Value {
        self.viban.get(&format!("/api/tasks/{task_id}")).json()
    }

    /// The task's latest session once it has ended.
    fn ended(&self, task_id: &str) -> Value {
        let mut last = Value::Null;
        let done = eventually(Duration::from_secs(60), || {
            let sessions = self.viban.get(&format!("/api/tasks/{task_id}/sessions")).json();
            last = sessions.as_array().and_then(|all| all.last().cloned()).unwrap_or(Value::Null);
            !matches!(last["status"].as_str(), Some("queued" | "running") | None)
        });
        assert!(done, "the run did not end: {last}\n{}", self.viban.output());
        last
    }

    fn activity_text(&self, task_id: &str) -> String {
        self.viban.get(&format!("/api/tasks/{task_id}/activity?limit=500")).text()
    }

    fn needs_attention(&self) -> i64 {
        let boards = self.viban.get("/api/boards").json();
        let board = boards.as_array().unwrap().iter().find(|b| b["id"] == self.board_id.as_str()).cloned();
        board.unwrap()["needs_attention"].as_i64().unwrap()
    }
}

fn ask() -> Value {
    json!({ "permission_policy": "ask" })
}

#[test]
fn an_approved_tool_call_runs_and_the_task_needs_the_user_until_then() {
    let setup = Setup::new(ask());
    let task_id = setup.asking_task("MODE:ask");
    let request = setup.pending(&task_id);
    assert_eq!(request["kind"], "approval");
    assert_eq!(request["tool"], "Bash");
    assert_eq!(request["summary"], "ls -la");
    assert_eq!(request["input"], json!({ "command": "ls -la" }));
    assert_eq!(request["reason"], "Run ls -la to see the files");
    assert!(request["timeout_at"].is_string());

    // The server says the task needs the user: on the task, on the board, in the count.
    assert_eq!(setup.task(&task_id)["waiting_for"], "approval");
    let view = setup.viban.get(&format!("/api/boards/{}", setup.board_id)).json();
    let card = view["tasks"].as_array().unwrap().iter().find(|t| t["id"] == task_id.as_str()).cloned();
    assert_eq!(card.unwrap()["waiting_for"], "approval", "{view}");
    assert_eq!(setup.needs_attention(), 1);
    // The prompt went on stdin, not on the command line, with the control flags.
    let session = setup.viban.get(&format!("/api/tasks/{task_id}/sessions")).json()[0].clone();
    let argv: Vec<&str> =
        session["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(argv.windows(2).any(|pair| pair == ["--permission-prompt-tool", "stdio"]), "{argv:?}");
    assert!(argv.windows(2).any(|pair| pair == ["--input-format", "stream-json"]), "{argv:?}");
    assert!(!argv.iter().any(|arg| arg.contains("MODE:ask")), "{argv:?}");

    let request_id = request["id"].as_str().unwrap();
    let approved = setup.decide(request_id, json!({ "decision": "approve" }));
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert_eq!(approved.json()["status"], "approved");
    assert_eq!(approved.json()["decided_by"], "user");
    let ended = setup.ended(&task_id);
    assert_eq!(ended["status"], "completed", "{ended}\n{}", setup.viban.output());
    assert!(setup.activity_text(&task_id).contains("ran: ls -la"));
    assert_eq!(setup.task(&task_id)["waiting_for"], Value::Null);
    assert_eq!(setup.needs_attention(), 0);

    // Both ends were published on the task's stream.
    let mut socket = setup.viban.socket();
    let (replayed, _) = socket.subscribe(&format!("task:{task_id}"), Some(0));
    let kinds: Vec<&str> = replayed.iter().filter_map(|message| message["kind"].as_str()).collect();
    let opened = kinds.iter().position(|kind| *kind == "request.opened");
    let closed = kinds.iter().position(|kind| *kind == "request.closed");
    assert!(opened.is_some() && opened < closed, "{kinds:?}");

    // A second decision is refused, saying by whom; an unknown id is not found.
    let again = setup.decide(request_id, json!({ "decision": "deny" }));
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.text().contains("already approved by user at"), "{}", again.text());
    let unknown = setup.decide("00000000-0000-4000-8000-000000000001", json!({ "decision": "approve" }));
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    // An approval is not a question.
    let answered =
        setup.viban.send_json("POST", &format!("/api/questions/{request_id}"), &json!({ "answer": "x" }));
    assert_eq!(answered.status, 404, "{}", answered.text());
}

#[test]
fn a_denied_tool_call_tells_the_agent_the_note_and_approve_for_session_asks_once() {
    let setup = Setup::new(ask());
    let denied_task = setup.asking_task("MODE:ask");
    let request = setup.pending(&denied_task);
    let note = json!({ "decision": "approve", "note": "only with deny" });
    assert_eq!(setup.decide(request["id"].as_str().unwrap(), note).status, 422);
    let deny = json!({ "decision": "deny", "note": "use git ls-files instead" });
    let denied = setup.decide(request["id"].as_str().unwrap(), deny);
    assert_eq!(denied.status, 200, "{}", denied.text());
    assert_eq!(denied.json()["answer"], "use git ls-files instead");
    setup.ended(&denied_task);
    let activity = setup.activity_text(&denied_task);
    assert!(activity.contains("The user denied this tool call: use git ls-files instead"), "{activity}");
    assert!(!activity.contains("ran: ls -la"));

    let session_task = setup.asking_task("MODE:ask-twice");
    let first = setup.pending(&session_task);
    let decided = setup.decide(first["id"].as_str().unwrap(), json!({ "decision": "approve_for_session" }));
    assert_eq!(decided.status, 200, "{}", decided.text());
    let ended = setup.ended(&session_task);
    assert_eq!(ended["status"], "completed", "{ended}");
    let activity = setup.activity_text(&session_task);
    assert!(activity.contains("ran: ls -la") && activity.contains("ran: ls -R"), "{activity}");
    // The second Bash call was allowed without asking.
    assert_eq!(setup.requests(&session_task).len(), 1);
}

#[test]
fn an_approval_nobody_decides_is_denied_when_the_boards_timeout_passes() {
    // `approval_timeout_minutes` takes fractions: 0.05 is three seconds.
    let setup = Setup::new(json!({ "permission_policy": "ask", "approval_timeout_minutes": 0.05 }));
    let task_id = setup.asking_task("MODE:ask");
    let request = setup.pending(&task_id);
    let ended = setup.ended(&task_id);
    assert_eq!(ended["status"], "completed", "{ended}");
    let closed = setup.requests(&task_id).into_iter().find(|r| r["id"] == request["id"]).unwrap();
    assert_eq!(
        (closed["status"].as_str(), closed["decided_by"].as_str()),
        (Some("timed_out"), Some("timeout"))
    );
    let activity = setup.activity_text(&task_id);
    assert!(activity.contains("Nobody approved this tool call within 3 seconds"), "{activity}");
    let late = setup.decide(request["id"].as_str().unwrap(), json!({ "decision": "approve" }));
    assert_eq!(late.status, 409, "{}", late.text());
    assert!(late.text().contains("already timed out by timeout"), "{}", late.text());
}

#[test]
fn a_pending_approval_is_interrupted_with_its_run_when_viban_restarts() {
    let mut setup = Setup::new(ask());
    let task_id = setup.asking_task("MODE:ask");
    let request = setup.pending(&task_id);
    setup.viban.kill9();
    setup.viban = Setup::start(setup.home.path(), &setup.env);

    let closed = setup.requests(&task_id).into_iter().find(|r| r["id"] == request["id"]).unwrap();
    assert_eq!(closed["status"], "interrupted", "{closed}");
    assert_eq!(closed["decided_by"], "viban restarted");
    let task = setup.task(&task_id);
    assert_eq!((task["agent_status"].as_str(), &task["waiting_for"]), (Some("interrupted"), &Value::Null));
    let late = setup.decide(request["id"].as_str().unwrap(), json!({ "decision": "approve" }));
    assert_eq!(late.status, 409, "{}", late.text());
}

#[test]
fn stopping_a_run_that_waits_for_an_approval_closes_the_approval() {
    let setup = Setup::new(ask());
    let task_id = setup.asking_task("MODE:ask");
    let request = setup.pending(&task_id);
    let stopped = setup.viban.send_json("POST", &format!("/api/tasks/{task_id}/stop"), &json!({}));
    assert_eq!(stopped.status, 202, "{}", stopped.text());
    assert_eq!(setup.ended(&task_id)["status"], "stopped");
    let closed = setup.requests(&task_id).into_iter().find(|r| r["id"] == request["id"]).unwrap();
    assert_eq!(
        (closed["status"].as_str(), closed["decided_by"].as_str()),
        (Some("interrupted"), Some("run ended"))
    );
    assert_eq!(setup.task(&task_id)["waiting_for"], Value::Null);
}

#[test]
fn the_boards_approval_settings_are_checked() {
    let setup = Setup::new(json!({}));
    let path = format!("/api/boards/{}", setup.board_id);
    for (settings, field) in [
        (json!({ "permission_policy": "sometimes" }), "settings.permission_policy"),
        (json!({ "approval_timeout_minutes": 0 }), "settings.approval_timeout_minutes"),
    ] {
        let refused = setup.viban.send_json("PATCH", &path, &json!({ "settings": settings }));
        assert_eq!(refused.status, 422, "{}", refused.text());
        assert_eq!(refused.json()["field"], field);
    }
    let settings = json!({ "permission_policy": "bypass", "approval_timeout_minutes": 2.5 });
    assert_eq!(setup.viban.send_json("PATCH", &path, &json!({ "settings": settings })).status, 200);
}

#[test]
fn an_answered_question_becomes_the_agents_next_message() {
    let setup = Setup::new(json!({}));
    let path = format!("/api/boards/{}/tasks", setup.board_id);
    let task = setup.viban.send_json("POST", &path, &json!({ "title": "Pick a name" })).json();
    let task_id = task["id"].as_str().unwrap();
    // A question as MCP's `ask_user` opens it (`board::requests::ask_question`).
    let question_id = setup.viban.sql().text(&format!(
        "INSERT INTO requests (task_id, kind, question) VALUES ('{task_id}', 'question', 'Which name?') \
         RETURNING id::text"
    ));
    assert_eq!(setup.task(task_id)["waiting_for"], "question");
    let requests = setup.requests(task_id);
    assert_eq!((requests.len(), requests[0]["question"].as_str()), (1, Some("Which name?")));

    let answer = json!({ "answer": "Call it greet" });
    let answered = setup.viban.send_json("POST", &format!("/api/questions/{question_id}"), &answer);
    assert_eq!(answered.status, 200, "{}", answered.text());
    assert_eq!(answered.json()["request"]["status"], "answered");
    assert_eq!(setup.task(task_id)["waiting_for"], Value::Null);
    // The answer went to the agent as a chat message does: in the activity, queued.
    assert!(setup.activity_text(task_id).contains("Call it greet"));
    let again = setup.viban.send_json("POST", &format!("/api/questions/{question_id}"), &answer);
    assert_eq!(again.status, 409, "{}", again.text());
}
