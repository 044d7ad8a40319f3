//! The domain: boards, columns, tasks, templates, hooks and repositories, with every
//! rule, limit and orchestration step in one place.
//!
//! Every caller — the HTTP handlers in `api`, and next the hook engine, MCP and the
//! importer — is an adapter: it shapes its input, makes one call in here, and shapes the
//! result or maps the one [`Error`] type. Functions here own their transaction: they
//! `begin` and `commit`, and the `db` functions they call only run SQL on the
//! connection they are given. `docs/architecture.md` shows where this sits.

pub mod boards;
pub mod columns;
pub mod document;
pub mod hooks;
pub mod housekeeping;
pub mod imports;
pub mod open;
pub mod pipeline;
pub mod pull_requests;
pub mod repositories;
pub mod requests;
pub mod review;
pub mod runs;
pub mod schedules;
pub mod subtasks;
pub mod tasks;
pub mod templates;
pub mod views;
pub mod webhooks;

use uuid::Uuid;

use crate::position::PlaceError;

/// Why the domain refused or failed a request; each adapter maps it (HTTP: a
/// problem+json with the status below and `field`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing the request names (by its path, usually) does not exist: 404.
    #[error("{message}")]
    NotFound { field: &'static str, message: String },
    /// A value in the request is wrong: 422, naming the field.
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// The request is well-formed but the current state refuses it: 409.
    #[error("{message}")]
    Conflict { title: &'static str, message: String },
    /// Merging or rebasing the task's branch stopped on conflicts in `files`; nothing
    /// was changed: 409, the files listed (`conflicts`).
    #[error("{message}")]
    MergeConflict { message: String, files: Vec<String> },
    /// viban may not read what was asked for: 403.
    #[error("{message}")]
    Forbidden { field: &'static str, message: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl crate::db::Transient for Error {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Database(error) if error.is_transient())
    }
}

impl Error {
    /// `no <what> <id>`, about the resource the request names.
    pub(crate) fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound { field: "id", message: format!("no {what} {id}") }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: Some(field.into()), message: message.into() }
    }

    /// An invalid request that no single field is to blame for.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::Invalid { field: None, message: message.into() }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict { title: "Conflict", message: message.into() }
    }

    /// Neighbours (`after`/`before`) that do not work: one is not a `what` in `scope`
    /// ("in the target column"), or they are the wrong way round.
    pub(crate) fn placement(error: PlaceError<Uuid>, what: &str, scope: &str) -> Self {
        match error {
            PlaceError::UnknownNeighbour { field, id } => {
                Self::invalid(field, format!("{field}: no {what} {id} {scope}"))
            }
            PlaceError::OutOfOrder => Self::invalid("before", "`after` must come before `before`"),
        }
    }
}

/// A required text field, trimmed: not empty and at most `max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    bounded_text(field, trimmed, max)
}

/// An optional text field: at most `max` characters.
pub(crate) fn bounded_text(field: &str, value: &str, max: usize) -> Result<String> {
    let length = value.chars().count();
    if length > max {
        return Err(Error::invalid(
            field,
            format!("{field} is {length} characters long; the limit is {max}"),
        ));
    }
    Ok(value.to_string())
}

/// [`required_text`] of an optional value.
pub(crate) fn optional_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    value.map(|value| required_text(field, &value, max)).transpose()
}

/// A patch of a nullable text: absent stays, `null` clears, text is checked.
pub(crate) fn nullable_text(
    field: &str,
    value: Option<Option<String>>,
    max: usize,
) -> Result<Option<Option<String>>> {
    value.map(|inner| optional_text(field, inner, max)).transpose()
}

/// Numbers a settings object may hold: integers and floats JavaScript represents
/// exactly. PostgreSQL stores larger ones as exact decimals that do not read back
/// as JSON numbers.
const SAFE_NUMBER: f64 = 9_007_199_254_740_991.0;

/// A free-form `settings` value: a JSON object whose numbers stay within
/// ±(2^53 − 1); the error names the path of the first culprit.
pub(crate) fn settings_object(field: &str, value: &serde_json::Value) -> Result<()> {
    if !value.is_object() {
        return Err(Error::invalid(field, format!("{field} must be a JSON object")));
    }
    match out_of_range(value, field) {
        Some(path) => Err(Error::invalid(
            path.clone(),
            format!("{path}: numbers in settings must lie between -9007199254740991 and 9007199254740991"),
        )),
        None => Ok(()),
    }
}

fn out_of_range(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Number(number) => {
            let magnitude = number.as_f64().map_or(f64::INFINITY, f64::abs);
            (magnitude > SAFE_NUMBER).then(|| path.to_string())
        }
        Value::Object(object) => {
            object.iter().find_map(|(key, value)| out_of_range(value, &format!("{path}.{key}")))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, value)| out_of_range(value, &format!("{path}[{index}]"))),
        _ => None,
    }
}

/// Neighbours given for a move must not be the item itself.
pub(crate) fn not_next_to_itself(
    id: Uuid,
    after: Option<Uuid>,
    before: Option<Uuid>,
    what: &str,
) -> Result<()> {
    for (field, neighbour) in [("after", after), ("before", before)] {
        if neighbour == Some(id) {
            return Err(Error::invalid(field, format!("a {what} cannot be placed next to itself")));
        }
    }
    Ok(())
}
