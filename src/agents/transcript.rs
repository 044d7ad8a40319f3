//! A run's output turned into its record: each line parsed into entries (on the
//! output's reader task, [`AgentLines`]), the entries stored as task activity in
//! batches, what the record needs kept on the way (the agent's session id, its
//! result, cost and tokens, its last error, the first pull request link, A6), and at
//! the end how the run ended — with the agent's own words when it failed.

use std::process::ExitStatus;
use std::time::Duration;

use sqlx::PgPool;
use tracing::warn;
use uuid::Uuid;

use super::parse::{Entry, Parsed, Parser};
use super::run::StopReason;
use crate::db::sessions::{self, Outcome, SessionStatus};
use crate::db::tasks::AgentStatus;
use crate::process;

/// Entries written in one transaction at most.
const BATCH: usize = 2000;

/// How a run ended.
pub(super) enum Ending {
    Exited(Option<ExitStatus>),
    Stopped(StopReason),
    TimedOut,
    /// It never started; the message says why.
    NotStarted(String),
}

impl From<process::Outcome<StopReason>> for Ending {
    fn from(outcome: process::Outcome<StopReason>) -> Self {
        match outcome {
            process::Outcome::Exited(status) => Ending::Exited(status),
            process::Outcome::Stopped(reason) => Ending::Stopped(reason),
            process::Outcome::TimedOut => Ending::TimedOut,
        }
    }
}

/// The agent's output parsed line by line, each line's entries serialized on the
/// reader task rather than on the way to the database.
pub(super) struct AgentLines(pub(super) Parser);

impl process::Lines for AgentLines {
    type Item = Chunk;

    fn line(&mut self, line: &str) -> Chunk {
        if let Some(message) = super::control::Message::read(line) {
            return Chunk { entries: Vec::new(), session_id: None, control: Some(message) };
        }
        Chunk::from(self.0.line(line))
    }

    fn end(mut self) -> Option<Chunk> {
        Some(Chunk::from(self.0.finish()))
    }
}

/// What one line produced, ready to store.
pub(super) struct Chunk {
    entries: Vec<Stored>,
    session_id: Option<String>,
    /// A control message of the approval channel (`control`): not activity.
    control: Option<super::control::Message>,
}

impl Chunk {
    /// The entries the line produced.
    pub(super) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().map(|stored| &stored.entry)
    }

    /// The control message the line was, taken out.
    pub(super) fn take_control(&mut self) -> Option<super::control::Message> {
        self.control.take()
    }

    /// Whether the line ended the agent's turn (its `result`).
    pub(super) fn ends_turn(&self) -> bool {
        self.entries().any(|entry| matches!(entry, Entry::Result { .. }))
    }
}

impl From<Parsed> for Chunk {
    fn from(parsed: Parsed) -> Self {
        let entries = parsed
            .entries
            .into_iter()
            .filter_map(|entry| {
                let json = serde_json::value::to_raw_value(&entry).ok()?;
                Some(Stored { entry, json })
            })
            .collect();
        Self { entries, session_id: parsed.session_id, control: None }
    }
}

/// An entry with its JSON.
struct Stored {
    entry: Entry,
    json: Box<serde_json::value::RawValue>,
}

impl serde::Serialize for Stored {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl sessions::ActivityKind for Stored {
    fn kind(&self) -> &str {
        self.entry.kind()
    }
}

/// One run's record in the making.
pub(super) struct Transcript {
    pool: PgPool,
    task_id: Uuid,
    session_id: Uuid,
    /// Entries taken and not yet stored.
    batch: Vec<Stored>,
    verdict: Verdict,
    outcome: Outcome,
    external_id: Option<String>,
    pull_request_seen: bool,
}

impl Transcript {
    pub(super) fn new(pool: PgPool, task_id: Uuid, session_id: Uuid) -> Self {
        Self {
            pool,
            task_id,
            session_id,
            batch: Vec::new(),
            verdict: Verdict::default(),
            outcome: Outcome::default(),
            external_id: None,
            pull_request_seen: false,
        }
    }

    /// Takes what some lines produced into the batch to store.
    pub(super) async fn take(&mut self, chunks: Vec<Chunk>) {
        for chunk in chunks {
            self.take_chunk(chunk).await;
        }
    }

    /// Whether the batch has room for more before it is stored.
    pub(super) fn has_room(&self) -> bool {
        self.batch.len() < BATCH
    }

    /// Stores the batch, in one transaction.
    pub(super) async fn store(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.persist(&batch).await;
    }

    /// The end of the agent's standard error, kept unless blank.
    pub(super) fn set_stderr_tail(&mut self, tail: String) {
        self.outcome.stderr_tail = Some(tail).filter(|text| !text.trim().is_empty());
    }

    /// Stores `message` as a system entry of the run (why its flags differ).
    pub(super) async fn note(&self, message: &str) {
        self.persist(&[Entry::System { message: message.to_string() }]).await;
    }

    async fn take_chunk(&mut self, parsed: Chunk) {
        if let Some(external) = parsed.session_id
            && self.external_id.as_deref() != Some(external.as_str())
        {
            if let Err(error) = sessions::set_external_id(&self.pool, self.session_id, &external).await {
                warn!("session {}: recording the agent's session id failed: {error}", self.session_id);
            }
            self.external_id = Some(external);
        }
        for stored in parsed.entries {
            self.note_entry(&stored.entry).await;
            self.batch.push(stored);
        }
    }

    /// Keeps what the record needs from an entry, and attaches PR links (A6).
    async fn note_entry(&mut self, entry: &Entry) {
        self.verdict.note(entry);
        let text = match entry {
            Entry::Result { summary, cost_usd, input_tokens, output_tokens, .. } => {
                let outcome = &mut self.outcome;
                outcome.cost_usd = cost_usd.or(outcome.cost_usd);
                outcome.input_tokens = input_tokens.or(outcome.input_tokens);
                outcome.output_tokens = output_tokens.or(outcome.output_tokens);
                summary.as_deref()
            }
            Entry::AssistantText { text } => Some(text.as_str()),
            Entry::ToolResult { output, .. } => Some(output.as_str()),
            _ => None,
        };
        // The first link only: an agent repeats its PR's address.
        if !self.pull_request_seen
            && let Some((url, number)) = text.and_then(pull_request_link)
        {
            self.pull_request_seen = true;
            if let Err(error) = sessions::attach_pull_request(&self.pool, self.task_id, &url, number).await {
                warn!("task {}: attaching its pull request failed: {error}", self.task_id);
            }
        }
    }

    async fn persist<T: sessions::ActivityKind + serde::Serialize + Sync>(&self, entries: &[T]) {
        if entries.is_empty() {
            return;
        }
        let written = async {
            let mut tx = self.pool.begin().await?;
            sessions::append(&mut tx, self.task_id, Some(self.session_id), entries).await?;
            tx.commit().await
        };
        if let Err(error) = written.await {
            warn!("session {}: {} entries could not be stored: {error}", self.session_id, entries.len());
        }
    }

    /// Stores how the run ended and what the task shows for it; `timeout` is the
    /// runs' time limit, for the message of one that ran past it.
    pub(super) async fn record(mut self, ending: Ending, timeout: Duration) {
        self.store().await;
        let timeout = timeout.as_secs();
        let timeout = if timeout.is_multiple_of(60) {
            format!("{} minutes", timeout / 60)
        } else {
            format!("{timeout} seconds")
        };
        let (status, task_status, message, error) = match ending {
            Ending::Stopped(StopReason::User) => {
                (SessionStatus::Stopped, AgentStatus::Idle, Some("Stopped".to_string()), None)
            }
            Ending::Stopped(StopReason::Shutdown) => (
                SessionStatus::Interrupted,
                AgentStatus::Interrupted,
                Some("viban stopped during this run; resume it to continue".to_string()),
                None,
            ),
            Ending::TimedOut => {
                let error = format!("the agent did not finish within {timeout} and was stopped");
                (SessionStatus::TimedOut, AgentStatus::Error, None, Some(error))
            }
            Ending::NotStarted(why) => (SessionStatus::Failed, AgentStatus::Error, None, Some(why)),
            Ending::Exited(exit) => {
                self.outcome.exit_code = exit.and_then(|status| status.code());
                if self.verdict.succeeded(exit) {
                    (SessionStatus::Completed, AgentStatus::Idle, None, None)
                } else {
                    let failure = self.verdict.failure_text(self.outcome.stderr_tail.as_deref(), exit);
                    (SessionStatus::Failed, AgentStatus::Error, None, Some(failure))
                }
            }
        };
        if let Some(error) = &error
            && self.verdict.last_error.as_deref() != Some(error.as_str())
        {
            self.persist(&[Entry::Error { message: error.clone() }]).await;
        }
        if let Err(db_error) = sessions::finish(
            &self.pool,
            self.session_id,
            status,
            &self.outcome,
            task_status,
            message.as_deref(),
            error.as_deref(),
        )
        .await
        {
            warn!("session {}: recording its end failed: {db_error}", self.session_id);
        }
    }
}

/// What an agent's entries say about how its run went: its result, its last error,
/// and the text of its last turn (what it said after its last tool).
#[derive(Debug, Default)]
pub(super) struct Verdict {
    result: Option<(bool, Option<String>)>,
    last_error: Option<String>,
    last_turn: Vec<String>,
}

impl Verdict {
    pub(super) fn note(&mut self, entry: &Entry) {
        match entry {
            Entry::Error { message } => self.last_error = Some(message.clone()),
            Entry::Result { ok, summary, .. } => self.result = Some((*ok, summary.clone())),
            Entry::AssistantText { text } => self.last_turn.push(text.clone()),
            Entry::ToolCall { .. } | Entry::ToolResult { .. } => self.last_turn.clear(),
            _ => {}
        }
    }

    /// It exited well and did not report a failed result.
    pub(super) fn succeeded(&self, exit: Option<ExitStatus>) -> bool {
        exit.is_some_and(|status| status.success()) && self.result.as_ref().is_none_or(|(ok, _)| *ok)
    }

    /// Its final answer: the result's text, else what it said last.
    pub(super) fn answer(&self) -> String {
        match &self.result {
            Some((_, Some(summary))) if !summary.trim().is_empty() => summary.clone(),
            _ => self.last_turn.join("\n"),
        }
    }

    /// The agent's own words for why it failed: its error result, its last error, the
    /// end of its standard error, or at least its exit status.
    pub(super) fn failure_text(&self, stderr_tail: Option<&str>, exit: Option<ExitStatus>) -> String {
        if let Some((false, Some(summary))) = &self.result
            && !summary.trim().is_empty()
        {
            return summary.clone();
        }
        if let Some(error) = &self.last_error {
            return error.clone();
        }
        if let Some(stderr) = stderr_tail.filter(|text| !text.trim().is_empty()) {
            let lines: Vec<&str> = stderr.lines().filter(|line| !line.trim().is_empty()).collect();
            let last = &lines[lines.len().saturating_sub(10)..];
            return last.join("\n");
        }
        match exit.and_then(|status| status.code()) {
            Some(code) => format!("the agent exited with status {code}"),
            None => "the agent was killed by a signal".to_string(),
        }
    }
}

/// `https://github.com/<owner>/<repo>/pull/<n>` in a text, with its number.
pub fn pull_request_link(text: &str) -> Option<(String, i32)> {
    const PREFIX: &str = "https://github.com/";
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let candidate = &rest[at..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']' | '>' | '"' | '\'' | ','))
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches(['.', '/']);
        let parts: Vec<&str> = url[PREFIX.len()..].split('/').collect();
        if let [owner, repo, "pull", number, ..] = parts.as_slice()
            && !owner.is_empty()
            && !repo.is_empty()
            && let Ok(number) = number.parse::<i32>()
        {
            return Some((format!("{PREFIX}{owner}/{repo}/pull/{number}"), number));
        }
        rest = &candidate[PREFIX.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_links_are_found_in_prose() {
        assert_eq!(
            pull_request_link("Opened (https://github.com/acme/widgets/pull/42)."),
            Some(("https://github.com/acme/widgets/pull/42".into(), 42))
        );
        assert_eq!(
            pull_request_link(
                "see https://github.com/acme/widgets/issues/1 and https://github.com/a/b/pull/7/files"
            ),
            Some(("https://github.com/a/b/pull/7".into(), 7))
        );
        assert_eq!(pull_request_link("https://github.com/acme/widgets/pull/x"), None);
    }
}
