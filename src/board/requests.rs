//! What agents ask of the user (M3; docs/approvals.md): approvals of tool calls, which a
//! run under the board's `ask` policy waits on (`agents::control` opens them), and
//! questions, whose answer becomes the agent's next message. Deciding and answering
//! live here, once, for every adapter: the task panel through the API, and MCP.
//!
//! A request is closed once: a second decision is a conflict that says who closed it
//! and when.

use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::pipeline::{self, Chat};
use super::{Error, Result, bounded_text, required_text};
use crate::agents::run::Runner;
use crate::agents::settings::PermissionPolicy;
use crate::db::requests::{self as request_rows, NewRequest, Request, RequestKind, RequestStatus};
use crate::limits::TEXT_MAX;

/// Closed requests listed after the pending ones (`GET /api/tasks/{id}/requests`).
const RECENT: i64 = 20;

/// A decision on an approval (`POST /api/approvals/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    /// Approve, and allow the same tool for the rest of the run without asking.
    ApproveForSession,
    /// Deny; the note, if any, is what the agent is told.
    Deny,
}

/// The board settings of approvals, when given: `permission_policy` is one of the
/// three (or null for viban's default), `approval_timeout_minutes` a positive number.
pub(crate) fn check_settings(settings: &serde_json::Value) -> Result<()> {
    if let Some(policy) = settings.get("permission_policy").filter(|policy| !policy.is_null())
        && serde_json::from_value::<PermissionPolicy>(policy.clone()).is_err()
    {
        return Err(Error::invalid(
            "settings.permission_policy",
            "settings.permission_policy must be \"ask\", \"accept_edits\" or \"bypass\"",
        ));
    }
    if let Some(minutes) = settings.get("approval_timeout_minutes").filter(|minutes| !minutes.is_null())
        && !minutes.as_f64().is_some_and(|minutes| minutes > 0.0)
    {
        return Err(Error::invalid(
            "settings.approval_timeout_minutes",
            "settings.approval_timeout_minutes must be a number of minutes above 0",
        ));
    }
    Ok(())
}

/// The task's pending requests and its latest closed ones, oldest first.
pub async fn list(pool: &PgPool, task_id: Uuid) -> Result<Vec<Request>> {
    let mut connection = pool.acquire().await?;
    super::tasks::existing(&mut connection, task_id).await?;
    Ok(request_rows::for_task(&mut connection, task_id, RECENT).await?)
}

/// Decides a pending approval; the run waiting on it continues with the decision.
pub async fn decide(
    pool: &PgPool,
    runner: &Runner,
    id: Uuid,
    decision: Decision,
    note: Option<String>,
) -> Result<Request> {
    let note = note.map(|note| bounded_text("note", note.trim(), TEXT_MAX)).transpose()?;
    let note = note.filter(|note| !note.is_empty());
    if note.is_some() && decision != Decision::Deny {
        return Err(Error::invalid("note", "a note goes with a denial only"));
    }
    let status = match decision {
        Decision::Approve => RequestStatus::Approved,
        Decision::ApproveForSession => RequestStatus::ApprovedForSession,
        Decision::Deny => RequestStatus::Denied,
    };
    let mut tx = pool.begin().await?;
    let current = pending(&mut tx, id, RequestKind::Approval).await?;
    let closed = request_rows::close(&mut tx, current.id, status, note.as_deref(), "user").await?;
    let closed = closed.ok_or_else(|| Error::conflict("the approval was closed meanwhile"))?;
    tx.commit().await?;
    runner.request_decided();
    Ok(closed)
}

/// Answers a pending question: the answer is queued as the agent's next message, as a
/// chat message is (`board::pipeline::message`).
pub async fn answer(pool: &PgPool, runner: &Runner, id: Uuid, answer: &str) -> Result<(Request, Chat)> {
    let answer = required_text("answer", answer, TEXT_MAX)?;
    let mut tx = pool.begin().await?;
    let current = pending(&mut tx, id, RequestKind::Question).await?;
    let closed =
        request_rows::close(&mut tx, current.id, RequestStatus::Answered, Some(&answer), "user").await?;
    let closed = closed.ok_or_else(|| Error::conflict("the question was closed meanwhile"))?;
    let chat =
        pipeline::queue_message(&mut tx, runner.is_running(closed.task_id), closed.task_id, &answer).await?;
    tx.commit().await?;
    runner.request_decided();
    Ok((closed, chat))
}

/// A question from the task's agent to the user (MCP's `ask_user`): a pending request
/// the task shows as "Needs you"; [`answer`] queues the answer as the agent's next
/// message.
pub async fn ask_question(pool: &PgPool, task_id: Uuid, question: &str) -> Result<Request> {
    let question = required_text("question", question, TEXT_MAX)?;
    let mut tx = pool.begin().await?;
    let new = NewRequest { question: Some(&question), ..NewRequest::default() };
    let request = request_rows::open(&mut tx, task_id, RequestKind::Question, &new)
        .await?
        .ok_or_else(|| Error::not_found("task", task_id))?;
    tx.commit().await?;
    Ok(request)
}

/// The request `id`, locked, if it is a pending `kind`: else 404 (none, or another
/// kind) or 409 naming who closed it and when.
async fn pending(tx: &mut sqlx::PgConnection, id: Uuid, kind: RequestKind) -> Result<Request> {
    let what = match kind {
        RequestKind::Approval => "approval",
        RequestKind::Question => "question",
    };
    let request = request_rows::lock(tx, id)
        .await?
        .filter(|request| request.kind == kind)
        .ok_or_else(|| Error::not_found(what, id))?;
    if request.status != RequestStatus::Pending {
        let by = request.decided_by.as_deref().unwrap_or("someone");
        let when = request
            .decided_at
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        return Err(Error::Conflict {
            title: "Already decided",
            message: format!("this {what} was already {} by {by} at {when}", request.status.as_str()),
        });
    }
    Ok(request)
}
