//! Requests' SQL (M3): what an agent asks of the user — an approval of a tool call or a
//! question — and how each was closed. The rules (who may decide, what a decision does)
//! are `board::requests`'s and the agent side is `agents::control`'s; these run on the
//! connection they are given. A request opening or closing publishes `request.opened` /
//! `request.closed` and the task (whose `waiting_for` changed) on the task's and its
//! board's streams.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::Timestamp;

use super::events::{self, EventKind, board_stream, task_stream};
use super::tasks::{self as task_rows, Task};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "request_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A tool call the agent wants to make.
    Approval,
    /// A question the agent asks.
    Question,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "request_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    /// Approved, and the same tool is allowed for the rest of the run.
    ApprovedForSession,
    Denied,
    Answered,
    /// Nobody decided within the board's `approval_timeout_minutes`: denied.
    TimedOut,
    /// The run ended (stopped, or viban stopped) before anyone decided.
    Interrupted,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::ApprovedForSession => "approved for the session",
            Self::Denied => "denied",
            Self::Answered => "answered",
            Self::TimedOut => "timed out",
            Self::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Request {
    pub id: Uuid,
    pub task_id: Uuid,
    /// The agent run that asked; null for a question asked outside a run.
    pub session_id: Option<Uuid>,
    pub kind: RequestKind,
    pub status: RequestStatus,
    /// An approval's tool, e.g. `Bash`.
    pub tool: Option<String>,
    /// An approval's input in one line: the command, the file.
    pub summary: Option<String>,
    /// An approval's input as the agent gave it.
    pub input: Option<Value>,
    /// Why the agent asks, in its words (or its CLI's).
    pub reason: Option<String>,
    /// A question's text.
    pub question: Option<String>,
    /// The answer to a question, or the note given with a denial.
    pub answer: Option<String>,
    /// Who or what closed it: `user`, `timeout`, `run ended`, `viban restarted`.
    pub decided_by: Option<String>,
    pub created_at: Timestamp,
    /// When a pending approval is denied for want of a decision.
    pub timeout_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
}

macro_rules! request_fields {
    () => {
        "id, task_id, session_id, kind, status, tool, summary, input, reason, question, answer, decided_by, \
         created_at, timeout_at, decided_at"
    };
}
super::record::record!(Request, request_fields, "requests");

/// What a new request is made of.
#[derive(Debug, Default)]
pub struct NewRequest<'a> {
    pub session_id: Option<Uuid>,
    pub tool: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub input: Option<&'a Value>,
    pub reason: Option<&'a str>,
    pub question: Option<&'a str>,
    pub timeout_at: Option<OffsetDateTime>,
}

/// Inserts a pending request and publishes it; `None` if the task does not exist.
pub async fn open(
    connection: &mut PgConnection,
    task_id: Uuid,
    kind: RequestKind,
    new: &NewRequest<'_>,
) -> Result<Option<Request>, sqlx::Error> {
    let request: Option<Request> = sqlx::query_as(concat!(
        "INSERT INTO requests (task_id, session_id, kind, tool, summary, input, reason, question, timeout_at)
         SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM tasks WHERE id = $1 RETURNING ",
        request_fields!()
    ))
    .bind(task_id)
    .bind(new.session_id)
    .bind(kind)
    .bind(new.tool)
    .bind(new.summary)
    .bind(new.input)
    .bind(new.reason)
    .bind(new.question)
    .bind(new.timeout_at)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(request) = &request {
        publish(connection, request, EventKind::RequestOpened).await?;
    }
    Ok(request)
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Request>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

/// The request, locked until the transaction ends.
pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<Request>, sqlx::Error> {
    super::record::one(connection, "id = $1 FOR UPDATE", id).await
}

/// The task's pending requests and the `recent` latest closed ones, oldest first.
pub async fn for_task(
    connection: &mut PgConnection,
    task_id: Uuid,
    recent: i64,
) -> Result<Vec<Request>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        request_fields!(),
        " FROM (SELECT * FROM requests WHERE task_id = $1 AND status = 'pending'
                UNION ALL
                (SELECT * FROM requests WHERE task_id = $1 AND status <> 'pending'
                 ORDER BY created_at DESC LIMIT $2)) AS requests
         ORDER BY created_at, id"
    ))
    .bind(task_id)
    .bind(recent)
    .fetch_all(connection)
    .await
}

/// Closes a pending request with `status`; `None` if it was not pending (or does not
/// exist). Publishes it.
pub async fn close(
    connection: &mut PgConnection,
    id: Uuid,
    status: RequestStatus,
    answer: Option<&str>,
    decided_by: &str,
) -> Result<Option<Request>, sqlx::Error> {
    let request: Option<Request> = sqlx::query_as(concat!(
        "UPDATE requests SET status = $2, answer = $3, decided_by = $4, decided_at = now()
         WHERE id = $1 AND status = 'pending' RETURNING ",
        request_fields!()
    ))
    .bind(id)
    .bind(status)
    .bind(answer)
    .bind(decided_by)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(request) = &request {
        publish(connection, request, EventKind::RequestClosed).await?;
    }
    Ok(request)
}

/// Closes the pending requests of the given runs as interrupted (`decided_by` says
/// why), publishing each: what a run that ends, or a restart, leaves pending.
pub async fn interrupt_for_sessions(
    connection: &mut PgConnection,
    session_ids: &[Uuid],
    decided_by: &str,
) -> Result<Vec<Request>, sqlx::Error> {
    let requests: Vec<Request> = sqlx::query_as(concat!(
        "UPDATE requests SET status = 'interrupted', decided_by = $2, decided_at = now()
         WHERE session_id = ANY($1) AND status = 'pending' RETURNING ",
        request_fields!()
    ))
    .bind(session_ids)
    .bind(decided_by)
    .fetch_all(&mut *connection)
    .await?;
    for request in &requests {
        publish(connection, request, EventKind::RequestClosed).await?;
    }
    Ok(requests)
}

/// `kind` with the request on the task's and its board's streams, then the task
/// itself (`task.updated`): its `waiting_for` changed.
async fn publish(
    connection: &mut PgConnection,
    request: &Request,
    kind: EventKind,
) -> Result<(), sqlx::Error> {
    let Some(task): Option<Task> = task_rows::get(connection, request.task_id).await? else { return Ok(()) };
    events::publish(connection, &[board_stream(task.board_id), task_stream(task.id)], kind, &json!(request))
        .await?;
    task_rows::publish(connection, &task, EventKind::TaskUpdated).await
}
