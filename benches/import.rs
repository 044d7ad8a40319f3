//! Import and export figures (the budgets of the Vibe Kanban import: 10,000 tasks with
//! 2,000 attempts imported in at most 10 s; a 5,000-task board exported and imported in
//! at most 5 s each), printed, never asserted. The Vibe Kanban data is made by the same
//! generator the import tests use (`tests/fixtures/vibe-kanban/make-vk-data.py`).
//!
//! `cargo bench --bench import`

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Viban, repository, run_cli, temp_home};
use serde_json::{Value, json};

const ROUNDS: usize = 3;

fn main() {
    let scratch = tempfile::tempdir().unwrap();
    let big = vibe_kanban_data(scratch.path(), "big", 10_000);
    let medium = vibe_kanban_data(scratch.path(), "medium", 5_000);

    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut documents = Vec::new();
    for round in 0..ROUNDS {
        let home = temp_home();
        let viban = Viban::start(home.path(), &[]);
        let started = Instant::now();
        let report = import(&viban, &big);
        imports.push(started.elapsed());
        assert_eq!(report["totals"]["tasks_created"], 10_008, "{report}");

        let report = import(&viban, &medium);
        let board_id = report["boards"][0]["board_id"].as_str().unwrap().to_string();
        let file = home.path().join(format!("board-{round}.json"));
        let started = Instant::now();
        cli(&viban, &["export", &board_id, "-o", file.to_str().unwrap()]);
        exports.push(started.elapsed());
        let started = Instant::now();
        cli(&viban, &["import", "board", file.to_str().unwrap()]);
        documents.push(started.elapsed());
    }
    println!("Vibe Kanban import, 10,008 tasks (budget 10 s):  {}", figures(&imports));
    println!("board export, 5,007 tasks (budget 5 s):          {}", figures(&exports));
    println!("board import, 5,007 tasks (budget 5 s):          {}", figures(&documents));
}

/// Vibe Kanban's data directory with `extra` more tasks than the fixture's own.
fn vibe_kanban_data(dir: &Path, name: &str, extra: usize) -> std::path::PathBuf {
    let dir = dir.join(name);
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    repository(&repo);
    let script = common::fixtures().join("vibe-kanban/make-vk-data.py");
    let out = dir.join("vk");
    let output = Command::new("python3")
        .arg(&script)
        .args(["--era", "a", "--extra-tasks", &extra.to_string()])
        .arg("--out")
        .arg(&out)
        .arg("--repo")
        .arg(&repo)
        .output()
        .expect("run python3");
    assert!(output.status.success(), "make-vk-data.py: {}", String::from_utf8_lossy(&output.stderr));
    out
}

fn import(viban: &Viban, path: &Path) -> Value {
    let response =
        viban.send_json("POST", "/api/import/vibe-kanban", &json!({ "path": path, "dry_run": false }));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn cli(viban: &Viban, args: &[&str]) {
    let output = run_cli(&viban.home, args);
    assert!(output.status.success(), "viban {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn figures(times: &[Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    let each: Vec<String> = times.iter().map(|time| format!("{:.2} s", time.as_secs_f64())).collect();
    format!("median {:.2} s ({})", sorted[sorted.len() / 2].as_secs_f64(), each.join(", "))
}
