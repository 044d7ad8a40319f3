//! Agent sessions (A4, A7): one row per run of an agent on a task, with how it ended;
//! and the entries it produced, appended to the task's activity (D6) and published on
//! the task's stream in the same transaction.

use crate::schema::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::events::{self, EventKind, task_stream};
use super::tasks::{self, AgentStatus, Task};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, schemars::JsonSchema)]
#[sqlx(type_name = "agent_session_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Stopped,
    Interrupted,
    TimedOut,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct AgentSession {
    pub id: Uuid,
    pub task_id: Uuid,
    pub agent: String,
    /// The agent's own session or thread id: what a follow-up resumes.
    pub external_session_id: Option<String>,
    pub status: SessionStatus,
    pub prompt: String,
    /// The argv it ran.
    pub command: Value,
    pub exit_code: Option<i32>,
    /// The end of its standard error, kept for failures.
    pub stderr_tail: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

macro_rules! session_fields {
    () => {
        "id, task_id, agent, external_session_id, status, prompt, command, exit_code, stderr_tail, \
         cost_usd::float8 AS cost_usd, input_tokens, output_tokens, created_at, started_at, finished_at"
    };
}
super::record::record!(AgentSession, session_fields, "agent_sessions");

/// How a run ended, as stored.
#[derive(Debug, Default)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub stderr_tail: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

pub async fn create(
    pool: &PgPool,
    task_id: Uuid,
    agent: &str,
    prompt: &str,
    resumes: Option<&str>,
    instance_id: &str,
) -> Result<AgentSession, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let session: AgentSession = sqlx::query_as(concat!(
        "INSERT INTO agent_sessions (task_id, agent, prompt, external_session_id, instance_id)
         VALUES ($1, $2, $3, $4, $5) RETURNING ",
        session_fields!()
    ))
    .bind(task_id)
    .bind(agent)
    .bind(prompt)
    .bind(resumes)
    .bind(instance_id)
    .fetch_one(&mut *tx)
    .await?;
    append(&mut tx, task_id, None, &[json!({ "kind": "user_message", "text": prompt })]).await?;
    set_task_status(&mut tx, task_id, AgentStatus::Queued, Some("Waiting for a free agent slot"), None)
        .await?;
    publish_session(&mut tx, &session).await?;
    tx.commit().await?;
    Ok(session)
}

/// A task's sessions, oldest first.
pub async fn for_task(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Vec<AgentSession>, sqlx::Error> {
    super::record::all(connection, "task_id = $1 ORDER BY created_at, id", task_id).await
}

/// The latest session of a task that has an agent session id to resume.
pub async fn latest_resumable(
    connection: &mut PgConnection,
    task_id: Uuid,
) -> Result<Option<AgentSession>, sqlx::Error> {
    super::record::one(
        connection,
        "task_id = $1 AND external_session_id IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
        task_id,
    )
    .await
}

pub async fn started(
    pool: &PgPool,
    session: &AgentSession,
    command: &[String],
    process_group: Option<u32>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let session: AgentSession = sqlx::query_as(concat!(
        "UPDATE agent_sessions SET status = 'running', started_at = now(), command = $2, process_group = $3
         WHERE id = $1 RETURNING ",
        session_fields!()
    ))
    .bind(session.id)
    .bind(json!(command))
    .bind(process_group.and_then(|group| i32::try_from(group).ok()))
    .fetch_one(&mut *tx)
    .await?;
    let message = format!("Running {}", session.agent);
    set_task_status(&mut tx, session.task_id, AgentStatus::Running, Some(&message), None).await?;
    publish_session(&mut tx, &session).await?;
    tx.commit().await
}

pub async fn set_external_id(pool: &PgPool, session_id: Uuid, external: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agent_sessions SET external_session_id = $2 WHERE id = $1")
        .bind(session_id)
        .bind(external)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Records the end of a run and what the task shows for it.
pub async fn finish(
    pool: &PgPool,
    session_id: Uuid,
    status: SessionStatus,
    outcome: &Outcome,
    task_status: AgentStatus,
    message: Option<&str>,
    error: Option<&str>,
) -> Result<AgentSession, sqlx::Error> {
    super::retrying(|| async {
        let mut tx = pool.begin().await?;
        let session: AgentSession = sqlx::query_as(concat!(
            "UPDATE agent_sessions SET status = $2, exit_code = $3, stderr_tail = $4, cost_usd = $5::float8::numeric,
                    input_tokens = $6, output_tokens = $7, finished_at = now()
             WHERE id = $1 RETURNING ",
            session_fields!()
        ))
        .bind(session_id)
        .bind(status)
        .bind(outcome.exit_code)
        .bind(&outcome.stderr_tail)
        .bind(outcome.cost_usd)
        .bind(outcome.input_tokens)
        .bind(outcome.output_tokens)
        .fetch_one(&mut *tx)
        .await?;
        set_task_status(&mut tx, session.task_id, task_status, message, error).await?;
        publish_session(&mut tx, &session).await?;
        tx.commit().await?;
        Ok(session)
    })
    .await
}

/// Appends entries to the task's activity and publishes one `activity.appended` event
/// naming the range of ids: the entries themselves are stored once, and the WebSocket
/// reads them for the clients that follow the task ([`activity_range`]).
pub async fn append<T: ActivityKind + Serialize + Sync>(
    connection: &mut PgConnection,
    task_id: Uuid,
    session_id: Option<Uuid>,
    entries: &[T],
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    // The entries travel as JSON text and are stored as such (a `json` column): PostgreSQL
    // checks each once and builds nothing from it. The task and session are locked once
    // for the batch, in place of a foreign-key lookup per row.
    let kinds: Vec<&str> = entries.iter().map(ActivityKind::kind).collect();
    let data = entries
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<String>, _>>()
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let (first, last, count): (Option<i64>, Option<i64>, i64) = sqlx::query_as(
        "WITH task AS (SELECT id FROM tasks WHERE id = $1 FOR KEY SHARE),
              session AS (SELECT id FROM agent_sessions WHERE id = $2 FOR KEY SHARE),
              inserted AS (
                 INSERT INTO task_activity (task_id, agent_session_id, kind, data)
                 SELECT $1, $2, kind, data::json
                 FROM UNNEST($3::text[], $4::text[]) WITH ORDINALITY AS t(kind, data, n)
                 WHERE EXISTS (SELECT FROM task) AND ($2::uuid IS NULL OR EXISTS (SELECT FROM session))
                 ORDER BY n
                 RETURNING id
              )
         SELECT min(id), max(id), count(*) FROM inserted",
    )
    .bind(task_id)
    .bind(session_id)
    .bind(kinds)
    .bind(data)
    .fetch_one(&mut *connection)
    .await?;
    if count == 0 {
        // The task or its session is gone (deleted meanwhile): nothing to record it on.
        return Err(sqlx::Error::RowNotFound);
    }
    let payload = json!({ "task_id": task_id, "first_id": first, "last_id": last, "count": count });
    events::publish(connection, &[task_stream(task_id)], EventKind::ActivityAppended, &payload).await
}

/// What an activity entry is, for the `kind` column.
pub trait ActivityKind {
    fn kind(&self) -> &str;
}

impl ActivityKind for crate::agents::parse::Entry {
    fn kind(&self) -> &str {
        crate::agents::parse::Entry::kind(self)
    }
}

/// A hand-made entry: `{"kind": …, …}`.
impl ActivityKind for Value {
    fn kind(&self) -> &str {
        self.get("kind").and_then(Value::as_str).unwrap_or("system")
    }
}

/// The entries an `activity.appended` event names, for sending it to a client.
pub async fn activity_range(
    connection: &mut PgConnection,
    payload: &Value,
) -> Result<Vec<crate::db::activity::ActivityEntry>, sqlx::Error> {
    let task_id = payload.get("task_id").and_then(Value::as_str).and_then(|id| id.parse::<Uuid>().ok());
    let range =
        (payload.get("first_id").and_then(Value::as_i64), payload.get("last_id").and_then(Value::as_i64));
    let (Some(task_id), (Some(first), Some(last))) = (task_id, range) else { return Ok(Vec::new()) };
    sqlx::query_as(
        "SELECT id, task_id, agent_session_id, kind, data, created_at FROM task_activity
         WHERE task_id = $1 AND id BETWEEN $2 AND $3 ORDER BY id",
    )
    .bind(task_id)
    .bind(first)
    .bind(last)
    .fetch_all(connection)
    .await
}

/// Attaches a pull request found in the agent's output (A6), unless the task has one.
pub async fn attach_pull_request(
    pool: &PgPool,
    task_id: Uuid,
    url: &str,
    number: i32,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let task: Option<Task> = sqlx::query_as(concat!(
        "UPDATE tasks SET pr_url = $2, pr_number = $3, pr_status = 'open', updated_at = now()
         WHERE id = $1 AND pr_url IS NULL RETURNING ",
        crate::db::tasks::task_fields!()
    ))
    .bind(task_id)
    .bind(url)
    .bind(number)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(task) = task {
        tasks::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    }
    tx.commit().await
}

/// Records the task's worktree and branch once they exist.
pub async fn set_worktree(pool: &PgPool, task_id: Uuid, path: &str, branch: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let task: Task = sqlx::query_as(concat!(
        "UPDATE tasks SET worktree_path = $2, branch = $3, updated_at = now() WHERE id = $1 RETURNING ",
        crate::db::tasks::task_fields!()
    ))
    .bind(task_id)
    .bind(path)
    .bind(branch)
    .fetch_one(&mut *tx)
    .await?;
    tasks::publish(&mut tx, &task, EventKind::TaskUpdated).await?;
    tx.commit().await
}

/// At start: runs this instance left queued or running were cut off by a stop or a
/// crash. They become `interrupted` (resumable), and so do their tasks (A7). Returns
/// the process groups those runs had started, for [`crate::agents::run`] to clear.
pub async fn interrupt_orphans(pool: &PgPool, instance_id: &str) -> Result<Vec<u32>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let groups: Vec<Option<i32>> = sqlx::query_scalar(
        "SELECT process_group FROM agent_sessions WHERE status = 'running' AND instance_id = $1",
    )
    .bind(instance_id)
    .fetch_all(&mut *tx)
    .await?;
    interrupt(&mut tx, Some(instance_id), std::time::Duration::ZERO).await?;
    tx.commit().await?;
    Ok(groups.into_iter().flatten().filter_map(|group| u32::try_from(group).ok()).collect())
}

/// Runs left queued or running by instances whose heartbeat stopped more than
/// `gone_for` ago (a container that crashed and never came back, so no start of its
/// own will recover them) become `interrupted`, and so do their tasks: the tasks are
/// free to run again. Returns how many there were.
pub async fn interrupt_abandoned(pool: &PgPool, gone_for: std::time::Duration) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let interrupted = interrupt(&mut tx, None, gone_for).await?;
    tx.commit().await?;
    Ok(interrupted)
}

/// Records the active runs of `instance_id` — or, with `None`, of every instance gone
/// for `gone_for` — as interrupted, with their tasks, and publishes them.
async fn interrupt(
    connection: &mut PgConnection,
    instance_id: Option<&str>,
    gone_for: std::time::Duration,
) -> Result<usize, sqlx::Error> {
    let sessions: Vec<AgentSession> = sqlx::query_as(concat!(
        "UPDATE agent_sessions SET status = 'interrupted', finished_at = now(), process_group = NULL
         WHERE status IN ('queued', 'running')
           AND CASE WHEN $1::text IS NOT NULL THEN instance_id = $1
                    ELSE instance_id IN (SELECT id FROM instances
                                         WHERE heartbeat_at < now() - make_interval(secs => $2)) END
         RETURNING ",
        session_fields!()
    ))
    .bind(instance_id)
    .bind(gone_for.as_secs_f64())
    .fetch_all(&mut *connection)
    .await?;
    // What those runs asked and nobody decided is closed with them (docs/approvals.md).
    let ids: Vec<Uuid> = sessions.iter().map(|session| session.id).collect();
    super::requests::interrupt_for_sessions(connection, &ids, "viban restarted").await?;
    for session in &sessions {
        let message = "viban stopped during this run; resume it to continue";
        set_task_status(connection, session.task_id, AgentStatus::Interrupted, Some(message), None).await?;
        publish_session(connection, session).await?;
    }
    Ok(sessions.len())
}

async fn set_task_status(
    connection: &mut PgConnection,
    task_id: Uuid,
    status: AgentStatus,
    message: Option<&str>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let task: Option<Task> = sqlx::query_as(concat!(
        "UPDATE tasks SET agent_status = $2, status_message = $3, error = $4, updated_at = now() WHERE id = $1 RETURNING ",
        crate::db::tasks::task_fields!()
    ))
    .bind(task_id)
    .bind(status)
    .bind(message)
    .bind(error)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(task) = task {
        tasks::publish(connection, &task, EventKind::TaskUpdated).await?;
    }
    Ok(())
}

async fn publish_session(connection: &mut PgConnection, session: &AgentSession) -> Result<(), sqlx::Error> {
    events::publish(connection, &[task_stream(session.task_id)], EventKind::SessionUpdated, &json!(session))
        .await
}

/// Whether an agent run that hook execution `execution_id` started failed or ran out
/// of time (so the run's own end already said the task failed).
pub async fn failed_for_execution(
    connection: &mut PgConnection,
    execution_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM agent_sessions
                        WHERE hook_execution_id = $1 AND status IN ('failed', 'timed_out'))",
    )
    .bind(execution_id)
    .fetch_one(connection)
    .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<AgentSession>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}
