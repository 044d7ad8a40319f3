//! Review figures (issue 15's budget: a task with 200 changed files and 5,000 changed
//! lines answers `GET /api/tasks/{id}/diff` within 300 ms), printed, never asserted.
//! The changes are a mix — committed new files, committed edits, uncommitted edits and
//! untracked files — and come to 7,500 changed lines (an edit counts its deleted and
//! added lines), above the budget's 5,000. Also one file whole (`?file=`).
//!
//! `cargo bench --bench review`

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Viban, board_on, eventually, fake_agent_env, git, repository, temp_home};
use serde_json::json;

const FILES: usize = 200;
const LINES_EACH: usize = 25;
const READS: usize = 20;

fn main() {
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    // Half the files exist on main already, to be edited by the task.
    for index in 0..FILES / 2 {
        let text: String = (0..LINES_EACH).map(|line| format!("original {index} {line}\n")).collect();
        write(&repo.path().join(format!("src/edited_{index}.rs")), &text);
    }
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "--quiet", "-m", "files to edit"]);

    let env = fake_agent_env(&scratch.path().join("calls.log"), &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let created = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/tasks"),
        &json!({ "title": "Big change", "auto_start": true }),
    );
    let task = created.json()["id"].as_str().unwrap().to_string();
    let worktree =
        || viban.get(&format!("/api/tasks/{task}")).json()["worktree_path"].as_str().map(String::from);
    assert!(eventually(Duration::from_secs(60), || worktree().is_some()), "the task got no worktree");
    // Let the agent's run finish before the worktree is changed under it.
    std::thread::sleep(Duration::from_secs(3));
    let worktree = worktree().unwrap();
    let worktree = Path::new(&worktree);

    // 100 edited files: half committed, half left uncommitted; 50 new committed files,
    // 50 untracked ones. Every file changes LINES_EACH lines.
    for index in 0..FILES / 2 {
        let text: String = (0..LINES_EACH).map(|line| format!("changed {index} {line}\n")).collect();
        write(&worktree.join(format!("src/edited_{index}.rs")), &text);
        if index == FILES / 4 {
            git(worktree, &["commit", "--quiet", "-am", "first half of the edits"]);
        }
    }
    for index in 0..FILES / 2 {
        let text: String = (0..LINES_EACH).map(|line| format!("new {index} {line}\n")).collect();
        write(&worktree.join(format!("new/file_{index}.rs")), &text);
        if index == FILES / 4 {
            git(worktree, &["add", "new"]);
            git(worktree, &["commit", "--quiet", "-m", "new files"]);
        }
    }

    let path = format!("/api/tasks/{task}/diff");
    let first = viban.get(&path);
    assert_eq!(first.status, 200, "{}", first.text());
    let diff = first.json();
    let changed =
        diff["totals"]["additions"].as_u64().unwrap() + diff["totals"]["deletions"].as_u64().unwrap();
    println!(
        "diff of {} files, {changed} changed lines ({} bytes of JSON)",
        diff["totals"]["files"],
        first.body.len()
    );
    let mut times: Vec<Duration> = (0..READS)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(viban.get(&path).status, 200);
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "GET /diff over {READS} reads: median {:.1} ms, slowest {:.1} ms (budget 300 ms)",
        ms(times[READS / 2]),
        ms(times[READS - 1])
    );
    let start = Instant::now();
    let one = viban.get(&format!("{path}?file=src/edited_7.rs"));
    assert_eq!(one.status, 200);
    println!("GET /diff?file= one file: {:.1} ms", ms(start.elapsed()));
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
