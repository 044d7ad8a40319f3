//! The hook engine across two viban processes on one external PostgreSQL (rule 12 of
//! `docs/hooks.md`): 200 tasks moved at once into an In Progress column limited to 8
//! runs, through both instances. Every hook runs exactly once, a task's hooks one at a
//! time, the column never over its limit, and both instances do their share. The
//! agent is `tests/fixtures/bin/claude`; the database is a fresh one on the server
//! named by VIBAN_TEST_DATABASE_URL (`scripts/test.sh` starts one).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Cluster, eventually, most_at_once, timestamp};
use serde_json::{Value, json};
use time::OffsetDateTime;

const TASKS: usize = 200;
const COLUMN_LIMIT: usize = 8;
/// Agent runs each instance allows (`[agents] max_concurrent`): not the limit here.
const AGENT_SLOTS: usize = 16;
const MOVERS: usize = 8;

#[test]
fn two_instances_run_every_hook_of_200_tasks_exactly_once_within_the_column_limit() {
    let cluster = Cluster::start(2, AGENT_SLOTS, &[("FAKE_AGENT_DELAY", "0.2")]);
    let in_progress = cluster.column("in_progress");
    let review = cluster.column("review");
    let limited = cluster.vibans[0].send_json(
        "PATCH",
        &format!("/api/columns/{in_progress}"),
        &json!({ "max_concurrent": COLUMN_LIMIT }),
    );
    assert_eq!(limited.status, 200, "{}", limited.text());
    let tasks: Vec<String> = (0..TASKS)
        .map(|n| cluster.task(&cluster.vibans[n % 2], &json!({ "title": format!("Task {n}") })))
        .collect();

    // All at once: several threads, each through one of the instances.
    std::thread::scope(|scope| {
        for mover in 0..MOVERS {
            let (cluster, tasks, in_progress) = (&cluster, &tasks, &in_progress);
            scope.spawn(move || {
                let viban = &cluster.vibans[mover % cluster.vibans.len()];
                for task in tasks.iter().skip(mover).step_by(MOVERS) {
                    let body = json!({ "column_id": in_progress });
                    let moved = viban.send_json("POST", &format!("/api/tasks/{task}/move"), &body);
                    assert_eq!(moved.status, 200, "{}", moved.text());
                }
            });
        }
    });

    let database = cluster.database();
    let progress = || {
        database.text(&format!(
            "SELECT (SELECT count(*) FROM tasks WHERE column_id = '{review}') || ' in review, ' ||
                    (SELECT count(*) FROM hook_executions WHERE status IN ('pending', 'running')) || ' active'"
        ))
    };
    let started = Instant::now();
    let settled =
        eventually(Duration::from_secs(120), || progress() == format!("{TASKS} in review, 0 active"));
    assert!(settled, "after {:?}: {}\n{}", started.elapsed(), progress(), cluster.output());

    // Every task: its three In Progress and Review hooks completed, one each.
    let mut runs: HashMap<String, Vec<(OffsetDateTime, OffsetDateTime)>> = HashMap::new();
    let mut in_column = Vec::new();
    for (n, task) in tasks.iter().enumerate() {
        let viban = &cluster.vibans[n % 2];
        let state = viban.get(&format!("/api/tasks/{task}")).json();
        assert_eq!(state["column_id"], review.as_str(), "{state}");
        let executions = viban.get(&format!("/api/tasks/{task}/hook-executions")).json();
        let executions = executions.as_array().expect("a list of executions");
        for name in ["Run agent", "Move task", "Play sound"] {
            let statuses: Vec<&Value> =
                executions.iter().filter(|e| e["hook_name"] == name).map(|e| &e["status"]).collect();
            assert_eq!(statuses, ["completed"], "{task}'s {name}: {executions:?}");
        }
        for execution in executions {
            let (Some(start), Some(end)) =
                (timestamp(&execution["started_at"]), timestamp(&execution["finished_at"]))
            else {
                continue;
            };
            runs.entry(task.clone()).or_default().push((start, end));
            // The column's limit is on the hooks that take a while (the agent runs);
            // instant built-ins such as move-task neither count nor wait.
            if execution["column_id"] == in_progress.as_str() && execution["hook_name"] == "Run agent" {
                in_column.push((start, end));
            }
        }
    }

    // The agent: once per task, in the task's worktree (its path ends with the task's id).
    let calls = cluster.agent_calls();
    assert_eq!(calls.len(), TASKS, "one agent call per task");
    let mut per_task: HashMap<&str, usize> = HashMap::new();
    for call in &calls {
        let directory = call.split('\t').next().unwrap_or_default();
        let task = tasks.iter().find(|task| directory.ends_with(task.as_str()));
        *per_task.entry(task.map_or("(no task)", String::as_str)).or_default() += 1;
    }
    let not_once: Vec<_> = per_task.iter().filter(|(_, count)| **count != 1).collect();
    assert!(per_task.len() == TASKS && not_once.is_empty(), "calls per task, where not one: {not_once:?}");

    // One hook at a time per task; never more than the limit running in the column.
    for (task, intervals) in &runs {
        assert_eq!(most_at_once(intervals), 1, "{task} ran two hooks at once: {intervals:?}");
    }
    let most = most_at_once(&in_column);
    assert!(most <= COLUMN_LIMIT, "{most} hooks ran at once in a column limited to {COLUMN_LIMIT}");
    assert!(most > 1, "the column ran its tasks in parallel");

    // Both instances claimed some of the column's hooks.
    let claims = database.text(&format!(
        "SELECT string_agg(claims::text, ' ' ORDER BY claims) FROM
           (SELECT count(*) AS claims FROM hook_executions WHERE column_id = '{in_progress}'
            GROUP BY claimed_by) per_instance"
    ));
    let claims: Vec<usize> = claims.split(' ').filter_map(|count| count.parse().ok()).collect();
    assert_eq!(claims.len(), 2, "claims by instance: {claims:?}");
    assert!(claims.iter().all(|count| *count > 0) && claims.iter().sum::<usize>() == 2 * TASKS);
}
