//! Upkeep against the real binary, real PostgreSQL and real git with a local bare
//! `origin`: worktree housekeeping (H6) removes only what loses nothing — a clean
//! merged worktree, a branch that is on the remote — keeps a dirty worktree and an
//! unpushed branch and says why, never touches a branch it did not make, and does
//! exactly what its dry run said; periodic tasks (H4) fire once across two instances
//! on one database, skip while their last task is in progress, and refuse an invalid
//! cron expression in croner's words.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Cluster, Viban, board_on, eventually, fake_agent_env, git, repository, temp_home};
use serde_json::{Value, json};

struct Setup {
    _home: tempfile::TempDir,
    _scratch: tempfile::TempDir,
    /// The repository and its bare origin.
    dirs: tempfile::TempDir,
    repo: PathBuf,
    viban: Viban,
    board: Value,
}

impl Setup {
    /// A board (with `settings`) on a repository whose `origin` is a local bare one.
    fn new(settings: Value, env: &[(&str, &str)]) -> Self {
        let dirs = tempfile::tempdir().unwrap();
        let origin = dirs.path().join("origin.git");
        let repo = dirs.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(dirs.path(), &["init", "--quiet", "--bare", "--initial-branch=main", origin.to_str().unwrap()]);
        repository(&repo);
        git(&repo, &["remote", "add", "origin", origin.to_str().unwrap()]);
        git(&repo, &["push", "--quiet", "-u", "origin", "main"]);
        let home = temp_home();
        let scratch = tempfile::tempdir().unwrap();
        let env = fake_agent_env(&scratch.path().join("calls.log"), env);
        let env: Vec<(&str, &str)> =
            env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let viban = Viban::spawn(home.path(), &[], &env);
        viban.wait_healthy(common::START_TIMEOUT);
        let board_id = board_on(&viban, &repo, settings);
        let board = viban.get(&format!("/api/boards/{board_id}")).json();
        Self { _home: home, _scratch: scratch, dirs, repo, viban, board }
    }

    fn column(&self, role: &str) -> String {
        let columns = self.board["columns"].as_array().unwrap();
        columns.iter().find(|c| c["role"] == role).unwrap()["id"].as_str().unwrap().to_string()
    }

    fn state(&self, task: &str) -> Value {
        self.viban.get(&format!("/api/tasks/{task}")).json()
    }

    /// A task whose agent (the fake one) has run, so it has a worktree, moved to Done
    /// once it settled in Review. Returns its id and worktree.
    fn done_task(&self, title: &str) -> (String, PathBuf) {
        let path = format!("/api/boards/{}/tasks", self.board["board"]["id"].as_str().unwrap());
        let created = self.viban.send_json("POST", &path, &json!({ "title": title, "auto_start": true }));
        assert_eq!(created.status, 201, "{}", created.text());
        let task = created.json()["id"].as_str().unwrap().to_string();
        self.settles_in(&task, "review");
        let moved = self.viban.send_json(
            "POST",
            &format!("/api/tasks/{task}/move"),
            &json!({ "column_id": self.column("done") }),
        );
        assert_eq!(moved.status, 200, "{}", moved.text());
        self.settles_in(&task, "done");
        let worktree = PathBuf::from(self.state(&task)["worktree_path"].as_str().unwrap());
        assert!(worktree.join(".git").exists());
        (task, worktree)
    }

    fn settles_in(&self, task: &str, role: &str) {
        self.viban.settles_in(task, &self.column(role));
    }

    /// Pretends the tasks entered their column `days` ago.
    fn age(&self, tasks: &[&str], days: u32) {
        let ids: Vec<String> = tasks.iter().map(|task| format!("'{task}'")).collect();
        self.viban.sql().execute(&format!(
            "UPDATE tasks SET column_entered_at = now() - interval '{days} days' WHERE id IN ({})",
            ids.join(", ")
        ));
    }

    fn branches(&self) -> Vec<String> {
        git(&self.repo, &["for-each-ref", "--format=%(refname:short)", "refs/heads"])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// task id → (verdict, reason) of a housekeeping report.
fn verdicts(report: &Value) -> BTreeMap<String, (String, String)> {
    report["worktrees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|worktree| {
            let verdict = worktree["verdict"].as_str().unwrap().to_string();
            let reason = worktree["reason"].as_str().unwrap().to_string();
            (worktree["task_id"].as_str().unwrap().to_string(), (verdict, reason))
        })
        .collect()
}

fn commit_in(worktree: &Path, file: &str) {
    std::fs::write(worktree.join(file), "work\n").unwrap();
    git(worktree, &["add", file]);
    git(worktree, &["-c", "user.email=a@example.com", "-c", "user.name=A", "commit", "--quiet", "-m", file]);
}

#[test]
fn housekeeping_removes_only_what_loses_nothing_and_does_what_its_dry_run_said() {
    let setup = Setup::new(json!({}), &[]);
    let (clean, clean_tree) = setup.done_task("Merged already");
    let (dirty, dirty_tree) = setup.done_task("Left a file");
    let (unpushed, unpushed_tree) = setup.done_task("Local commit");
    let (pushed, pushed_tree) = setup.done_task("Pushed commit");
    let (recent, recent_tree) = setup.done_task("Done just now");
    std::fs::write(dirty_tree.join("notes.txt"), "not committed\n").unwrap();
    commit_in(&unpushed_tree, "local.txt");
    commit_in(&pushed_tree, "shared.txt");
    let pushed_branch = setup.state(&pushed)["branch"].as_str().unwrap().to_string();
    git(&pushed_tree, &["push", "--quiet", "origin", &pushed_branch]);
    // The user's own branches, one of them named like viban's.
    git(&setup.repo, &["branch", "feature/mine"]);
    git(&setup.repo, &["branch", "viban/0000beef-someone-elses"]);
    setup.age(&[&clean, &dirty, &unpushed, &pushed], 8);
    let branches_before = setup.branches();

    let planned = setup.viban.get("/api/housekeeping");
    assert_eq!(planned.status, 200, "{}", planned.text());
    let planned = planned.json();
    assert_eq!(planned["dry_run"], true);
    let plan = verdicts(&planned);
    let verdict = |task: &str| plan[task].0.as_str();
    assert_eq!(
        [verdict(&clean), verdict(&dirty), verdict(&unpushed), verdict(&pushed), verdict(&recent)],
        ["remove", "keep", "keep", "remove", "keep"],
        "{planned:#}"
    );
    assert!(plan[&dirty].1.contains("uncommitted changes (notes.txt)"), "{}", plan[&dirty].1);
    assert!(
        plan[&unpushed].1.contains("1 commit that main lacks and no remote has"),
        "{}",
        plan[&unpushed].1
    );
    assert!(plan[&recent].1.contains("cleaned up once it has been there 7 days"), "{}", plan[&recent].1);
    assert!(planned["worktrees"].as_array().unwrap().iter().all(|w| w["bytes"].as_u64().unwrap() > 0));
    assert!(clean_tree.exists() && pushed_tree.exists(), "the dry run removed nothing");
    assert_eq!(setup.branches(), branches_before);

    let ran = setup.viban.send_json("POST", "/api/housekeeping/run", &json!({}));
    assert_eq!(ran.status, 200, "{}", ran.text());
    let ran = ran.json();
    assert_eq!(ran["dry_run"], false);
    let done: BTreeMap<String, String> = verdicts(&ran).into_iter().map(|(task, (v, _))| (task, v)).collect();
    let said: BTreeMap<String, String> =
        plan.iter().map(|(task, (v, _))| (task.clone(), v.clone())).collect();
    assert_eq!(done, said, "the run did what the dry run said");

    assert!(!clean_tree.exists() && !pushed_tree.exists());
    assert!(
        dirty_tree.join("notes.txt").exists()
            && unpushed_tree.join("local.txt").exists()
            && recent_tree.exists()
    );
    let mut expected = branches_before.clone();
    let clean_branch = setup.state(&clean)["branch"].as_str().unwrap().to_string();
    expected.retain(|branch| *branch != clean_branch && *branch != pushed_branch);
    assert_eq!(setup.branches(), expected, "only the two tasks' own branches went");
    assert!(
        expected.contains(&"feature/mine".to_string())
            && expected.contains(&"viban/0000beef-someone-elses".to_string())
    );
    let origin = setup.dirs.path().join("origin.git");
    assert!(
        git(&origin, &["branch", "--list", &pushed_branch]).contains(&pushed_branch),
        "the remote keeps it"
    );

    let note = |task: &str| setup.state(task)["worktree_cleanup"].clone();
    assert_eq!(note(&clean)["outcome"], "removed");
    assert!(note(&clean)["reason"].as_str().unwrap().contains("was deleted too"), "{}", note(&clean));
    assert_eq!(note(&dirty)["outcome"], "kept");
    assert_eq!(note(&dirty)["reason"], plan[&dirty].1.as_str());
    assert_eq!(note(&unpushed)["outcome"], "kept");
    assert!(note(&recent).is_null(), "a task not yet due is not flagged");

    let after = verdicts(&setup.viban.get("/api/housekeeping").json());
    assert_eq!(
        after.keys().collect::<Vec<_>>().len(),
        3,
        "removed worktrees are no longer listed: {after:?}"
    );

    // Moving the task on clears the note.
    let todo = setup.column("todo");
    setup.viban.send_json("POST", &format!("/api/tasks/{dirty}/move"), &json!({ "column_id": todo }));
    assert!(note(&dirty).is_null());
}

#[test]
fn housekeeping_runs_on_its_own_every_period() {
    let setup = Setup::new(json!({ "worktree_ttl_days": 0 }), &[("VIBAN_HOUSEKEEPING_SECONDS", "1")]);
    let (task, worktree) = setup.done_task("Finished");
    let removed = eventually(Duration::from_secs(30), || !worktree.exists());
    assert!(removed, "{}", setup.viban.output());
    assert!(eventually(Duration::from_secs(10), || setup.state(&task)["worktree_cleanup"]["outcome"]
        == "removed"));
    let invalid = setup.viban.send_json(
        "PATCH",
        &format!("/api/boards/{}", setup.board["board"]["id"].as_str().unwrap()),
        &json!({ "settings": { "worktree_ttl_days": -1 } }),
    );
    assert_eq!(invalid.status, 422, "{}", invalid.text());
    assert_eq!(invalid.json()["field"], "settings.worktree_ttl_days");
}

#[test]
fn a_schedule_fires_once_across_two_instances_and_skips_while_its_last_task_is_in_progress() {
    let cluster = Cluster::start(2, 2, &[("VIBAN_SCHEDULER_SECONDS", "0.3")]);
    let (a, b) = (&cluster.vibans[0], &cluster.vibans[1]);
    let schedules = format!("/api/boards/{}/schedules", cluster.board_id);

    let invalid = a.send_json("POST", &schedules, &json!({ "cron": "61 * * * *", "title": "Never" }));
    assert_eq!(invalid.status, 422, "{}", invalid.text());
    let problem = invalid.json();
    assert_eq!(problem["field"], "cron");
    assert!(problem["detail"].as_str().unwrap().starts_with("cron: "), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("five fields in UTC"), "{problem}");

    // Due next New Year; made due now by hand below. The fake agent hangs on MODE:hang,
    // so the task it starts stays in progress.
    let body = json!({ "cron": "0 0 1 1 *", "title": "Bump dependencies", "description": "MODE:hang" });
    let created = a.send_json("POST", &schedules, &body);
    assert_eq!(created.status, 201, "{}", created.text());
    let schedule = created.json();
    let id = schedule["id"].as_str().unwrap().to_string();
    assert_eq!((schedule["runs"].as_i64(), schedule["enabled"].as_bool()), (Some(0), Some(true)));
    assert!(schedule["next_run_at"].as_str().unwrap().ends_with("-01-01T00:00:00Z"), "{schedule}");

    let database = cluster.database();
    let state = |viban: &Viban| -> Value {
        let list = viban.get(&schedules).json();
        list.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).unwrap().clone()
    };
    let made = |viban: &Viban| -> Vec<Value> {
        let tasks = viban.get(&format!("/api/boards/{}/tasks", cluster.board_id)).json();
        tasks
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["title"].as_str().unwrap().contains("Bump dependencies"))
            .cloned()
            .collect()
    };

    database.execute("UPDATE schedules SET next_run_at = now()");
    assert!(eventually(Duration::from_secs(20), || state(b)["runs"] == 1), "{}", cluster.output());
    let fired = state(a);
    assert!(
        fired["next_run_at"].as_str().unwrap().ends_with("-01-01T00:00:00Z"),
        "the next due time follows: {fired}"
    );
    let tasks = made(a);
    assert_eq!(tasks.len(), 1, "one task across two instances: {tasks:#?}");
    assert_eq!(tasks[0]["title"], "#1 Bump dependencies");
    assert_eq!(fired["last_task_id"], tasks[0]["id"]);
    let first = tasks[0]["id"].as_str().unwrap().to_string();
    let in_progress = cluster.column("in_progress");
    let started = eventually(Duration::from_secs(30), || {
        let task = a.get(&format!("/api/tasks/{first}")).json();
        task["column_id"] == in_progress.as_str() && task["agent_status"] == "running"
    });
    assert!(started, "the scheduled task auto-starts\n{}", cluster.output());

    database.execute("UPDATE schedules SET next_run_at = now()");
    assert!(
        eventually(Duration::from_secs(20), || !state(a)["last_skipped_at"].is_null()),
        "{}",
        cluster.output()
    );
    let skipped = state(b);
    assert_eq!(skipped["runs"], 1);
    assert!(
        skipped["last_skip_reason"].as_str().unwrap().contains("#1 Bump dependencies) is still in progress"),
        "{skipped}"
    );
    assert_eq!(made(b).len(), 1);

    // The instance whose hook engine started the agent is the one that can stop it.
    let stop = |task: &str| {
        let mut answers = Vec::new();
        let stopped = eventually(Duration::from_secs(10), || {
            answers = [a, b]
                .iter()
                .map(|viban| viban.send_json("POST", &format!("/api/tasks/{task}/stop"), &json!({})))
                .map(|answer| (answer.status, answer.text()))
                .collect();
            answers.iter().any(|(status, _)| *status == 202)
        });
        assert!(stopped, "one instance stops the agent of {task}: {answers:?}\n{}", cluster.output());
    };
    stop(&first);
    let done = cluster.column("done");
    let moved = a.send_json("POST", &format!("/api/tasks/{first}/move"), &json!({ "column_id": done }));
    assert_eq!(moved.status, 200, "{}", moved.text());
    database.execute("UPDATE schedules SET next_run_at = now()");
    assert!(eventually(Duration::from_secs(20), || state(a)["runs"] == 2), "{}", cluster.output());
    let titles: Vec<String> = made(b).iter().map(|t| t["title"].as_str().unwrap().to_string()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"#2 Bump dependencies".to_string()), "{titles:?}");
    let second = made(a).into_iter().find(|t| t["title"] == "#2 Bump dependencies").unwrap();
    let second = second["id"].as_str().unwrap().to_string();
    assert!(eventually(
        Duration::from_secs(30),
        || a.get(&format!("/api/tasks/{second}")).json()["agent_status"] == "running"
    ));
    stop(&second);

    // Disabled, it has no due time; edited, it keeps what was not sent.
    let off = a.send_json("PATCH", &format!("/api/schedules/{id}"), &json!({ "enabled": false }));
    assert_eq!(off.status, 200, "{}", off.text());
    assert!(off.json()["next_run_at"].is_null());
    let edited =
        a.send_json("PATCH", &format!("/api/schedules/{id}"), &json!({ "cron": "@daily", "enabled": true }));
    let edited = edited.json();
    assert_eq!(
        (edited["title"].as_str(), edited["cron"].as_str()),
        (Some("Bump dependencies"), Some("@daily"))
    );
    assert!(edited["next_run_at"].as_str().unwrap().ends_with("T00:00:00Z"), "{edited}");
    assert_eq!(a.delete(&format!("/api/schedules/{id}")).status, 204);
    assert_eq!(a.delete(&format!("/api/schedules/{id}")).status, 404);
}
