//! Request extractors whose every rejection is a precise problem+json (S6): a body
//! that is not JSON is a 400 or 415; a field of the wrong type, a missing or an
//! unknown field is a 422 naming the field; an id that is not a UUID is a 404.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// Largest JSON body accepted (S6).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON request body of type `T`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json =
            request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(
                |value| value.split(';').next().is_some_and(|mime| mime.trim().ends_with("json")),
            );
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(BODY_LIMIT)
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "Unreadable body", rejection.body_text())
            }
        })?;
        // serde would read an array as a struct's fields in order: every body here is an
        // object, so say so rather than report a confusing `[0]`.
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first.is_some_and(|byte| *byte != b'{')
            && serde_json::from_slice::<serde_json::Value>(&bytes).is_ok()
        {
            return Err(ApiError::invalid("the body must be a JSON object"));
        }
        if holds_nul_escape(&bytes)
            && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && let Some(field) = nul_field(&value, "")
        {
            return Err(ApiError::invalid("text must not contain NUL characters (\\u0000)").with_field(field));
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer).map(Json).map_err(|error| {
            let field = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                ApiError::new(StatusCode::BAD_REQUEST, "Malformed JSON", inner.to_string())
            } else {
                let problem = ApiError::invalid(inner.to_string());
                if field == "." { problem } else { problem.with_field(field) }
            }
        })
    }
}

/// Whether JSON text holds a `\u0000` escape, the only way a JSON string carries NUL,
/// which PostgreSQL cannot store in text or jsonb. Backslashes occur only in strings.
fn holds_nul_escape(bytes: &[u8]) -> bool {
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' {
            if bytes.get(index + 1..index + 6) == Some(b"u0000") {
                return true;
            }
            index += 2;
        } else {
            index += 1;
        }
    }
    false
}

/// The path (`settings.sound`, `items[2]`) of the first key or string holding NUL.
pub(crate) fn nul_field(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::String(text) if text.contains('\0') => {
            Some(if path.is_empty() { ".".into() } else { path.into() })
        }
        Value::Object(object) => object.iter().find_map(|(key, value)| {
            if key.contains('\0') { Some(join(key)) } else { nul_field(value, &join(key)) }
        }),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, value)| nul_field(value, &format!("{path}[{index}]")))
        }
        _ => None,
    }
}

/// Query parameters of type `T`: a malformed or unknown one is a 422 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let pairs = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes());
        if let Some((name, _)) =
            pairs.clone().find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(
                ApiError::invalid("query parameters must not contain NUL characters").with_field(name)
            );
        }
        let deserializer = serde_urlencoded::Deserializer::new(pairs);
        serde_path_to_error::deserialize(deserializer).map(Query).map_err(|error| {
            let field = error.path().to_string();
            let problem = ApiError::invalid(format!("query string: {}", error.inner()));
            if field == "." { problem.with_field("query") } else { problem.with_field(field) }
        })
    }
}

/// The `{id}` of a route; an id that is not a UUID cannot name anything: 404.
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let path = parts.uri.path().to_string();
        let raw = axum::extract::RawPathParams::from_request_parts(parts, &())
            .await
            .map_err(|_| ApiError::not_found(format!("no resource at {path}")))?;
        let value = raw
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.to_string())
            .unwrap_or_default();
        value
            .parse()
            .map(Id)
            .map_err(|_| ApiError::not_found(format!("'{value}' is not an id")).with_field("id"))
    }
}
