//! `viban mcp`: MCP over stdio for clients that start a command (Claude Desktop,
//! Cursor), relayed to the running viban's `/api/mcp` with the install's token. Each
//! line on standard input is one JSON-RPC message, POSTed as is; the answer (JSON, or
//! the `data:` lines of an event stream) goes to standard output, one message a line.

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;

use serde_json::{Value, json};

/// The MCP endpoint below the server's address.
const PATH: &str = "/api/mcp";

/// Relays standard input to `addr` until it closes.
pub fn relay(addr: SocketAddr, token: &str) -> io::Result<()> {
    let auth = format!("Bearer {token}");
    let stdin = io::stdin();
    let mut stdout = io::stdout().lock();
    let mut protocol: Option<String> = None;
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let message: Option<Value> = serde_json::from_str(&line).ok();
        let id = message.as_ref().and_then(|message| message.get("id")).cloned();
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        if let Some(version) = &protocol {
            headers.push(("MCP-Protocol-Version", version.as_str()));
        }
        let answers = match crate::client::request(addr, "POST", PATH, &headers, line.as_bytes()) {
            Ok(response) if response.status == 202 => Vec::new(),
            Ok(response) if response.status < 300 => messages(&response),
            Ok(response) => {
                let detail = serde_json::from_slice::<Value>(&response.body)
                    .ok()
                    .and_then(|body| body["detail"].as_str().map(str::to_string))
                    .unwrap_or_else(|| response.text());
                error_answer(id, &format!("viban answered {}: {detail}", response.status))
            }
            Err(error) => error_answer(id, &format!("viban did not answer at {addr}: {error}")),
        };
        for answer in answers {
            if let Some(version) = answer.pointer("/result/protocolVersion").and_then(Value::as_str) {
                protocol = Some(version.to_string());
            }
            writeln!(stdout, "{answer}")?;
        }
        stdout.flush()?;
    }
    Ok(())
}

/// The JSON-RPC messages of a response: its JSON body, or its event stream's data.
fn messages(response: &crate::client::Response) -> Vec<Value> {
    let event_stream =
        response.header("content-type").is_some_and(|kind| kind.starts_with("text/event-stream"));
    if !event_stream {
        return serde_json::from_slice(&response.body).into_iter().collect();
    }
    let text = response.text();
    let mut found = Vec::new();
    let mut data = String::new();
    for line in text.lines().chain(std::iter::once("")) {
        if let Some(rest) = line.strip_prefix("data:") {
            data.push_str(rest.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            found.extend(serde_json::from_str::<Value>(&data));
            data.clear();
        }
    }
    found
}

/// A JSON-RPC error for a request (`id`) the server did not answer; nothing for a
/// notification.
fn error_answer(id: Option<Value>, message: &str) -> Vec<Value> {
    match id {
        Some(id) => {
            vec![json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32603, "message": message } })]
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_stream_data_lines_are_messages() {
        let response = crate::client::Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/event-stream".into())],
            body: b"id: 1\nretry: 3000\ndata:\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
                .to_vec(),
        };
        assert_eq!(messages(&response), [json!({ "jsonrpc": "2.0", "id": 1, "result": {} })]);
    }
}
