//! Agent output, one line at a time, into normalized entries (A4; the README's "Agents"):
//! what the task's activity stores and the UI renders, whatever the agent.
//!
//! A parser sees complete lines only (the runner does the line buffering) and never
//! drops anything: an event it does not know becomes a `raw` entry, a line that is
//! not JSON becomes text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tool output longer than this is cut (the whole output stays in the agent's own logs).
pub const TOOL_OUTPUT_LIMIT: usize = 4000;
const SUMMARY_LIMIT: usize = 120;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    AssistantText {
        text: String,
    },
    Thinking {
        text: String,
    },
    ToolCall {
        id: Option<String>,
        tool: String,
        /// One line for the activity list: the command, the file, the pattern.
        summary: String,
        input: Value,
    },
    ToolResult {
        id: Option<String>,
        ok: bool,
        output: String,
        truncated: bool,
    },
    TodoList {
        items: Vec<TodoItem>,
    },
    System {
        message: String,
    },
    Error {
        message: String,
    },
    Result {
        ok: bool,
        summary: Option<String>,
        cost_usd: Option<f64>,
        input_tokens: Option<i64>,
        output_tokens: Option<i64>,
        duration_ms: Option<i64>,
    },
    /// An event this parser does not know, kept as it came.
    Raw {
        line: String,
    },
}

impl Entry {
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::AssistantText { .. } => "assistant_text",
            Entry::Thinking { .. } => "thinking",
            Entry::ToolCall { .. } => "tool_call",
            Entry::ToolResult { .. } => "tool_result",
            Entry::TodoList { .. } => "todo_list",
            Entry::System { .. } => "system",
            Entry::Error { .. } => "error",
            Entry::Result { .. } => "result",
            Entry::Raw { .. } => "raw",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TodoItem {
    pub text: String,
    /// `pending`, `in_progress` or `completed`.
    pub status: String,
}

/// What one line (or the end of the stream) produced.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    /// The agent's own session or thread id, when this line revealed it.
    pub session_id: Option<String>,
}

/// The output formats viban reads. Claude Code, Cursor Agent and Amp share Claude's
/// stream-json; a custom agent picks one of these by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    ClaudeStreamJson,
    CodexJson,
    GeminiStreamJson,
    OpencodeJson,
    Text,
}

impl Format {
    pub fn parser(self) -> Parser {
        Parser { format: self, pending_text: String::new() }
    }
}

pub struct Parser {
    format: Format,
    /// Gemini streams assistant text in deltas: joined until something else comes.
    pending_text: String,
}

impl Parser {
    pub fn line(&mut self, line: &str) -> Parsed {
        let mut parsed = Parsed::default();
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return parsed;
        }
        if self.format == Format::Text {
            parsed.entries.push(Entry::AssistantText { text: line.to_string() });
            return parsed;
        }
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            self.flush(&mut parsed);
            parsed.entries.push(Entry::AssistantText { text: line.to_string() });
            return parsed;
        };
        let known = match self.format {
            Format::ClaudeStreamJson => claude(&event, &mut parsed),
            Format::CodexJson => codex(&event, &mut parsed),
            Format::GeminiStreamJson => self.gemini(&event, &mut parsed),
            Format::OpencodeJson => opencode(&event, &mut parsed),
            Format::Text => unreachable!("handled above"),
        };
        if !known {
            self.flush(&mut parsed);
            parsed.entries.push(Entry::Raw { line: line.to_string() });
        }
        parsed
    }

    /// The end of the stream: whatever was still being joined.
    pub fn finish(&mut self) -> Parsed {
        let mut parsed = Parsed::default();
        self.flush(&mut parsed);
        parsed
    }

    fn flush(&mut self, parsed: &mut Parsed) {
        if !self.pending_text.is_empty() {
            let text = std::mem::take(&mut self.pending_text);
            parsed.entries.insert(0, Entry::AssistantText { text });
        }
    }

    fn gemini(&mut self, event: &Value, parsed: &mut Parsed) -> bool {
        let kind = str_at(event, "type");
        if kind != Some("message") || str_at(event, "role") != Some("assistant") {
            self.flush(parsed);
        }
        match kind {
            Some("init") => {
                parsed.session_id = str_at(event, "session_id").map(String::from);
                let model = str_at(event, "model").unwrap_or("default model");
                parsed.entries.push(Entry::System { message: format!("Gemini session started ({model})") });
            }
            Some("message") => match str_at(event, "role") {
                // The prompt, echoed back: the activity already has it.
                Some("user") => {}
                _ => self.pending_text.push_str(str_at(event, "content").unwrap_or_default()),
            },
            Some("tool_use") => {
                let tool = str_at(event, "tool_name").unwrap_or("tool").to_string();
                let input = event.get("parameters").cloned().unwrap_or(Value::Null);
                parsed.entries.push(Entry::ToolCall {
                    id: str_at(event, "tool_id").map(String::from),
                    summary: summarize(&tool, &input),
                    tool,
                    input,
                });
            }
            Some("tool_result") => {
                let ok = str_at(event, "status") != Some("error");
                let output = if ok {
                    event.get("output").map(text_of).unwrap_or_default()
                } else {
                    event.pointer("/error/message").map(text_of).unwrap_or_default()
                };
                parsed.entries.push(tool_result(str_at(event, "tool_id"), ok, &output));
            }
            Some("error") => parsed.entries.push(Entry::Error {
                message: str_at(event, "message").unwrap_or("the agent reported an error").to_string(),
            }),
            Some("result") => {
                let ok = str_at(event, "status") == Some("success");
                let error = event.pointer("/error/message").and_then(Value::as_str).map(String::from);
                if let Some(message) = &error {
                    parsed.entries.push(Entry::Error { message: message.clone() });
                }
                parsed.entries.push(Entry::Result {
                    ok,
                    summary: error,
                    cost_usd: None,
                    input_tokens: event.pointer("/stats/input_tokens").and_then(Value::as_i64),
                    output_tokens: event.pointer("/stats/output_tokens").and_then(Value::as_i64),
                    duration_ms: event.pointer("/stats/duration_ms").and_then(Value::as_i64),
                });
            }
            _ => return false,
        }
        true
    }
}

/// Claude Code's `--output-format stream-json` (also Cursor Agent's and Amp's).
fn claude(event: &Value, parsed: &mut Parsed) -> bool {
    if let Some(session) = str_at(event, "session_id") {
        parsed.session_id = Some(session.to_string());
    }
    match str_at(event, "type") {
        Some("system") => {
            let message = match str_at(event, "subtype") {
                Some("init") => format!(
                    "Session started ({}, permission mode {})",
                    str_at(event, "model").unwrap_or("default model"),
                    str_at(event, "permissionMode").unwrap_or("default"),
                ),
                Some(other) => other.replace('_', " "),
                None => "system".to_string(),
            };
            parsed.entries.push(Entry::System { message });
        }
        Some("assistant") => {
            // A synthetic message carrying an API failure ("Not logged in · Please run
            // /login"): its text is an error, not the agent speaking.
            let failed = event.get("error").is_some_and(|error| !error.is_null());
            for block in content_blocks(event) {
                match str_at(block, "type") {
                    Some("text") => {
                        let text = str_at(block, "text").unwrap_or_default().to_string();
                        parsed.entries.push(if failed {
                            Entry::Error { message: text }
                        } else {
                            Entry::AssistantText { text }
                        });
                    }
                    Some("thinking") => parsed.entries.push(Entry::Thinking {
                        text: str_at(block, "thinking")
                            .or(str_at(block, "text"))
                            .unwrap_or_default()
                            .to_string(),
                    }),
                    Some("tool_use") => {
                        let tool = str_at(block, "name").unwrap_or("tool").to_string();
                        let input = block.get("input").cloned().unwrap_or(Value::Null);
                        if tool == "TodoWrite" {
                            parsed.entries.push(Entry::TodoList { items: todos(&input) });
                        } else {
                            parsed.entries.push(Entry::ToolCall {
                                id: str_at(block, "id").map(String::from),
                                summary: summarize(&tool, &input),
                                tool,
                                input,
                            });
                        }
                    }
                    _ => parsed.entries.push(Entry::Raw { line: block.to_string() }),
                }
            }
        }
        Some("user") => {
            for block in content_blocks(event) {
                if str_at(block, "type") == Some("tool_result") {
                    let ok = !block.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                    let output = block.get("content").map(text_of).unwrap_or_default();
                    parsed.entries.push(tool_result(str_at(block, "tool_use_id"), ok, &output));
                }
                // Other user blocks echo the prompt: nothing new to show.
            }
        }
        Some("result") => {
            let ok = !event.get("is_error").and_then(Value::as_bool).unwrap_or(false)
                && str_at(event, "subtype").is_none_or(|subtype| subtype == "success");
            let input_tokens = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]
                .iter()
                .filter_map(|key| event.get("usage")?.get(*key)?.as_i64())
                .reduce(|sum, tokens| sum + tokens);
            parsed.entries.push(Entry::Result {
                ok,
                summary: str_at(event, "result").map(String::from),
                cost_usd: event.get("total_cost_usd").and_then(Value::as_f64),
                input_tokens,
                output_tokens: event.pointer("/usage/output_tokens").and_then(Value::as_i64),
                duration_ms: event.get("duration_ms").and_then(Value::as_i64),
            });
        }
        _ => return false,
    }
    true
}

/// Codex's `exec --json` events.
fn codex(event: &Value, parsed: &mut Parsed) -> bool {
    match str_at(event, "type") {
        Some("thread.started") => {
            parsed.session_id = str_at(event, "thread_id").map(String::from);
            parsed.entries.push(Entry::System { message: "Codex thread started".into() });
        }
        Some("turn.started") => {}
        Some("turn.completed") => parsed.entries.push(Entry::Result {
            ok: true,
            summary: None,
            cost_usd: None,
            input_tokens: event.pointer("/usage/input_tokens").and_then(Value::as_i64),
            output_tokens: event.pointer("/usage/output_tokens").and_then(Value::as_i64),
            duration_ms: None,
        }),
        Some("turn.failed") => {
            let message =
                event.pointer("/error/message").map(text_of).unwrap_or_else(|| "the turn failed".into());
            parsed.entries.push(Entry::Error { message: message.clone() });
            parsed.entries.push(Entry::Result {
                ok: false,
                summary: Some(message),
                cost_usd: None,
                input_tokens: None,
                output_tokens: None,
                duration_ms: None,
            });
        }
        Some("error") => {
            let message = str_at(event, "message").unwrap_or("the agent reported an error").to_string();
            // Retries are news, not failures; a run that never recovers ends by Stop or timeout.
            parsed.entries.push(if message.starts_with("Reconnecting") {
                Entry::System { message }
            } else {
                Entry::Error { message }
            });
        }
        Some(phase @ ("item.started" | "item.updated" | "item.completed")) => {
            let Some(item) = event.get("item") else { return false };
            return codex_item(item, phase == "item.completed", phase == "item.started", parsed);
        }
        _ => return false,
    }
    true
}

fn codex_item(item: &Value, completed: bool, started: bool, parsed: &mut Parsed) -> bool {
    let id = str_at(item, "id").map(String::from);
    match str_at(item, "type") {
        Some("agent_message") if completed => {
            parsed
                .entries
                .push(Entry::AssistantText { text: str_at(item, "text").unwrap_or_default().into() });
        }
        Some("reasoning") if completed => {
            parsed.entries.push(Entry::Thinking { text: str_at(item, "text").unwrap_or_default().into() });
        }
        Some("command_execution") if started => {
            let command = str_at(item, "command").unwrap_or_default();
            parsed.entries.push(Entry::ToolCall {
                id,
                tool: "shell".into(),
                summary: one_line(command),
                input: serde_json::json!({ "command": command }),
            });
        }
        Some("command_execution") if completed => {
            let ok = item.get("exit_code").and_then(Value::as_i64) == Some(0)
                && str_at(item, "status") != Some("failed");
            let output = str_at(item, "aggregated_output").unwrap_or_default();
            parsed.entries.push(tool_result(id.as_deref(), ok, output));
        }
        Some("file_change") if completed => {
            let changes = item.get("changes").and_then(Value::as_array).cloned().unwrap_or_default();
            let summary = changes
                .iter()
                .map(|change| {
                    format!(
                        "{} {}",
                        str_at(change, "kind").unwrap_or("edit"),
                        str_at(change, "path").unwrap_or("?")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            parsed.entries.push(Entry::ToolCall {
                id,
                tool: "edit".into(),
                summary: one_line(&summary),
                input: Value::Array(changes),
            });
        }
        Some("mcp_tool_call") if started => {
            let tool = format!(
                "{}:{}",
                str_at(item, "server").unwrap_or("mcp"),
                str_at(item, "tool").unwrap_or("tool")
            );
            let input = item.get("arguments").cloned().unwrap_or(Value::Null);
            parsed.entries.push(Entry::ToolCall { id, summary: summarize(&tool, &input), tool, input });
        }
        Some("mcp_tool_call") if completed => {
            let ok = str_at(item, "status") != Some("failed");
            let output = item.get("result").or(item.get("error")).map(text_of).unwrap_or_default();
            parsed.entries.push(tool_result(id.as_deref(), ok, &output));
        }
        Some("web_search") if completed => {
            let query = str_at(item, "query").unwrap_or_default();
            parsed.entries.push(Entry::ToolCall {
                id,
                tool: "web_search".into(),
                summary: one_line(query),
                input: serde_json::json!({ "query": query }),
            });
        }
        Some("todo_list") => {
            let items = item.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let items = items
                .iter()
                .map(|todo| TodoItem {
                    text: str_at(todo, "text").unwrap_or_default().to_string(),
                    status: if todo.get("completed").and_then(Value::as_bool).unwrap_or(false) {
                        "completed".into()
                    } else {
                        "pending".into()
                    },
                })
                .collect();
            parsed.entries.push(Entry::TodoList { items });
        }
        Some("error") => {
            parsed.entries.push(Entry::Error { message: str_at(item, "message").unwrap_or_default().into() });
        }
        // Known items in a phase that adds nothing (an agent message still streaming).
        Some(
            "agent_message" | "reasoning" | "command_execution" | "file_change" | "mcp_tool_call"
            | "web_search",
        ) => {}
        _ => return false,
    }
    true
}

/// OpenCode's `run --format json`: text and tool parts; the rest stays raw.
fn opencode(event: &Value, parsed: &mut Parsed) -> bool {
    if let Some(session) =
        str_at(event, "sessionID").or(event.pointer("/part/sessionID").and_then(Value::as_str))
    {
        parsed.session_id = Some(session.to_string());
    }
    let part = event.get("part").unwrap_or(event);
    match str_at(event, "type").or(str_at(part, "type")) {
        Some("text") => parsed
            .entries
            .push(Entry::AssistantText { text: str_at(part, "text").unwrap_or_default().into() }),
        Some("tool_use" | "tool") => {
            let tool = str_at(part, "tool").unwrap_or("tool").to_string();
            let input = part.pointer("/state/input").cloned().unwrap_or(Value::Null);
            parsed.entries.push(Entry::ToolCall {
                id: str_at(part, "callID").map(String::from),
                summary: summarize(&tool, &input),
                tool,
                input,
            });
            if let Some(output) = part.pointer("/state/output") {
                let ok = part.pointer("/state/status").and_then(Value::as_str) != Some("error");
                parsed.entries.push(tool_result(str_at(part, "callID"), ok, &text_of(output)));
            }
        }
        Some("error") => parsed.entries.push(Entry::Error {
            message: event
                .pointer("/error/data/message")
                .or(event.get("message"))
                .map(text_of)
                .unwrap_or_default(),
        }),
        _ => return false,
    }
    true
}

fn tool_result(id: Option<&str>, ok: bool, output: &str) -> Entry {
    let truncated = output.chars().count() > TOOL_OUTPUT_LIMIT;
    let output =
        if truncated { output.chars().take(TOOL_OUTPUT_LIMIT).collect() } else { output.to_string() };
    Entry::ToolResult { id: id.map(String::from), ok, output, truncated }
}

fn todos(input: &Value) -> Vec<TodoItem> {
    input
        .get("todos")
        .and_then(Value::as_array)
        .map(|todos| {
            todos
                .iter()
                .map(|todo| TodoItem {
                    text: str_at(todo, "content").unwrap_or_default().to_string(),
                    status: str_at(todo, "status").unwrap_or("pending").to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The one line that says what a tool call does.
pub fn summarize(tool: &str, input: &Value) -> String {
    let field = |names: &[&str]| names.iter().find_map(|name| str_at(input, name));
    let summary = match tool {
        "Bash" | "shell" | "run_shell_command" => field(&["command", "cmd"]),
        "Read" | "Write" | "Edit" | "MultiEdit" | "NotebookEdit" | "read_file" | "write_file" | "replace" => {
            field(&["file_path", "notebook_path", "path", "absolute_path"])
        }
        "Glob" | "glob" => field(&["pattern"]),
        "Grep" | "search_file_content" | "grep" => field(&["pattern", "query"]),
        "WebFetch" | "web_fetch" => field(&["url", "prompt"]),
        "WebSearch" | "google_web_search" => field(&["query"]),
        "Task" => field(&["description", "prompt"]),
        _ => None,
    };
    let fallback = || input.as_object().and_then(|object| object.values().find_map(Value::as_str));
    one_line(summary.or_else(fallback).unwrap_or(tool))
}

/// The first line, at most [`SUMMARY_LIMIT`] characters.
fn one_line(text: &str) -> String {
    let first = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default().trim();
    if first.chars().count() > SUMMARY_LIMIT {
        let cut: String = first.chars().take(SUMMARY_LIMIT - 1).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    }
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn content_blocks(event: &Value) -> impl Iterator<Item = &Value> {
    event.pointer("/message/content").and_then(Value::as_array).into_iter().flatten()
}

/// Text out of a string, an array of `{type: text, text}` blocks, or anything else.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|block| str_at(block, "text").map(String::from).unwrap_or_else(|| text_of(block)))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(format: Format, transcript: &str) -> (Vec<Entry>, Option<String>) {
        let mut parser = format.parser();
        let (mut entries, mut session) = (Vec::new(), None);
        for line in transcript.lines() {
            let parsed = parser.line(line);
            entries.extend(parsed.entries);
            session = parsed.session_id.or(session);
        }
        entries.extend(parser.finish().entries);
        (entries, session)
    }

    fn kinds(entries: &[Entry]) -> Vec<&'static str> {
        entries.iter().map(Entry::kind).collect()
    }

    #[test]
    fn claude_not_logged_in_is_an_error_with_the_clis_own_words_and_a_session_id() {
        // Recorded from Claude Code 2.1.197 with no credentials.
        let (entries, session) = parse_all(
            Format::ClaudeStreamJson,
            include_str!("../../tests/fixtures/transcripts/claude-not-logged-in.jsonl"),
        );
        assert_eq!(session.as_deref(), Some("92be54b5-8faa-451c-b7c7-6be1a426d912"));
        assert_eq!(kinds(&entries), ["system", "error", "result"]);
        assert_eq!(entries[1], Entry::Error { message: "Not logged in · Please run /login".into() });
        let Entry::Result { ok, summary, .. } = &entries[2] else { unreachable!() };
        assert!(!ok);
        assert_eq!(summary.as_deref(), Some("Not logged in · Please run /login"));
    }

    #[test]
    fn claude_tool_calls_todos_thinking_and_the_result_are_normalized() {
        let (entries, session) = parse_all(
            Format::ClaudeStreamJson,
            include_str!("../../tests/fixtures/transcripts/claude-tools.jsonl"),
        );
        assert_eq!(session.as_deref(), Some("5f1c2a7e-0d3b-4c55-9a4e-2f7b8c9d0e11"));
        assert_eq!(
            kinds(&entries),
            [
                "system",
                "thinking",
                "todo_list",
                "tool_result",
                "tool_call",
                "tool_result",
                "tool_call",
                "tool_result",
                "assistant_text",
                "raw",
                "result"
            ]
        );
        let Entry::TodoList { items } = &entries[2] else { unreachable!() };
        assert_eq!(items[0], TodoItem { text: "Read src/lib.rs".into(), status: "in_progress".into() });
        let Entry::ToolCall { tool, summary, .. } = &entries[4] else { unreachable!() };
        assert_eq!((tool.as_str(), summary.as_str()), ("Bash", "cargo test --quiet"));
        let Entry::ToolResult { ok, output, .. } = &entries[5] else { unreachable!() };
        assert!(!ok);
        assert_eq!(output, "error[E0425]: cannot find function `greet`");
        let Entry::ToolCall { summary, .. } = &entries[6] else { unreachable!() };
        assert_eq!(summary, "/work/tree/src/lib.rs");
        let Entry::Result { ok, cost_usd, input_tokens, output_tokens, duration_ms, .. } = &entries[10]
        else {
            unreachable!()
        };
        assert!(ok);
        assert_eq!(
            (*cost_usd, *input_tokens, *output_tokens, *duration_ms),
            (Some(0.0421), Some(3192), Some(175), Some(8123))
        );
    }

    #[test]
    fn codex_items_become_entries_and_the_thread_id_is_the_session() {
        let (entries, session) =
            parse_all(Format::CodexJson, include_str!("../../tests/fixtures/transcripts/codex-items.jsonl"));
        assert_eq!(session.as_deref(), Some("0199a213-81c0-7800-8aa1-bbab2a035a53"));
        assert_eq!(
            kinds(&entries),
            [
                "system",
                "thinking",
                "tool_call",
                "tool_result",
                "todo_list",
                "tool_call",
                "assistant_text",
                "result"
            ]
        );
        let Entry::ToolResult { ok, output, .. } = &entries[3] else { unreachable!() };
        assert!(ok);
        assert_eq!(output, "Cargo.toml\nsrc\n");
        let Entry::TodoList { items } = &entries[4] else { unreachable!() };
        assert_eq!(items[0].status, "completed");
        assert_eq!(items[1].status, "pending");
    }

    #[test]
    fn codex_reconnecting_without_network_is_news_not_an_error() {
        // Recorded from Codex CLI 0.169.0 with no network.
        let (entries, session) = parse_all(
            Format::CodexJson,
            include_str!("../../tests/fixtures/transcripts/codex-offline.jsonl"),
        );
        assert!(session.is_some());
        assert!(
            entries.iter().any(
                |entry| matches!(entry, Entry::System { message } if message.starts_with("Reconnecting"))
            )
        );
        assert!(entries.iter().all(|entry| !matches!(entry, Entry::Raw { .. })), "{entries:?}");
    }

    #[test]
    fn gemini_deltas_are_joined_and_tools_and_stats_read() {
        let (entries, session) = parse_all(
            Format::GeminiStreamJson,
            include_str!("../../tests/fixtures/transcripts/gemini-stream.jsonl"),
        );
        assert_eq!(session.as_deref(), Some("c0ffee00-1111-2222-3333-444455556666"));
        assert_eq!(
            kinds(&entries),
            ["system", "assistant_text", "tool_call", "tool_result", "assistant_text", "result"]
        );
        assert_eq!(entries[1], Entry::AssistantText { text: "I'll read the file first.".into() });
        let Entry::ToolCall { summary, .. } = &entries[2] else { unreachable!() };
        assert_eq!(summary, "/work/tree/src/lib.rs");
        let Entry::Result { ok, input_tokens, duration_ms, .. } = &entries[5] else { unreachable!() };
        assert_eq!((*ok, *input_tokens, *duration_ms), (true, Some(250), Some(3500)));
    }

    #[test]
    fn unknown_events_are_kept_raw_and_plain_lines_as_text() {
        let mut parser = Format::ClaudeStreamJson.parser();
        assert_eq!(
            parser.line(r#"{"type":"future_event","x":1}"#).entries,
            [Entry::Raw { line: r#"{"type":"future_event","x":1}"#.into() }]
        );
        assert_eq!(
            parser.line("warning: something\r\n").entries,
            [Entry::AssistantText { text: "warning: something".into() }]
        );
        assert!(parser.line("   ").entries.is_empty());
    }

    #[test]
    fn long_tool_output_is_cut_and_says_so() {
        let long = "x".repeat(TOOL_OUTPUT_LIMIT + 10);
        let Entry::ToolResult { output, truncated, .. } = tool_result(None, true, &long) else {
            unreachable!()
        };
        assert_eq!((output.len(), truncated), (TOOL_OUTPUT_LIMIT, true));
    }

    #[test]
    fn summaries_are_one_short_line() {
        let input = serde_json::json!({ "command": format!("{}\nsecond", "a".repeat(300)) });
        let summary = summarize("Bash", &input);
        assert_eq!(summary.chars().count(), SUMMARY_LIMIT);
        assert!(summary.ends_with('…'));
        assert_eq!(summarize("Mystery", &serde_json::json!({ "n": 1 })), "Mystery");
    }
}
