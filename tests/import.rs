//! Importing from Vibe Kanban (issue 17, D9), against the real binary, real PostgreSQL,
//! real git worktrees, and Vibe Kanban data in its real schema: the scripts in
//! `tests/fixtures/vibe-kanban/` (its README says what they make) build a database of
//! each schema era, with real `vk/*` branches and worktrees, and a cloud export archive.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Viban, eventually, fake_agent_env, git, run_cli, temp_home};
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    common::fixtures().join("vibe-kanban")
}

/// A repository on `main` with one commit, for Vibe Kanban's worktrees.
fn repository(dir: &Path) {
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    git(
        dir,
        &[
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=T",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "first",
        ],
    );
}

/// Vibe Kanban data of `era` in `dir/vk` on a repository in `dir/repo`; the script's summary.
fn vibe_kanban_data(dir: &Path, era: &str, extra: &[&str]) -> Value {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    repository(&repo);
    let script = fixtures_dir().join("make-vk-data.py");
    let vk = dir.join("vk");
    let mut args = vec![
        script.to_str().unwrap(),
        "--era",
        era,
        "--out",
        vk.to_str().unwrap(),
        "--repo",
        repo.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = Command::new("python3").args(&args).output().expect("run python3");
    assert!(output.status.success(), "make-vk-data.py: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the script prints a JSON summary")
}

/// `git worktree list` and every worktree's `git status`: what an import must not change.
fn git_state(summary: &Value) -> String {
    let repo = summary["projects"][0]["repo"].as_str().unwrap();
    let mut state = git(Path::new(repo), &["worktree", "list", "--porcelain"]);
    for attempt in summary["attempts"].as_array().unwrap() {
        if let Some(worktree) = attempt["worktree"].as_str() {
            state.push_str(&format!(
                "\n{worktree}:\n{}",
                git(Path::new(worktree), &["status", "--porcelain"])
            ));
        }
    }
    state
}

fn import(viban: &Viban, path: &Path, dry_run: bool) -> Value {
    let body = json!({ "path": path, "dry_run": dry_run });
    let response = viban.send_json("POST", "/api/import/vibe-kanban", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn cli(viban: &Viban, args: &[&str]) -> (bool, String) {
    let output = run_cli(&viban.home, args);
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn task_count(viban: &Viban) -> i64 {
    viban
        .get("/api/boards")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|board| board["task_count"].as_i64().unwrap())
        .sum()
}

fn board_count(viban: &Viban) -> usize {
    viban.get("/api/boards").json().as_array().unwrap().len()
}

/// The report's entry for the task with this Vibe Kanban id.
fn reported<'a>(report: &'a Value, source_id: &str) -> &'a Value {
    report["boards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|board| board["tasks"].as_array().unwrap())
        .find(|task| task["source_id"] == source_id)
        .unwrap_or_else(|| panic!("no task {source_id} in the report: {report}"))
}

/// The role of the column the summary names.
fn role(column: &str) -> &'static str {
    match column {
        "To do" => "todo",
        "In progress" => "in_progress",
        "In review" => "review",
        "Done" => "done",
        "Cancelled" => "cancelled",
        other => panic!("unknown column {other}"),
    }
}

/// The role of the column `task` is in.
fn column_role(viban: &Viban, task: &Value) -> String {
    let board = viban.get(&format!("/api/boards/{}", task["board_id"].as_str().unwrap())).json();
    let column = board["columns"].as_array().unwrap().iter().find(|column| column["id"] == task["column_id"]);
    column.unwrap()["role"].as_str().unwrap().to_string()
}

fn canonical(path: &str) -> PathBuf {
    Path::new(path).canonicalize().unwrap_or_else(|_| PathBuf::from(path))
}

#[test]
fn every_schema_era_imports_into_the_right_columns_adopting_worktrees_untouched() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    for era in ["a", "b", "c"] {
        let scratch = tempfile::tempdir().unwrap();
        let extra: &[&str] = if era == "c" { &["--stale-v1"] } else { &[] };
        let summary = vibe_kanban_data(scratch.path(), era, extra);
        let data_dir = scratch.path().join("vk");
        let before = git_state(&summary);
        let (boards, tasks) = (board_count(&viban), task_count(&viban));

        // A dry run says everything and writes nothing.
        let (ok, printed) = cli(&viban, &["import", "vibe-kanban", data_dir.to_str().unwrap(), "--dry-run"]);
        assert!(ok, "{printed}");
        assert!(
            printed.contains("Dry run, nothing written: 2 board(s) and 8 task(s) to create"),
            "{printed}"
        );
        let expected_file = if era == "c" { "db.v2.sqlite" } else { "db.sqlite" };
        assert!(
            printed.contains(&format!("Source: {}", data_dir.join(expected_file).display())),
            "{printed}"
        );
        if era == "c" {
            assert!(printed.contains("may be stale"), "era c says why db.v2.sqlite wins: {printed}");
        }
        assert_eq!((board_count(&viban), task_count(&viban)), (boards, tasks), "the dry run wrote something");

        let report = import(&viban, &data_dir, false);
        assert_eq!(report["totals"]["boards_created"], 2, "{report}");
        assert_eq!(report["totals"]["tasks_created"], 8, "{report}");
        assert!(report["era"].as_str().unwrap().starts_with(era), "{report}");

        for expected in summary["tasks"].as_array().unwrap() {
            let entry = reported(&report, expected["id"].as_str().unwrap());
            let task = viban.get(&format!("/api/tasks/{}", entry["task_id"].as_str().unwrap())).json();
            assert_eq!(task["title"], expected["title"], "era {era}");
            assert_eq!(
                column_role(&viban, &task),
                role(expected["column"].as_str().unwrap()),
                "era {era}: {task}"
            );
            if let Some(parent) = expected["parent_task"].as_str() {
                assert_eq!(task["parent_task_id"], reported(&report, parent)["task_id"], "era {era}");
            }
        }
        for attempt in summary["attempts"].as_array().unwrap() {
            let entry = reported(&report, attempt["task"].as_str().unwrap());
            let task = viban.get(&format!("/api/tasks/{}", entry["task_id"].as_str().unwrap())).json();
            assert_eq!(task["branch"], attempt["branch"], "era {era}");
            assert_eq!(task["base_branch"], attempt["base"], "era {era}");
            assert_eq!(task["agent"], "claude-code", "era {era}");
            match attempt["worktree"].as_str() {
                Some(worktree) => {
                    assert_eq!(entry["worktree"], "adopted", "era {era}: {entry}");
                    assert_eq!(canonical(task["worktree_path"].as_str().unwrap()), canonical(worktree));
                }
                None => {
                    assert_eq!(
                        entry["worktree"], "gone",
                        "era {era}: the deleted worktree is reported: {entry}"
                    );
                    assert!(task["worktree_path"].is_null(), "era {era}");
                }
            }
            let sessions = viban.get(&format!("/api/tasks/{}/sessions", task["id"].as_str().unwrap())).json();
            assert_eq!(sessions[0]["external_session_id"], attempt["agent_session_id"], "era {era}");
            match attempt["pr"].as_object() {
                Some(pr) => {
                    assert_eq!(task["pr_number"], pr["number"], "era {era}");
                    assert_eq!(task["pr_status"], pr["status"], "era {era}");
                    assert!(task["pr_url"].as_str().unwrap().ends_with(&format!("/pull/{}", pr["number"])));
                }
                None => assert!(task["pr_url"].is_null(), "era {era}"),
            }
            if attempt["dirty"] == true {
                let status =
                    git(Path::new(attempt["worktree"].as_str().unwrap()), &["status", "--porcelain"]);
                assert!(
                    status.contains("uncommitted.txt"),
                    "era {era}: the dirty worktree stays dirty: {status}"
                );
            }
        }
        // No column hook fired: every imported task is idle, nothing was queued.
        let board_id =
            reported(&report, summary["tasks"][1]["id"].as_str().unwrap())["task_id"].as_str().unwrap();
        let executions = viban.get(&format!("/api/tasks/{board_id}/hook-executions")).json();
        assert_eq!(executions, json!([]), "era {era}");
        let docs =
            report["boards"].as_array().unwrap().iter().find(|board| board["name"] == "Docs site").unwrap();
        assert!(
            docs["repository"].is_null()
                && docs["notes"][0].as_str().unwrap().contains("not a git repository")
        );

        // A second import creates nothing.
        let (ok, printed) = cli(&viban, &["import", "vibe-kanban", data_dir.to_str().unwrap()]);
        assert!(ok, "{printed}");
        assert!(printed.contains("0 board(s) and 0 task(s) created, 8 task(s) skipped"), "{printed}");
        assert_eq!((board_count(&viban), task_count(&viban)), (boards + 2, tasks + 8), "era {era}");
        assert_eq!(git_state(&summary), before, "era {era}: the import changed a worktree");
    }
}

#[test]
fn a_follow_up_to_an_imported_task_resumes_its_vibe_kanban_session_in_its_worktree() {
    let scratch = tempfile::tempdir().unwrap();
    let summary = vibe_kanban_data(scratch.path(), "c", &[]);
    let log = scratch.path().join("calls.log");
    let env = fake_agent_env(&log, &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let home = temp_home();
    let viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    let report = import(&viban, &scratch.path().join("vk/db.v2.sqlite"), false);

    let attempt = &summary["attempts"][0];
    let task_id =
        reported(&report, attempt["task"].as_str().unwrap())["task_id"].as_str().unwrap().to_string();
    let reply =
        viban.send_json("POST", &format!("/api/tasks/{task_id}/messages"), &json!({ "text": "Carry on." }));
    assert_eq!(reply.status, 202, "{}", reply.text());
    let called = eventually(Duration::from_secs(60), || {
        std::fs::read_to_string(&log).is_ok_and(|calls| !calls.is_empty())
    });
    assert!(called, "the agent never ran\n{}", viban.output());
    let calls = std::fs::read_to_string(&log).unwrap();
    let session = attempt["agent_session_id"].as_str().unwrap();
    assert!(calls.contains(&format!("--resume {session} -- Carry on.")), "{calls}");
    let (cwd, _) = calls.split_once('\t').unwrap();
    assert_eq!(
        canonical(cwd),
        canonical(attempt["worktree"].as_str().unwrap()),
        "it ran in the adopted worktree"
    );
}

#[test]
fn a_cloud_export_imports_issues_by_status_name_with_parents_priority_and_attachments() {
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("export.zip");
    let made = Command::new("python3")
        .arg(fixtures_dir().join("make-vk-cloud-export.py"))
        .arg(&archive)
        .output()
        .expect("run python3");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);

    let report = import(&viban, &archive, false);
    assert_eq!(report["kind"], "cloud_export");
    assert_eq!(report["totals"]["boards_created"], 2, "{report}");
    assert_eq!(report["totals"]["tasks_created"], 8, "{report}");
    let task = |simple_id: &str| {
        let id = reported(&report, simple_id)["task_id"].as_str().unwrap().to_string();
        viban.get(&format!("/api/tasks/{id}")).json()
    };
    for (simple_id, expected) in [
        ("API-1", "todo"),
        ("API-2", "in_progress"),
        ("API-3", "todo"),
        ("API-4", "review"),
        ("API-5", "done"),
        ("API-6", "cancelled"),
        ("DOC-1", "in_progress"),
        ("DOC-2", "todo"),
    ] {
        assert_eq!(column_role(&viban, &task(simple_id)), expected, "{simple_id}");
    }
    assert_eq!(task("API-3")["parent_task_id"], task("API-2")["id"]);
    assert_eq!(task("DOC-2")["title"], "Ünïcödé title — 🚀, commas, \"quotes\"");
    assert!(task("DOC-2")["description"].as_str().unwrap().ends_with("Line one\nLine two, with a comma"));
    let redirect = task("API-2");
    let description = redirect["description"].as_str().unwrap();
    assert!(description.contains("**Priority:** Urgent"), "{description}");
    assert!(description.contains("**Assignees:** Ada Lovelace, Grace Hopper"), "{description}");
    assert!(description.contains("Lands on /undefined after login."), "{description}");
    let saved = home.path().join("attachments/vibe-kanban-cloud/API-2/redirect.png");
    assert!(description.contains(&saved.display().to_string()), "{description}");
    assert!(std::fs::read(&saved).unwrap().starts_with(b"\x89PNG"), "the attachment is saved with the task");

    let again = import(&viban, &archive, false);
    assert_eq!(again["totals"]["tasks_created"], 0, "{again}");
    assert_eq!(board_count(&viban), 2);
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_nothing_written() {
    let scratch = tempfile::tempdir().unwrap();
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);

    // A database cut short, as a copy interrupted half-way leaves it.
    let truncated = scratch.path().join("db.sqlite");
    let whole = std::fs::read(fixtures_dir().join("schema-era-a.sqlite")).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 3]).unwrap();
    let (ok, printed) = cli(&viban, &["import", "vibe-kanban", truncated.to_str().unwrap()]);
    assert!(!ok, "{printed}");
    assert!(
        printed.contains(&truncated.display().to_string()) && printed.contains("copy it again"),
        "{printed}"
    );

    // A zip that is not a Vibe Kanban export.
    let archive = scratch.path().join("photos.zip");
    let made = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').writestr('projects.csv', 'Name\\nx\\n')",
        ])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(made.status.success());
    let response = viban.send_json("POST", "/api/import/vibe-kanban", &json!({ "path": archive }));
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.json()["field"], "path");
    assert!(response.json()["detail"].as_str().unwrap().contains("no issues.csv"), "{}", response.text());

    let relative = viban.send_json("POST", "/api/import/vibe-kanban", &json!({ "path": "vk/db.sqlite" }));
    assert_eq!(relative.status, 422, "{}", relative.text());
    assert!(relative.json()["detail"].as_str().unwrap().contains("not an absolute path"));

    let (ok, printed) =
        cli(&viban, &["import", "vibe-kanban", scratch.path().join("nowhere").to_str().unwrap()]);
    assert!(!ok && printed.contains("does not exist"), "{printed}");
    assert_eq!(board_count(&viban), 0, "nothing was written");
}

#[test]
fn importing_without_a_running_viban_says_to_start_it() {
    let home = temp_home();
    let output = run_cli(home.path(), &["import", "vibe-kanban", "/nonexistent", "--dry-run"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Start it with `viban`"));
}

/// Ten thousand tasks import whole, and again nothing twice. The budget (10,000 tasks
/// and 2,000 attempts in at most 10 s) is measured by `cargo bench --bench import`; the
/// time printed here is only for the log, not asserted (a loaded CI machine is slower).
#[test]
fn ten_thousand_tasks_import_whole_and_a_second_import_adds_none() {
    let scratch = tempfile::tempdir().unwrap();
    vibe_kanban_data(scratch.path(), "a", &["--extra-tasks", "10000"]);
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let started = Instant::now();
    let report = import(&viban, &scratch.path().join("vk"), false);
    let took = started.elapsed();
    println!("imported {} tasks in {took:?}", report["totals"]["tasks_created"]);
    assert_eq!(report["totals"]["tasks_created"], 10_008);
    let started = Instant::now();
    let again = import(&viban, &scratch.path().join("vk"), false);
    println!("imported again (nothing new) in {:?}", started.elapsed());
    assert_eq!(again["totals"]["tasks_created"], 0);
}

/// A board document with the references (keys) replaced by what they point at, so two
/// exports of equal boards compare equal.
fn normalized(document: &Value) -> Value {
    let mut document = document.clone();
    let columns: Vec<(String, String)> = document["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| (column["key"].as_str().unwrap().into(), column["name"].as_str().unwrap().into()))
        .collect();
    let hooks: Vec<(String, String)> = document["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hook| (hook["key"].as_str().unwrap().into(), hook["name"].as_str().unwrap().into()))
        .collect();
    let tasks: Vec<(String, i64)> = document["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| (task["key"].as_str().unwrap().into(), task["number"].as_i64().unwrap()))
        .collect();
    let name_of = |pairs: &[(String, String)], key: &Value| {
        pairs.iter().find(|(k, _)| Some(k.as_str()) == key.as_str()).map(|(_, name)| name.clone())
    };
    let number_of =
        |key: &Value| tasks.iter().find(|(k, _)| Some(k.as_str()) == key.as_str()).map(|(_, n)| *n);
    for column in document["columns"].as_array_mut().unwrap() {
        column["key"] = Value::Null;
        for attached in column["hooks"].as_array_mut().unwrap() {
            attached["hook"] = json!(name_of(&hooks, &attached["hook"]));
        }
    }
    for hook in document["hooks"].as_array_mut().unwrap() {
        hook["key"] = Value::Null;
    }
    for task in document["tasks"].as_array_mut().unwrap() {
        task["key"] = Value::Null;
        task["column"] = json!(name_of(&columns, &task["column"]));
        task["parent"] = json!(number_of(&task["parent"]));
        let blockers: Vec<Option<i64>> =
            task["blocked_by"].as_array().unwrap().iter().map(number_of).collect();
        task["blocked_by"] = json!(blockers);
    }
    document
}

#[test]
fn a_board_with_hooks_and_500_tasks_exports_and_imports_as_an_equal_board() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = viban.send_json("POST", "/api/boards", &json!({ "name": "Round trip" })).json();
    let board_id = board["board"]["id"].as_str().unwrap().to_string();
    let settings = json!({ "settings": { "default_agent": "codex", "copy_files": [".env*"] } });
    assert_eq!(viban.send_json("PATCH", &format!("/api/boards/{board_id}"), &settings).status, 200);
    let hook = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "Lint", "kind": "script", "command": "cargo clippy", "timeout_seconds": 120 }),
    );
    assert_eq!(hook.status, 201, "{}", hook.text());
    let review =
        board["columns"].as_array().unwrap().iter().find(|column| column["role"] == "review").unwrap();
    let attached = viban.send_json(
        "POST",
        &format!("/api/columns/{}/hooks", review["id"].as_str().unwrap()),
        &json!({ "hook_id": hook.json()["id"], "execute_once": true }),
    );
    assert_eq!(attached.status, 201, "{}", attached.text());
    let columns: Vec<String> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["id"].as_str().unwrap().into())
        .collect();
    // Hooks off while the tasks are made (a column setting the document carries, like the
    // limit of three runs), so that nothing runs on them meanwhile.
    for column in &columns {
        let off = json!({ "hooks_enabled": false, "max_concurrent": 3 });
        assert_eq!(viban.send_json("PATCH", &format!("/api/columns/{column}"), &off).status, 200);
    }
    let mut ids: Vec<String> = Vec::new();
    for n in 0..500 {
        let body = json!({
            "title": format!("Task {n} — ünïcödé"),
            "description": format!("Line one of {n}\n\n- a list"),
            "column_id": columns[n % columns.len()],
            "parent_task_id": ids.get(n.saturating_sub(7)).filter(|_| n % 10 == 9),
            "blocked_by": if n % 25 == 24 { vec![ids[n - 1].clone()] } else { vec![] },
        });
        let created = viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &body);
        assert_eq!(created.status, 201, "{}", created.text());
        ids.push(created.json()["id"].as_str().unwrap().to_string());
    }
    let exported_file = home.path().join("round-trip.json");
    let (ok, printed) = cli(&viban, &["export", "Round trip", "-o", exported_file.to_str().unwrap()]);
    assert!(ok, "{printed}");
    let first: Value = serde_json::from_slice(&std::fs::read(&exported_file).unwrap()).unwrap();
    assert_eq!((first["format"].as_str(), first["version"].as_i64()), (Some("viban.board"), Some(1)));
    assert_eq!(first["tasks"].as_array().unwrap().len(), 500);

    let (ok, printed) = cli(&viban, &["import", "board", exported_file.to_str().unwrap()]);
    assert!(ok, "{printed}");
    let boards = viban.get("/api/boards").json();
    let copy = boards.as_array().unwrap().iter().find(|summary| summary["id"] != board_id.as_str()).unwrap();
    let copy_id = copy["id"].as_str().unwrap();
    assert!(printed.contains(copy_id), "{printed}");
    let second = viban.get(&format!("/api/boards/{copy_id}/export")).json();
    assert_eq!(normalized(&second), normalized(&first), "the imported board differs from the exported one");
    assert!(second["columns"].as_array().unwrap().iter().all(|column| column["hooks_enabled"] == false));
}

#[test]
fn a_malformed_or_newer_board_document_is_refused_with_the_bad_field_and_nothing_written() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = viban.send_json("POST", "/api/boards", &json!({ "name": "Source" })).json();
    let board_id = board["board"]["id"].as_str().unwrap();
    let column = board["columns"][0]["id"].as_str().unwrap();
    let made = viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/tasks"),
        &json!({ "title": "One", "column_id": column }),
    );
    assert_eq!(made.status, 201);
    let document = viban.get(&format!("/api/boards/{board_id}/export")).json();

    let mut wrong_type = document.clone();
    wrong_type["tasks"][0]["title"] = json!(5);
    let file = home.path().join("wrong.json");
    std::fs::write(&file, wrong_type.to_string()).unwrap();
    let (ok, printed) = cli(&viban, &["import", "board", file.to_str().unwrap()]);
    assert!(!ok, "{printed}");
    assert!(printed.contains("tasks[0].title: invalid type: integer `5`, expected a string"), "{printed}");

    let mut newer = document.clone();
    newer["version"] = json!(2);
    let response = viban.send_json("POST", "/api/import/board", &json!({ "document": newer }));
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.json()["field"], "version");
    assert!(response.json()["detail"].as_str().unwrap().contains("newer viban"), "{}", response.text());

    let mut dangling = document.clone();
    dangling["tasks"][0]["column"] = json!("nowhere");
    let response = viban.send_json("POST", "/api/import/board", &json!({ "document": dangling }));
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.json()["field"], "tasks[0].column");
    assert_eq!(board_count(&viban), 1, "nothing was written");
}

/// A 5,000-task board exports and imports whole. The budget (at most 5 s each) is
/// measured by `cargo bench --bench import`; the times printed here are not asserted.
#[test]
fn a_five_thousand_task_board_exports_and_imports_whole() {
    let scratch = tempfile::tempdir().unwrap();
    vibe_kanban_data(scratch.path(), "a", &["--extra-tasks", "5000"]);
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let report = import(&viban, &scratch.path().join("vk"), false);
    let board_id = report["boards"][0]["board_id"].as_str().unwrap().to_string();
    let file = home.path().join("big.json");

    let started = Instant::now();
    let (ok, printed) = cli(&viban, &["export", &board_id, "-o", file.to_str().unwrap()]);
    let exported = started.elapsed();
    assert!(ok, "{printed}");
    let started = Instant::now();
    let (ok, printed) = cli(&viban, &["import", "board", file.to_str().unwrap()]);
    let imported = started.elapsed();
    assert!(ok, "{printed}");
    println!("5,007 tasks: exported in {exported:?}, imported in {imported:?}");
    assert_eq!(task_count(&viban), 2 * 5_007 + 1);
}

#[test]
#[cfg(target_os = "linux")]
fn with_no_path_vibe_kanbans_own_data_directory_is_read_and_the_older_database_only_without_v2() {
    let scratch = tempfile::tempdir().unwrap();
    vibe_kanban_data(scratch.path(), "b", &[]);
    let fake_home = scratch.path().join("user");
    let data_dir = fake_home.join(".local/share/vibe-kanban");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::copy(scratch.path().join("vk/db.sqlite"), data_dir.join("db.sqlite")).unwrap();
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let output = Command::new(common::BIN)
        .args(["import", "vibe-kanban", "--dry-run"])
        .env("VIBAN_HOME", &viban.home)
        .env("HOME", &fake_home)
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains(&format!("Source: {}", data_dir.join("db.sqlite").display())), "{printed}");
    assert!(printed.contains("there is no db.v2.sqlite"), "{printed}");
    assert!(printed.contains("2 board(s) and 8 task(s) to create"), "{printed}");
    assert_eq!(board_count(&viban), 0);
}
