//! Agent-run figures (issue: agents in per-task worktrees), printed, never asserted:
//! parsing and storing a 50 MB stream-json transcript (MB/s), viban's memory growth
//! while it does, and the time from an agent writing a line to a WebSocket client
//! receiving it. The agent is the fake `claude` of `tests/fixtures/bin`, on the
//! release binary with its embedded PostgreSQL.
//!
//! `cargo bench --bench agents`

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Viban, board_on, eventually, fixtures, repository, temp_home};
use serde_json::{Value, json};

const TRANSCRIPT_BYTES: usize = 50 * 1024 * 1024;

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let transcript = scratch.path().join("big.jsonl");
    let bytes = write_transcript(&transcript);

    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let path = format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let viban =
        Viban::spawn(home.path(), &[], &[("PATH", &path), ("FAKE_TRANSCRIPT", transcript.to_str().unwrap())]);
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let task = |title: &str| {
        let body = json!({ "title": title });
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &body).json()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Throughput and memory.
    let big = task("big transcript");
    let before = rss_kib(viban.pid);
    let started = Instant::now();
    let response = viban.send_json("POST", &format!("/api/tasks/{big}/runs"), &json!({}));
    assert_eq!(response.status, 202, "{}", response.text());
    let mut peak = before;
    let mut session = Value::Null;
    let ended = eventually(Duration::from_secs(600), || {
        peak = peak.max(rss_kib(viban.pid));
        session = viban.get(&format!("/api/tasks/{big}/sessions")).json()[0].clone();
        session["status"] == "completed" || session["status"] == "failed"
    });
    assert!(ended && session["status"] == "completed", "{session}\n{}", viban.output());
    let seconds = started.elapsed().as_secs_f64();
    let stored = viban.sql().text(&format!("SELECT count(*) FROM task_activity WHERE task_id = '{big}'"));
    // From the agent's start to its run's record: without the worktree and the polling.
    let running: f64 = viban
        .sql()
        .text(&format!(
            "SELECT extract(epoch FROM finished_at - started_at)::text FROM agent_sessions WHERE task_id = '{big}'"
        ))
        .parse()
        .unwrap();
    let megabytes = bytes as f64 / 1e6;
    println!(
        "parse and persist a {megabytes:.0} MB stream-json transcript ({stored} entries): {:.1} MB/s while the agent ran \
         ({running:.1} s), {:.1} MB/s end to end with the worktree ({seconds:.1} s) — target ≥ 20 MB/s",
        megabytes / running,
        megabytes / seconds,
    );
    println!(
        "viban's memory during that run: {:.1} MB before, {:.1} MB at peak, +{:.1} MB — target ≤ +50 MB",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(before)) as f64 / 1024.0
    );

    // Latency: a line written by the agent, seen by a WebSocket client.
    let ticking = task("ticking");
    let mut socket = viban.socket();
    socket.subscribe(&format!("task:{ticking}"), None);
    let response =
        viban.send_json("POST", &format!("/api/tasks/{ticking}/runs"), &json!({ "prompt": "MODE:tick" }));
    assert_eq!(response.status, 202);
    let mut latencies = Vec::new();
    while latencies.len() < 300 {
        let event = socket.next();
        if event["kind"] != "activity.appended" {
            continue;
        }
        let received = now_ns();
        for entry in event["payload"]["entries"].as_array().unwrap() {
            if let Some(sent) = entry["data"]["text"].as_str().and_then(|text| text.strip_prefix("tick ")) {
                let sent: u128 = sent.parse().unwrap();
                latencies.push(received.saturating_sub(sent) as f64 / 1e6);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "agent line reaching a WebSocket client: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} lines — target p99 ≤ 50 ms",
        at(0.5),
        at(0.99),
        at(1.0),
        latencies.len()
    );
}

/// Claude-style stream-json: tool calls, results, thinking and text, to `TRANSCRIPT_BYTES`.
fn write_transcript(path: &std::path::Path) -> usize {
    let sample = std::fs::read_to_string(fixtures().join("transcripts/claude-tools.jsonl")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0;
    writeln!(file, "{}", lines[0]).unwrap();
    let mut n = 0usize;
    while written < TRANSCRIPT_BYTES {
        // The middle of the sample, with the lines made unique, then a long tool result.
        for line in &lines[1..lines.len() - 1] {
            let line = line.replace("toolu_0", &format!("toolu_{n}_"));
            written += line.len() + 1;
            writeln!(file, "{line}").unwrap();
        }
        let output = "test result: ok. ".repeat(60);
        let result = json!({ "type": "user", "message": { "role": "user", "content": [
            { "tool_use_id": format!("toolu_{n}_9"), "type": "tool_result", "content": output }
        ] } })
        .to_string();
        written += result.len() + 1;
        writeln!(file, "{result}").unwrap();
        n += 1;
    }
    writeln!(file, "{}", lines[lines.len() - 1]).unwrap();
    written
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}
