//! Telling the user about their tasks when they are not looking (N2, N3): webhooks
//! against a local HTTP server that records what it receives, and viban's own desktop
//! notification against a real notification daemon (Debian's notification-daemon on
//! Xvfb and a private D-Bus session bus, watched with dbus-monitor; `scripts/test.sh`
//! installs them).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Viban, eventually, temp_home};
use serde_json::{Value, json};

/// A local webhook receiver: every POST's path and JSON body, answered with the status
/// `status(n)` gives the n-th request (from 0).
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    fn start(status: impl Fn(usize) -> u16 + Send + 'static) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut length = 0;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push((path, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    log.len() - 1
                };
                let code = status(index);
                let answer = if code == 200 { "ok" } else { "receiver is down" };
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Self { url, received }
    }

    fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }
}

/// A board (no repository needed) with its columns.
struct Board {
    id: String,
    columns: Vec<Value>,
}

impl Board {
    fn new(viban: &Viban) -> Self {
        let created = viban.send_json("POST", "/api/boards", &json!({ "name": "Agents" }));
        assert_eq!(created.status, 201, "{}", created.text());
        let created = created.json();
        Self {
            id: created["board"]["id"].as_str().unwrap().to_string(),
            columns: created["columns"].as_array().unwrap().clone(),
        }
    }

    fn column(&self, role: &str) -> String {
        self.columns.iter().find(|c| c["role"] == role).unwrap()["id"].as_str().unwrap().to_string()
    }

    fn task(&self, viban: &Viban, title: &str) -> String {
        let created =
            viban.send_json("POST", &format!("/api/boards/{}/tasks", self.id), &json!({ "title": title }));
        assert_eq!(created.status, 201, "{}", created.text());
        created.json()["id"].as_str().unwrap().to_string()
    }

    fn webhook(&self, viban: &Viban, body: Value) -> Value {
        let created = viban.send_json("POST", &format!("/api/boards/{}/webhooks", self.id), &body);
        assert_eq!(created.status, 201, "{}", created.text());
        created.json()
    }

    fn webhooks(&self, viban: &Viban) -> Vec<Value> {
        viban.get(&format!("/api/boards/{}/webhooks", self.id)).json().as_array().unwrap().clone()
    }
}

fn move_to(viban: &Viban, task: &str, column: &str) {
    let moved = viban.send_json("POST", &format!("/api/tasks/{task}/move"), &json!({ "column_id": column }));
    assert_eq!(moved.status, 200, "{}", moved.text());
}

#[test]
fn a_webhook_receives_the_events_it_chose_in_its_body_shape() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = Board::new(&viban);
    let receiver = Receiver::start(|_| 200);
    let review = board.column("review");
    board.webhook(
        &viban,
        json!({ "url": format!("{}/json", receiver.url), "events": ["task.entered_column"], "column_ids": [review] }),
    );
    board.webhook(
        &viban,
        json!({ "url": format!("{}/slack", receiver.url), "format": "slack", "events": ["needs_you"] }),
    );
    let task = board.task(&viban, "Fix the login page");

    // Into Done: not a column the JSON hook chose, and nothing needs the user.
    move_to(&viban, &task, &board.column("done"));
    move_to(&viban, &task, &review);
    assert!(
        eventually(Duration::from_secs(10), || receiver.received().len() >= 2),
        "{:?}",
        receiver.received()
    );
    std::thread::sleep(Duration::from_millis(500));
    let received = receiver.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let json_body =
        &received.iter().find(|(path, _)| path == "/json").expect("the JSON webhook was called").1;
    assert_eq!(json_body["event"], "task.entered_column");
    assert_eq!(json_body["task"]["title"], "Fix the login page");
    assert_eq!(json_body["task"]["number"], 1);
    assert_eq!(json_body["column"]["id"], review.as_str());
    assert_eq!(json_body["column"]["name"], "Review");
    assert_eq!(json_body["board"]["name"], "Agents");
    let slack_body =
        &received.iter().find(|(path, _)| path == "/slack").expect("the Slack webhook was called").1;
    let text = slack_body["text"].as_str().unwrap();
    assert!(text.contains("#1 Fix the login page needs you"), "{text}");
    assert_eq!(slack_body.as_object().unwrap().len(), 1, "{slack_body}");

    let hooks = board.webhooks(&viban);
    assert!(hooks.iter().all(|hook| hook["last_status"] == 200 && hook["last_error"].is_null()), "{hooks:?}");
}

#[test]
fn a_failing_column_hook_tells_the_webhooks_that_the_task_failed_and_needs_you() {
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    common::repository(repo.path());
    let viban = Viban::start(home.path(), &[]);
    let board_id = common::board_on(&viban, repo.path(), json!({}));
    let board = viban.get(&format!("/api/boards/{board_id}")).json();
    let done = board["columns"].as_array().unwrap().iter().find(|c| c["role"] == "done").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "lint", "kind": "script", "command": "echo 'src/main.rs:3: unused import' >&2; exit 3" }),
    );
    assert_eq!(hook.status, 201, "{}", hook.text());
    let attached = viban.send_json(
        "POST",
        &format!("/api/columns/{done}/hooks"),
        &json!({ "hook_id": hook.json()["id"] }),
    );
    assert_eq!(attached.status, 201, "{}", attached.text());
    let receiver = Receiver::start(|_| 200);
    let webhook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/webhooks"),
        &json!({ "url": receiver.url, "events": ["run.failed", "needs_you"] }),
    );
    assert_eq!(webhook.status, 201, "{}", webhook.text());
    let created = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/tasks"),
        &json!({ "title": "Tidy imports" }),
    );
    let task = created.json()["id"].as_str().unwrap().to_string();

    move_to(&viban, &task, &done);
    assert!(
        eventually(Duration::from_secs(30), || receiver.received().len() >= 2),
        "{:?}\n{}",
        receiver.received(),
        viban.output()
    );
    std::thread::sleep(Duration::from_millis(500));
    let received = receiver.received();
    let events: Vec<&str> = received.iter().map(|(_, body)| body["event"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 2, "one of each, nothing twice: {received:?}");
    assert!(events.contains(&"run.failed") && events.contains(&"needs_you"), "{events:?}");
    for (_, body) in &received {
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("#1 Tidy imports") && text.contains("hook lint in Done failed"), "{text}");
        assert_eq!(body["column"]["name"], "Done");
    }
}

#[test]
fn a_run_cut_off_by_a_restart_tells_the_webhooks_the_task_needs_you() {
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    common::repository(repo.path());
    let scratch = tempfile::tempdir().unwrap();
    let env = common::fake_agent_env(&scratch.path().join("calls.log"), &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let mut viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = common::board_on(&viban, repo.path(), json!({}));
    let receiver = Receiver::start(|_| 200);
    let webhook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/webhooks"),
        &json!({ "url": receiver.url, "events": ["needs_you"] }),
    );
    assert_eq!(webhook.status, 201, "{}", webhook.text());
    let created =
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "Long haul" }));
    let task = created.json()["id"].as_str().unwrap().to_string();
    let started =
        viban.send_json("POST", &format!("/api/tasks/{task}/runs"), &json!({ "prompt": "MODE:hang" }));
    assert_eq!(started.status, 202, "{}", started.text());
    let running = || viban.get(&format!("/api/tasks/{task}")).json()["agent_status"] == "running";
    assert!(eventually(Duration::from_secs(30), running), "{}", viban.output());

    // viban dies under the run; the next start finds it interrupted and says so.
    viban.kill9();
    let viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    assert_eq!(viban.get(&format!("/api/tasks/{task}")).json()["agent_status"], "interrupted");
    assert!(
        eventually(Duration::from_secs(20), || !receiver.received().is_empty()),
        "no webhook call\n{}",
        viban.output()
    );
    std::thread::sleep(Duration::from_millis(500));
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let text = received[0].1["text"].as_str().unwrap();
    assert!(text.contains("#1 Long haul needs you") && text.contains("resume"), "{text}");
}

#[test]
fn a_failed_delivery_is_retried_and_its_error_shows_until_one_succeeds() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = Board::new(&viban);
    // The first attempt gets a 500, the retry a 200.
    let receiver = Receiver::start(|index| if index == 0 { 500 } else { 200 });
    let hook = board.webhook(&viban, json!({ "url": receiver.url, "events": ["task.entered_column"] }));
    let task = board.task(&viban, "Flaky receiver");
    move_to(&viban, &task, &board.column("done"));

    let mut seen_error = None;
    assert!(eventually(Duration::from_secs(10), || {
        let hooks = board.webhooks(&viban);
        if hooks[0]["last_status"] == 500 {
            seen_error = hooks[0]["last_error"].as_str().map(String::from);
        }
        hooks[0]["last_status"] == 200
    }));
    let error = seen_error.expect("the 500 was visible through the API before the retry");
    assert!(error.contains("500") && error.contains("receiver is down"), "{error}");
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one failure, one retry: {received:?}");
    assert_eq!(received[0].1, received[1].1);
    assert!(board.webhooks(&viban)[0]["last_error"].is_null());

    // A receiver that is not there: the error says so, and "Send test" answers it too.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_url = format!("http://{}/hook", gone.local_addr().unwrap());
    drop(gone);
    let id = hook["id"].as_str().unwrap();
    assert_eq!(
        viban.send_json("PATCH", &format!("/api/webhooks/{id}"), &json!({ "url": gone_url })).status,
        200
    );
    let tested = viban.send_json("POST", &format!("/api/webhooks/{id}/test"), &json!({}));
    assert_eq!(tested.status, 200, "{}", tested.text());
    let tested = tested.json();
    assert!(tested["status"].is_null());
    assert!(tested["error"].as_str().unwrap().contains("could not reach the receiver"), "{tested}");
    let shown = &board.webhooks(&viban)[0];
    assert_eq!(shown["last_error"], tested["error"]);
    assert!(shown["last_status"].is_null());
}

#[test]
fn send_test_answers_what_the_receiver_said_and_bad_webhooks_are_refused() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = Board::new(&viban);
    let receiver = Receiver::start(|_| 200);
    let hook =
        board.webhook(&viban, json!({ "url": format!("{}/ntfy-topic", receiver.url), "format": "ntfy" }));
    assert_eq!(hook["events"], json!(["task.entered_column", "run.finished", "run.failed", "needs_you"]));
    let tested =
        viban.send_json("POST", &format!("/api/webhooks/{}/test", hook["id"].as_str().unwrap()), &json!({}));
    assert_eq!(tested.status, 200, "{}", tested.text());
    assert_eq!(tested.json(), json!({ "status": 200, "error": null, "answer": "ok" }));
    let received = receiver.received();
    // ntfy's JSON publishing: to the server's root, the topic in the body.
    assert_eq!(received[0].0, "/");
    assert_eq!(received[0].1["topic"], "ntfy-topic");
    assert!(received[0].1["message"].as_str().unwrap().contains("test"), "{received:?}");

    let path = format!("/api/boards/{}/webhooks", board.id);
    for (body, field) in [
        (json!({ "url": "file:///etc/passwd" }), "url"),
        (json!({ "url": "http://example.com", "format": "teams" }), "format"),
        (json!({ "url": "http://example.com", "events": ["task.exploded"] }), "events"),
        (json!({ "url": "http://example.com", "column_ids": [uuid_nil()] }), "column_ids"),
    ] {
        let refused = viban.send_json("POST", &path, &body);
        assert_eq!(refused.status, 422, "{body}: {}", refused.text());
        assert_eq!(refused.json()["field"], field, "{}", refused.text());
    }
    assert_eq!(viban.delete(&format!("/api/webhooks/{}", hook["id"].as_str().unwrap())).status, 204);
    assert!(board.webhooks(&viban).is_empty());
}

fn uuid_nil() -> &'static str {
    "00000000-0000-0000-0000-000000000000"
}

/// Xvfb, a private session bus, Debian's notification-daemon on it, and dbus-monitor
/// recording every call to the Notifications service; all stopped when dropped.
struct NotificationDesktop {
    dir: tempfile::TempDir,
    display: String,
    bus: String,
    children: Vec<Child>,
}

impl NotificationDesktop {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (display, xvfb) = common::xvfb(600 + std::process::id() % 300..1000, "640x480x24");
        let children = vec![xvfb];
        let bus = format!("unix:path={}", dir.path().join("bus").display());
        let mut desktop = Self { dir, display, bus, children };
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", &format!("--address={}", desktop.bus)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        desktop.children.push(daemon);
        assert!(eventually(Duration::from_secs(10), || desktop.dir.path().join("bus").exists()));
        let monitor = Command::new("dbus-monitor")
            .args(["--address", &desktop.bus, "interface='org.freedesktop.Notifications',member='Notify'"])
            .stdout(std::fs::File::create(desktop.dir.path().join("monitor.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor");
        desktop.children.push(monitor);
        let notifications = Command::new("/usr/lib/notification-daemon/notification-daemon")
            .envs(desktop.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("notification-daemon (scripts/test.sh installs it)");
        desktop.children.push(notifications);
        assert!(
            eventually(Duration::from_secs(20), || desktop.name_has_owner("org.freedesktop.Notifications")),
            "notification-daemon never took the org.freedesktop.Notifications name"
        );
        desktop
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISPLAY", self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()),
            ("HOME", self.dir.path().display().to_string()),
            ("NO_AT_BRIDGE", "1".into()),
        ]
    }

    fn name_has_owner(&self, name: &str) -> bool {
        let output = Command::new("gdbus")
            .args(["call", "--address", &self.bus, "--dest", "org.freedesktop.DBus"])
            .args([
                "--object-path",
                "/org/freedesktop/DBus",
                "--method",
                "org.freedesktop.DBus.NameHasOwner",
                name,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).contains("true")
    }

    /// Every Notify call seen on the bus, as dbus-monitor printed it.
    fn notify_calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("monitor.log")).unwrap_or_default()
    }
}

impl Drop for NotificationDesktop {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn with_no_browser_tab_open_viban_shows_a_desktop_notification_when_a_task_needs_you() {
    let desktop = NotificationDesktop::start();
    let home = temp_home();
    let env = desktop.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    let board = Board::new(&viban);
    let review = board.column("review");
    // Its deliveries say when viban has handled each move.
    let receiver = Receiver::start(|_| 200);
    board.webhook(&viban, json!({ "url": receiver.url, "events": ["needs_you"] }));
    let handled = |count: usize| eventually(Duration::from_secs(10), || receiver.received().len() >= count);

    let task = board.task(&viban, "Review the parser rewrite");
    move_to(&viban, &task, &review);
    assert!(
        eventually(Duration::from_secs(15), || desktop
            .notify_calls()
            .contains("#1 Review the parser rewrite")),
        "no notification reached the daemon: {}\n{}",
        desktop.notify_calls(),
        viban.output()
    );
    let calls = desktop.notify_calls();
    assert!(calls.contains("string \"viban\""), "{calls}");
    assert!(calls.contains("needs you: it is in Review on Agents"), "{calls}");
    assert!(eventually(Duration::from_secs(5), || viban.stderr().contains("desktop notification shown")));

    // A browser tab is open: the tab tells the user (N1), not the desktop.
    let socket = viban.socket();
    let second = board.task(&viban, "Second task with a tab open");
    move_to(&viban, &second, &review);
    assert!(handled(2));
    // "Notify me" off: no desktop notification either.
    drop(socket);
    let patch = json!({ "settings": { "notify": false } });
    assert_eq!(viban.send_json("PATCH", &format!("/api/boards/{}", board.id), &patch).status, 200);
    let third = board.task(&viban, "Third task with notifications off");
    move_to(&viban, &third, &review);
    assert!(handled(3));
    // With both switched back on, a fourth one shows: the two before it had their chance.
    let patch = json!({ "settings": { "notify": true } });
    assert_eq!(viban.send_json("PATCH", &format!("/api/boards/{}", board.id), &patch).status, 200);
    let fourth = board.task(&viban, "Fourth task back on");
    move_to(&viban, &fourth, &review);
    assert!(eventually(Duration::from_secs(15), || desktop
        .notify_calls()
        .contains("#4 Fourth task back on")));
    let calls = desktop.notify_calls();
    assert!(!calls.contains("Second task"), "{calls}");
    assert!(!calls.contains("Third task"), "{calls}");
}

#[test]
fn without_a_session_bus_a_task_needing_you_shows_nothing_and_logs_no_error() {
    let home = temp_home();
    let viban = Viban::spawn(
        home.path(),
        &[],
        &[("DBUS_SESSION_BUS_ADDRESS", ""), ("XDG_RUNTIME_DIR", home.path().to_str().unwrap())],
    );
    viban.wait_healthy(common::START_TIMEOUT);
    let board = Board::new(&viban);
    let receiver = Receiver::start(|_| 200);
    board.webhook(&viban, json!({ "url": receiver.url, "events": ["needs_you"] }));
    let task = board.task(&viban, "Headless review");
    move_to(&viban, &task, &board.column("review"));
    // The webhook still hears it: the notifier ran, and said nothing about a desktop.
    assert!(eventually(Duration::from_secs(10), || !receiver.received().is_empty()));
    let output = viban.output();
    assert!(!output.contains("ERROR") && !output.contains("WARN"), "{output}");
    assert!(!output.contains("desktop notification"), "{output}");
}

#[test]
fn two_vibans_on_one_database_call_a_webhook_once_per_event() {
    // Needs VIBAN_TEST_DATABASE_URL, like the other external-database tests.
    let cluster = common::Cluster::start(2, 1, &[]);
    let receiver = Receiver::start(|_| 200);
    let created = cluster.vibans[1].send_json(
        "POST",
        &format!("/api/boards/{}/webhooks", cluster.board_id),
        &json!({ "url": receiver.url, "events": ["task.entered_column"] }),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let done = cluster.column("done");
    let mut tasks = Vec::new();
    for (index, viban) in cluster.vibans.iter().enumerate() {
        let task = cluster.task(viban, &json!({ "title": format!("Moved through viban {index}") }));
        move_to(viban, &task, &done);
        tasks.push(task);
    }
    assert!(eventually(Duration::from_secs(10), || receiver.received().len() >= 2));
    // Both processes heard both moves; a late duplicate would arrive within this wait.
    std::thread::sleep(Duration::from_secs(2));
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one call per move: {received:?}");
    for task in &tasks {
        assert_eq!(received.iter().filter(|(_, body)| body["task"]["id"] == task.as_str()).count(), 1);
    }
}
