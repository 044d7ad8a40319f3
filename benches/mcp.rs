//! MCP figures (M1), printed, never asserted: `tools/call` of `create_task` and of
//! `get_board` over Streamable HTTP at `/api/mcp`, on a board with 1,000 tasks, one
//! JSON-RPC POST each (a new connection each, as the API bench does).
//!
//! `cargo bench --bench mcp`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Viban, temp_home};
use serde_json::{Value, json};

const TASKS: usize = 1000;
const CALLS: usize = 200;

fn main() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = viban.send_json("POST", "/api/boards", &json!({ "name": "Bench" })).json();
    let board_id = board["board"]["id"].as_str().unwrap().to_string();
    let columns: Vec<String> =
        board["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    for index in 0..TASKS {
        let body = json!({ "title": format!("Task {index}"), "description": "x".repeat(200), "column_id": columns[index % columns.len()] });
        let created = viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &body);
        assert_eq!(created.status, 201, "{}", created.text());
    }
    println!("a board with {TASKS} tasks");

    let auth = format!("Bearer {}", viban.token());
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2025-06-18"),
    ];
    let call = |id: usize, name: &str, arguments: Value| -> Duration {
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
                           "params": { "name": name, "arguments": arguments } });
        let start = Instant::now();
        let response =
            viban::client::request(viban.addr(), "POST", "/api/mcp", &headers, body.to_string().as_bytes())
                .unwrap();
        let elapsed = start.elapsed();
        let answer = response.json();
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(answer["result"]["isError"] != true && answer["error"].is_null(), "{name}: {answer}");
        elapsed
    };

    // The first read after a change builds the board's view; later ones are served from it.
    let cold = call(0, "get_board", json!({ "board_id": board_id }));
    println!("first get_board, building its view: {:.1} ms", cold.as_secs_f64() * 1000.0);
    let reads = (1..=CALLS).map(|id| call(id, "get_board", json!({ "board_id": board_id }))).collect();
    report(&format!("tools/call get_board, {TASKS} tasks"), reads, "target p99 ≤ 25 ms");
    let creates = (1..=CALLS)
        .map(|id| {
            let arguments =
                json!({ "board_id": board_id, "title": format!("New {id}"), "column_role": "todo" });
            call(id, "create_task", arguments)
        })
        .collect();
    report(&format!("tools/call create_task, {TASKS}+ tasks"), creates, "target p99 ≤ 25 ms");
    let after_change = (1..=CALLS / 4)
        .map(|id| {
            call(id, "create_task", json!({ "board_id": board_id, "title": format!("Then {id}") }));
            call(id, "get_board", json!({ "board_id": board_id }))
        })
        .collect();
    report("tools/call get_board right after a change (view rebuilt)", after_change, "");
}

fn report(name: &str, mut samples: Vec<Duration>, target: &str) {
    samples.sort();
    let at = |quantile: f64| samples[((samples.len() as f64 * quantile) as usize).min(samples.len() - 1)];
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} samples — {target}",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}
