//! API figures (issue: data model, JSON API, realtime), printed, never asserted:
//! `GET` of a board with 1,000 tasks under 20 concurrent clients, the time from a task
//! move to its event at each of 50 subscribed WebSocket clients, and sustained task
//! moves per second with those 50 clients attached.
//!
//! `cargo bench --bench api`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Viban, temp_home};
use serde_json::json;

const TASKS: usize = 1000;
const READERS: usize = 20;
const READS_EACH: usize = 50;
const SUBSCRIBERS: usize = 50;
const TIMED_MOVES: usize = 200;

fn main() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = viban.send_json("POST", "/api/boards", &json!({ "name": "Bench" })).json();
    let board_id = board["board"]["id"].as_str().unwrap().to_string();
    let columns: Vec<String> =
        board["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();

    let started = Instant::now();
    let mut task_ids = Vec::with_capacity(TASKS);
    for index in 0..TASKS {
        let body = json!({ "title": format!("Task {index}"), "description": "x".repeat(200), "column_id": columns[index % columns.len()] });
        let task = viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &body).json();
        task_ids.push(task["id"].as_str().unwrap().to_string());
    }
    println!("created {TASKS} tasks through the API in {:.2} s", started.elapsed().as_secs_f64());

    // 1. Board reads under concurrency.
    let addr = viban.addr();
    let auth = format!("Bearer {}", viban.token());
    let path = format!("/api/boards/{board_id}");
    // As the web UI asks for it: browsers always accept gzip.
    let headers = [("Authorization", auth.as_str()), ("Accept-Encoding", "gzip")];
    // The first read after a change builds the board's view; the rest are served from it.
    let cold = Instant::now();
    let first = viban::client::request(addr, "GET", &path, &headers, b"").unwrap();
    assert_eq!(first.status, 200);
    println!("first GET of the board, building its view: {:.1} ms", cold.elapsed().as_secs_f64() * 1000.0);
    let read_all = || -> Vec<Duration> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..READERS)
                .map(|_| {
                    scope.spawn(|| {
                        (0..READS_EACH)
                            .map(|_| {
                                let start = Instant::now();
                                let response =
                                    viban::client::request(addr, "GET", &path, &headers, b"").unwrap();
                                assert_eq!(response.status, 200, "{}\n{}", response.text(), viban.stderr());
                                start.elapsed()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
        })
    };
    let warm = read_all();
    report("GET a board, first pass (the pool opens connections as load rises)", warm, "");
    let latencies = read_all();
    report(
        &format!("GET a board with {TASKS} tasks (gzip), {READERS} concurrent clients"),
        latencies,
        "target p99 ≤ 25 ms",
    );

    // 2. Fan-out of a move to 50 subscribers.
    let stream = format!("board:{board_id}");
    let received: Arc<Mutex<HashMap<i64, Vec<Instant>>>> = Arc::default();
    let mut sockets: Vec<common::Socket> = (0..SUBSCRIBERS).map(|_| viban.socket()).collect();
    let start_seq = sockets
        .iter_mut()
        .map(|socket| socket.subscribe(&stream, None).1["seq"].as_i64().unwrap())
        .max()
        .unwrap();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            let received = Arc::clone(&received);
            std::thread::spawn(move || {
                loop {
                    let message = socket.next();
                    if message["type"] == "event" {
                        let seq = message["seq"].as_i64().unwrap();
                        received.lock().unwrap().entry(seq).or_default().push(Instant::now());
                        // The `stop` task's creation: its payload is the task itself.
                        if message["payload"]["title"] == "stop" {
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    let mut sent: HashMap<i64, Instant> = HashMap::new();
    for (index, task_id) in task_ids.iter().take(TIMED_MOVES).enumerate() {
        let before = Instant::now();
        let response = viban.send_json(
            "POST",
            &format!("/api/tasks/{task_id}/move"),
            &json!({ "column_id": columns[(index + 1) % columns.len()] }),
        );
        assert_eq!(response.status, 200);
        sent.insert(start_seq + 1 + index as i64, before);
    }
    common::eventually(Duration::from_secs(30), || {
        received
            .lock()
            .unwrap()
            .get(&(start_seq + TIMED_MOVES as i64))
            .is_some_and(|times| times.len() == SUBSCRIBERS)
    });
    let fan_out: Vec<Duration> = received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(seq, times)| {
            sent.get(seq).map(|sent| times.iter().map(|at| at.duration_since(*sent)).collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    assert_eq!(fan_out.len(), TIMED_MOVES * SUBSCRIBERS, "every subscriber got every move");
    report(
        &format!("task move reaching each of {SUBSCRIBERS} WebSocket clients"),
        fan_out,
        "target p99 ≤ 50 ms",
    );

    // 3. Sustained moves with the subscribers attached: with the columns' hooks off (each
    // move still records its column's hooks as skipped), then as the board comes, where
    // each move into a column queues and runs its hooks (here without a repository, so
    // Run agent fails and notifies). Each window starts once the hooks queued before it
    // (by the timed moves, by the other window) have had time to run.
    let settle = || std::thread::sleep(Duration::from_secs(5));
    let hooks = |enabled: bool| {
        for column in &columns {
            let path = format!("/api/columns/{column}");
            let changed = viban.send_json("PATCH", &path, &json!({ "hooks_enabled": enabled }));
            assert_eq!(changed.status, 200, "{}", changed.text());
        }
    };
    // Two rounds, alternating, so that neither setting always runs on the warmer board.
    for round in 1..=2 {
        for enabled in [false, true] {
            hooks(enabled);
            settle();
            println!(
                "sustained task moves with {SUBSCRIBERS} clients attached, columns' hooks {}, round {round}: \
                 {:.0} moves/s (4 writers, {} s)",
                if enabled { "on" } else { "off" },
                sustained_moves(&viban, &task_ids[TIMED_MOVES..], &columns),
                WINDOW.as_secs()
            );
        }
    }
    // Let the readers finish.
    viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "stop" }));
    for reader in readers {
        let _ = reader.join();
    }

    // 4. Creates as in the first figure, on a fresh board whose columns' hooks are off.
    settle();
    let plain = viban.send_json("POST", "/api/boards", &json!({ "name": "Bench, hooks off" })).json();
    let plain_id = plain["board"]["id"].as_str().unwrap();
    let plain_columns: Vec<&str> =
        plain["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    for column in &plain_columns {
        let path = format!("/api/columns/{column}");
        let off = viban.send_json("PATCH", &path, &json!({ "hooks_enabled": false }));
        assert_eq!(off.status, 200, "{}", off.text());
    }
    let started = Instant::now();
    for index in 0..TASKS {
        let body = json!({ "title": format!("Task {index}"), "description": "x".repeat(200), "column_id": plain_columns[index % plain_columns.len()] });
        let created = viban.send_json("POST", &format!("/api/boards/{plain_id}/tasks"), &body);
        assert_eq!(created.status, 201, "{}", created.text());
    }
    println!(
        "created {TASKS} tasks through the API in columns whose hooks are off in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

const WINDOW: Duration = Duration::from_secs(5);

/// Moves per second that four writers reach, each moving its share of `task_ids` from
/// column to column in turn.
fn sustained_moves(viban: &Viban, task_ids: &[String], columns: &[String]) -> f64 {
    let done = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    let start = Instant::now();
                    let mut count = 0usize;
                    while start.elapsed() < WINDOW {
                        let task = &task_ids[(count * 4 + worker) % task_ids.len()];
                        let body = json!({ "column_id": columns[count % columns.len()] });
                        let moved = viban.send_json("POST", &format!("/api/tasks/{task}/move"), &body);
                        assert_eq!(moved.status, 200, "{}\n{}", moved.text(), viban.stderr());
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).sum::<usize>()
    });
    done as f64 / WINDOW.as_secs_f64()
}

fn report(name: &str, mut samples: Vec<Duration>, target: &str) {
    samples.sort();
    let at = |quantile: f64| samples[((samples.len() as f64 * quantile) as usize).min(samples.len() - 1)];
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} samples — {target}",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len()
    );
}
