//! The approval channel of a Claude Code run under the `ask` policy (M3;
//! docs/approvals.md): the stream-json control protocol the official Agent SDKs speak.
//! The CLI runs with `--input-format stream-json --permission-prompt-tool stdio`; its
//! prompt is sent on standard input as a user message, and each permission prompt
//! arrives on its standard output as
//! `{"type":"control_request","request_id":…,"request":{"subtype":"can_use_tool",…}}`.
//! Each becomes a pending approval on the task (`db::requests`); the run goes on reading
//! output meanwhile, and the decision is written back as a `control_response`: `allow`
//! with the input, or `deny` with the user's note. "Approve for this session" allows
//! the same tool for the rest of the run without asking; nobody deciding within the
//! board's timeout denies with a note that says so. Standard input is closed after the
//! run's `result` line, which ends the CLI.
//!
//! A decision is noticed at once when it is made on this viban (the runner's
//! [`Runner::request_decided`](super::run::Runner::request_decided)) and within
//! [`FALLBACK`] when another viban on the same database made it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::warn;
use uuid::Uuid;

use super::parse;
use crate::db::requests::{self, NewRequest, RequestKind, RequestStatus};

/// How often a pending approval's row is read again, should a decision made by another
/// viban on the database go unnoticed.
const FALLBACK: Duration = Duration::from_secs(1);

/// A control message from the CLI.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Message {
    ControlRequest { request_id: String, request: Value },
    ControlCancelRequest { request_id: String },
}

impl Message {
    /// The control message `line` is, if it is one.
    pub(super) fn read(line: &str) -> Option<Self> {
        if !line.contains("\"control_") {
            return None;
        }
        serde_json::from_str(line).ok()
    }
}

/// Where the run's approvals go and how long they wait.
pub(super) struct Context {
    pub(super) pool: PgPool,
    pub(super) decided: Arc<Notify>,
    pub(super) task_id: Uuid,
    pub(super) session_id: Uuid,
    pub(super) timeout: Duration,
}

/// The run's side of the channel.
pub(super) struct Channel {
    shared: Arc<Shared>,
    /// Lines to write on the CLI's standard input; `None` once it is closed.
    writer: Option<mpsc::UnboundedSender<String>>,
    /// One task per control request being answered.
    handlers: JoinSet<()>,
    /// How to withdraw a request being answered, by the CLI's request id.
    withdraw: HashMap<String, oneshot::Sender<()>>,
}

struct Shared {
    context: Context,
    /// Tools approved for the rest of the run.
    allowed: Mutex<HashSet<String>>,
}

impl Channel {
    /// Starts writing to the CLI's standard input, the prompt first.
    pub(super) fn open(stdin: ChildStdin, prompt: &str, context: Context) -> Self {
        let (writer, lines) = mpsc::unbounded_channel();
        let mut handlers = JoinSet::new();
        handlers.spawn(write(stdin, lines));
        let user = json!({
            "type": "user",
            "message": { "role": "user", "content": [{ "type": "text", "text": prompt }] },
            "parent_tool_use_id": null,
            "session_id": "",
        });
        let _ = writer.send(user.to_string());
        let shared = Arc::new(Shared { context, allowed: Mutex::default() });
        Self { shared, writer: Some(writer), handlers, withdraw: HashMap::new() }
    }

    /// Answers a control message (in its own task: the run goes on meanwhile).
    pub(super) fn handle(&mut self, message: Message) {
        match message {
            Message::ControlRequest { request_id, request } => {
                let Some(writer) = self.writer.clone() else { return };
                let (withdraw, withdrawn) = oneshot::channel();
                self.withdraw.retain(|_, sender| !sender.is_closed());
                self.withdraw.insert(request_id.clone(), withdraw);
                let shared = self.shared.clone();
                self.handlers.spawn(async move {
                    let response = shared.answer(&request, withdrawn).await;
                    let line =
                        json!({ "type": "control_response", "response": response_to(&request_id, response) });
                    let _ = writer.send(line.to_string());
                });
            }
            Message::ControlCancelRequest { request_id } => {
                if let Some(withdraw) = self.withdraw.remove(&request_id) {
                    let _ = withdraw.send(());
                }
            }
        }
    }

    /// The run's turn has ended (its `result` line): standard input is closed once what
    /// is being written has been, which ends the CLI.
    pub(super) fn end_of_turn(&mut self) {
        self.writer = None;
    }

    /// The run has ended: what it asked and nobody decided is closed as interrupted.
    pub(super) async fn close(mut self) {
        self.handlers.abort_all();
        while self.handlers.join_next().await.is_some() {}
        let context = &self.shared.context;
        let closed = async {
            let mut tx = context.pool.begin().await?;
            requests::interrupt_for_sessions(&mut tx, &[context.session_id], "run ended").await?;
            tx.commit().await
        };
        if let Err(error) = closed.await {
            warn!("session {}: closing its pending approvals failed: {error}", context.session_id);
        }
    }
}

/// What a control request is answered with: a `can_use_tool` decision, or an error.
enum Response {
    Decision(Value),
    Unsupported(String),
}

fn response_to(request_id: &str, response: Response) -> Value {
    match response {
        Response::Decision(decision) => {
            json!({ "subtype": "success", "request_id": request_id, "response": decision })
        }
        Response::Unsupported(error) => {
            json!({ "subtype": "error", "request_id": request_id, "error": error })
        }
    }
}

fn allow(input: &Value) -> Response {
    Response::Decision(json!({ "behavior": "allow", "updatedInput": input }))
}

fn deny(message: String) -> Response {
    Response::Decision(json!({ "behavior": "deny", "message": message }))
}

impl Shared {
    async fn answer(&self, request: &Value, withdrawn: oneshot::Receiver<()>) -> Response {
        let subtype = request.get("subtype").and_then(Value::as_str).unwrap_or_default();
        if subtype != "can_use_tool" {
            return Response::Unsupported(format!(
                "viban does not handle control requests of subtype {subtype:?}"
            ));
        }
        let tool = request.get("tool_name").and_then(Value::as_str).unwrap_or("a tool");
        let input = request.get("input").cloned().unwrap_or_else(|| json!({}));
        if self.allowed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(tool) {
            return allow(&input);
        }
        let reason = ["description", "decision_reason", "title"]
            .iter()
            .find_map(|key| request.get(*key).and_then(Value::as_str))
            .filter(|reason| !reason.trim().is_empty());
        match self.ask(tool, &input, reason, withdrawn).await {
            Ok(response) => response,
            Err(error) => {
                warn!("session {}: an approval request failed: {error}", self.context.session_id);
                deny(format!("viban could not record the approval request ({error}); the call was denied"))
            }
        }
    }

    /// Opens a pending approval and waits for its decision.
    async fn ask(
        &self,
        tool: &str,
        input: &Value,
        reason: Option<&str>,
        mut withdrawn: oneshot::Receiver<()>,
    ) -> Result<Response, sqlx::Error> {
        let context = &self.context;
        let timeout_at = time::OffsetDateTime::now_utc()
            + time::Duration::try_from(context.timeout).unwrap_or(time::Duration::MAX);
        let summary = parse::summarize(tool, input);
        let new = NewRequest {
            session_id: Some(context.session_id),
            tool: Some(tool),
            summary: Some(&summary),
            input: Some(input),
            reason,
            question: None,
            timeout_at: Some(timeout_at),
        };
        let mut tx = context.pool.begin().await?;
        let opened = requests::open(&mut tx, context.task_id, RequestKind::Approval, &new).await?;
        tx.commit().await?;
        let Some(request) = opened else {
            return Ok(deny("the task no longer exists".into()));
        };
        let deadline = tokio::time::Instant::now() + context.timeout;
        loop {
            // Listening before reading: a decision made in between is not missed.
            let decided = context.decided.notified();
            tokio::pin!(decided);
            decided.as_mut().enable();
            let mut connection = context.pool.acquire().await?;
            let current = requests::get(&mut connection, request.id).await?;
            drop(connection);
            let Some(current) = current else { return Ok(deny("the request was deleted".into())) };
            let note = current.answer.as_deref().map(str::trim).filter(|note| !note.is_empty());
            match current.status {
                RequestStatus::Pending => {}
                RequestStatus::Approved => return Ok(allow(input)),
                RequestStatus::ApprovedForSession => {
                    self.allowed
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(tool.to_string());
                    return Ok(allow(input));
                }
                RequestStatus::Denied => {
                    return Ok(deny(match note {
                        Some(note) => format!("The user denied this tool call: {note}"),
                        None => "The user denied this tool call.".into(),
                    }));
                }
                RequestStatus::TimedOut | RequestStatus::Answered | RequestStatus::Interrupted => {
                    return Ok(deny(note.unwrap_or("nobody approved this tool call").to_string()));
                }
            }
            tokio::select! {
                () = decided => {}
                () = tokio::time::sleep(FALLBACK) => {}
                () = tokio::time::sleep_until(deadline) => {
                    let note = format!(
                        "Nobody approved this tool call within {}; it was denied. Continue without it, or \
                         explain why it is needed.",
                        waited(context.timeout)
                    );
                    let mut tx = context.pool.begin().await?;
                    requests::close(&mut tx, request.id, RequestStatus::TimedOut, Some(&note), "timeout").await?;
                    tx.commit().await?;
                    // Read again: the timeout, or a decision made just before it.
                }
                _ = &mut withdrawn => {
                    let mut tx = context.pool.begin().await?;
                    requests::close(&mut tx, request.id, RequestStatus::Interrupted, None, "the agent withdrew it")
                        .await?;
                    tx.commit().await?;
                    return Ok(deny("withdrawn".into()));
                }
            }
        }
    }
}

/// A timeout in words: "30 minutes", "3 seconds".
fn waited(timeout: Duration) -> String {
    let seconds = timeout.as_secs();
    if seconds >= 120 && seconds.is_multiple_of(60) {
        format!("{} minutes", seconds / 60)
    } else {
        format!("{seconds} seconds")
    }
}

/// Writes lines to the CLI's standard input until the channel's writers are gone, then
/// closes it.
async fn write(mut stdin: ChildStdin, mut lines: mpsc::UnboundedReceiver<String>) {
    while let Some(mut line) = lines.recv().await {
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines_are_told_from_the_rest() {
        let request = r#"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"ls"}}}"#;
        assert!(
            matches!(Message::read(request), Some(Message::ControlRequest { request_id, .. }) if request_id == "r1")
        );
        let cancel = r#"{"type":"control_cancel_request","request_id":"r1"}"#;
        assert!(matches!(Message::read(cancel), Some(Message::ControlCancelRequest { .. })));
        let text =
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"\"control_request\""}]}}"#;
        assert!(Message::read(text).is_none());
    }

    #[test]
    fn a_decision_is_a_success_response_in_the_sdk_shape() {
        let allowed = response_to("r1", allow(&json!({ "command": "ls" })));
        assert_eq!(
            allowed,
            json!({ "subtype": "success", "request_id": "r1",
                    "response": { "behavior": "allow", "updatedInput": { "command": "ls" } } })
        );
        let denied = response_to("r2", deny("no".into()));
        assert_eq!(denied["response"], json!({ "behavior": "deny", "message": "no" }));
        assert_eq!(waited(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(waited(Duration::from_secs(3)), "3 seconds");
    }
}
