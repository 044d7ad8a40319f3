//! The realtime event log (D8). Every change appends one event per stream it concerns
//! (`board:<id>`, `task:<id>`), numbered per stream, in the transaction that makes
//! the change, and NOTIFYs `viban_events`: PostgreSQL delivers the notification only
//! if the transaction commits, to every viban process listening on the database.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;

pub const CHANNEL: &str = "viban_events";
/// NOTIFY payloads must stay under 8000 bytes; larger events are fetched by id.
const INLINE_LIMIT: usize = 7000;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    #[serde(skip)]
    pub id: i64,
    pub stream: String,
    pub seq: i64,
    pub kind: String,
    pub payload: Value,
}

/// What happened: the `kind` of an event, as clients (the web UI, `docs/`) read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    BoardCreated,
    BoardUpdated,
    BoardDeleted,
    ColumnCreated,
    ColumnUpdated,
    ColumnDeleted,
    TemplateCreated,
    TemplateUpdated,
    TemplateDeleted,
    HookCreated,
    HookUpdated,
    HookDeleted,
    ColumnHookCreated,
    ColumnHookUpdated,
    ColumnHookDeleted,
    TaskCreated,
    TaskUpdated,
    TaskMoved,
    TaskDeleted,
    HookExecutionUpdated,
    /// A `play-sound` hook: clients showing the board play the sound.
    SoundPlayed,
    SessionUpdated,
    ActivityAppended,
    ReviewCommentCreated,
    ReviewCommentUpdated,
    ReviewCommentDeleted,
    /// Comments went to the agent as one message.
    ReviewCommentsSent,
    /// The task's branch went into its base (on the task's stream).
    TaskMerged,
    /// The task's branch was rebased onto its base (on the task's stream).
    TaskRebased,
    /// An agent asks the user: an approval or a question (`db::requests`).
    RequestOpened,
    /// A request was decided, answered, timed out or interrupted.
    RequestClosed,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BoardCreated => "board.created",
            Self::BoardUpdated => "board.updated",
            Self::BoardDeleted => "board.deleted",
            Self::ColumnCreated => "column.created",
            Self::ColumnUpdated => "column.updated",
            Self::ColumnDeleted => "column.deleted",
            Self::TemplateCreated => "template.created",
            Self::TemplateUpdated => "template.updated",
            Self::TemplateDeleted => "template.deleted",
            Self::HookCreated => "hook.created",
            Self::HookUpdated => "hook.updated",
            Self::HookDeleted => "hook.deleted",
            Self::ColumnHookCreated => "column_hook.created",
            Self::ColumnHookUpdated => "column_hook.updated",
            Self::ColumnHookDeleted => "column_hook.deleted",
            Self::TaskCreated => "task.created",
            Self::TaskUpdated => "task.updated",
            Self::TaskMoved => "task.moved",
            Self::TaskDeleted => "task.deleted",
            Self::HookExecutionUpdated => "hook_execution.updated",
            Self::SoundPlayed => "sound.played",
            Self::SessionUpdated => "session.updated",
            Self::ActivityAppended => "activity.appended",
            Self::ReviewCommentCreated => "review_comment.created",
            Self::ReviewCommentUpdated => "review_comment.updated",
            Self::ReviewCommentDeleted => "review_comment.deleted",
            Self::ReviewCommentsSent => "review_comment.sent",
            Self::TaskMerged => "task.merged",
            Self::TaskRebased => "task.rebased",
            Self::RequestOpened => "request.opened",
            Self::RequestClosed => "request.closed",
        }
    }
}

impl EventKind {
    /// Whether an event of this kind on a board's stream changes what the board's view
    /// (`GET /api/boards/{id}`) shows: the view is cached by the sequence of the last
    /// such event ([`view_seq`]). A hook execution's progress and a sound do not.
    pub const fn changes_board_view(self) -> bool {
        !matches!(
            self,
            Self::HookExecutionUpdated
                | Self::SoundPlayed
                | Self::SessionUpdated
                | Self::ActivityAppended
                | Self::ReviewCommentCreated
                | Self::ReviewCommentUpdated
                | Self::ReviewCommentDeleted
                | Self::ReviewCommentsSent
                | Self::TaskMerged
                | Self::TaskRebased
        )
    }
}

pub fn board_stream(board_id: uuid::Uuid) -> String {
    format!("board:{board_id}")
}

pub fn task_stream(task_id: uuid::Uuid) -> String {
    format!("task:{task_id}")
}

/// Locks `stream`'s sequence row until the transaction ends, as publishing on it would.
/// A transaction that will lock a column and publish on its board takes this lock first
/// ([`super::tasks::lock_column`]): every writer then takes the two in the same order,
/// the board's stream before its column, and none waits for another in a cycle.
pub async fn lock_stream(connection: &mut PgConnection, stream: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_streams (stream, last_seq, view_seq) VALUES ($1, 0, 0)
         ON CONFLICT (stream) DO UPDATE SET last_seq = event_streams.last_seq",
    )
    .bind(stream)
    .execute(connection)
    .await?;
    Ok(())
}

/// Appends `kind` with `payload` to each of `streams` and notifies listeners on commit.
pub async fn publish(
    connection: &mut PgConnection,
    streams: &[String],
    kind: EventKind,
    payload: &Value,
) -> Result<(), sqlx::Error> {
    if streams.is_empty() {
        return Ok(());
    }
    // One statement for all the streams: the stream rows it locks stay locked until the
    // transaction ends, and a board's stream is shared by every request and hook on the
    // board, so each round trip made while holding it is one the board's other writers
    // wait for. The streams are locked in one order, by name (`board:…` before
    // `task:…`), so two writers never hold one each and wait for the other's; a stream
    // named twice gets one event.
    sqlx::query(
        "WITH numbered AS (
             INSERT INTO event_streams (stream, last_seq, view_seq)
             SELECT DISTINCT stream, 1, CASE WHEN $2 THEN 1 ELSE 0 END
             FROM unnest($1::text[]) AS stream ORDER BY stream
             ON CONFLICT (stream) DO UPDATE SET last_seq = event_streams.last_seq + 1,
                 view_seq = CASE WHEN $2 THEN event_streams.last_seq + 1 ELSE event_streams.view_seq END
             RETURNING stream, last_seq
         ), appended AS (
             INSERT INTO events (stream, seq, kind, payload)
             SELECT stream, last_seq, $3, $4 FROM numbered
             RETURNING id, stream, seq
         ), messages AS (
             SELECT id, json_build_object('id', id, 'stream', stream, 'seq', seq, 'kind', $3::text,
                                          'payload', $4::jsonb)::text AS message
             FROM appended
         )
         SELECT pg_notify($5, CASE WHEN octet_length(message) <= $6 THEN message
                                   ELSE json_build_object('id', id)::text END)
         FROM messages ORDER BY id",
    )
    .bind(streams)
    .bind(kind.changes_board_view())
    .bind(kind.as_str())
    .bind(payload)
    .bind(CHANNEL)
    .bind(INLINE_LIMIT as i32)
    .execute(connection)
    .await?;
    Ok(())
}

/// Publishes `kind` with `value` (serialized) on board `board_id`'s stream: what every
/// change to a board's columns, hooks, templates or the board itself does.
pub async fn publish_on_board(
    connection: &mut PgConnection,
    board_id: uuid::Uuid,
    kind: EventKind,
    value: &impl Serialize,
) -> Result<(), sqlx::Error> {
    publish(connection, &[board_stream(board_id)], kind, &json!(value)).await
}

pub async fn by_id(connection: &mut PgConnection, id: i64) -> Result<Option<Event>, sqlx::Error> {
    sqlx::query_as("SELECT id, stream, seq, kind, payload FROM events WHERE id = $1")
        .bind(id)
        .fetch_optional(connection)
        .await
}

/// The stream's latest sequence number (0 if nothing happened on it yet).
pub async fn last_seq(connection: &mut PgConnection, stream: &str) -> Result<i64, sqlx::Error> {
    Ok(sequences(connection, stream).await?.0)
}

/// The sequence of the last event on `stream` that changed a board view
/// ([`EventKind::changes_board_view`]): the version of board `stream`'s view (0 if
/// nothing happened on it yet).
pub async fn view_seq(connection: &mut PgConnection, stream: &str) -> Result<i64, sqlx::Error> {
    Ok(sequences(connection, stream).await?.1)
}

/// The stream's `last_seq` and `view_seq` (0 and 0 if nothing happened on it yet).
async fn sequences(connection: &mut PgConnection, stream: &str) -> Result<(i64, i64), sqlx::Error> {
    let seqs: Option<(i64, i64)> =
        sqlx::query_as("SELECT last_seq, view_seq FROM event_streams WHERE stream = $1")
            .bind(stream)
            .fetch_optional(connection)
            .await?;
    Ok(seqs.unwrap_or_default())
}

/// Events of `stream` after `after`, or `None` if some of them were already pruned
/// (the client must reload instead: a "resync").
pub async fn since(
    connection: &mut PgConnection,
    stream: &str,
    after: i64,
    limit: i64,
) -> Result<Option<Vec<Event>>, sqlx::Error> {
    let events: Vec<Event> = sqlx::query_as(
        "SELECT id, stream, seq, kind, payload FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(stream)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    let expected_first = after + 1;
    let last = last_seq(connection, stream).await?;
    let complete = match events.first() {
        Some(first) => first.seq == expected_first,
        None => last <= after,
    };
    Ok(complete.then_some(events))
}

/// Drops events older than `keep`: retention is bounded, clients past it resync.
pub async fn prune(connection: &mut PgConnection, keep: time::Duration) -> Result<u64, sqlx::Error> {
    let cutoff = OffsetDateTime::now_utc() - keep;
    let result =
        sqlx::query("DELETE FROM events WHERE created_at < $1").bind(cutoff).execute(connection).await?;
    Ok(result.rows_affected())
}
