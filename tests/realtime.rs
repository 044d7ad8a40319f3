//! Realtime over the WebSocket (D8): subscriptions, per-stream sequences, resuming
//! after a reconnect, resync past retention, and fan-out between viban processes
//! through PostgreSQL's LISTEN/NOTIFY.

mod common;

use common::{Viban, scratch_database, temp_home};
use serde_json::{Value, json};

fn board(viban: &Viban) -> (String, Value) {
    let board = viban.send_json("POST", "/api/boards", &json!({ "name": "Live" })).json();
    (board["board"]["id"].as_str().unwrap().to_string(), board)
}

fn add_task(viban: &Viban, board_id: &str, title: &str) -> Value {
    let response =
        viban.send_json("POST", &format!("/api/boards/{board_id}/tasks"), &json!({ "title": title }));
    assert_eq!(response.status, 201, "{}", response.text());
    response.json()
}

#[test]
fn a_board_subscriber_sees_every_change_once_in_order_with_sequence_numbers() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let (board_id, board) = board(&viban);
    let mut socket = viban.socket();
    let (_, subscribed) = socket.subscribe(&format!("board:{board_id}"), None);
    let start = subscribed["seq"].as_i64().unwrap();
    assert_eq!(start, 1, "the board's creation was its first event");

    let task = add_task(&viban, &board_id, "watch me");
    let review =
        board["columns"].as_array().unwrap().iter().find(|c| c["role"] == "review").unwrap()["id"].clone();
    let path = format!("/api/tasks/{}/move", task["id"].as_str().unwrap());
    assert_eq!(viban.send_json("POST", &path, &json!({ "column_id": review })).status, 200);

    let created = socket.next();
    assert_eq!((created["type"].as_str(), created["kind"].as_str()), (Some("event"), Some("task.created")));
    assert_eq!(created["seq"], start + 1);
    assert_eq!(created["payload"]["title"], "watch me");
    let moved = socket.next();
    assert_eq!(moved["kind"], "task.moved");
    assert_eq!(moved["seq"], start + 2);
    assert_eq!(moved["payload"]["column_changed"], true);
    assert_eq!(moved["payload"]["task"]["column_id"], review);
}

#[test]
fn an_event_too_large_for_a_notification_still_reaches_subscribers_whole() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let (board_id, _) = board(&viban);
    let mut socket = viban.socket();
    socket.subscribe(&format!("board:{board_id}"), None);
    // PostgreSQL's NOTIFY carries under 8000 bytes: this event goes by its id and is
    // read back from the log. Two bytes a character: over the limit in bytes, well
    // under it in characters.
    let description = "é".repeat(4_000);
    let path = format!("/api/boards/{board_id}/tasks");
    let response = viban.send_json("POST", &path, &json!({ "title": "long", "description": description }));
    assert_eq!(response.status, 201, "{}", response.text());
    add_task(&viban, &board_id, "short");

    let created = socket.next();
    assert_eq!(created["kind"], "task.created");
    assert_eq!(created["payload"]["description"], description.as_str());
    let next = socket.next();
    assert_eq!(
        (next["payload"]["title"].as_str(), next["seq"].as_i64()),
        (Some("short"), created["seq"].as_i64().map(|s| s + 1))
    );
}

#[test]
fn a_task_subscriber_sees_only_its_task() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let (board_id, _) = board(&viban);
    let watched = add_task(&viban, &board_id, "watched");
    let mut socket = viban.socket();
    socket.subscribe(&format!("task:{}", watched["id"].as_str().unwrap()), None);
    add_task(&viban, &board_id, "someone else");
    let path = format!("/api/tasks/{}", watched["id"].as_str().unwrap());
    viban.send_json("PATCH", &path, &json!({ "title": "watched, renamed" }));
    let event = socket.next();
    assert_eq!(event["kind"], "task.updated");
    assert_eq!(event["payload"]["title"], "watched, renamed");
}

#[test]
fn a_reconnecting_client_gets_what_it_missed_from_its_last_sequence() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let (board_id, _) = board(&viban);
    let stream = format!("board:{board_id}");
    let mut socket = viban.socket();
    let (_, subscribed) = socket.subscribe(&stream, None);
    let last_seen = subscribed["seq"].as_i64().unwrap();
    drop(socket);

    for title in ["missed one", "missed two"] {
        add_task(&viban, &board_id, title);
    }
    let mut socket = viban.socket();
    let (replayed, subscribed) = socket.subscribe(&stream, Some(last_seen));
    let titles: Vec<&str> =
        replayed.iter().map(|event| event["payload"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["missed one", "missed two"]);
    let seqs: Vec<i64> = replayed.iter().map(|event| event["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [last_seen + 1, last_seen + 2]);
    assert_eq!(subscribed["seq"], last_seen + 2);

    // And it carries on live from there.
    add_task(&viban, &board_id, "live again");
    assert_eq!(socket.next()["seq"], last_seen + 3);
}

#[test]
fn a_client_behind_the_retained_events_is_told_to_resync() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let (board_id, _) = board(&viban);
    for title in ["a", "b", "c"] {
        add_task(&viban, &board_id, title);
    }
    // Retention ran: the early events are gone.
    viban.sql().execute("DELETE FROM events WHERE seq <= 3");
    let mut socket = viban.socket();
    let (replayed, subscribed) = socket.subscribe(&format!("board:{board_id}"), Some(1));
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(replayed[0]["type"], "resync");
    assert_eq!(replayed[0]["seq"], 4);
    assert_eq!(subscribed["seq"], 4);
}

#[test]
fn malformed_messages_and_unknown_streams_get_an_error_and_the_socket_stays_open() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let mut socket = viban.socket();
    socket.send(json!({ "type": "subscribe", "stream": "everything" }));
    let refused = socket.next();
    assert!(refused["message"].as_str().unwrap().contains("unknown stream"));
    assert_eq!((&refused["stream"], &refused["retry"]), (&json!("everything"), &json!(false)));
    socket.send(json!({ "type": "dance" }));
    assert_eq!(socket.next()["type"], "error");
    socket.send(json!({ "type": "ping" }));
    assert_eq!(socket.next()["type"], "pong");
}

#[test]
fn a_change_through_one_viban_reaches_a_websocket_client_of_another_on_the_same_database() {
    let database = scratch_database();
    let (home_a, home_b) = (temp_home(), temp_home());
    let a = Viban::spawn(home_a.path(), &[], &[("DATABASE_URL", &database)]);
    a.wait_healthy(common::START_TIMEOUT);
    let b = Viban::spawn(home_b.path(), &[], &[("DATABASE_URL", &database)]);
    b.wait_healthy(common::START_TIMEOUT);

    let (board_id, _) = board(&a);
    let mut socket = b.socket();
    socket.subscribe(&format!("board:{board_id}"), None);
    add_task(&a, &board_id, "made on A");
    let event = socket.next();
    assert_eq!(event["kind"], "task.created");
    assert_eq!(event["payload"]["title"], "made on A");
}

#[test]
fn deleting_a_column_moves_each_task_with_an_event_and_keeps_its_hook_executions() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let (board_id, board) = board(&viban);
    let column = |role: &str| {
        board["columns"].as_array().unwrap().iter().find(|c| c["role"] == role).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (todo, review) = (column("todo"), column("review"));
    let mut tasks = Vec::new();
    for title in ["running a hook", "waiting for a hook"] {
        let task = add_task(&viban, &board_id, title);
        let id = task["id"].as_str().unwrap().to_string();
        let moved =
            viban.send_json("POST", &format!("/api/tasks/{id}/move"), &json!({ "column_id": review }));
        assert_eq!(moved.status, 200, "{}", moved.text());
        tasks.push(id);
    }
    // What the hook engine leaves while it works: one hook running, one waiting (of an
    // earlier stay, so that this instance's engine does not claim it meanwhile).
    let database = viban.sql();
    for (task, (status, stay)) in
        tasks.iter().zip([("running", "column_stay"), ("pending", "gen_random_uuid()")])
    {
        database.execute(&format!(
            "INSERT INTO hook_executions (task_id, column_id, column_stay, hook_name, position, transparent, status)
             SELECT id, column_id, {stay}, 'Test hook', 'V', true, '{status}' FROM tasks WHERE id = '{task}'"
        ));
    }
    let mut socket = viban.socket();
    socket.subscribe(&format!("board:{board_id}"), None);

    assert_eq!(viban.delete(&format!("/api/columns/{review}")).status, 204);

    let mut moved = Vec::new();
    loop {
        let event = socket.next();
        match event["kind"].as_str().unwrap() {
            "task.moved" => {
                assert_eq!(event["payload"]["column_changed"], true);
                assert_eq!(event["payload"]["from_column_id"], review);
                assert_eq!(event["payload"]["task"]["column_id"], todo);
                moved.push(event["payload"]["task"]["id"].as_str().unwrap().to_string());
            }
            "column.deleted" => break,
            // The cancelled hooks' own transitions are on the board stream too (rule 11).
            "hook_execution.updated" => {}
            other => panic!("unexpected event {other}: {event}"),
        }
    }
    assert_eq!(moved, tasks, "each task moved, in the column's order");
    for (task, reason) in tasks.iter().zip(["user_cancelled", "column_change"]) {
        let recorded = database.text(&format!(
            "SELECT status::text || '/' || reason || '/' || (column_id IS NULL)::text
             FROM hook_executions WHERE task_id = '{task}' AND hook_name = 'Test hook'"
        ));
        assert_eq!(recorded, format!("cancelled/{reason}/true"), "the execution's record stays");
    }
}
