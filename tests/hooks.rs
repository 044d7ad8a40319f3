//! Column hooks (issue: column hooks run), against the real binary, real PostgreSQL,
//! real git repositories and real processes; the agent is `tests/fixtures/bin/claude`,
//! which replays a recorded transcript. One test per rule of `docs/hooks.md`, and the
//! default board end to end.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Socket, Viban, board_on, eventually, fixtures, repository, temp_home};
use serde_json::{Value, json};

struct Setup {
    _home: tempfile::TempDir,
    _repo: tempfile::TempDir,
    scratch: tempfile::TempDir,
    viban: Viban,
    board_id: String,
    board: Value,
}

impl Setup {
    fn new() -> Self {
        Self::with(&[], None)
    }

    /// viban with the fake Claude first on PATH, on `database` (default: embedded),
    /// and a board on a fresh repository.
    fn with(extra_env: &[(&str, &str)], database: Option<&str>) -> Self {
        let home = temp_home();
        let repo = tempfile::tempdir().unwrap();
        repository(repo.path());
        let scratch = tempfile::tempdir().unwrap();
        let viban = start_viban(home.path(), scratch.path(), extra_env, database);
        let board_id = board_on(&viban, repo.path(), json!({}));
        let board = viban.get(&format!("/api/boards/{board_id}")).json();
        Self { _home: home, _repo: repo, scratch, viban, board_id, board }
    }

    fn column(&self, role: &str) -> String {
        let columns = self.board["columns"].as_array().unwrap();
        columns.iter().find(|c| c["role"] == role).unwrap()["id"].as_str().unwrap().to_string()
    }

    fn task(&self, body: Value) -> String {
        let response = self.viban.send_json("POST", &format!("/api/boards/{}/tasks", self.board_id), &body);
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["id"].as_str().unwrap().to_string()
    }

    fn move_to(&self, task: &str, column: &str) {
        let moved =
            self.viban.send_json("POST", &format!("/api/tasks/{task}/move"), &json!({ "column_id": column }));
        assert_eq!(moved.status, 200, "{}", moved.text());
    }

    fn state(&self, task: &str) -> Value {
        self.viban.get(&format!("/api/tasks/{task}")).json()
    }

    fn executions(&self, task: &str) -> Vec<Value> {
        self.viban.get(&format!("/api/tasks/{task}/hook-executions")).json().as_array().unwrap().clone()
    }

    /// (hook name, status, reason) of each execution, oldest first.
    fn record(&self, task: &str) -> Vec<(String, String, String)> {
        self.executions(task)
            .iter()
            .map(|e| {
                let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
                (text("hook_name"), text("status"), text("reason"))
            })
            .collect()
    }

    fn in_column(&self, task: &str, role: &str) -> bool {
        self.state(task)["column_id"] == self.column(role)
    }

    /// Waits until the task is in the column with `role` and its hooks are done.
    fn settles_in(&self, task: &str, role: &str) {
        let settled = eventually(Duration::from_secs(60), || {
            self.in_column(task, role)
                && self
                    .executions(task)
                    .iter()
                    .all(|e| !matches!(e["status"].as_str(), Some("pending" | "running")))
        });
        assert!(settled, "{task} did not settle in {role}: {:?}\n{}", self.record(task), self.viban.output());
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.scratch.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn hook(&self, column: &str, name: &str, command: &str, transparent: bool) {
        let path = format!("/api/boards/{}/hooks", self.board_id);
        let hook = self.viban.send_json(
            "POST",
            &path,
            &json!({ "name": name, "kind": "script", "command": command }),
        );
        assert_eq!(hook.status, 201, "{}", hook.text());
        let body = json!({ "hook_id": hook.json()["id"], "transparent": transparent });
        let attached = self.viban.send_json("POST", &format!("/api/columns/{column}/hooks"), &body);
        assert_eq!(attached.status, 201, "{}", attached.text());
    }

    fn socket_on_board(&self) -> Socket {
        let mut socket = self.viban.socket();
        socket.subscribe(&format!("board:{}", self.board_id), None);
        socket
    }
}

fn start_viban(home: &Path, scratch: &Path, extra_env: &[(&str, &str)], database: Option<&str>) -> Viban {
    let path = format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let transcript = fixtures().join("transcripts/claude-tools.jsonl");
    let log = scratch.join("calls.log");
    let pids = scratch.join("pids");
    let mut env = vec![
        ("PATH", path.as_str()),
        ("FAKE_TRANSCRIPT", transcript.to_str().unwrap()),
        ("FAKE_AGENT_LOG", log.to_str().unwrap()),
        ("FAKE_AGENT_PIDS", pids.to_str().unwrap()),
    ];
    env.extend_from_slice(extra_env);
    let args: Vec<&str> = match database {
        Some(url) => vec!["--database-url", url],
        None => vec![],
    };
    let viban = Viban::spawn(home, &args, &env);
    viban.wait_healthy(common::START_TIMEOUT);
    viban
}

fn events_until(socket: &mut Socket, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = socket.next();
        let done = event["kind"] == kind;
        seen.push(event);
        if done {
            return seen;
        }
    }
}

#[test]
fn the_default_board_runs_a_new_auto_start_task_through_its_agent_into_review_with_a_sound() {
    let setup = Setup::new();
    let mut socket = setup.socket_on_board();
    let task =
        setup.task(json!({ "title": "Add a greeting", "description": "Say hello.", "auto_start": true }));

    setup.settles_in(&task, "review");
    let record = setup.record(&task);
    let done: Vec<(&str, &str)> =
        record.iter().map(|(name, status, _)| (name.as_str(), status.as_str())).collect();
    assert_eq!(
        done,
        [
            ("Auto-start", "completed"),
            ("Run agent", "completed"),
            ("Move task", "completed"),
            ("Play sound", "completed")
        ]
    );
    let calls = setup.calls();
    assert_eq!(calls.len(), 1, "the agent ran once: {calls:?}");
    assert!(calls[0].contains("# Task: Add a greeting"), "{}", calls[0]);
    let state = setup.state(&task);
    assert_eq!(state["agent_status"], "idle", "{state}");
    assert!(state["worktree_path"].as_str().is_some_and(|path| Path::new(path).join("README.md").exists()));

    let events = events_until(&mut socket, "sound.played");
    let sound = events.last().unwrap();
    assert_eq!(
        (sound["payload"]["sound"].as_str(), sound["payload"]["task_id"].as_str()),
        (Some("done"), Some(task.as_str()))
    );
    let moves: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "task.moved")
        .map(|e| e["payload"]["task"]["column_id"].as_str().unwrap())
        .collect();
    assert_eq!(moves, [setup.column("in_progress"), setup.column("review")]);
}

#[test]
fn rules_1_and_4_a_tasks_hooks_run_one_at_a_time_in_order_then_it_is_idle() {
    let setup = Setup::new();
    let done = setup.column("done");
    let log = setup.scratch.path().join("order.log");
    for name in ["first", "second", "third"] {
        let command =
            format!("echo start-{name} >> {log}; sleep 0.3; echo end-{name} >> {log}", log = log.display());
        setup.hook(&done, name, &command, false);
    }
    let task = setup.task(json!({ "title": "Ordered" }));
    setup.move_to(&task, &done);
    setup.settles_in(&task, "done");
    let order = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        ["start-first", "end-first", "start-second", "end-second", "start-third", "end-third"]
    );
    let state = setup.state(&task);
    assert_eq!((state["agent_status"].as_str(), state["status_message"].as_str()), (Some("idle"), None));
}

#[test]
fn rule_2_execute_once_hooks_run_once_and_a_column_with_hooks_off_skips_them() {
    let setup = Setup::new();
    let (todo, done) = (setup.column("todo"), setup.column("done"));
    let runs = setup.scratch.path().join("runs");
    let hook = setup.viban.send_json(
        "POST",
        &format!("/api/boards/{}/hooks", setup.board_id),
        &json!({ "name": "once", "kind": "script", "command": format!("echo run >> {}", runs.display()) }),
    );
    let body = json!({ "hook_id": hook.json()["id"], "execute_once": true });
    assert_eq!(setup.viban.send_json("POST", &format!("/api/columns/{done}/hooks"), &body).status, 201);
    let task = setup.task(json!({ "title": "Twice through Done" }));
    for column in [&done, &todo, &done] {
        setup.move_to(&task, column);
        setup.settles_in(&task, if column == &done { "done" } else { "todo" });
    }
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\n", "an execute-once hook runs once per task");
    let onces = setup.record(&task).iter().filter(|(name, _, _)| name == "once").count();
    assert_eq!(onces, 1, "{:?}", setup.record(&task));

    let off =
        setup.viban.send_json("PATCH", &format!("/api/columns/{done}"), &json!({ "hooks_enabled": false }));
    assert_eq!(off.status, 200);
    setup.hook(&done, "never", "exit 1", false);
    setup.move_to(&task, &todo);
    setup.move_to(&task, &done);
    setup.settles_in(&task, "done");
    let last = setup.record(&task).last().cloned().unwrap();
    assert_eq!(last, ("never".into(), "skipped".into(), "disabled".into()));
    assert_eq!(setup.state(&task)["agent_status"], "idle");
}

#[test]
fn rules_5_and_6_a_failing_script_puts_the_task_in_error_and_transparent_hooks_still_run() {
    let setup = Setup::new();
    let done = setup.column("done");
    let marker = setup.scratch.path().join("transparent-ran");
    setup.hook(&done, "lint", "echo 'lint: 3 problems'; echo 'src/main.rs:1 unused'; exit 2", false);
    setup.hook(&done, "deploy", "echo deployed", false);
    setup.hook(&done, "notify", &format!("touch {}; exit 7", marker.display()), true);
    let task = setup.task(json!({ "title": "Broken" }));
    setup.move_to(&task, &done);
    setup.settles_in(&task, "done");

    let record = setup.record(&task);
    let tail: Vec<(&str, &str, &str)> =
        record[record.len() - 3..].iter().map(|(n, s, r)| (n.as_str(), s.as_str(), r.as_str())).collect();
    assert_eq!(tail, [("lint", "failed", ""), ("deploy", "skipped", "error"), ("notify", "failed", "")]);
    assert!(marker.exists(), "the transparent hook ran after the failure");
    let state = setup.state(&task);
    assert_eq!(state["agent_status"], "error");
    let error = state["error"].as_str().unwrap();
    assert!(error.starts_with("lint failed: exited with status 2"), "{error}");
    assert!(error.contains("lint: 3 problems"), "{error}");
    let lint = setup.executions(&task).into_iter().find(|e| e["hook_name"] == "lint").unwrap();
    assert!(lint["output"].as_str().unwrap().contains("src/main.rs:1 unused"), "{lint}");

    // Rule 10: clearing the error makes the task idle again.
    let cleared = setup.viban.send_json("POST", &format!("/api/tasks/{task}/clear-error"), &json!({}));
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    assert_eq!(cleared.json()["agent_status"], "idle");
    assert_eq!(
        setup.viban.send_json("POST", &format!("/api/tasks/{task}/clear-error"), &json!({})).status,
        409
    );
}

#[test]
fn rule_7_moving_a_task_out_mid_script_kills_its_process_group_and_records_user_cancelled() {
    let setup = Setup::new();
    let done = setup.column("done");
    let pid_file = setup.scratch.path().join("script.pids");
    let command = format!(
        "(trap '' TERM; sleep 1000) & echo $! >> {pids}; echo $$ >> {pids}; sleep 1000; echo after",
        pids = pid_file.display()
    );
    setup.hook(&done, "long", &command, false);
    setup.hook(&done, "later", "true", false);
    let task = setup.task(json!({ "title": "Interrupted" }));
    setup.move_to(&task, &done);
    let pids = two_pids(&pid_file);

    setup.move_to(&task, &setup.column("review"));
    assert!(
        eventually(Duration::from_secs(15), || pids.iter().all(|pid| !alive(*pid))),
        "the script and what it started are gone"
    );
    let long = setup.executions(&task).into_iter().find(|e| e["hook_name"] == "long").unwrap();
    assert_eq!(
        (long["status"].as_str(), long["reason"].as_str()),
        (Some("cancelled"), Some("user_cancelled"))
    );
    let later = setup.executions(&task).into_iter().find(|e| e["hook_name"] == "later").unwrap();
    assert_eq!(
        (later["status"].as_str(), later["reason"].as_str()),
        (Some("cancelled"), Some("column_change"))
    );
}

#[test]
fn rule_9_a_message_sent_while_the_agent_runs_is_run_next_resuming_its_session() {
    let setup = Setup::new();
    let task = setup.task(json!({ "title": "Chat", "description": "MODE:slow" }));
    let path = format!("/api/tasks/{task}/messages");
    let first = setup.viban.send_json("POST", &path, &json!({ "text": "Start with the parser." }));
    assert_eq!(first.status, 202, "{}", first.text());
    assert_eq!(first.json()["queued"], false, "an idle task starts on the message");
    assert!(eventually(Duration::from_secs(30), || setup.calls().len() == 1));
    let second = setup.viban.send_json("POST", &path, &json!({ "text": "And add tests." }));
    assert_eq!(second.json()["queued"], true, "the agent is busy: the message waits");

    setup.settles_in(&task, "review");
    let calls = setup.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].contains("## Instructions") && calls[0].contains("Start with the parser."),
        "{}",
        calls[0]
    );
    assert!(calls[1].contains("--resume "), "the second run resumes the session: {}", calls[1]);
    assert!(calls[1].trim_end().ends_with("And add tests."), "{}", calls[1]);
    let runs = setup.record(&task).iter().filter(|(name, _, _)| name == "Run agent").count();
    assert_eq!(runs, 1, "one run-agent hook ran both messages");
}

#[test]
fn a_message_to_a_task_in_error_clears_it_and_runs_the_agent() {
    let setup = Setup::new();
    let task = setup.task(json!({ "title": "Fails first", "description": "MODE:fail", "auto_start": true }));
    setup.settles_in(&task, "review");
    assert_eq!(setup.state(&task)["agent_status"], "error");
    let reply = setup.viban.send_json(
        "POST",
        &format!("/api/tasks/{task}/messages"),
        &json!({ "text": "Try again." }),
    );
    assert_eq!(reply.status, 202);
    assert!(eventually(Duration::from_secs(30), || setup.calls().len() == 2));
    setup.settles_in(&task, "review");
}

#[test]
fn rule_8_a_kill_9_mid_hook_is_recorded_at_restart_and_the_pipeline_goes_on() {
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let mut viban = start_viban(home.path(), scratch.path(), &[], None);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let board = viban.get(&format!("/api/boards/{board_id}")).json();
    let column = |role: &str| {
        board["columns"].as_array().unwrap().iter().find(|c| c["role"] == role).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let marker = scratch.path().join("started");
    let hook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "slow", "kind": "script", "command": format!("touch {}; sleep 1000", marker.display()) }),
    );
    let done = column("done");
    viban.send_json("POST", &format!("/api/columns/{done}/hooks"), &json!({ "hook_id": hook.json()["id"] }));
    let after = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "after", "kind": "script", "command": "true" }),
    );
    viban.send_json(
        "POST",
        &format!("/api/columns/{done}/hooks"),
        &json!({ "hook_id": after.json()["id"], "transparent": true }),
    );
    let task = viban
        .send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "Crash" }))
        .json();
    let task = task["id"].as_str().unwrap().to_string();
    viban.send_json("POST", &format!("/api/tasks/{task}/move"), &json!({ "column_id": done }));
    assert!(eventually(Duration::from_secs(30), || marker.exists()));
    viban.kill9();

    let viban = start_viban(home.path(), scratch.path(), &[], None);
    let executions = |viban: &Viban| viban.get(&format!("/api/tasks/{task}/hook-executions")).json();
    assert!(
        eventually(Duration::from_secs(30), || {
            let all = executions(&viban);
            let find = |name: &str| all.as_array().unwrap().iter().find(|e| e["hook_name"] == name).cloned();
            find("slow").is_some_and(|e| e["status"] == "cancelled" && e["reason"] == "server_restart")
                && find("after").is_some_and(|e| e["status"] == "completed")
        }),
        "{}",
        executions(&viban)
    );
    let slow_runs =
        executions(&viban).as_array().unwrap().iter().filter(|e| e["hook_name"] == "slow").count();
    assert_eq!(slow_runs, 1, "nothing is queued twice");
}

#[test]
fn a_column_limit_of_one_runs_three_tasks_agents_one_after_another() {
    let setup = Setup::with(&[("FAKE_AGENT_DELAY", "1")], None);
    let in_progress = setup.column("in_progress");
    let limited = setup.viban.send_json(
        "PATCH",
        &format!("/api/columns/{in_progress}"),
        &json!({ "max_concurrent": 1 }),
    );
    assert_eq!(limited.status, 200);
    let tasks: Vec<String> =
        (1..=3).map(|n| setup.task(json!({ "title": format!("task {n}"), "auto_start": true }))).collect();
    for task in &tasks {
        setup.settles_in(task, "review");
    }
    let mut spans: Vec<(String, String)> = tasks
        .iter()
        .map(|task| {
            let run = setup.executions(task).into_iter().find(|e| e["hook_name"] == "Run agent").unwrap();
            (
                run["started_at"].as_str().unwrap().to_string(),
                run["finished_at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "one at a time: {spans:?}");
    }
}

#[test]
fn a_blocked_task_waits_for_its_blocker_to_be_done_then_starts_by_itself() {
    let setup = Setup::new();
    let blocker = setup.task(json!({ "title": "Schema first" }));
    let blocked = setup.task(json!({ "title": "Then the API", "auto_start": true, "blocked_by": [blocker] }));
    assert_eq!(setup.state(&blocked)["blocked_by"], json!([blocker]));
    std::thread::sleep(Duration::from_secs(3));
    assert!(setup.in_column(&blocked, "todo"), "it waits while its blocker is not done");
    let auto = setup.executions(&blocked).into_iter().find(|e| e["hook_name"] == "Auto-start").unwrap();
    assert_eq!(auto["status"], "pending");
    assert!(setup.calls().is_empty());

    setup.move_to(&blocker, &setup.column("done"));
    setup.settles_in(&blocked, "review");
    assert_eq!(setup.calls().len(), 1);

    let cycle =
        setup.viban.send_json("PATCH", &format!("/api/tasks/{blocker}"), &json!({ "blocked_by": [blocked] }));
    assert_eq!(cycle.status, 422, "{}", cycle.text());
    assert_eq!(cycle.json()["field"], "blocked_by");
}

#[test]
fn a_failed_hook_is_retried_and_a_pending_one_cancelled_through_the_api() {
    let setup = Setup::new();
    let done = setup.column("done");
    let flag = setup.scratch.path().join("fixed");
    setup.hook(&done, "check", &format!("test -e {}", flag.display()), false);
    setup.hook(&done, "after", "true", false);
    let task = setup.task(json!({ "title": "Flaky" }));
    setup.move_to(&task, &done);
    setup.settles_in(&task, "done");
    let failed = setup.executions(&task).into_iter().find(|e| e["status"] == "failed").unwrap();
    std::fs::write(&flag, "").unwrap();
    let retried = setup.viban.send_json(
        "POST",
        &format!("/api/hook-executions/{}/retry", failed["id"].as_str().unwrap()),
        &json!({}),
    );
    assert_eq!(retried.status, 200, "{}", retried.text());
    let queued: Vec<String> = retried
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hook_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(queued, ["check", "after"]);
    setup.settles_in(&task, "done");
    let record = setup.record(&task);
    assert_eq!(
        record[record.len() - 2..],
        [
            ("check".to_string(), "completed".to_string(), String::new()),
            ("after".to_string(), "completed".to_string(), String::new())
        ]
    );
    assert_eq!(setup.state(&task)["agent_status"], "idle");
    let again = setup.viban.send_json(
        "POST",
        &format!("/api/hook-executions/{}/retry", failed["id"].as_str().unwrap()),
        &json!({}),
    );
    assert_eq!(again.status, 409);
    let unknown = setup.viban.send_json(
        "POST",
        "/api/hook-executions/00000000-0000-0000-0000-000000000000/cancel",
        &json!({}),
    );
    assert_eq!(unknown.status, 404);
}

/// The two process ids a script or the fake agent writes to `file` (itself and the
/// child that ignores TERM), once both are there.
fn two_pids(file: &Path) -> Vec<i32> {
    let written = eventually(Duration::from_secs(30), || {
        std::fs::read_to_string(file).is_ok_and(|pids| pids.lines().count() == 2)
    });
    assert!(written, "{} never held two pids", file.display());
    std::fs::read_to_string(file).unwrap().lines().map(|line| line.trim().parse().unwrap()).collect()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

#[test]
fn deleting_a_task_stops_its_running_hook_at_once() {
    let setup = Setup::new();
    let done = setup.column("done");
    let pid_file = setup.scratch.path().join("pid");
    setup.hook(&done, "long", &format!("echo $$ > {}; sleep 1000", pid_file.display()), false);
    let task = setup.task(json!({ "title": "Doomed" }));
    setup.move_to(&task, &done);
    assert!(eventually(Duration::from_secs(30), || std::fs::read_to_string(&pid_file)
        .is_ok_and(|pid| pid.trim().parse::<i32>().is_ok())));
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(setup.viban.delete(&format!("/api/tasks/{task}")).status, 204);
    // Sooner than the lease keeper would notice (every 5 s): the cancellation is followed.
    assert!(eventually(Duration::from_millis(1500), || !alive(pid)), "the script outlived its task");
}

#[test]
fn a_hook_that_outlasts_several_lease_renewals_keeps_its_claim_and_completes() {
    let setup = Setup::new();
    let done = setup.column("done");
    // The keeper renews claims and retakes expired ones every 5 s.
    setup.hook(&done, "patient", "sleep 12; echo finished", false);
    let task = setup.task(json!({ "title": "Slow but fine" }));
    setup.move_to(&task, &done);
    setup.settles_in(&task, "done");
    let patient = setup.executions(&task).into_iter().find(|e| e["hook_name"] == "patient").unwrap();
    assert_eq!(patient["status"], "completed", "{patient}");
    assert_eq!(patient["output"], "finished\n");
}

impl Setup {
    /// Attaches `builtin` to the column with `role`, before its first hook if `first`.
    fn attach_builtin(&self, role: &str, builtin: &str, first: bool) {
        let column = self.column(role);
        let mut body = json!({ "builtin": builtin });
        if first {
            let view = self.viban.get(&format!("/api/boards/{}", self.board_id)).json();
            let hooks = view["column_hooks"].as_array().unwrap();
            let mut here: Vec<&Value> =
                hooks.iter().filter(|hook| hook["column_id"] == column.as_str()).collect();
            here.sort_by_key(|hook| hook["position"].as_str().unwrap().to_string());
            body["before"] = here[0]["id"].clone();
        }
        let attached = self.viban.send_json("POST", &format!("/api/columns/{column}/hooks"), &body);
        assert_eq!(attached.status, 201, "{}", attached.text());
    }
}

/// The working directory and the arguments of a logged call of the fake agent.
fn call_parts(call: &str) -> (&str, &str) {
    call.split_once('\t').unwrap()
}

#[test]
fn refine_rewrites_the_description_keeping_the_original_and_the_agent_run_does_not_resume_it() {
    let refine = fixtures().join("transcripts/claude-refine.jsonl");
    let setup = Setup::with(&[("FAKE_TRANSCRIPT", refine.to_str().unwrap())], None);
    setup.attach_builtin("todo", "builtin:refine", true);
    let mut socket = setup.socket_on_board();
    let task = setup.task(json!({ "title": "Greeting", "description": "say hi", "auto_start": true }));

    setup.settles_in(&task, "review");
    let record = setup.record(&task);
    assert_eq!(record[0], ("Refine description".into(), "completed".into(), String::new()), "{record:?}");
    let description = setup.state(&task)["description"].as_str().unwrap().to_string();
    assert!(description.starts_with("## Objective\nGreet the user"), "{description}");
    assert!(
        description.contains("## Acceptance criteria\n- [ ] Running the program prints"),
        "{description}"
    );
    assert!(description.ends_with("\n\n## Original request\n\nsay hi\n"), "{description}");
    let updated = events_until(&mut socket, "sound.played")
        .into_iter()
        .filter(|e| e["kind"] == "task.updated")
        .any(|e| e["payload"]["description"] == description.as_str());
    assert!(updated, "the new description was published as task.updated");

    let calls = setup.calls();
    assert_eq!(calls.len(), 2, "one refine call, one agent run: {calls:?}");
    let (refine_dir, refine_args) = call_parts(&calls[0]);
    assert!(refine_args.contains("# Task: Greeting") && refine_args.contains("say hi"), "{refine_args}");
    assert!(!refine_dir.contains("worktrees"), "no worktree yet: refine reads the repository, {refine_dir}");
    assert!(
        !refine_args.contains("--dangerously-skip-permissions") && !refine_args.contains("--permission-mode"),
        "refine does not work unattended: {refine_args}"
    );
    let (run_dir, run_args) = call_parts(&calls[1]);
    assert!(run_dir.contains("worktrees"), "{run_dir}");
    assert!(!run_args.contains("--resume"), "the refine call is not the task's session: {run_args}");
    assert!(run_args.contains("## Objective"), "the run works from the refined description: {run_args}");
}

#[test]
fn refine_with_a_failing_agent_fails_the_hook_with_the_agents_words_and_keeps_the_description() {
    let failing = fixtures().join("transcripts/claude-not-logged-in.jsonl");
    let setup = Setup::with(&[("FAKE_TRANSCRIPT", failing.to_str().unwrap())], None);
    setup.attach_builtin("done", "builtin:refine", false);
    let task = setup.task(json!({ "title": "Vague", "description": "make it better" }));
    setup.move_to(&task, &setup.column("done"));
    setup.settles_in(&task, "done");

    let refine =
        setup.executions(&task).into_iter().find(|e| e["hook_name"] == "Refine description").unwrap();
    assert_eq!(refine["status"], "failed", "{refine}");
    let state = setup.state(&task);
    assert_eq!(state["agent_status"], "error");
    assert_eq!(
        state["error"].as_str(),
        Some("Refine description failed: Not logged in · Please run /login"),
        "{state}"
    );
    assert_eq!(state["description"], "make it better");
}

#[test]
fn moving_a_task_out_while_refine_runs_kills_the_agents_process_group() {
    let setup = Setup::new();
    setup.attach_builtin("done", "builtin:refine", false);
    let task = setup.task(json!({ "title": "Hangs", "description": "MODE:hang" }));
    setup.move_to(&task, &setup.column("done"));
    let pid_file = setup.scratch.path().join("pids");
    let pids = two_pids(&pid_file);

    setup.move_to(&task, &setup.column("review"));
    assert!(
        eventually(Duration::from_secs(15), || pids.iter().all(|pid| !alive(*pid))),
        "the agent and what it started are gone"
    );
    let refine =
        setup.executions(&task).into_iter().find(|e| e["hook_name"] == "Refine description").unwrap();
    assert_eq!(
        (refine["status"].as_str(), refine["reason"].as_str()),
        (Some("cancelled"), Some("user_cancelled"))
    );
    assert_eq!(setup.state(&task)["description"], "MODE:hang");
}

#[test]
fn rule_11_a_board_subscriber_sees_every_hook_transition_which_leaves_the_board_view_cached() {
    let setup = Setup::new();
    let done = setup.column("done");
    // Transparent: the task's card shows nothing of it, so the board view does not change.
    setup.hook(&done, "check", "sleep 0.5; echo checked", true);
    let task = setup.task(json!({ "title": "Watched" }));
    // The first run makes the task's worktree, which the card shows; the second does not.
    setup.move_to(&task, &done);
    setup.settles_in(&task, "done");
    setup.move_to(&task, &setup.column("todo"));
    let mut socket = setup.socket_on_board();
    setup.move_to(&task, &done);
    let path = format!("/api/boards/{}", setup.board_id);
    let auth = format!("Bearer {}", setup.viban.token());
    let etag = setup
        .viban
        .request("GET", &path, &[("Authorization", &auth)], b"")
        .header("etag")
        .unwrap()
        .to_string();

    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("completed") {
        let event = socket.next();
        if event["kind"] == "hook_execution.updated" && event["payload"]["task_id"] == task.as_str() {
            assert_eq!(event["stream"], format!("board:{}", setup.board_id));
            statuses.push(event["payload"]["status"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(statuses, ["pending", "running", "completed"]);
    setup.settles_in(&task, "done");
    let again = setup.viban.request("GET", &path, &[("Authorization", &auth), ("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304, "a hook's progress is not a change of the board view");
}

#[test]
fn worktrees_are_added_and_removed_in_turn_with_other_processes_even_in_a_linked_worktree() {
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let main = tempfile::tempdir().unwrap();
    repository(main.path());
    // The board's repository is itself a linked worktree: its `.git` is a file.
    let checkout = scratch.path().join("checkout");
    common::git(main.path(), &["worktree", "add", "--quiet", "-b", "side", checkout.to_str().unwrap()]);
    assert!(checkout.join(".git").is_file());
    let viban = start_viban(home.path(), scratch.path(), &[], None);
    let board_id = board_on(&viban, &checkout, json!({}));
    let board = viban.get(&format!("/api/boards/{board_id}")).json();
    let done = board["columns"].as_array().unwrap().iter().find(|c| c["role"] == "done").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "check", "kind": "script", "command": "true" }),
    );
    viban.send_json("POST", &format!("/api/columns/{done}/hooks"), &json!({ "hook_id": hook.json()["id"] }));
    let task =
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "Turns" }));
    let task = task.json()["id"].as_str().unwrap().to_string();

    // Another process holds the lock in the common git directory.
    let lock_path = main.path().join(".git/viban-worktrees.lock");
    let other = std::fs::File::create(&lock_path).unwrap();
    other.lock().unwrap();
    viban.send_json("POST", &format!("/api/tasks/{task}/move"), &json!({ "column_id": done }));
    std::thread::sleep(Duration::from_millis(1500));
    let state = viban.get(&format!("/api/tasks/{task}")).json();
    assert!(state["worktree_path"].is_null(), "no worktree is added while another process holds the lock");
    drop(other);
    let made = eventually(Duration::from_secs(30), || {
        viban.get(&format!("/api/tasks/{task}")).json()["worktree_path"].as_str().is_some()
    });
    assert!(made, "{}", viban.output());
    let worktree =
        viban.get(&format!("/api/tasks/{task}")).json()["worktree_path"].as_str().unwrap().to_string();
    assert!(eventually(Duration::from_secs(30), || {
        viban.get(&format!("/api/tasks/{task}/hook-executions")).json()[0]["status"] == "completed"
    }));

    let other = std::fs::File::create(&lock_path).unwrap();
    other.lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(other);
    });
    let asked = std::time::Instant::now();
    assert_eq!(viban.delete(&format!("/api/tasks/{task}")).status, 204);
    assert!(asked.elapsed() >= Duration::from_millis(1200), "the removal waited for the lock");
    release.join().unwrap();
    assert!(!Path::new(&worktree).exists(), "the clean worktree was removed");
}

#[test]
fn a_hook_a_dead_viban_left_running_is_retaken_and_its_task_no_longer_says_it_runs() {
    let setup = Setup::new();
    let task = setup.task(json!({ "title": "Orphaned" }));
    // What a viban that died mid-hook leaves: a claim whose lease ran out, and the card.
    setup.viban.sql().execute(&format!(
        "INSERT INTO hook_executions (board_id, task_id, column_id, column_stay, hook_name, position,
                                      transparent, status, claimed_by, lease_until, started_at, step)
         SELECT board_id, id, column_id, column_stay, 'slow', 'V', false, 'running', 'gone',
                now() - interval '1 minute', now() - interval '2 minutes', '{{\"kind\": \"run-agent\"}}'
         FROM tasks WHERE id = '{task}';
         UPDATE tasks SET agent_status = 'running', status_message = 'Running slow' WHERE id = '{task}';"
    ));
    let retaken = eventually(Duration::from_secs(30), || {
        let state = setup.state(&task);
        setup.record(&task) == [("slow".to_string(), "cancelled".to_string(), "server_restart".to_string())]
            && state["agent_status"] == "idle"
            && state["status_message"].is_null()
    });
    assert!(retaken, "{:?} {}", setup.record(&task), setup.state(&task));
}
