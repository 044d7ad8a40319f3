//! Review and ship (V1–V4) against the real binary, real PostgreSQL and real git: the
//! diff of a task's worktree, review comments that reach the agent's prompt (the fake
//! `tests/fixtures/bin/claude` logs its arguments), each merge mode, conflicts that
//! change nothing, refusals that protect uncommitted work, and a rebase onto a fetched
//! base from a local bare `origin`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Viban, board_on, eventually, fake_agent_env, git, repository, temp_home};
use serde_json::{Value, json};

struct Setup {
    _home: tempfile::TempDir,
    _scratch: tempfile::TempDir,
    /// Holds the repository (and, for the rebase test, its origin).
    _dirs: tempfile::TempDir,
    repo: PathBuf,
    log: PathBuf,
    viban: Viban,
    board: Value,
}

impl Setup {
    /// A board on a fresh repository (`common::repository`) plus `files` committed.
    fn new(files: &[(&str, &[u8])]) -> Self {
        let dirs = tempfile::tempdir().unwrap();
        let repo = dirs.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        repository(&repo);
        commit_files(&repo, files, "more files");
        Self::on(dirs, repo)
    }

    fn on(dirs: tempfile::TempDir, repo: PathBuf) -> Self {
        let home = temp_home();
        let scratch = tempfile::tempdir().unwrap();
        let log = scratch.path().join("calls.log");
        let env = fake_agent_env(&log, &[]);
        let env: Vec<(&str, &str)> =
            env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let viban = Viban::spawn(home.path(), &[], &env);
        viban.wait_healthy(common::START_TIMEOUT);
        let board_id = board_on(&viban, &repo, json!({}));
        let board = viban.get(&format!("/api/boards/{board_id}")).json();
        Self { _home: home, _scratch: scratch, _dirs: dirs, repo, log, viban, board }
    }

    fn column(&self, role: &str) -> String {
        let columns = self.board["columns"].as_array().unwrap();
        columns.iter().find(|c| c["role"] == role).unwrap()["id"].as_str().unwrap().to_string()
    }

    fn task(&self, title: &str, auto_start: bool) -> String {
        let path = format!("/api/boards/{}/tasks", self.board["board"]["id"].as_str().unwrap());
        let body = json!({ "title": title, "description": "Do the thing.", "auto_start": auto_start });
        let created = self.viban.send_json("POST", &path, &body);
        assert_eq!(created.status, 201, "{}", created.text());
        created.json()["id"].as_str().unwrap().to_string()
    }

    /// A task whose agent (the fake one) has run once, so it has a worktree; settled in
    /// Review. Returns its id and worktree.
    fn worked_task(&self, title: &str) -> (String, PathBuf) {
        let task = self.task(title, true);
        self.settles_in(&task, "review");
        let worktree = self.state(&task)["worktree_path"].as_str().unwrap().to_string();
        (task, PathBuf::from(worktree))
    }

    fn state(&self, task: &str) -> Value {
        self.viban.get(&format!("/api/tasks/{task}")).json()
    }

    fn settles_in(&self, task: &str, role: &str) {
        self.viban.settles_in(task, &self.column(role));
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(String::from).collect()
    }

    fn post(&self, path: &str, body: Value) -> common::Response {
        self.viban.send_json("POST", path, &body)
    }
}

fn commit_files(dir: &Path, files: &[(&str, &[u8])], message: &str) {
    if files.is_empty() {
        return;
    }
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", message]);
}

/// Everything a merge or rebase might change: refs, status and HEAD of both checkouts.
fn snapshot(repo: &Path, worktree: &Path) -> Vec<String> {
    vec![
        git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]),
        git(repo, &["status", "--porcelain", "--untracked-files=all"]),
        git(worktree, &["status", "--porcelain", "--untracked-files=all"]),
        git(repo, &["rev-parse", "HEAD"]),
        git(worktree, &["rev-parse", "HEAD"]),
        std::fs::read_to_string(repo.join("README.md")).unwrap(),
        std::fs::read_to_string(worktree.join("README.md")).unwrap(),
    ]
}

fn file<'a>(diff: &'a Value, path: &str) -> &'a Value {
    diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} is not in the diff: {diff:#}"))
}

#[test]
fn the_diff_shows_a_rename_a_binary_an_untracked_file_and_an_uncommitted_edit() {
    let lines: String = (1..=30).map(|n| format!("line {n}\n")).collect();
    let setup = Setup::new(&[("src/old name.rs", b"fn main() {}\n"), ("notes.txt", lines.as_bytes())]);
    let no_worktree = setup.task("Not started", false);
    let refused = setup.viban.get(&format!("/api/tasks/{no_worktree}/diff"));
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.json()["title"], "No worktree");

    let (task, worktree) = setup.worked_task("Reshape");
    git(&worktree, &["mv", "src/old name.rs", "src/new näme.rs"]);
    git(&worktree, &["commit", "--quiet", "-m", "Rename"]);
    commit_files(&worktree, &[("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0binary")], "Add a logo");
    let edited = lines.replace("line 15\n", "line fifteen\n");
    std::fs::write(worktree.join("notes.txt"), edited).unwrap();
    std::fs::write(worktree.join("draft é.md"), "# Draft\nsecond\n").unwrap();

    let answer = setup.viban.get(&format!("/api/tasks/{task}/diff"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let diff = answer.json();
    assert_eq!((diff["ahead"].as_u64(), diff["behind"].as_u64()), (Some(2), Some(0)));
    assert_eq!(diff["base_branch"], "main");
    assert_eq!(diff["base_ref"], "refs/heads/main");
    assert_eq!(diff["merge_base"].as_str(), Some(git(&setup.repo, &["rev-parse", "main"]).as_str()));
    assert_eq!(diff["head"].as_str(), Some(git(&worktree, &["rev-parse", "HEAD"]).as_str()));
    assert_eq!(diff["totals"]["files"], 4, "{diff:#}");

    let renamed = file(&diff, "src/new näme.rs");
    assert_eq!(
        (renamed["status"].as_str(), renamed["old_path"].as_str()),
        (Some("renamed"), Some("src/old name.rs"))
    );
    let logo = file(&diff, "logo.png");
    assert_eq!((logo["status"].as_str(), logo["binary"].as_bool()), (Some("added"), Some(true)));
    let draft = file(&diff, "draft é.md");
    assert_eq!((draft["status"].as_str(), draft["additions"].as_u64()), (Some("untracked"), Some(2)));
    assert_eq!(draft["hunks"][0]["lines"][0]["text"], "# Draft");

    let notes = file(&diff, "notes.txt");
    assert_eq!(
        (notes["status"].as_str(), notes["additions"].as_u64(), notes["deletions"].as_u64()),
        (Some("modified"), Some(1), Some(1))
    );
    let hunk = &notes["hunks"][0];
    assert_eq!((hunk["old_start"].as_u64(), hunk["new_start"].as_u64()), (Some(12), Some(12)));
    let changed: Vec<(&str, Option<u64>, Option<u64>, &str)> = hunk["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["kind"] != "context")
        .map(|l| {
            (
                l["kind"].as_str().unwrap(),
                l["old_line"].as_u64(),
                l["new_line"].as_u64(),
                l["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(changed, [("del", Some(15), None, "line 15"), ("add", None, Some(15), "line fifteen")]);

    let one = setup.viban.get(&format!("/api/tasks/{task}/diff?file=notes.txt")).json();
    assert_eq!(one["files"].as_array().unwrap().len(), 1);
    assert_eq!(one["files"][0]["path"], "notes.txt");
    let missing = setup.viban.get(&format!("/api/tasks/{task}/diff?file=nothing.txt"));
    assert_eq!(missing.status, 404, "{}", missing.text());

    // The real index was never touched: the draft is still plainly untracked.
    let status = git(&worktree, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(status.lines().any(|line| line.starts_with("?? ") && line.contains("draft")), "{status}");
}

#[test]
fn review_comments_reach_the_agents_prompt_and_request_changes_runs_it_again() {
    let setup = Setup::new(&[]);
    let (task, worktree) = setup.worked_task("Greet");
    assert_eq!(setup.calls().len(), 1);
    commit_files(&worktree, &[("README.md", b"# demo\nHello, reviewer\n")], "Greet");
    let comments = format!("/api/tasks/{task}/review/comments");

    let refused = [
        (json!({ "file_path": "README.md", "start_line": 40, "body": "x" }), "start_line"),
        (json!({ "file_path": "other.md", "start_line": 1, "body": "x" }), "file_path"),
        (json!({ "file_path": "README.md", "start_line": 2, "body": "  " }), "body"),
        (json!({ "file_path": "README.md", "start_line": 2, "end_line": 1, "body": "x" }), "end_line"),
    ];
    for (body, field) in refused {
        let answer = setup.post(&comments, body.clone());
        assert_eq!(
            (answer.status, answer.json()["field"].as_str()),
            (422, Some(field)),
            "{body}: {}",
            answer.text()
        );
    }

    let created = setup
        .post(&comments, json!({ "file_path": "README.md", "start_line": 2, "body": "Say it in French." }));
    assert_eq!(created.status, 201, "{}", created.text());
    let comment = created.json();
    assert_eq!(
        (comment["quoted_code"].as_str(), comment["side"].as_str()),
        (Some("Hello, reviewer"), Some("new"))
    );
    assert!(comment["sent_at"].is_null());
    let id = comment["id"].as_str().unwrap();
    let edited = setup.viban.send_json(
        "PATCH",
        &format!("/api/review-comments/{id}"),
        &json!({ "body": "Say it in French, please." }),
    );
    assert_eq!(edited.status, 200, "{}", edited.text());
    let listed = setup.viban.get(&comments).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let sent = setup.post(&format!("/api/tasks/{task}/review/send"), json!({}));
    assert_eq!(sent.status, 202, "{}", sent.text());
    let sent = sent.json();
    assert_eq!(sent["queued"], false, "an idle task starts its agent on the message");
    assert!(sent["comments"][0]["sent_at"].is_string());
    assert!(eventually(Duration::from_secs(30), || setup.calls().len() == 2), "{:?}", setup.calls());
    let prompt = &setup.calls()[1];
    for expected in ["README.md, line 2", "Hello, reviewer", "Say it in French, please."] {
        assert!(prompt.contains(expected), "{expected} is in the agent's prompt: {prompt}");
    }
    setup.settles_in(&task, "review");
    let again = setup.post(&format!("/api/tasks/{task}/review/send"), json!({}));
    assert_eq!(again.status, 409, "nothing is left to send: {}", again.text());
    let late_edit =
        setup.viban.send_json("PATCH", &format!("/api/review-comments/{id}"), &json!({ "body": "x" }));
    assert_eq!(late_edit.status, 409);

    let second = setup.post(
        &comments,
        json!({ "file_path": "README.md", "start_line": 1, "side": "old", "body": "Keep the title." }),
    );
    assert_eq!(second.status, 201, "{}", second.text());
    let requested = setup.post(&format!("/api/tasks/{task}/review/request-changes"), json!({}));
    assert_eq!(requested.status, 202, "{}", requested.text());
    assert!(eventually(Duration::from_secs(30), || setup.calls().len() == 3), "the agent runs again");
    assert!(setup.calls()[2].contains("Keep the title."), "{}", setup.calls()[2]);
    setup.settles_in(&task, "review");

    let mut socket = setup.viban.socket();
    let (events, _) = socket.subscribe(&format!("task:{task}"), Some(0));
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| k.starts_with("review_comment."))
        .collect();
    assert_eq!(
        kinds,
        [
            "review_comment.created",
            "review_comment.updated",
            "review_comment.sent",
            "review_comment.created",
            "review_comment.sent"
        ]
    );
}

#[test]
fn each_merge_mode_lands_the_task_on_main_and_moves_it_to_done() {
    let setup = Setup::new(&[]);
    let before = git(&setup.repo, &["rev-parse", "main"]);
    for (mode, title) in [("squash", "Squashed work"), ("merge", "Merged work"), ("rebase", "Rebased work")] {
        let (task, worktree) = setup.worked_task(title);
        let file = format!("{mode}.txt");
        commit_files(&worktree, &[(file.as_str(), b"one\n")], &format!("{mode}: first"));
        commit_files(&worktree, &[(file.as_str(), b"one\ntwo\n")], &format!("{mode}: second"));
        let previous = git(&setup.repo, &["rev-parse", "main"]);

        let merged = setup.post(&format!("/api/tasks/{task}/merge"), json!({ "mode": mode }));
        assert_eq!(merged.status, 200, "{mode}: {}", merged.text());
        let merged = merged.json();
        let main = git(&setup.repo, &["rev-parse", "main"]);
        assert_eq!(
            (merged["previous"].as_str(), merged["commit"].as_str()),
            (Some(previous.as_str()), Some(main.as_str()))
        );
        assert_eq!(
            merged["checkout_updated"].as_str().map(PathBuf::from),
            Some(setup.repo.clone()),
            "main is checked out there"
        );
        assert_eq!(
            std::fs::read_to_string(setup.repo.join(&file)).unwrap(),
            "one\ntwo\n",
            "{mode}: the checkout follows"
        );
        assert!(git(&setup.repo, &["status", "--porcelain", "--untracked-files=no"]).is_empty());
        assert_eq!(merged["moved_to_done"], true);
        assert_eq!(setup.state(&task)["column_id"], setup.column("done").as_str());
        let after = setup.viban.get(&format!("/api/tasks/{task}/diff")).json();
        assert_eq!(
            (after["totals"]["files"].as_u64(), after["ahead"].as_u64()),
            (Some(0), Some(0)),
            "{mode}: {after:#}"
        );

        let parents = git(&setup.repo, &["log", "-1", "--format=%P", "main"]);
        let subjects = git(&setup.repo, &["log", "--format=%s", &format!("{previous}..main")]);
        match mode {
            "squash" => {
                assert_eq!(parents, previous, "one commit on top of main");
                let number = setup.state(&task)["number"].as_i64().unwrap();
                assert_eq!(subjects, format!("{title} (#{number})"));
                assert!(git(&setup.repo, &["log", "-1", "--format=%B", "main"]).contains("Do the thing."));
                assert_eq!(git(&worktree, &["rev-parse", "HEAD"]), main, "the task's branch follows");
            }
            "merge" => {
                assert_eq!(parents.split(' ').count(), 2, "a merge commit: {parents}");
                assert!(
                    subjects.contains("merge: second") && subjects.contains("merge: first"),
                    "{subjects}"
                );
            }
            _ => {
                assert_eq!(subjects, "rebase: second\nrebase: first", "the task's commits, replayed");
                assert_eq!(git(&worktree, &["rev-parse", "HEAD"]), main, "the task's branch follows");
            }
        }
    }
    assert_ne!(before, git(&setup.repo, &["rev-parse", "main"]));
}

#[test]
fn a_conflict_changes_nothing_and_names_its_files_for_merge_and_rebase() {
    let setup = Setup::new(&[]);
    let (task, worktree) = setup.worked_task("Clash");
    commit_files(&worktree, &[("README.md", b"# from the task\n")], "Task edit");
    commit_files(&setup.repo, &[("README.md", b"# from main\n")], "Main edit");
    let before = snapshot(&setup.repo, &worktree);

    for (path, body) in [("merge", json!({})), ("merge", json!({ "mode": "rebase" })), ("rebase", json!({}))]
    {
        let refused = setup.post(&format!("/api/tasks/{task}/{path}"), body.clone());
        assert_eq!(refused.status, 409, "{path} {body}: {}", refused.text());
        let problem = refused.json();
        assert_eq!(problem["title"], "Merge conflict", "{problem}");
        assert_eq!(problem["conflicts"], json!(["README.md"]), "{problem}");
        assert_eq!(snapshot(&setup.repo, &worktree), before, "{path} {body} changed nothing");
    }
    assert_eq!(setup.state(&task)["column_id"], setup.column("review").as_str(), "the task stays");
}

#[test]
fn uncommitted_work_in_the_base_checkout_or_the_worktree_is_never_touched() {
    let setup = Setup::new(&[]);
    let (task, worktree) = setup.worked_task("Careful");
    commit_files(&worktree, &[("feature.txt", b"done\n")], "Feature");
    std::fs::write(setup.repo.join("README.md"), "# demo\nlocal edit\n").unwrap();
    let before = snapshot(&setup.repo, &worktree);

    let refused = setup.post(&format!("/api/tasks/{task}/merge"), json!({}));
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(refused.json()["title"], "Base checkout has changes");
    assert!(refused.json()["detail"].as_str().unwrap().contains("README.md"));
    assert_eq!(snapshot(&setup.repo, &worktree), before);

    git(&setup.repo, &["checkout", "--", "README.md"]);
    std::fs::write(worktree.join("feature.txt"), "not committed\n").unwrap();
    for path in ["merge", "rebase"] {
        let refused = setup.post(&format!("/api/tasks/{task}/{path}"), json!({}));
        assert_eq!(refused.status, 409, "{}", refused.text());
        assert_eq!(refused.json()["title"], "Uncommitted changes", "{path}");
    }
    assert_eq!(std::fs::read_to_string(worktree.join("feature.txt")).unwrap(), "not committed\n");
    let sent = std::fs::read_to_string(setup.repo.join("README.md")).unwrap();
    assert_eq!(sent, "# demo\n", "main untouched");
}

#[test]
fn a_rebase_fetches_the_latest_base_from_origin_and_a_merge_then_fast_forwards_main() {
    let dirs = tempfile::tempdir().unwrap();
    let origin = dirs.path().join("origin.git");
    let repo = dirs.path().join("repo");
    let other = dirs.path().join("other");
    let seed = dirs.path().join("seed");
    std::fs::create_dir(&seed).unwrap();
    repository(&seed);
    git(dirs.path(), &["clone", "--quiet", "--bare", seed.to_str().unwrap(), origin.to_str().unwrap()]);
    for clone in [&repo, &other] {
        git(dirs.path(), &["clone", "--quiet", origin.to_str().unwrap(), clone.to_str().unwrap()]);
        git(clone, &["config", "user.email", "test@example.com"]);
        git(clone, &["config", "user.name", "Test"]);
    }
    let setup = Setup::on(dirs, repo.clone());
    let (task, worktree) = setup.worked_task("Rebase me");
    commit_files(&worktree, &[("task.txt", b"task\n")], "Task work");
    commit_files(&other, &[("upstream.txt", b"upstream\n")], "Upstream work");
    git(&other, &["push", "--quiet", "origin", "main"]);
    let upstream = git(&other, &["rev-parse", "HEAD"]);

    let rebased = setup.post(&format!("/api/tasks/{task}/rebase"), json!({}));
    assert_eq!(rebased.status, 200, "{}", rebased.text());
    let rebased = rebased.json();
    assert_eq!(rebased["fetched"], true, "{rebased}");
    assert_eq!((rebased["ahead"].as_u64(), rebased["behind"].as_u64()), (Some(1), Some(0)));
    assert_eq!(rebased["onto"].as_str(), Some(upstream.as_str()));
    assert_eq!(git(&worktree, &["rev-parse", "HEAD^"]), upstream);
    assert!(worktree.join("upstream.txt").exists() && worktree.join("task.txt").exists());

    let diff = setup.viban.get(&format!("/api/tasks/{task}/diff")).json();
    assert_eq!(diff["base_ref"], "refs/remotes/origin/main", "the fetched base is newer than local main");
    let paths: Vec<&str> =
        diff["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["task.txt"]);

    let merged = setup.post(&format!("/api/tasks/{task}/merge"), json!({ "message": "Ship it" }));
    assert_eq!(merged.status, 200, "{}", merged.text());
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "main"]), "Ship it");
    assert_eq!(git(&repo, &["rev-parse", "main^"]), upstream, "main took origin's commit on the way");
    assert!(repo.join("upstream.txt").exists() && repo.join("task.txt").exists());
}
