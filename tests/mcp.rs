//! The MCP server (M1, M2) against the real binary, through rmcp's own client: over
//! Streamable HTTP at `/api/mcp` and over stdio through `viban mcp`.

mod common;

use std::time::Duration;

use common::{Viban, board_on, eventually, repository, run_cli, temp_home};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

const BOARD_TOOLS: &[&str] = &[
    "list_boards",
    "get_board",
    "list_agents",
    "list_tasks",
    "get_task",
    "create_task",
    "update_task",
    "move_task",
    "delete_task",
    "get_activity",
    "send_message",
    "start_run",
    "stop_run",
    "list_requests",
    "decide_approval",
    "answer_question",
];

const RUN_TOOLS: &[&str] =
    &["get_task_context", "create_subtask", "list_subtasks", "report_progress", "ask_user"];

type Client = RunningService<RoleClient, ()>;

async fn over_http(viban: &Viban, token: &str) -> Client {
    let url = format!("{}api/mcp", viban.url());
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    ().serve(transport).await.expect("an MCP session over HTTP")
}

async fn over_stdio(viban: &Viban) -> Client {
    let command = tokio::process::Command::new(common::BIN).configure(|command| {
        command.arg("mcp").env("VIBAN_HOME", &viban.home);
    });
    ().serve(TokioChildProcess::new(command).expect("start viban mcp"))
        .await
        .expect("an MCP session over stdio")
}

async fn names(client: &Client) -> Vec<String> {
    client.list_all_tools().await.expect("tools/list").into_iter().map(|tool| tool.name.to_string()).collect()
}

async fn call(client: &Client, name: &'static str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
    client.call_tool(CallToolRequestParams::new(name).with_arguments(arguments)).await.expect("tools/call")
}

fn text(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|content| content.as_text()).map(|text| text.text.clone()).collect()
}

/// A successful call's JSON.
async fn ok(client: &Client, name: &'static str, arguments: Value) -> Value {
    let result = call(client, name, arguments).await;
    assert_ne!(result.is_error, Some(true), "{name}: {}", text(&result));
    serde_json::from_str(&text(&result)).unwrap_or_else(|error| panic!("{name}: {error}: {}", text(&result)))
}

/// A refused call's words.
async fn refused(client: &Client, name: &'static str, arguments: Value) -> String {
    let result = call(client, name, arguments).await;
    assert_eq!(result.is_error, Some(true), "{name} should fail: {}", text(&result));
    text(&result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_board_tool_answers_over_http_and_over_viban_mcp() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let board = viban.send_json("POST", "/api/boards", &json!({ "name": "Tools" })).json();
    let board_id = board["board"]["id"].as_str().unwrap().to_string();

    let http = over_http(&viban, &viban.token()).await;
    let stdio = over_stdio(&viban).await;
    assert_eq!(
        names(&http).await,
        BOARD_TOOLS,
        "the install's token sees the board tools, not the run tools"
    );
    assert_eq!(names(&stdio).await, BOARD_TOOLS);
    let tools = http.list_all_tools().await.unwrap();
    let hint = |name: &str| {
        let tool = tools.iter().find(|tool| tool.name == name).unwrap();
        tool.annotations.as_ref().and_then(|annotations| annotations.read_only_hint)
    };
    assert_eq!(hint("get_board"), Some(true));
    assert_eq!(hint("create_task"), Some(false));
    let create = tools.iter().find(|tool| tool.name == "create_task").unwrap();
    assert!(create.input_schema["properties"]["title"]["maxLength"].is_number(), "the API's own schema");

    let boards = ok(&stdio, "list_boards", json!({})).await;
    assert_eq!(boards[0]["name"], "Tools");
    let view = ok(&http, "get_board", json!({ "board_id": board_id })).await;
    assert_eq!(view["columns"].as_array().unwrap().len(), 5);
    let agents = ok(&http, "list_agents", json!({})).await;
    assert!(agents.as_array().unwrap().iter().any(|agent| agent["id"] == "claude-code"));

    let first =
        ok(&stdio, "create_task", json!({ "board_id": board_id, "title": "First", "column_role": "review" }))
            .await;
    let review =
        view["columns"].as_array().unwrap().iter().find(|column| column["role"] == "review").unwrap();
    assert_eq!(first["column_id"], review["id"]);
    let second =
        ok(&http, "create_task", json!({ "board_id": board_id, "title": "Second", "description": "needle" }))
            .await;
    let (first_id, second_id) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());

    let in_review = ok(&http, "list_tasks", json!({ "board_id": board_id, "column_role": "review" })).await;
    assert_eq!(in_review.as_array().unwrap().len(), 1);
    let found = ok(&http, "list_tasks", json!({ "board_id": board_id, "text": "needle" })).await;
    assert_eq!(found[0]["id"], second["id"]);
    assert_eq!(ok(&http, "get_task", json!({ "task_id": first_id })).await["title"], "First");
    let updated = ok(&http, "update_task", json!({ "task_id": first_id, "title": "First, renamed" })).await;
    assert_eq!(updated["title"], "First, renamed");
    let moved =
        ok(&http, "move_task", json!({ "task_id": second_id, "column_role": "review", "before": first_id }))
            .await;
    assert_eq!(moved["column_id"], review["id"]);
    let order = ok(&http, "list_tasks", json!({ "board_id": board_id, "column_role": "review" })).await;
    assert_eq!(order[0]["id"], second["id"], "placed before the first");
    let activity = ok(&http, "get_activity", json!({ "task_id": first_id, "limit": 10 })).await;
    assert!(activity["entries"].is_array(), "{activity}");

    // No repository on this board: the run tools answer with the API's words.
    let api = viban.send_json("POST", &format!("/api/tasks/{first_id}/runs"), &json!({}));
    assert_eq!(api.status, 409);
    let words = refused(&http, "start_run", json!({ "task_id": first_id })).await;
    assert_eq!(words, api.json()["detail"], "a domain error has the API's words");
    assert_eq!(
        refused(&http, "stop_run", json!({ "task_id": first_id })).await,
        "no agent is running on this task"
    );
    let sent = ok(&http, "send_message", json!({ "task_id": first_id, "text": "hello" })).await;
    assert!(sent["queued"].is_boolean());

    // Invalid arguments and missing things are tool errors too, with the same words.
    let api = viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": " " }));
    assert_eq!(api.status, 422);
    let words = refused(&stdio, "create_task", json!({ "board_id": board_id, "title": " " })).await;
    assert_eq!(words, api.json()["detail"]);
    let nobody = "00000000-0000-0000-0000-000000000000";
    assert_eq!(refused(&http, "get_task", json!({ "task_id": nobody })).await, format!("no task {nobody}"));
    assert!(refused(&http, "get_task", json!({ "task_id": "nope" })).await.starts_with("task_id: "));
    assert!(
        refused(&http, "create_task", json!({ "board_id": board_id, "title": "x", "column_role": "custom" }))
            .await
            .contains("no custom column")
    );

    let deleted = ok(&http, "delete_task", json!({ "task_id": second_id })).await;
    assert_eq!(deleted["deleted"], second["id"]);
    assert_eq!(viban.get(&format!("/api/tasks/{second_id}")).status, 404);
    // A run tool is not the install's.
    assert!(
        refused(&http, "report_progress", json!({ "message": "x" })).await.contains("agent run's own token")
    );
    http.cancel().await.unwrap();
    stdio.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_gets_a_bearer_challenge_and_a_foreign_host_is_refused() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")];
    let anonymous = viban.request("POST", "/api/mcp", &headers, body);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer realm=\"viban\""));
    let wrong = [headers[0], headers[1], ("Authorization", "Bearer not-the-token")];
    assert_eq!(viban.request("POST", "/api/mcp", &wrong, body).status, 401);

    let auth = format!("Bearer {}", viban.token());
    let foreign = [headers[0], headers[1], ("Authorization", auth.as_str()), ("Host", "attacker.example")];
    let answer = viban.request("POST", "/api/mcp", &foreign, body);
    assert_eq!(answer.status, 403, "{}", answer.text());

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}api/mcp", viban.url())).auth_header("wrong"),
    );
    assert!(().serve(transport).await.is_err(), "rmcp's client cannot start a session with a wrong token");
}

#[test]
fn viban_mcp_says_how_to_start_viban_when_none_runs() {
    let home = temp_home();
    let output = run_cli(home.path(), &["mcp"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(output.stdout.is_empty(), "stdout belongs to the protocol");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("viban is not running") && stderr.contains("Start it with `viban`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_run_gets_a_token_for_its_own_task_that_ends_with_the_run() {
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("calls.log");
    let env = common::fake_agent_env(&log, &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let create = |title: &str| {
        let task =
            viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": title }));
        task.json()["id"].as_str().unwrap().to_string()
    };
    let (task_id, other_id) = (create("Work"), create("Someone else's"));
    let started =
        viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({ "prompt": "MODE:hang" }));
    assert_eq!(started.status, 202, "{}", started.text());

    // The fake Claude logs its arguments: `--mcp-config <file>` names the run's config.
    let mut config_file = None;
    assert!(eventually(Duration::from_secs(30), || {
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        config_file =
            calls.split_whitespace().skip_while(|word| *word != "--mcp-config").nth(1).map(String::from);
        config_file.is_some()
    }));
    let config_file = config_file.unwrap();
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap()).unwrap();
    let server = &config["mcpServers"]["viban"];
    assert_eq!(server["type"], "http");
    assert_eq!(server["url"], format!("{}api/mcp", viban.url()));
    let token =
        server["headers"]["Authorization"].as_str().unwrap().trim_start_matches("Bearer ").to_string();
    assert_ne!(token, viban.token());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&config_file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let run = over_http(&viban, &token).await;
    assert_eq!(names(&run).await, RUN_TOOLS);
    let context = ok(&run, "get_task_context", json!({})).await;
    assert_eq!(context["task"]["id"], task_id.as_str());
    assert_eq!(context["board_name"], "Agents");
    let subtask = ok(&run, "create_subtask", json!({ "title": "Write the tests" })).await;
    assert_eq!(subtask["parent_task_id"], task_id.as_str());
    let subtasks = ok(&run, "list_subtasks", json!({})).await;
    assert_eq!(subtasks.as_array().unwrap().len(), 1);
    ok(&run, "report_progress", json!({ "message": "running the\ntests" })).await;
    assert_eq!(viban.get(&format!("/api/tasks/{task_id}")).json()["status_message"], "running the tests");
    let asked = ok(&run, "ask_user", json!({ "question": "Which database?" })).await;
    assert_eq!(
        (asked["kind"].as_str(), asked["status"].as_str()),
        (Some("question"), Some("pending")),
        "{asked}"
    );
    assert_eq!(viban.get(&format!("/api/tasks/{task_id}")).json()["waiting_for"], "question");

    // The user's own assistant, with the install's token, sees the question and answers
    // it; the answer waits as the agent's next message (its run is still underway).
    let user = over_http(&viban, &viban.token()).await;
    let pending = ok(&user, "list_requests", json!({ "task_id": task_id })).await;
    let question = pending.as_array().unwrap().iter().find(|request| request["kind"] == "question").unwrap();
    assert_eq!(question["question"], "Which database?");
    let not_an_approval =
        refused(&user, "decide_approval", json!({ "request_id": question["id"], "decision": "approve" }))
            .await;
    assert!(not_an_approval.contains("approval"), "{not_an_approval}");
    let answered =
        ok(&user, "answer_question", json!({ "request_id": question["id"], "answer": "PostgreSQL" })).await;
    assert_eq!(answered["request"]["status"], "answered");
    assert_eq!(answered["request"]["answer"], "PostgreSQL");
    assert_eq!(answered["queued"], true);
    assert!(viban.get(&format!("/api/tasks/{task_id}")).json()["waiting_for"].is_null());
    let again =
        refused(&user, "answer_question", json!({ "request_id": question["id"], "answer": "MySQL" })).await;
    assert!(again.contains("closed") || again.contains("answered"), "{again}");
    for (tool, arguments) in [
        ("list_requests", json!({ "task_id": task_id })),
        ("decide_approval", json!({ "request_id": question["id"], "decision": "approve" })),
    ] {
        let refusal = refused(&run, tool, arguments).await;
        assert!(
            refusal.contains("not for an agent run's token"),
            "a run cannot decide for the user: {refusal}"
        );
    }

    // Nothing beyond its own task: no board tools, no other task, no REST API.
    for (tool, arguments) in [
        ("get_task", json!({ "task_id": other_id })),
        ("delete_task", json!({ "task_id": other_id })),
        ("list_boards", json!({})),
    ] {
        assert!(refused(&run, tool, arguments).await.contains("not for an agent run's token"), "{tool}");
    }
    assert_eq!(viban.get(&format!("/api/tasks/{other_id}")).status, 200, "untouched");
    let bearer = format!("Bearer {token}");
    let rest = viban.request("GET", &format!("/api/tasks/{other_id}"), &[("Authorization", &bearer)], b"");
    assert_eq!(rest.status, 401, "a run's token opens /api/mcp only");

    // The run ends: its token and its config file go with it.
    let stop = viban.send_json("POST", &format!("/api/tasks/{task_id}/stop"), &json!({}));
    assert_eq!(stop.status, 202, "{}", stop.text());
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert!(
        eventually(Duration::from_secs(30), || viban.request("POST", "/api/mcp", &headers, list).status
            == 401),
        "the token still works after its run ended"
    );
    assert!(eventually(Duration::from_secs(10), || !std::path::Path::new(&config_file).exists()));
}

/// The real Claude Code, installed from npm by scripts/test.sh (as for agent_clis.rs).
fn claude() -> std::path::PathBuf {
    let clis = std::env::var("VIBAN_TEST_AGENT_CLIS")
        .expect("VIBAN_TEST_AGENT_CLIS must name the bin folder of the npm-installed agent CLIs; scripts/test.sh installs them");
    std::path::Path::new(&clis).join("claude")
}

#[test]
fn claude_code_added_over_http_lists_viban_as_connected() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let user_home = tempfile::tempdir().unwrap();
    let url = format!("{}api/mcp", viban.url());
    let claude = |args: &[&str]| {
        std::process::Command::new(claude())
            .args(args)
            .current_dir(user_home.path())
            .env("HOME", user_home.path())
            .output()
            .expect("run claude")
    };
    let auth = format!("Authorization: Bearer {}", viban.token());
    let added = claude(&["mcp", "add", "--transport", "http", "viban", &url, "-H", &auth]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let wrong =
        claude(&["mcp", "add", "--transport", "http", "stranger", &url, "-H", "Authorization: Bearer nope"]);
    assert!(wrong.status.success());
    // `claude mcp list` exits 0 whatever it finds: its words say.
    let listed = claude(&["mcp", "list"]);
    let words = String::from_utf8_lossy(&listed.stdout);
    assert!(words.contains(&format!("viban: {url} (HTTP) - ✔ Connected")), "{words}");
    assert!(
        words.contains(&format!("stranger: {url} (HTTP) - ✘")),
        "a wrong token does not connect: {words}"
    );
}

#[test]
fn claude_code_accepts_the_mcp_config_a_run_gets_and_sees_only_the_run_tools() {
    let home = temp_home();
    let repo = tempfile::tempdir().unwrap();
    repository(repo.path());
    let user_home = tempfile::tempdir().unwrap();
    let clis = claude().parent().unwrap().display().to_string();
    let path = format!("{clis}:{}", std::env::var("PATH").unwrap_or_default());
    // A key that is no key, and an API that does not answer: Claude starts, connects
    // its MCP servers, prints its init line, then retries the model for minutes.
    let env = [
        ("PATH", path.as_str()),
        ("HOME", user_home.path().to_str().unwrap()),
        ("ANTHROPIC_API_KEY", "sk-ant-not-a-key"),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
    ];
    let viban = Viban::spawn(home.path(), &[], &env);
    viban.wait_healthy(common::START_TIMEOUT);
    let board_id = board_on(&viban, repo.path(), json!({}));
    let task =
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": "Hi" })).json();
    let task_id = task["id"].as_str().unwrap();
    let run =
        viban.send_json("POST", &format!("/api/tasks/{task_id}/runs"), &json!({ "agent": "claude-code" }));
    assert_eq!(run.status, 202, "{}", run.text());
    let session = || viban.get(&format!("/api/tasks/{task_id}/sessions")).json()[0].clone();
    // The init line came: Claude accepted every argument viban gave it.
    assert!(
        eventually(Duration::from_secs(90), || session()["external_session_id"].is_string()),
        "{}\n{}",
        session(),
        viban.output()
    );
    let argv: Vec<String> = session()["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap().to_string())
        .collect();
    assert!(argv.iter().any(|arg| arg == "--mcp-config"), "{argv:?}");

    // The same command line, run here while the run lasts: its MCP server is viban,
    // connected with the run's token, offering the run tools only.
    let mut child = std::process::Command::new(claude())
        .args(&argv[1..])
        .current_dir(user_home.path())
        .envs(env)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run claude");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let init: Value = serde_json::from_str(&first).unwrap_or_else(|error| panic!("{error}: {first}"));
    assert_eq!(init["mcp_servers"], json!([{ "name": "viban", "status": "connected" }]), "{first}");
    let tools: Vec<&str> = init["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for tool in RUN_TOOLS {
        assert!(tools.contains(&format!("mcp__viban__{tool}").as_str()), "{tool} missing: {tools:?}");
    }
    assert!(!tools.contains(&"mcp__viban__delete_task"), "{tools:?}");

    let stop = viban.send_json("POST", &format!("/api/tasks/{task_id}/stop"), &json!({}));
    assert_eq!(stop.status, 202, "{}", stop.text());
    assert!(eventually(Duration::from_secs(30), || session()["status"] == "stopped"));
}
