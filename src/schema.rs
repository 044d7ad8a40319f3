//! JSON Schema and serde helpers shared by every type the API shows or reads, wherever
//! it is defined (`db`, `board`, `agents`), so that none of those has to import `api`.

use std::borrow::Cow;

use schemars::generate::SchemaGenerator;
use schemars::{JsonSchema, Schema, json_schema};

/// For `#[schemars(with = "Timestamp")]` on `time::OffsetDateTime` fields, which
/// serialize as RFC 3339 strings.
pub struct Timestamp;

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>`
/// patch field: absent → `None` (leave it), `null` → `Some(None)` (clear it).
pub(crate) fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
