//! Instance identity (issue 11): each viban claims the random id its home keeps, and a
//! start recovers only the agent runs recorded under its own id. Against the real
//! binary; the two-copies test runs two vibans at one home path at once, each in its
//! own mount namespace (as two containers that both use `/root/.viban` would), on one
//! external PostgreSQL (VIBAN_TEST_DATABASE_URL, which scripts/test.sh starts).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{BIN, Database, Viban, board_on, eventually, fixtures, repository, temp_home};
use serde_json::{Value, json};

fn instance_id(home: &Path) -> String {
    std::fs::read_to_string(home.join("instance-id"))
        .expect("the home keeps an instance id")
        .trim()
        .to_string()
}

/// `cp -a from/. to/`: a home copied as a container image or a volume would be.
fn copy_home(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from.join(".")).arg(to).status().expect("run cp");
    assert!(status.success(), "cp -a failed");
}

/// PATH with the fake agents first, and what they need.
struct FakeAgent {
    path: String,
    transcript: PathBuf,
    pids: PathBuf,
}

impl FakeAgent {
    fn new(scratch: &Path) -> Self {
        let path =
            format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
        Self {
            path,
            transcript: fixtures().join("transcripts/claude-tools.jsonl"),
            pids: scratch.join("pids"),
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("PATH", self.path.as_str()),
            ("FAKE_TRANSCRIPT", self.transcript.to_str().unwrap()),
            ("FAKE_AGENT_PIDS", self.pids.to_str().unwrap()),
        ]
    }

    fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(&self.pids)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }
}

/// `viban serve --home at` on `database`, in a mount namespace of its own where `home`
/// is bind-mounted at `at`: every copy sees its own home at the same path.
fn serve_at(home: &Path, at: &Path, database: &str, env: &[(&str, &str)]) -> Viban {
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount --bind "$1" "$2" && exec "$3" serve --no-browser --headless --port 0 --home "$2""#)
        .args([OsStr::new("sh"), home.as_os_str(), at.as_os_str(), OsStr::new(BIN)])
        .env("DATABASE_URL", database)
        .env_remove("VIBAN_HOME");
    for (name, value) in env {
        command.env(name, value);
    }
    // The files it writes are in `home`, which is what the harness reads.
    let viban = Viban::spawn_command(home, command);
    viban.wait_healthy(common::START_TIMEOUT);
    viban
}

/// `viban serve` on the external `database`, once healthy.
fn serve_on(home: &Path, database: &str) -> Viban {
    let viban = Viban::spawn(home, &[], &[("DATABASE_URL", database)]);
    viban.wait_healthy(common::START_TIMEOUT);
    viban
}

fn task(viban: &Viban, board_id: &str, title: &str) -> String {
    let response =
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": title }));
    assert_eq!(response.status, 201, "{}", response.text());
    response.json()["id"].as_str().unwrap().to_string()
}

fn session(viban: &Viban, task_id: &str) -> Value {
    let sessions = viban.get(&format!("/api/tasks/{task_id}/sessions")).json();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    sessions[0].clone()
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purposes: it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

#[test]
fn two_copies_of_one_home_at_one_path_do_not_interrupt_each_others_runs() {
    let url = common::scratch_database();
    let database = Database::connect(url.parse().unwrap());
    let scratch = tempfile::tempdir().unwrap();
    let agent = FakeAgent::new(scratch.path());
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());

    // One home, started once so that it has its id, then copied twice.
    let original = temp_home();
    drop(serve_on(original.path(), &url));
    let id = instance_id(original.path());
    let (first_home, second_home) = (temp_home(), temp_home());
    copy_home(original.path(), first_home.path());
    copy_home(original.path(), second_home.path());
    // Where both copies are, each in its own mount namespace.
    let at = temp_home();

    let first = serve_at(first_home.path(), at.path(), &url, &agent.env());
    let board_id = board_on(&first, repo.path(), json!({}));
    let task_id = task(&first, &board_id, "Keep running");
    let run =
        first.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({ "prompt": "MODE:hang" }));
    assert_eq!(run.status, 202, "{}", run.text());
    assert!(
        eventually(Duration::from_secs(30), || session(&first, &task_id)["external_session_id"]
            == "hang-session-1"),
        "the run did not start\n{}",
        first.output()
    );
    assert!(eventually(Duration::from_secs(10), || agent.pids().len() == 2));
    let pids = agent.pids();
    assert_eq!(instance_id(first_home.path()), id, "the first copy keeps the home's id");

    // The second copy starts at the same path while the first runs its agent.
    let mut second = serve_at(second_home.path(), at.path(), &url, &agent.env());
    let second_id = instance_id(second_home.path());
    assert_ne!(second_id, id, "the second copy takes an id of its own");
    assert!(second.stderr().contains("uses this home's instance id"), "{}", second.output());
    assert_eq!(session(&second, &task_id)["status"], "running", "{}", second.output());
    assert!(pids.iter().all(|pid| alive(*pid)), "the second copy stopped the first one's agent");
    // It cannot start a second run on that task either: the database says it is busy.
    let again = second.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({ "prompt": "Hi." }));
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.text().contains("already working on this task"), "{}", again.text());
    let registered = database.text("SELECT string_agg(id, ',' ORDER BY id) FROM instances");
    let mut expected = [id.clone(), second_id.clone()];
    expected.sort();
    assert_eq!(registered, expected.join(","));

    // A restart of the second copy keeps its new id and still leaves the run alone.
    second.signal(libc::SIGTERM);
    assert!(second.wait_exit(Duration::from_secs(20)).is_some(), "the second copy did not stop");
    let second = serve_at(second_home.path(), at.path(), &url, &agent.env());
    assert_eq!(instance_id(second_home.path()), second_id);
    assert_eq!(session(&second, &task_id)["status"], "running");
    assert!(pids.iter().all(|pid| alive(*pid)));

    // The first copy's own stop interrupts its run, and gives its id up.
    drop(first);
    assert_eq!(session(&second, &task_id)["status"], "interrupted");
    assert_eq!(database.text("SELECT string_agg(id, ',') FROM instances"), second_id);
}

#[test]
fn a_home_keeps_its_instance_id_across_restarts_and_a_crash() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let id = instance_id(home.path());
    assert_eq!(id.len(), 36, "a UUID: {id}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join("instance-id")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(viban.sql().text("SELECT id FROM instances"), id);
    drop(viban);

    let mut viban = Viban::start(home.path(), &[]);
    assert_eq!(instance_id(home.path()), id);
    assert_eq!(viban.sql().text("SELECT id FROM instances"), id);

    // After a crash its heartbeat is still fresh, but it was this home's last start, on
    // this host, and its pid is gone: the id is taken over at once.
    viban.kill9();
    let viban = Viban::start(home.path(), &[]);
    assert_eq!(instance_id(home.path()), id);
    assert_eq!(viban.sql().text("SELECT id FROM instances"), id);
    let log = viban.stderr();
    assert!(log.contains("took over the instance id"), "{log}");
    assert!(!log.contains("watching its heartbeat"), "{log}");
}

#[test]
fn a_homes_first_start_with_an_id_recovers_the_runs_recorded_under_its_path() {
    let url = common::scratch_database();
    let database = Database::connect(url.parse().unwrap());
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let viban = serve_on(home.path(), &url);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let task_id = task(&viban, &board_id, "Cut off by an older viban");
    drop(viban);

    // As an older viban, which named its instance by the home's path, left it.
    let path = home.path().display().to_string();
    database.execute(&format!(
        "INSERT INTO agent_sessions (task_id, agent, prompt, status, instance_id)
         VALUES ('{task_id}', 'claude-code', 'Go.', 'running', '{path}')"
    ));
    std::fs::remove_file(home.path().join("instance-id")).unwrap();

    let viban = serve_on(home.path(), &url);
    assert_eq!(session(&viban, &task_id)["status"], "interrupted");
    assert_eq!(
        database.text(&format!("SELECT instance_id FROM agent_sessions WHERE task_id = '{task_id}'")),
        instance_id(home.path())
    );
}

#[test]
fn the_migration_leaves_one_active_session_per_task_and_interrupts_the_older_ones() {
    let url = common::scratch_database();
    let database = Database::connect(url.parse().unwrap());
    // The schema as the viban before this migration left it, with what two vibans on
    // one database could do then: two runs on one task at once, and a third queued.
    let older = tempfile::tempdir().unwrap();
    let migrations: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
    let name = |path: &Path| path.file_name().unwrap().to_string_lossy().to_string();
    let this =
        migrations.iter().map(|path| name(path)).find(|name| name.ends_with("_instances.up.sql")).unwrap();
    let version = this.split('_').next().unwrap();
    for path in &migrations {
        if name(path).as_str() < version {
            std::fs::copy(path, older.path().join(name(path))).unwrap();
        }
    }
    database.with_connection(async |connection| {
        let migrator = sqlx::migrate::Migrator::new(older.path()).await.unwrap();
        migrator.run(connection).await.unwrap();
    });
    database.execute(
        "INSERT INTO boards (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'Old');
         INSERT INTO columns (id, board_id, name, position)
             VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'Todo', 'a');
         INSERT INTO tasks (id, board_id, column_id, position, number, title) VALUES
             ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001',
              '00000000-0000-4000-8000-000000000002', 'a', 1, 'Twice'),
             ('00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000001',
              '00000000-0000-4000-8000-000000000002', 'b', 2, 'Once');
         INSERT INTO agent_sessions (task_id, agent, prompt, status, instance_id, created_at) VALUES
             ('00000000-0000-4000-8000-000000000003', 'claude-code', 'first', 'running', 'a', now() - interval '3 minutes'),
             ('00000000-0000-4000-8000-000000000003', 'claude-code', 'second', 'running', 'b', now() - interval '2 minutes'),
             ('00000000-0000-4000-8000-000000000003', 'claude-code', 'third', 'queued', 'b', now() - interval '1 minute'),
             ('00000000-0000-4000-8000-000000000003', 'claude-code', 'done', 'completed', 'a', now() - interval '4 minutes'),
             ('00000000-0000-4000-8000-000000000004', 'claude-code', 'alone', 'running', 'a', now());",
    );

    let home = temp_home();
    let _viban = serve_on(home.path(), &url);
    let statuses = |task: &str| {
        database.text(&format!(
            "SELECT string_agg(prompt || ':' || status, ' ' ORDER BY created_at) FROM agent_sessions
             WHERE task_id = '00000000-0000-4000-8000-00000000000{task}'"
        ))
    };
    assert_eq!(statuses("3"), "done:completed first:interrupted second:interrupted third:queued");
    assert_eq!(statuses("4"), "alone:running");
}

#[test]
fn the_runs_of_an_instance_gone_for_long_are_recorded_interrupted_and_their_tasks_run_again() {
    let home = temp_home();
    let scratch = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let agent = FakeAgent::new(scratch.path());
    let viban = Viban::spawn(home.path(), &[], &agent.env());
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let (abandoned, elsewhere) =
        (task(&viban, &board_id, "Its viban is gone"), task(&viban, &board_id, "Its viban is alive"));
    // Two other vibans on this database: one whose container died an hour ago and never
    // came back, one alive; each left a run underway.
    viban.sql().execute(&format!(
        "INSERT INTO instances (id, claim, hostname, pid, heartbeat_at) VALUES
             ('gone', gen_random_uuid(), 'elsewhere', 1, now() - interval '1 hour'),
             ('alive', gen_random_uuid(), 'elsewhere', 1, now() + interval '1 hour');
         INSERT INTO agent_sessions (task_id, agent, prompt, status, instance_id) VALUES
             ('{abandoned}', 'claude-code', 'Go.', 'running', 'gone'),
             ('{elsewhere}', 'claude-code', 'Go.', 'running', 'alive');"
    ));

    let recorded =
        eventually(Duration::from_secs(30), || session(&viban, &abandoned)["status"] == "interrupted");
    assert!(recorded, "{}", session(&viban, &abandoned));
    assert_eq!(viban.get(&format!("/api/tasks/{abandoned}")).json()["agent_status"], "interrupted");
    assert_eq!(session(&viban, &elsewhere)["status"], "running", "a live instance's run is its own");

    let run =
        viban.send_json("POST", &format!("/api/tasks/{abandoned}/runs"), &json!({ "prompt": "Again." }));
    assert!(run.status < 300, "the task can run again: {} {}", run.status, run.text());
    let busy =
        viban.send_json("POST", &format!("/api/tasks/{elsewhere}/runs"), &json!({ "prompt": "Again." }));
    assert_eq!(busy.status, 409, "{}", busy.text());
}
