//! Hook-engine figures (issue: column hooks run; `docs/hooks.md`), printed, never
//! asserted, on two viban processes sharing one PostgreSQL:
//! (a) the time from a card's move to its first hook step running, as a WebSocket
//! client of the task sees it (`hook_execution.updated`, `running`), over 200 moves
//! into a column whose first hook is a quick script;
//! (b) 500 tasks through the default pipeline (auto-start, run agent, move to Review,
//! play sound) with a fake agent that takes 1 s and In Progress limited to 8 runs: the
//! wall time against the ideal, duplicated agent runs and lost tasks, and where each
//! task's time in the column went.
//!
//! The two instances need an external PostgreSQL: VIBAN_TEST_DATABASE_URL names a
//! database on it, and the bench makes a fresh database beside it, as the tests do
//! (`scripts/test.sh` shows how to start a scratch server). Without it, the bench
//! stops and says so.
//!
//! `VIBAN_TEST_DATABASE_URL=postgres://… cargo bench --bench hooks`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Cluster, board_on, eventually, repository};
use serde_json::json;

const MOVES: usize = 200;
const TASKS: usize = 500;
const COLUMN_LIMIT: usize = 8;
const AGENT_SECONDS: f64 = 1.0;
/// Agent runs each instance allows (`[agents] max_concurrent`): not the limit here.
const AGENT_SLOTS: usize = 16;
const WRITERS: usize = 8;

fn main() {
    if std::env::var_os("VIBAN_TEST_DATABASE_URL").is_none() {
        eprintln!(
            "the hooks bench runs two vibans on one external PostgreSQL: set VIBAN_TEST_DATABASE_URL to a \
             database on a server it may create databases on (scripts/test.sh shows how to start one)"
        );
        std::process::exit(2);
    }
    let cluster = Cluster::start(2, AGENT_SLOTS, &[("FAKE_AGENT_DELAY", "1")]);
    move_to_first_step(&cluster);
    default_pipeline(&cluster);
}

/// (a) Each of `MOVES` cards, one after another, moved into a column whose first hook is
/// `true`: from the move's request (and from its response) to the running event on the
/// task's stream, at a client of the instance that took the move.
fn move_to_first_step(cluster: &Cluster) {
    let viban = &cluster.vibans[0];
    // Its own board and repository, so that (b) starts on a repository without worktrees.
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let board_id = board_on(viban, repo.path(), json!({}));
    let column =
        viban.send_json("POST", &format!("/api/boards/{board_id}/columns"), &json!({ "name": "Checks" }));
    assert_eq!(column.status, 201, "{}", column.text());
    let column_id = column.json()["id"].as_str().unwrap().to_string();
    let hook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "quick", "kind": "script", "command": "true" }),
    );
    assert_eq!(hook.status, 201, "{}", hook.text());
    let attached = viban.send_json(
        "POST",
        &format!("/api/columns/{column_id}/hooks"),
        &json!({ "hook_id": hook.json()["id"] }),
    );
    assert_eq!(attached.status, 201, "{}", attached.text());
    let tasks: Vec<String> = (0..MOVES)
        .map(|n| {
            let body = json!({ "title": format!("Check {n}") });
            let created = viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &body);
            assert_eq!(created.status, 201, "{}", created.text());
            created.json()["id"].as_str().unwrap().to_string()
        })
        .collect();

    let mut socket = viban.socket();
    for task in &tasks {
        socket.subscribe(&format!("task:{task}"), None);
    }
    let (running, seen) = mpsc::channel::<(String, Instant)>();
    let reader = std::thread::spawn(move || {
        for _ in 0..MOVES {
            loop {
                let event = socket.next();
                let payload = &event["payload"];
                if event["kind"] == "hook_execution.updated"
                    && payload["status"] == "running"
                    && payload["hook_name"] == "quick"
                {
                    let task = payload["task_id"].as_str().unwrap_or_default().to_string();
                    running.send((task, Instant::now())).unwrap();
                    break;
                }
            }
        }
    });
    let (mut from_request, mut from_response) = (Vec::new(), Vec::new());
    for task in &tasks {
        let requested = Instant::now();
        let moved =
            viban.send_json("POST", &format!("/api/tasks/{task}/move"), &json!({ "column_id": column_id }));
        let responded = Instant::now();
        assert_eq!(moved.status, 200, "{}", moved.text());
        let (started, at) = seen.recv_timeout(Duration::from_secs(30)).expect("the hook started");
        assert_eq!(&started, task, "the moves are one after another");
        from_request.push(at.duration_since(requested));
        from_response.push(at.saturating_duration_since(responded));
    }
    reader.join().unwrap();
    // The scripts themselves finish (in their worktrees, of this repository) before (b).
    let database = cluster.database();
    let settled = eventually(Duration::from_secs(120), || {
        database.text(&format!(
            "SELECT count(*) FROM hook_executions WHERE board_id = '{board_id}' AND status IN ('pending', 'running')"
        )) == "0"
    });
    assert!(settled, "the quick hooks did not finish\n{}", cluster.output());
    let failed = database.text(&format!(
        "SELECT count(*) || coalesce(', the first: ' || min(error), '') FROM hook_executions
         WHERE board_id = '{board_id}' AND status <> 'completed'"
    ));
    if failed != "0" {
        println!("quick hooks that did not complete: {failed}");
    }
    report(
        &format!("card move → first hook step running, seen on the task's WebSocket stream ({MOVES} moves)"),
        from_request,
        "target p99 ≤ 100 ms",
    );
    report("the same, from the move's HTTP response", from_response, "");
}

/// (b) `TASKS` tasks created with auto_start through both instances at once, each run
/// through the default pipeline, until every one is in Review with its hooks done.
fn default_pipeline(cluster: &Cluster) {
    let in_progress = cluster.column("in_progress");
    let review = cluster.column("review");
    let limited = cluster.vibans[0].send_json(
        "PATCH",
        &format!("/api/columns/{in_progress}"),
        &json!({ "max_concurrent": COLUMN_LIMIT }),
    );
    assert_eq!(limited.status, 200, "{}", limited.text());
    let database = cluster.database();
    let counts = || -> (usize, usize) {
        let text = database.text(&format!(
            "SELECT (SELECT count(*) FROM tasks WHERE column_id = '{review}') || ' ' ||
                    (SELECT count(*) FROM hook_executions WHERE status IN ('pending', 'running'))"
        ));
        let mut numbers = text.split(' ').map(|n| n.parse::<usize>().unwrap_or(0));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
    };

    let ideal = TASKS as f64 / COLUMN_LIMIT as f64 * AGENT_SECONDS;
    let started = Instant::now();
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            scope.spawn(move || {
                let viban = &cluster.vibans[writer % cluster.vibans.len()];
                for n in (writer..TASKS).step_by(WRITERS) {
                    cluster.task(viban, &json!({ "title": format!("Task {n}"), "auto_start": true }));
                }
            });
        }
    });
    let created = started.elapsed();
    // Until every task is in Review with nothing left to run — or nothing has run for
    // 5 s while some are elsewhere (lost), or far too long has gone by.
    let mut idle_since: Option<Instant> = None;
    let done = eventually(Duration::from_secs_f64(ideal * 4.0), || {
        let (in_review, active) = counts();
        idle_since = if active == 0 { idle_since.or(Some(Instant::now())) } else { None };
        in_review == TASKS && active == 0
            || idle_since.is_some_and(|idle| idle.elapsed() > Duration::from_secs(5))
    });
    // To the end of the last hook, as recorded.
    let wall = database
        .text(&format!(
            "SELECT extract(epoch FROM max(finished_at))::text FROM hook_executions WHERE board_id = '{}'",
            cluster.board_id
        ))
        .parse::<f64>()
        .unwrap_or(f64::NAN)
        - since_epoch;
    let (in_review, active) = counts();
    let calls = cluster.agent_calls().len();
    println!(
        "{TASKS} tasks through the default pipeline on 2 instances (agent {AGENT_SECONDS} s, In Progress limited to \
         {COLUMN_LIMIT}; created in {:.1} s): {wall:.1} s{}, ideal {ideal:.1} s, {:.2}× ideal — target ≤ 1.15×",
        created.as_secs_f64(),
        if done { "" } else { " (gave up waiting after 4× ideal)" },
        wall / ideal,
    );
    println!(
        "duplicates (agent calls − {TASKS}): {}; lost (tasks not in Review): {}; hooks still pending or running: \
         {active} — target 0 and 0",
        calls as i64 - TASKS as i64,
        TASKS - in_review,
    );
    let unfinished = database.text(&format!(
        "SELECT coalesce(string_agg(hook_name || ' ' || status::text || coalesce('/' || reason, '') || ': ' || n, ', '), \
                'none')
         FROM (SELECT hook_name, status, reason, count(*) AS n FROM hook_executions
               WHERE board_id = '{board_id}' AND status <> 'completed' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) s",
        board_id = cluster.board_id,
    ));
    println!("hook executions that did not complete: {unfinished}");
    let claims = database.text(&format!(
        "SELECT string_agg(n::text, ' / ' ORDER BY n) FROM
           (SELECT count(*) AS n FROM hook_executions WHERE column_id = '{in_progress}' GROUP BY claimed_by) s"
    ));
    println!("In Progress hooks claimed by each instance: {claims}");
    breakdown(&database, &in_progress, wall);
}

/// Where a task's time in the limited column goes, from the records: the run-agent
/// step from its claim to the agent's start (worktree, slots), the agent itself, from
/// the agent's end to the step's, the move-task step, and the column's slots left idle
/// while tasks waited.
fn breakdown(database: &common::Database, in_progress: &str, wall: f64) {
    let phases = database.text(&format!(
        "WITH run AS (
             SELECT e.task_id, e.started_at AS claimed, e.finished_at AS ended, s.created_at AS asked,
                    s.started_at AS spawned, s.finished_at AS exited
             FROM hook_executions e JOIN agent_sessions s ON s.task_id = e.task_id
             WHERE e.column_id = '{in_progress}' AND e.hook_name = 'Run agent' AND e.status = 'completed'
         ), moved AS (
             SELECT task_id, started_at, finished_at FROM hook_executions
             WHERE column_id = '{in_progress}' AND hook_name = 'Move task' AND status = 'completed'
         ), spans AS (
             SELECT extract(epoch FROM r.asked - r.claimed) AS to_session,
                    extract(epoch FROM r.spawned - r.asked) AS to_agent,
                    extract(epoch FROM r.exited - r.spawned) AS agent,
                    extract(epoch FROM r.ended - r.exited) AS to_end,
                    extract(epoch FROM m.started_at - r.ended) AS to_move,
                    extract(epoch FROM m.finished_at - m.started_at) AS move,
                    extract(epoch FROM m.finished_at - r.claimed) AS total
             FROM run r JOIN moved m USING (task_id)
         )
         SELECT format('%s|%s|%s|%s|%s|%s|%s|%s|%s', count(*),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_session)::numeric * 1000),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_agent)::numeric * 1000),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY agent)::numeric * 1000),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_end)::numeric * 1000),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_move)::numeric * 1000),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY move)::numeric * 1000),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total)::numeric * 1000),
             round(percentile_cont(0.99) WITHIN GROUP (ORDER BY total)::numeric * 1000))
         FROM spans"
    ));
    let fields: Vec<&str> = phases.split('|').collect();
    if let [count, to_session, to_agent, agent, to_end, to_move, moving, total, total_99] = fields[..] {
        println!(
            "a task in In Progress, p50 over {count}: claim → agent session {to_session} ms, → agent started \
             (worktree, slots) {to_agent} ms, agent {agent} ms, agent ended → step recorded {to_end} ms, → move-task \
             claimed {to_move} ms, move-task {moving} ms; claim → moved {total} ms (p99 {total_99} ms)"
        );
    }
    // The column's occupancy: hooks running in it, integrated over time.
    let intervals: Vec<(i64, i64)> = database.with_connection(async |connection| {
        sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(format!(
            "SELECT (extract(epoch FROM started_at) * 1e6)::int8, (extract(epoch FROM finished_at) * 1e6)::int8
             FROM hook_executions WHERE column_id = '{in_progress}' AND started_at IS NOT NULL
               AND finished_at IS NOT NULL"
        )))
        .fetch_all(connection)
        .await
        .unwrap_or_default()
    });
    let (Some(first), Some(last)) =
        (intervals.iter().map(|i| i.0).min(), intervals.iter().map(|i| i.1).max())
    else {
        return;
    };
    let busy: i64 = intervals.iter().map(|(start, end)| end - start).sum();
    let span = (last - first) as f64;
    let mut below: HashMap<usize, f64> = HashMap::new();
    let mut edges: Vec<(i64, i32)> = intervals.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
    edges.sort();
    let mut open = 0i32;
    for pair in edges.windows(2) {
        open += pair[0].1;
        let running = usize::try_from(open).unwrap_or(0).min(COLUMN_LIMIT);
        *below.entry(running).or_default() += (pair[1].0 - pair[0].0) as f64;
    }
    let full = below.get(&COLUMN_LIMIT).copied().unwrap_or(0.0);
    println!(
        "In Progress from its first claim to its last end ({:.1} s of the {wall:.1} s): {:.2} of {COLUMN_LIMIT} \
         slots busy on average, all {COLUMN_LIMIT} busy {:.0}% of the time",
        span / 1e6,
        busy as f64 / span,
        100.0 * full / span,
    );
}

fn report(name: &str, mut samples: Vec<Duration>, target: &str) {
    samples.sort();
    let at = |quantile: f64| samples[((samples.len() as f64 * quantile) as usize).min(samples.len() - 1)];
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} samples{}",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len(),
        if target.is_empty() { String::new() } else { format!(" — {target}") }
    );
}
