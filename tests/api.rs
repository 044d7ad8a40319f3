//! The boards and tasks API (issue: data model, JSON API, realtime), against the real
//! binary and database: the happy paths and every kind of bad input.

mod common;

use common::{Response, Viban, temp_home};
use serde_json::{Value, json};

fn started() -> (tempfile::TempDir, Viban) {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    (home, viban)
}

fn created(response: Response) -> Value {
    assert_eq!(response.status, 201, "{}", response.text());
    response.json()
}

fn problem(response: &Response, status: u16, field: Option<&str>) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/problem+json"));
    let body = response.json();
    assert_eq!(body["field"].as_str(), field, "{body}");
    assert!(!body["detail"].as_str().unwrap_or_default().is_empty(), "{body}");
}

fn new_board(viban: &Viban) -> Value {
    created(viban.send_json("POST", "/api/boards", &json!({ "name": "Demo" })))
}

fn column(board: &Value, role: &str) -> String {
    let columns = board["columns"].as_array().unwrap();
    columns.iter().find(|c| c["role"] == role).unwrap()["id"].as_str().unwrap().to_string()
}

fn new_task(viban: &Viban, board: &Value, title: &str) -> Value {
    let path = format!("/api/boards/{}/tasks", board["board"]["id"].as_str().unwrap());
    created(viban.send_json("POST", &path, &json!({ "title": title })))
}

fn titles_in(viban: &Viban, board: &Value, column_id: &str) -> Vec<String> {
    let path = format!("/api/boards/{}/tasks?column_id={column_id}", board["board"]["id"].as_str().unwrap());
    let tasks = viban.get(&path).json();
    tasks.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_new_board_has_the_default_columns_hooks_and_templates() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let columns: Vec<(&str, &str)> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Todo", "todo"),
            ("In Progress", "in_progress"),
            ("Review", "review"),
            ("Done", "done"),
            ("Cancelled", "cancelled")
        ]
    );
    let hooks_of = |role: &str| -> Vec<(String, bool, bool, bool)> {
        let id = column(&board, role);
        board["column_hooks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["column_id"] == id.as_str())
            .map(|h| {
                let flag = |name: &str| h[name].as_bool().unwrap();
                (
                    h["builtin"].as_str().unwrap().to_string(),
                    flag("execute_once"),
                    flag("transparent"),
                    flag("removable"),
                )
            })
            .collect()
    };
    assert_eq!(hooks_of("todo"), [("builtin:auto-start".into(), true, false, false)]);
    assert_eq!(
        hooks_of("in_progress"),
        [("builtin:run-agent".into(), false, false, false), ("builtin:move-task".into(), false, true, false)]
    );
    assert_eq!(hooks_of("review"), [("builtin:play-sound".into(), false, true, true)]);
    assert!(hooks_of("done").is_empty() && hooks_of("cancelled").is_empty());
    let templates: Vec<&str> =
        board["templates"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(templates, ["Feature", "Bugfix", "Refactor", "Research"]);
}

#[test]
fn boards_are_listed_renamed_and_deleted_with_their_tasks() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let id = board["board"]["id"].as_str().unwrap();
    new_task(&viban, &board, "goes with the board");
    let renamed = viban.send_json(
        "PATCH",
        &format!("/api/boards/{id}"),
        &json!({ "name": "Renamed", "description": "d" }),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["name"], "Renamed");
    assert_eq!(viban.get("/api/boards").json()[0]["name"], "Renamed");

    assert_eq!(viban.delete(&format!("/api/boards/{id}")).status, 204);
    problem(&viban.get(&format!("/api/boards/{id}")), 404, Some("id"));
    assert_eq!(viban.get("/api/boards").json(), json!([]));
    problem(&viban.delete(&format!("/api/boards/{id}")), 404, Some("id"));
}

#[test]
fn tasks_are_numbered_per_board_and_land_in_the_todo_column() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let first = new_task(&viban, &board, "one");
    let second = new_task(&viban, &board, "two");
    assert_eq!((first["number"].as_i64(), second["number"].as_i64()), (Some(1), Some(2)));
    assert_eq!(first["column_id"], column(&board, "todo").as_str());
    assert_eq!(first["agent_status"], "idle");
    assert_eq!(titles_in(&viban, &board, &column(&board, "todo")), ["one", "two"]);
}

#[test]
fn moving_between_neighbours_keeps_the_order_the_user_asked_for() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let todo = column(&board, "todo");
    let [a, b, c] = ["a", "b", "c"].map(|title| new_task(&viban, &board, title));
    let id = |task: &Value| task["id"].as_str().unwrap().to_string();
    let move_task =
        |task: &Value, body: Value| viban.send_json("POST", &format!("/api/tasks/{}/move", id(task)), &body);

    // c between a and b; then a to the end; then b to the front.
    assert_eq!(move_task(&c, json!({ "after": id(&a), "before": id(&b) })).status, 200);
    assert_eq!(titles_in(&viban, &board, &todo), ["a", "c", "b"]);
    assert_eq!(move_task(&a, json!({})).status, 200);
    assert_eq!(titles_in(&viban, &board, &todo), ["c", "b", "a"]);
    assert_eq!(move_task(&b, json!({ "before": id(&c) })).status, 200);
    assert_eq!(titles_in(&viban, &board, &todo), ["b", "c", "a"]);

    // To another column, after nothing in particular: its end.
    let review = column(&board, "review");
    let moved = move_task(&c, json!({ "column_id": review }));
    assert_eq!(moved.json()["column_id"], review.as_str());
    assert_eq!(titles_in(&viban, &board, &todo), ["b", "a"]);
    assert_eq!(titles_in(&viban, &board, &review), ["c"]);
}

#[test]
fn a_task_cannot_move_to_another_boards_column_or_next_to_a_stranger() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let other = new_board(&viban);
    let task = new_task(&viban, &board, "stays home");
    let elsewhere = new_task(&viban, &other, "other board");
    let path = format!("/api/tasks/{}/move", task["id"].as_str().unwrap());

    problem(
        &viban.send_json("POST", &path, &json!({ "column_id": column(&other, "todo") })),
        422,
        Some("column_id"),
    );
    let unknown = "00000000-0000-0000-0000-000000000001";
    problem(&viban.send_json("POST", &path, &json!({ "column_id": unknown })), 422, Some("column_id"));
    problem(&viban.send_json("POST", &path, &json!({ "after": elsewhere["id"] })), 422, Some("after"));
    problem(&viban.send_json("POST", &path, &json!({ "before": task["id"] })), 422, Some("before"));
    let [x, y] = ["x", "y"].map(|title| new_task(&viban, &board, title));
    problem(
        &viban.send_json("POST", &path, &json!({ "after": y["id"], "before": x["id"] })),
        422,
        Some("before"),
    );
    // Nothing moved.
    assert_eq!(titles_in(&viban, &board, &column(&board, "todo")), ["stays home", "x", "y"]);
}

#[test]
fn bad_task_input_gets_a_422_naming_the_field() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let path = format!("/api/boards/{}/tasks", board["board"]["id"].as_str().unwrap());
    problem(&viban.send_json("POST", &path, &json!({ "title": 5 })), 422, Some("title"));
    problem(&viban.send_json("POST", &path, &json!({ "title": "   " })), 422, Some("title"));
    problem(&viban.send_json("POST", &path, &json!({ "title": "x".repeat(501) })), 422, Some("title"));
    problem(&viban.send_json("POST", &path, &json!({ "title": "ok", "colour": "red" })), 422, Some("colour"));
    problem(
        &viban.send_json("POST", &path, &json!({ "title": "ok", "auto_start": "yes" })),
        422,
        Some("auto_start"),
    );
    problem(
        &viban.send_json("POST", &path, &json!({ "title": "ok", "column_id": "not-a-uuid" })),
        422,
        Some("column_id"),
    );
    problem(&viban.send_json("POST", &path, &json!({ "description": "no title" })), 422, None);
    problem(&viban.send_json("POST", &path, &json!([1, 2])), 422, None);

    let auth = format!("Bearer {}", viban.token());
    let malformed =
        viban.request("POST", &path, &[("Authorization", &auth), ("Content-Type", "application/json")], b"{");
    problem(&malformed, 400, None);
    let not_json =
        viban.request("POST", &path, &[("Authorization", &auth), ("Content-Type", "text/plain")], b"hi");
    problem(&not_json, 415, None);
}

#[test]
fn unknown_ids_are_404s_naming_the_id() {
    let (_home, viban) = started();
    let unknown = "00000000-0000-0000-0000-000000000001";
    problem(&viban.get(&format!("/api/tasks/{unknown}")), 404, Some("id"));
    problem(&viban.get("/api/tasks/not-an-id"), 404, Some("id"));
    problem(&viban.get(&format!("/api/boards/{unknown}")), 404, Some("id"));
    problem(
        &viban.send_json("POST", &format!("/api/boards/{unknown}/tasks"), &json!({ "title": "t" })),
        404,
        Some("id"),
    );
    problem(
        &viban.send_json("PATCH", &format!("/api/tasks/{unknown}"), &json!({ "title": "t" })),
        404,
        Some("id"),
    );
    problem(&viban.send_json("POST", &format!("/api/tasks/{unknown}/move"), &json!({})), 404, Some("id"));
    problem(&viban.delete(&format!("/api/tasks/{unknown}")), 404, Some("id"));
}

#[test]
fn tasks_are_edited_duplicated_filtered_and_deleted() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    let task = new_task(&viban, &board, "Write the parser");
    let id = task["id"].as_str().unwrap();
    let edited = viban.send_json(
        "PATCH",
        &format!("/api/tasks/{id}"),
        &json!({ "description": "Handles split JSON lines", "agent": "codex", "auto_start": true }),
    );
    assert_eq!(edited.status, 200, "{}", edited.text());
    let edited = edited.json();
    assert_eq!(
        (edited["title"].as_str(), edited["agent"].as_str()),
        (Some("Write the parser"), Some("codex"))
    );
    let cleared = viban.send_json("PATCH", &format!("/api/tasks/{id}"), &json!({ "agent": null })).json();
    assert_eq!(cleared["agent"], Value::Null);
    assert_eq!(cleared["auto_start"], true, "absent fields are left alone");

    let copy = created(viban.send_json("POST", &format!("/api/tasks/{id}/duplicate"), &json!({})));
    assert_eq!(copy["title"], "Write the parser (copy)");
    assert_eq!(copy["number"], 2);
    new_task(&viban, &board, "Unrelated");
    assert_eq!(
        titles_in(&viban, &board, &column(&board, "todo")),
        ["Write the parser", "Write the parser (copy)", "Unrelated"]
    );

    let found = viban.get(&format!("/api/boards/{board_id}/tasks?q=split%20json")).json();
    assert_eq!(found.as_array().unwrap().len(), 2, "{found}");
    let none = viban.get(&format!("/api/boards/{board_id}/tasks?q=100%25")).json();
    assert_eq!(none, json!([]), "% is matched literally");

    assert_eq!(viban.delete(&format!("/api/tasks/{id}")).status, 204);
    problem(&viban.get(&format!("/api/tasks/{id}")), 404, Some("id"));
}

fn column_names(viban: &Viban, board: &Value) -> Vec<String> {
    let view = viban.get(&format!("/api/boards/{}", board["board"]["id"].as_str().unwrap())).json();
    view["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn columns_are_added_renamed_and_reordered_and_keep_their_role() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    let review = column(&board, "review");
    let qa = created(viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/columns"),
        &json!({ "name": "QA", "color": "#AABBCC", "after": review }),
    ));
    assert_eq!((qa["role"].as_str(), qa["color"].as_str()), (Some("custom"), Some("#aabbcc")));
    assert_eq!(column_names(&viban, &board), ["Todo", "In Progress", "Review", "QA", "Done", "Cancelled"]);

    let renamed =
        viban.send_json("PATCH", &format!("/api/columns/{review}"), &json!({ "name": "Check" })).json();
    assert_eq!((renamed["name"].as_str(), renamed["role"].as_str()), (Some("Check"), Some("review")));

    let qa_id = qa["id"].as_str().unwrap();
    let todo = column(&board, "todo");
    let moved = viban.send_json("PATCH", &format!("/api/columns/{qa_id}"), &json!({ "before": todo }));
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(column_names(&viban, &board), ["QA", "Todo", "In Progress", "Check", "Done", "Cancelled"]);
    viban.send_json(
        "PATCH",
        &format!("/api/columns/{qa_id}"),
        &json!({ "move_to_end": true, "max_concurrent": 2 }),
    );
    assert_eq!(column_names(&viban, &board), ["Todo", "In Progress", "Check", "Done", "Cancelled", "QA"]);
}

#[test]
fn deleting_a_column_moves_its_tasks_in_order_to_the_first_column() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let (todo, review) = (column(&board, "todo"), column(&board, "review"));
    new_task(&viban, &board, "already in todo");
    for title in ["r1", "r2"] {
        let task = new_task(&viban, &board, title);
        viban.send_json(
            "POST",
            &format!("/api/tasks/{}/move", task["id"].as_str().unwrap()),
            &json!({ "column_id": review }),
        );
    }
    assert_eq!(viban.delete(&format!("/api/columns/{review}")).status, 204);
    assert_eq!(titles_in(&viban, &board, &todo), ["already in todo", "r1", "r2"]);
    assert_eq!(column_names(&viban, &board), ["Todo", "In Progress", "Done", "Cancelled"]);
}

#[test]
fn columns_change_while_cards_move_through_them_and_no_request_fails() {
    // A move holds the board's event stream while it locks its column; a column change
    // that locked its column first and the stream last (to publish) deadlocked with it,
    // and PostgreSQL failed one of the two: a 500.
    let (_home, viban) = started();
    let board = new_board(&viban);
    let columns: Vec<String> =
        board["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    let tasks: Vec<String> = (0..20)
        .map(|i| new_task(&viban, &board, &format!("card {i}"))["id"].as_str().unwrap().to_string())
        .collect();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let (viban, tasks, columns) = (&viban, &tasks, &columns);
        let movers = (0..3).map(|worker| {
            scope.spawn(move || {
                let mut failed = Vec::new();
                let mut turn = worker;
                while std::time::Instant::now() < until {
                    let path = format!("/api/tasks/{}/move", tasks[turn % tasks.len()]);
                    let moved = viban.send_json(
                        "POST",
                        &path,
                        &json!({ "column_id": columns[turn % columns.len()] }),
                    );
                    if moved.status != 200 {
                        failed.push(format!("move: {} {}", moved.status, moved.text()));
                    }
                    turn += 3;
                }
                failed
            })
        });
        let editor = scope.spawn(move || {
            let mut failed = Vec::new();
            let mut turn = 0;
            while std::time::Instant::now() < until {
                let path = format!("/api/columns/{}", columns[turn % columns.len()]);
                let changed = viban.send_json("PATCH", &path, &json!({ "hooks_enabled": turn % 2 == 0 }));
                if changed.status != 200 {
                    failed.push(format!("column change: {} {}", changed.status, changed.text()));
                }
                turn += 1;
            }
            failed
        });
        let handles: Vec<_> = movers.chain([editor]).collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} requests failed; the first: {}", failures.len(), failures[0]);
}

#[test]
fn bad_column_input_is_refused_naming_the_field_and_the_last_column_stays() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    let path = format!("/api/boards/{board_id}/columns");
    problem(&viban.send_json("POST", &path, &json!({ "name": "x", "color": "red" })), 422, Some("color"));
    problem(&viban.send_json("POST", &path, &json!({ "name": "x", "role": "boss" })), 422, Some("role"));
    problem(&viban.send_json("POST", &path, &json!({ "name": "" })), 422, Some("name"));
    let other = new_board(&viban);
    problem(
        &viban.send_json("POST", &path, &json!({ "name": "x", "after": column(&other, "todo") })),
        422,
        Some("after"),
    );
    let todo = column(&board, "todo");
    problem(
        &viban.send_json("PATCH", &format!("/api/columns/{todo}"), &json!({ "max_concurrent": 0 })),
        422,
        Some("max_concurrent"),
    );

    let columns: Vec<String> =
        board["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    for id in &columns[1..] {
        assert_eq!(viban.delete(&format!("/api/columns/{id}")).status, 204);
    }
    problem(&viban.delete(&format!("/api/columns/{}", columns[0])), 409, None);
}

/// A real git repository on branch `trunk` with one commit and a `feature` branch.
fn git_repository(dir: &std::path::Path) {
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=viban", "-c", "user.email=viban@example.invalid"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    std::fs::create_dir_all(dir.join("src")).unwrap();
    git(&["init", "--quiet", "-b", "trunk"]);
    std::fs::write(dir.join("README.md"), "hello\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "first"]);
    git(&["branch", "feature"]);
}

#[test]
fn linking_a_local_repository_records_its_top_folder_default_branch_and_branches() {
    let (_home, viban) = started();
    let repo = tempfile::tempdir().unwrap();
    git_repository(repo.path());
    let inside = repo.path().join("src");
    let linked = created(viban.send_json("POST", "/api/repositories", &json!({ "path": inside })));
    assert_eq!(linked["path"], repo.path().canonicalize().unwrap().to_string_lossy().as_ref());
    assert_eq!(
        (linked["default_branch"].as_str(), linked["managed"].as_bool()),
        (Some("trunk"), Some(false))
    );
    assert_eq!(linked["branches"], json!(["feature", "trunk"]));

    // Linking again is idempotent; the board can then point at it.
    let again = created(viban.send_json("POST", "/api/repositories", &json!({ "path": repo.path() })));
    assert_eq!(again["id"], linked["id"]);
    let board = new_board(&viban);
    let path = format!("/api/boards/{}", board["board"]["id"].as_str().unwrap());
    let updated = viban.send_json("PATCH", &path, &json!({ "repository_id": linked["id"] }));
    assert_eq!(updated.json()["repository_id"], linked["id"], "{}", updated.text());
    let unknown = json!({ "repository_id": "00000000-0000-0000-0000-000000000001" });
    problem(&viban.send_json("PATCH", &path, &unknown), 422, Some("repository_id"));
    assert_eq!(
        viban.get(&format!("/api/repositories/{}", linked["id"].as_str().unwrap())).json()["branches"],
        json!(["feature", "trunk"])
    );
}

#[test]
fn a_missing_path_or_a_plain_folder_is_not_a_repository() {
    let (_home, viban) = started();
    let plain = tempfile::tempdir().unwrap();
    problem(
        &viban.send_json("POST", "/api/repositories", &json!({ "path": "/no/such/folder" })),
        422,
        Some("path"),
    );
    problem(
        &viban.send_json("POST", "/api/repositories", &json!({ "path": plain.path() })),
        422,
        Some("path"),
    );
    problem(&viban.send_json("POST", "/api/repositories", &json!({})), 422, None);
    // Relative to viban's own working folder would surprise everyone.
    let relative = viban.send_json("POST", "/api/repositories", &json!({ "path": "." }));
    problem(&relative, 422, Some("path"));
    assert!(relative.json()["detail"].as_str().unwrap().contains("absolute"));
    problem(
        &viban.send_json("POST", "/api/repositories", &json!({ "path": "/", "clone_url": "x" })),
        422,
        None,
    );
    assert_eq!(viban.get("/api/repositories").json(), json!([]));
}

#[test]
fn a_clone_url_becomes_a_managed_clone_under_repos() {
    let (home, viban) = started();
    let source = tempfile::tempdir().unwrap();
    git_repository(source.path());
    let bare = tempfile::tempdir().unwrap();
    let bare_repo = bare.path().join("project.git");
    let cloned = std::process::Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(source.path())
        .arg(&bare_repo)
        .status()
        .unwrap();
    assert!(cloned.success());

    let url = bare_repo.to_string_lossy().to_string();
    let repository = created(viban.send_json("POST", "/api/repositories", &json!({ "clone_url": url })));
    assert_eq!(
        (repository["managed"].as_bool(), repository["clone_url"].as_str()),
        (Some(true), Some(url.as_str()))
    );
    let path = std::path::PathBuf::from(repository["path"].as_str().unwrap());
    assert!(path.starts_with(home.path().join("repos")), "{path:?}");
    assert!(path.file_name().unwrap().to_string_lossy().starts_with("project-"));
    assert!(path.join("README.md").is_file());
    assert_eq!(repository["default_branch"], "trunk");

    let failed = viban.send_json("POST", "/api/repositories", &json!({ "clone_url": "/no/such/repo.git" }));
    problem(&failed, 422, Some("clone_url"));
    assert_eq!(
        std::fs::read_dir(home.path().join("repos")).unwrap().count(),
        1,
        "a failed clone leaves nothing"
    );
}

#[test]
fn the_filesystem_browser_lists_folders_and_flags_git_repositories() {
    let (_home, viban) = started();
    let root = tempfile::tempdir().unwrap();
    git_repository(&root.path().join("project"));
    std::fs::create_dir(root.path().join("notes")).unwrap();
    std::fs::create_dir(root.path().join(".hidden")).unwrap();
    std::fs::write(root.path().join("file.txt"), "not a folder").unwrap();

    let listing = viban.get(&format!("/api/fs?path={}", root.path().display())).json();
    assert_eq!(listing["path"], root.path().canonicalize().unwrap().to_string_lossy().as_ref());
    let entries: Vec<(&str, bool, bool)> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["git_repository"].as_bool().unwrap(),
                e["hidden"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(entries, [(".hidden", false, true), ("notes", false, false), ("project", true, false)]);

    problem(&viban.get("/api/fs?path=/no/such/folder"), 404, Some("path"));
    problem(
        &viban.get(&format!("/api/fs?path={}", root.path().join("file.txt").display())),
        422,
        Some("path"),
    );
    assert_eq!(viban.get("/api/fs").status, 200, "starts at the home folder");
}

#[test]
fn templates_are_added_edited_and_deleted() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    let added = created(viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/templates"),
        &json!({ "name": "Spike", "title": "Spike: ", "description": "## Question" }),
    ));
    let id = added["id"].as_str().unwrap();
    let edited =
        viban.send_json("PATCH", &format!("/api/templates/{id}"), &json!({ "name": "Timeboxed spike" }));
    assert_eq!(
        (edited.json()["name"].as_str(), edited.json()["title"].as_str()),
        (Some("Timeboxed spike"), Some("Spike: "))
    );
    let names = |viban: &Viban| -> Vec<String> {
        let view = viban.get(&format!("/api/boards/{board_id}")).json();
        view["templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&viban), ["Feature", "Bugfix", "Refactor", "Research", "Timeboxed spike"]);
    assert_eq!(viban.delete(&format!("/api/templates/{id}")).status, 204);
    assert_eq!(names(&viban), ["Feature", "Bugfix", "Refactor", "Research"]);
    problem(&viban.delete(&format!("/api/templates/{id}")), 404, Some("id"));
    problem(
        &viban.send_json(
            "POST",
            &format!("/api/boards/{board_id}/templates"),
            &json!({ "title": "no name" }),
        ),
        422,
        Some("name"),
    );
}

#[test]
fn task_activity_is_read_in_pages_oldest_first() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let task = new_task(&viban, &board, "chatty");
    let id = task["id"].as_str().unwrap();
    // The agent runner and the hook engine write activity; here, the database does.
    viban.sql().execute(&format!(
        "INSERT INTO task_activity (task_id, kind, data)
         SELECT '{id}', 'assistant_text', jsonb_build_object('text', 'line ' || n) FROM generate_series(1, 5) n"
    ));
    let first = viban.get(&format!("/api/tasks/{id}/activity?limit=2")).json();
    let texts = |page: &Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["data"]["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(texts(&first), ["line 1", "line 2"]);
    let after = first["next_after"].as_i64().unwrap();
    let second = viban.get(&format!("/api/tasks/{id}/activity?limit=2&after={after}")).json();
    assert_eq!(texts(&second), ["line 3", "line 4"]);
    let last = viban.get(&format!("/api/tasks/{id}/activity?limit=2&after={}", second["next_after"])).json();
    assert_eq!(texts(&last), ["line 5"]);
    assert_eq!(last["next_after"], Value::Null);

    problem(&viban.get(&format!("/api/tasks/{id}/activity?limit=0")), 422, Some("limit"));
    problem(&viban.get(&format!("/api/tasks/{id}/activity?after=soon")), 422, Some("after"));
    problem(&viban.get("/api/tasks/00000000-0000-0000-0000-000000000001/activity"), 404, Some("id"));

    // Deleting the task deletes its activity (a trigger, since the table has no foreign keys).
    let other = new_task(&viban, &board, "stays");
    let other_id = other["id"].as_str().unwrap();
    viban.sql().execute(&format!(
        "INSERT INTO task_activity (task_id, kind, data) VALUES ('{other_id}', 'system', '{{}}')"
    ));
    assert_eq!(viban.send_json("DELETE", &format!("/api/tasks/{id}"), &json!({})).status, 204);
    let count = |task: &str| {
        viban.sql().text(&format!("SELECT count(*) FROM task_activity WHERE task_id = '{task}'"))
    };
    assert_eq!(count(id), "0");
    assert_eq!(count(other_id), "1");
}

#[test]
fn task_activity_is_read_backwards_from_the_newest_page() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let task = new_task(&viban, &board, "chatty");
    let id = task["id"].as_str().unwrap();
    viban.sql().execute(&format!(
        "INSERT INTO task_activity (task_id, kind, data)
         SELECT '{id}', 'assistant_text', jsonb_build_object('text', 'line ' || n) FROM generate_series(1, 5) n"
    ));
    let texts = |page: &Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["data"]["text"].as_str().unwrap().to_string())
            .collect()
    };
    // The live view starts from the newest page, then reads older ones above it.
    let newest = viban.get(&format!("/api/tasks/{id}/activity?limit=2&before=9007199254740991")).json();
    assert_eq!(texts(&newest), ["line 4", "line 5"]);
    assert_eq!(newest["next_after"], Value::Null);
    let above =
        viban.get(&format!("/api/tasks/{id}/activity?limit=2&before={}", newest["next_before"])).json();
    assert_eq!(texts(&above), ["line 2", "line 3"]);
    let first =
        viban.get(&format!("/api/tasks/{id}/activity?limit=2&before={}", above["next_before"])).json();
    assert_eq!(texts(&first), ["line 1"]);
    assert_eq!(first["next_before"], Value::Null);

    problem(&viban.get(&format!("/api/tasks/{id}/activity?after=1&before=3")), 422, Some("before"));
    problem(&viban.get(&format!("/api/tasks/{id}/activity?before=3&limit=501")), 422, Some("limit"));
}

#[test]
fn script_hooks_are_defined_attached_reordered_and_detached() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    let builtins = viban.get("/api/hooks/builtin").json();
    let ids: Vec<&str> = builtins.as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"builtin:run-agent") && ids.contains(&"builtin:create-pr"), "{ids:?}");

    let hook = created(viban.send_json(
        "POST",
        &format!("/api/boards/{board_id}/hooks"),
        &json!({ "name": "Tests", "kind": "script", "command": "cargo test", "timeout_seconds": 900 }),
    ));
    assert_eq!(viban.get(&format!("/api/boards/{board_id}/hooks")).json()[0]["name"], "Tests");

    let review = column(&board, "review");
    let attached = created(viban.send_json(
        "POST",
        &format!("/api/columns/{review}/hooks"),
        &json!({ "hook_id": hook["id"] }),
    ));
    let pull_request = created(viban.send_json(
        "POST",
        &format!("/api/columns/{review}/hooks"),
        &json!({ "builtin": "builtin:create-pr", "settings": { "draft": true }, "before": attached["id"] }),
    ));
    let order = |viban: &Viban| -> Vec<String> {
        let view = viban.get(&format!("/api/boards/{board_id}")).json();
        view["column_hooks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["column_id"] == review.as_str())
            .map(|h| h["builtin"].as_str().map_or_else(|| "Tests".to_string(), str::to_string))
            .collect()
    };
    assert_eq!(order(&viban), ["builtin:play-sound", "builtin:create-pr", "Tests"]);
    let moved = viban.send_json(
        "PATCH",
        &format!("/api/column-hooks/{}", attached["id"].as_str().unwrap()),
        &json!({ "after": pull_request["id"], "transparent": true }),
    );
    assert_eq!(moved.json()["transparent"], true, "{}", moved.text());
    assert_eq!(
        viban.delete(&format!("/api/column-hooks/{}", pull_request["id"].as_str().unwrap())).status,
        204
    );
    assert_eq!(order(&viban), ["builtin:play-sound", "Tests"]);

    // Deleting the hook detaches it everywhere.
    assert_eq!(viban.delete(&format!("/api/hooks/{}", hook["id"].as_str().unwrap())).status, 204);
    assert_eq!(order(&viban), ["builtin:play-sound"]);
}

#[test]
fn bad_hook_input_is_refused_and_workflow_hooks_cannot_be_removed() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    let path = format!("/api/boards/{board_id}/hooks");
    problem(&viban.send_json("POST", &path, &json!({ "name": "x", "kind": "script" })), 422, Some("command"));
    problem(
        &viban.send_json("POST", &path, &json!({ "name": "x", "kind": "agent", "command": "ls" })),
        422,
        Some("prompt"),
    );
    problem(
        &viban.send_json("POST", &path, &json!({ "name": "x", "kind": "shell", "command": "ls" })),
        422,
        Some("kind"),
    );
    problem(
        &viban.send_json(
            "POST",
            &path,
            &json!({ "name": "x", "kind": "script", "command": "ls", "timeout_seconds": 0 }),
        ),
        422,
        Some("timeout_seconds"),
    );

    let todo = column(&board, "todo");
    let attach = format!("/api/columns/{todo}/hooks");
    problem(
        &viban.send_json("POST", &attach, &json!({ "builtin": "builtin:launch-rockets" })),
        422,
        Some("builtin"),
    );
    problem(
        &viban.send_json("POST", &attach, &json!({ "builtin": "builtin:play-sound", "settings": [1] })),
        422,
        Some("settings"),
    );
    let other = new_board(&viban);
    let foreign = created(viban.send_json(
        "POST",
        &format!("/api/boards/{}/hooks", other["board"]["id"].as_str().unwrap()),
        &json!({ "name": "theirs", "kind": "script", "command": "true" }),
    ));
    problem(&viban.send_json("POST", &attach, &json!({ "hook_id": foreign["id"] })), 422, Some("hook_id"));

    let auto_start = board["column_hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["builtin"] == "builtin:auto-start")
        .unwrap();
    problem(&viban.delete(&format!("/api/column-hooks/{}", auto_start["id"].as_str().unwrap())), 409, None);
}

#[test]
fn a_board_view_is_revalidated_by_its_etag_and_never_served_stale() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let path = format!("/api/boards/{}", board["board"]["id"].as_str().unwrap());
    let auth = format!("Bearer {}", viban.token());
    let first = viban.request("GET", &path, &[("Authorization", &auth)], b"");
    let etag = first.header("etag").expect("an ETag").to_string();
    let unchanged = viban.request("GET", &path, &[("Authorization", &auth), ("If-None-Match", &etag)], b"");
    assert_eq!(unchanged.status, 304);

    new_task(&viban, &board, "changes the board");
    let changed = viban.request("GET", &path, &[("Authorization", &auth), ("If-None-Match", &etag)], b"");
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert_eq!(changed.json()["tasks"][0]["title"], "changes the board");
    let gzipped = viban.request("GET", &path, &[("Authorization", &auth), ("Accept-Encoding", "gzip")], b"");
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
}

#[test]
fn the_openapi_document_describes_every_route_and_needs_the_token() {
    let (_home, viban) = started();
    assert_eq!(viban.request("GET", "/api/openapi.json", &[], b"").status, 401);
    let response = viban.get("/api/openapi.json");
    assert_eq!(response.status, 200, "{}", response.text());
    let document = response.json();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let create = &document["paths"]["/api/boards/{id}/tasks"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateTask"
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Task"
    );
    assert!(create["responses"]["4XX"]["content"]["application/problem+json"].is_object());
    assert_eq!(document["paths"]["/api/health"]["get"]["security"], json!([]));
    let list = &document["paths"]["/api/boards/{id}/tasks"]["get"]["parameters"];
    let mut names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["column_id", "id", "q"]);
    let role = &document["components"]["schemas"]["ColumnRole"]["enum"];
    assert_eq!(role, &json!(["todo", "in_progress", "review", "done", "cancelled", "custom"]));
}

#[test]
fn nul_characters_and_malformed_query_parameters_are_422s_naming_the_field() {
    let (_home, viban) = started();
    let board = new_board(&viban);
    let board_id = board["board"]["id"].as_str().unwrap();
    // PostgreSQL cannot store NUL in text or jsonb: refused up front, never a 500.
    let tasks = format!("/api/boards/{board_id}/tasks");
    problem(&viban.send_json("POST", &tasks, &json!({ "title": "a\u{0}b" })), 422, Some("title"));
    let patch = format!("/api/boards/{board_id}");
    let nested = json!({ "settings": { "sounds": ["ok", "b\u{0}"] } });
    problem(&viban.send_json("PATCH", &patch, &nested), 422, Some("settings.sounds[1]"));
    // Numbers PostgreSQL would keep as exact decimals that do not read back as JSON.
    let huge = json!({ "settings": { "limits": [1, 1.7976931348623155e308] } });
    problem(&viban.send_json("PATCH", &patch, &huge), 422, Some("settings.limits[1]"));
    assert_eq!(viban.get(&patch).status, 200);
    // An escaped backslash before `u0000` is just text.
    let literal = viban.send_json("POST", &tasks, &json!({ "title": "C:\\u0000" }));
    assert_eq!(created(literal)["title"], "C:\\u0000");

    problem(&viban.get(&format!("{tasks}?q=a%00b")), 422, Some("q"));
    problem(&viban.get(&format!("{tasks}?column_id=nope")), 422, Some("column_id"));
    problem(&viban.get(&format!("{tasks}?colour=red")), 422, Some("colour"));
    let task = new_task(&viban, &board, "paged");
    let activity = format!("/api/tasks/{}/activity", task["id"].as_str().unwrap());
    problem(&viban.get(&format!("{activity}?limit=many")), 422, Some("limit"));
    problem(&viban.get(&format!("{activity}?limit=0")), 422, Some("limit"));
}
