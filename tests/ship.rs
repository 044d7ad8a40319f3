//! Pull requests (V5, H5) against the real binary, real PostgreSQL and real git with a
//! local bare repository as `origin` (real pushes). GitHub cannot be reached here, so
//! `gh` is `tests/fixtures/gh-bin/gh`: first on viban's PATH, it checks its arguments
//! strictly, logs every call, answers in gh's own shapes, and keeps the pull request's
//! state in a folder the test flips (open → merged).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Viban, board_on, eventually, fixtures, git, repository, temp_home};
use serde_json::{Value, json};

const PR_URL: &str = "https://github.com/acme/widgets/pull/7";

struct Ship {
    _home: tempfile::TempDir,
    /// The repository, its bare `origin`, and the fake gh's state (`gh/`).
    dirs: tempfile::TempDir,
    repo: PathBuf,
    origin: PathBuf,
    viban: Viban,
    board: Value,
}

/// Which `gh` viban finds.
enum Gh {
    Fake,
    /// The fake, without credentials.
    LoggedOut,
    Missing,
}

impl Ship {
    fn new(gh: Gh, settings: Value, extra_env: &[(&str, &str)]) -> Self {
        let dirs = tempfile::tempdir().unwrap();
        let (seed, origin, repo) =
            (dirs.path().join("seed"), dirs.path().join("origin.git"), dirs.path().join("repo"));
        std::fs::create_dir(&seed).unwrap();
        repository(&seed);
        git(dirs.path(), &["clone", "--quiet", "--bare", seed.to_str().unwrap(), origin.to_str().unwrap()]);
        git(dirs.path(), &["clone", "--quiet", origin.to_str().unwrap(), repo.to_str().unwrap()]);
        git(&repo, &["config", "user.email", "test@example.com"]);
        git(&repo, &["config", "user.name", "Test"]);
        let gh_dir = dirs.path().join("gh");
        std::fs::create_dir(&gh_dir).unwrap();
        if matches!(gh, Gh::LoggedOut) {
            std::fs::write(gh_dir.join("auth"), "none").unwrap();
        }
        let mut path = vec![fixtures().join("bin")];
        if !matches!(gh, Gh::Missing) {
            path.insert(0, fixtures().join("gh-bin"));
        }
        let path = std::env::join_paths(
            path.into_iter().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .unwrap();
        let transcript = fixtures().join("transcripts/claude-ship.jsonl");
        let agent_log = dirs.path().join("agent.log");
        let mut env = vec![
            ("PATH".to_string(), path.to_string_lossy().into_owned()),
            ("FAKE_TRANSCRIPT".to_string(), transcript.display().to_string()),
            ("FAKE_AGENT_LOG".to_string(), agent_log.display().to_string()),
            ("FAKE_GH_DIR".to_string(), gh_dir.display().to_string()),
        ];
        env.extend(extra_env.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        let env: Vec<(&str, &str)> =
            env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let home = temp_home();
        let viban = Viban::spawn(home.path(), &[], &env);
        viban.wait_healthy(common::START_TIMEOUT);
        let board_id = board_on(&viban, &repo, settings);
        let board = viban.get(&format!("/api/boards/{board_id}")).json();
        Self { _home: home, dirs, repo, origin, viban, board }
    }

    fn gh_dir(&self) -> PathBuf {
        self.dirs.path().join("gh")
    }

    /// The fake gh's calls, each as its working directory and arguments.
    fn gh_calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.gh_dir().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| line.split('\t').map(String::from).collect())
            .collect()
    }

    fn creates(&self) -> Vec<Vec<String>> {
        self.gh_calls()
            .into_iter()
            .filter(|call| call.len() > 2 && call[1] == "pr" && call[2] == "create")
            .collect()
    }

    fn column(&self, role: &str) -> String {
        let columns = self.board["columns"].as_array().unwrap();
        columns.iter().find(|c| c["role"] == role).unwrap()["id"].as_str().unwrap().to_string()
    }

    /// A task the fake agent has run once (so it has a worktree and a last result),
    /// settled in Review, with one commit of its own. Returns its id and worktree.
    fn worked_task(&self, title: &str, commit: bool) -> (String, PathBuf) {
        let path = format!("/api/boards/{}/tasks", self.board["board"]["id"].as_str().unwrap());
        let body = json!({ "title": title, "description": "Greet people.", "auto_start": true });
        let created = self.viban.send_json("POST", &path, &body);
        assert_eq!(created.status, 201, "{}", created.text());
        let task = created.json()["id"].as_str().unwrap().to_string();
        self.settles_in(&task, "review");
        let worktree = PathBuf::from(self.state(&task)["worktree_path"].as_str().unwrap());
        if commit {
            std::fs::write(worktree.join("greet.txt"), "hi\n").unwrap();
            git(&worktree, &["add", "."]);
            git(&worktree, &["commit", "--quiet", "-m", "Greet"]);
        }
        (task, worktree)
    }

    fn state(&self, task: &str) -> Value {
        self.viban.get(&format!("/api/tasks/{task}")).json()
    }

    fn settles_in(&self, task: &str, role: &str) {
        self.viban.settles_in(task, &self.column(role));
    }

    fn create_pr(&self, task: &str, body: Value) -> common::Response {
        self.viban.send_json("POST", &format!("/api/tasks/{task}/pull-request"), &body)
    }

    /// The commit `origin` has for `branch`, if it has the branch.
    fn on_origin(&self, branch: &str) -> Option<String> {
        let output = std::process::Command::new("git")
            .current_dir(&self.origin)
            .args(["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")])
            .output()
            .unwrap();
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    }
}

fn args(call: &[String]) -> Vec<&str> {
    call[1..].iter().map(String::as_str).collect()
}

#[test]
fn a_pull_request_pushes_the_branch_stores_its_url_and_a_sync_to_merged_moves_the_card_to_done() {
    let ship = Ship::new(Gh::Fake, json!({}), &[("VIBAN_PR_SYNC_SECONDS", "1")]);
    let (task, worktree) = ship.worked_task("Say hello", true);
    let branch = ship.state(&task)["branch"].as_str().unwrap().to_string();
    assert_eq!(ship.on_origin(&branch), None, "nothing pushed yet");

    let created = ship.create_pr(&task, json!({}));
    assert_eq!(created.status, 200, "{}", created.text());
    let created = created.json();
    assert_eq!((created["created"].as_bool(), created["status"].as_str()), (Some(true), Some("open")));
    assert_eq!((created["url"].as_str(), created["number"].as_i64()), (Some(PR_URL), Some(7)));
    assert_eq!(created["branch"], branch.as_str());

    // The branch is on origin at the worktree's commit, and tracks it.
    assert_eq!(ship.on_origin(&branch), Some(git(&worktree, &["rev-parse", "HEAD"])));
    assert_eq!(git(&worktree, &["rev-parse", "--abbrev-ref", "@{upstream}"]), format!("origin/{branch}"));
    // gh was asked, in the worktree, with the title and the body from the task and its
    // last run, and no --draft (the board's pr_draft is false by default).
    let creates = ship.creates();
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(Path::new(&creates[0][0]).canonicalize().unwrap(), worktree.canonicalize().unwrap());
    assert_eq!(
        args(&creates[0]),
        [
            "pr",
            "create",
            "--head",
            branch.as_str(),
            "--base",
            "main",
            "--title",
            "Say hello (#1)",
            "--body",
            "Greet people.\\n\\n## What the agent did\\n\\nAdded `greet()`; the tests pass."
        ]
    );
    let state = ship.state(&task);
    assert_eq!((state["pr_url"].as_str(), state["pr_number"].as_i64()), (Some(PR_URL), Some(7)));
    assert_eq!(state["pr_status"], "open");
    assert_eq!((state["branch_ahead"].as_i64(), state["branch_behind"].as_i64()), (Some(1), Some(0)));

    // Asking again returns the open one and opens nothing.
    let again = ship.create_pr(&task, json!({}));
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        (again.json()["created"].as_bool(), again.json()["url"].as_str()),
        (Some(false), Some(PR_URL))
    );
    assert_eq!(ship.creates().len(), 1);

    // A sync on demand reads the review decision and the checks.
    std::fs::write(ship.gh_dir().join("review"), "CHANGES_REQUESTED").unwrap();
    std::fs::write(
        ship.gh_dir().join("checks"),
        r#"[{"__typename":"CheckRun","name":"build","status":"COMPLETED","conclusion":"SUCCESS"},
            {"__typename":"CheckRun","name":"test","status":"COMPLETED","conclusion":"FAILURE"},
            {"__typename":"StatusContext","context":"ci/slow","state":"PENDING"}]"#,
    )
    .unwrap();
    let synced = ship.viban.send_json("POST", &format!("/api/tasks/{task}/pull-request/sync"), &json!({}));
    assert_eq!(synced.status, 200, "{}", synced.text());
    let synced = synced.json();
    assert_eq!((synced["status"].as_str(), synced["moved_to_done"].as_bool()), (Some("open"), Some(false)));
    assert_eq!(synced["task"]["pr_review_decision"], "changes_requested");
    assert_eq!(synced["task"]["pr_checks"], json!({ "passed": 1, "failed": 1, "pending": 1 }));
    assert!(synced["task"]["pr_synced_at"].is_string());

    // Merged on GitHub: the loop (every second here) finds it and the card goes to done.
    std::fs::write(ship.gh_dir().join("state"), "merged\n").unwrap();
    let done = ship.column("done");
    let moved = eventually(Duration::from_secs(30), || {
        let state = ship.state(&task);
        state["pr_status"] == "merged" && state["column_id"] == done.as_str()
    });
    assert!(moved, "{}\n{}", ship.state(&task), ship.viban.output());
    let views = ship.gh_calls().into_iter().filter(|call| call.get(2).is_some_and(|a| a == "view")).count();
    assert!(views >= 2, "the loop asked gh: {views} views");
}

#[test]
fn the_create_pr_hook_in_a_column_pushes_and_opens_a_draft_as_its_setting_says() {
    let ship = Ship::new(Gh::Fake, json!({ "pr_draft": false }), &[]);
    let done = ship.column("done");
    let attached = ship.viban.send_json(
        "POST",
        &format!("/api/columns/{done}/hooks"),
        &json!({ "builtin": "builtin:create-pr", "settings": { "draft": true } }),
    );
    assert_eq!(attached.status, 201, "{}", attached.text());
    let (task, _worktree) = ship.worked_task("Hooked", true);
    let moved =
        ship.viban.send_json("POST", &format!("/api/tasks/{task}/move"), &json!({ "column_id": done }));
    assert_eq!(moved.status, 200, "{}", moved.text());
    ship.settles_in(&task, "done");

    let executions = ship.viban.get(&format!("/api/tasks/{task}/hook-executions")).json();
    let hook = executions
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["hook_name"] == "Create pull request")
        .unwrap_or_else(|| panic!("no create-pr execution: {executions:#}"));
    assert_eq!(hook["status"], "completed", "{hook:#}");
    assert!(hook["output"].as_str().unwrap().contains(PR_URL), "{hook:#}");
    let creates = ship.creates();
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(
        creates[0].last().map(String::as_str),
        Some("--draft"),
        "the hook's draft overrides the board's"
    );
    let state = ship.state(&task);
    assert_eq!((state["pr_status"].as_str(), state["pr_url"].as_str()), (Some("draft"), Some(PR_URL)));
    let branch = state["branch"].as_str().unwrap();
    assert!(ship.on_origin(branch).is_some());
}

#[test]
fn refusals_push_nothing_and_without_gh_the_error_says_to_install_it_and_that_the_branch_was_pushed() {
    let ship = Ship::new(Gh::Missing, json!({}), &[]);
    let (task, worktree) = ship.worked_task("Not yet", false);
    let branch = ship.state(&task)["branch"].as_str().unwrap().to_string();

    let nothing = ship.create_pr(&task, json!({}));
    assert_eq!(nothing.status, 409, "{}", nothing.text());
    assert_eq!(nothing.json()["title"], "Nothing to propose");

    std::fs::write(worktree.join("draft.txt"), "unsaved\n").unwrap();
    let dirty = ship.create_pr(&task, json!({}));
    assert_eq!(dirty.status, 409, "{}", dirty.text());
    assert_eq!(dirty.json()["title"], "Uncommitted changes");
    assert!(dirty.json()["detail"].as_str().unwrap().contains("draft.txt"), "{}", dirty.text());
    git(&worktree, &["add", "."]);
    git(&worktree, &["commit", "--quiet", "-m", "Draft"]);

    git(&ship.repo, &["remote", "rename", "origin", "upstream"]);
    let no_remote = ship.create_pr(&task, json!({}));
    assert_eq!(no_remote.status, 409, "{}", no_remote.text());
    assert_eq!(no_remote.json()["title"], "No remote");
    assert!(no_remote.json()["detail"].as_str().unwrap().contains("git remote add origin"));
    git(&ship.repo, &["remote", "rename", "upstream", "origin"]);
    assert_eq!(ship.on_origin(&branch), None, "no refusal pushed anything");

    let missing = ship.create_pr(&task, json!({}));
    assert_eq!(missing.status, 409, "{}", missing.text());
    let missing = missing.json();
    assert_eq!(missing["title"], "gh not installed");
    let detail = missing["detail"].as_str().unwrap();
    assert!(detail.contains("https://cli.github.com"), "{detail}");
    assert!(detail.contains(&format!("The branch {branch} was pushed to origin")), "{detail}");
    assert_eq!(ship.on_origin(&branch), Some(git(&worktree, &["rev-parse", "HEAD"])));
    assert!(ship.state(&task)["pr_url"].is_null());
}

#[test]
fn gh_without_credentials_says_to_run_gh_auth_login_and_the_board_draft_setting_was_asked_for() {
    let ship = Ship::new(Gh::LoggedOut, json!({ "pr_draft": true }), &[]);
    let (task, _worktree) = ship.worked_task("Logged out", true);
    let no_pr = ship.viban.send_json("POST", &format!("/api/tasks/{task}/pull-request/sync"), &json!({}));
    assert_eq!(no_pr.status, 409, "{}", no_pr.text());
    assert_eq!(no_pr.json()["title"], "No pull request");

    let refused = ship.create_pr(&task, json!({ "title": "Custom title", "body": "Custom body" }));
    assert_eq!(refused.status, 409, "{}", refused.text());
    let refused = refused.json();
    assert_eq!(refused["title"], "gh not logged in");
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("run `gh auth login`") && detail.contains("was pushed to origin"), "{detail}");
    let creates = ship.creates();
    assert_eq!(creates.len(), 1);
    let call = args(&creates[0]);
    assert_eq!(&call[6..], ["--title", "Custom title", "--body", "Custom body", "--draft"]);
    assert!(ship.state(&task)["pr_url"].is_null());
}

#[test]
fn the_branch_answer_counts_ahead_and_behind_and_shows_a_removed_worktree_and_branch() {
    let ship = Ship::new(Gh::Fake, json!({}), &[]);
    let (task, worktree) = ship.worked_task("Position", true);
    std::fs::write(ship.repo.join("base.txt"), "base\n").unwrap();
    git(&ship.repo, &["add", "."]);
    git(&ship.repo, &["commit", "--quiet", "-m", "Base moves on"]);

    let state = ship.viban.get(&format!("/api/tasks/{task}/branch"));
    assert_eq!(state.status, 200, "{}", state.text());
    let state = state.json();
    assert_eq!((state["ahead"].as_u64(), state["behind"].as_u64()), (Some(1), Some(1)), "{state}");
    assert_eq!(
        (state["branch_exists"].as_bool(), state["worktree_exists"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        (state["base_branch"].as_str(), state["base_ref"].as_str()),
        (Some("main"), Some("refs/heads/main"))
    );
    assert_eq!(state["on_origin"], false);
    let task_row = ship.state(&task);
    assert_eq!((task_row["branch_ahead"].as_i64(), task_row["branch_behind"].as_i64()), (Some(1), Some(1)));

    // Removed outside viban: shown as it is, and the card's counts are cleared.
    let branch = state["branch"].as_str().unwrap();
    git(&ship.repo, &["worktree", "remove", "--force", worktree.to_str().unwrap()]);
    git(&ship.repo, &["branch", "-D", branch]);
    let gone = ship.viban.get(&format!("/api/tasks/{task}/branch")).json();
    assert_eq!(
        (gone["branch_exists"].as_bool(), gone["worktree_exists"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(gone["ahead"].is_null() && gone["behind"].is_null(), "{gone}");
    assert!(ship.state(&task)["branch_ahead"].is_null());
}

#[test]
fn the_cards_ahead_and_behind_follow_the_agents_runs_without_opening_the_task() {
    let ship = Ship::new(Gh::Fake, json!({}), &[]);
    let (task, worktree) = ship.worked_task("Follow the branch", false);
    let position = |state: &Value| (state["branch_ahead"].as_i64(), state["branch_behind"].as_i64());
    assert_eq!(position(&ship.state(&task)), (Some(0), Some(0)), "counted when the run ended");

    // The agent's work gains a commit and the base moves on; the next run (a follow-up
    // message) ends with the card counting both.
    std::fs::write(worktree.join("greet.txt"), "hi\n").unwrap();
    git(&worktree, &["add", "."]);
    git(&worktree, &["commit", "--quiet", "-m", "Greet"]);
    std::fs::write(ship.repo.join("base.txt"), "base\n").unwrap();
    git(&ship.repo, &["add", "."]);
    git(&ship.repo, &["commit", "--quiet", "-m", "Base moves on"]);
    let sent =
        ship.viban.send_json("POST", &format!("/api/tasks/{task}/messages"), &json!({ "text": "Go on" }));
    assert!(sent.status < 300, "{}", sent.text());
    assert!(
        eventually(Duration::from_secs(60), || position(&ship.state(&task)) == (Some(1), Some(1))),
        "{}\n{}",
        ship.state(&task),
        ship.viban.output()
    );
}

#[test]
fn a_due_pull_request_is_claimed_by_one_sync_at_a_time_across_connections() {
    // The background round never comes due during the test: the claims below are ours.
    let ship = Ship::new(Gh::Fake, json!({}), &[("VIBAN_PR_SYNC_SECONDS", "3600")]);
    let (task, _worktree) = ship.worked_task("Claimed once", true);
    assert_eq!(ship.create_pr(&task, json!({})).status, 200);
    let (first, second) = (ship.viban.sql(), ship.viban.sql());
    first.execute(&format!("UPDATE tasks SET pr_synced_at = NULL WHERE id = '{task}'"));
    let claim = |database: &common::Database| {
        database.with_connection(async |connection| {
            viban::db::pull_requests::claim_due(connection, 60.0, 10).await.unwrap()
        })
    };

    // Two instances' rounds at once: the first holds its claim, the second skips it.
    first.execute("BEGIN");
    let claimed = claim(&first);
    assert_eq!(claimed.iter().map(|id| id.to_string()).collect::<Vec<_>>(), [task.as_str()]);
    assert!(claim(&second).is_empty(), "a row being claimed is skipped, not waited for");
    first.execute("COMMIT");
    // Claimed moments ago: not due for anyone until the period has (mostly) passed.
    assert!(claim(&second).is_empty());
    first.execute(&format!(
        "UPDATE tasks SET pr_synced_at = now() - interval '2 minutes' WHERE id = '{task}'"
    ));
    assert_eq!(claim(&second).len(), 1);
}
