//! The API's error type: every failure a client can cause or observe becomes an
//! `application/problem+json` body (RFC 9457) with a precise status, never a bare 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The files in conflict, when a merge or rebase stopped on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ApiError(Box<Problem>);

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            conflicts: None,
        }))
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn problem(&self) -> &Problem {
        &self.0
    }

    /// A well-formed request whose content is wrong (422); add the field.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "send `Authorization: Bearer <token>` (the token is in viban's home, file `token`) \
             or open viban with `viban open`",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    pub fn database_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Database unavailable",
            "PostgreSQL is not answering; viban is restarting it — try again in a few seconds",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => Self::not_found("no such record"),
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::database_unavailable()
            }
            other => {
                tracing::error!("database error: {other}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "a database query failed; see viban's log",
                )
            }
        }
    }
}

impl From<crate::board::Error> for ApiError {
    fn from(error: crate::board::Error) -> Self {
        use crate::board::Error;
        match error {
            Error::NotFound { field, message } => Self::not_found(message).with_field(field),
            Error::Invalid { field, message } => {
                let problem = Self::invalid(message);
                match field {
                    Some(field) => problem.with_field(field),
                    None => problem,
                }
            }
            Error::Conflict { title, message } => Self::new(StatusCode::CONFLICT, title, message),
            Error::Forbidden { field, message } => Self::forbidden(message).with_field(field),
            Error::MergeConflict { message, files } => {
                let mut problem = Self::new(StatusCode::CONFLICT, "Merge conflict", message);
                problem.0.conflicts = Some(files);
                problem
            }
            Error::Database(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(*self.0)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
