//! The OpenAPI 3.1 document, `GET /api/openapi.json`, generated from the route table
//! ([`super::routes`]) and the request and response types' JSON Schemas
//! (`schemars`). Request bodies are described as they deserialize (unknown fields
//! refused), responses as they serialize.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use schemars::Schema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::routes::{self, Route, Success};
use crate::error::{PROBLEM_JSON, Problem};

/// `GET /api/openapi.json`. Built once; it only changes with the binary.
pub async fn serve() -> Response {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| serde_json::to_vec(&document()).unwrap_or_default()).clone();
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The whole document.
pub fn document() -> Value {
    let definitions_path = "/components/schemas";
    let settings = |contract: SchemaSettings| {
        contract.with(|settings| {
            settings.definitions_path = definitions_path.into();
            settings.meta_schema = None;
        })
    };
    let mut requests = settings(SchemaSettings::draft2020_12().for_deserialize()).into_generator();
    let mut responses = settings(SchemaSettings::draft2020_12().for_serialize()).into_generator();
    let mut queries = SchemaSettings::draft2020_12()
        .for_deserialize()
        .with(|settings| {
            settings.inline_subschemas = true;
            settings.meta_schema = None;
        })
        .into_generator();
    let problem = responses.subschema_for::<Problem>();

    let mut paths = Map::new();
    for route in routes::table() {
        let operation = operation(&route, &mut requests, &mut responses, &mut queries, &problem);
        let path = format!("/api{}", route.path);
        let item =
            paths.entry(path).or_insert_with(|| json!({})).as_object_mut().expect("path items are objects");
        item.insert(route.method.as_str().to_ascii_lowercase(), operation);
    }

    let mut schemas = requests.take_definitions(true);
    for (name, schema) in responses.take_definitions(true) {
        // A type used both ways keeps one name; `conflicting_schemas` (a test) makes
        // sure the two descriptions agree.
        schemas.entry(name).or_insert(schema);
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "viban",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The local API of viban, a kanban board that runs coding agents. Every route but \
                `/api/health` needs the per-install token: `Authorization: Bearer <token>` (the file `token` \
                in viban's home) with no `Origin` header, or the session cookie with the server's own \
                `Origin`. Errors are `application/problem+json` with a `field` naming the culprit.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": { "type": "http", "scheme": "bearer", "description": "The file `token` in viban's home" },
                "session": {
                    "type": "apiKey", "in": "cookie", "name": "viban-7777",
                    "description": "Set when the browser opens viban's sign-in link; named `viban-<port>`",
                },
            },
        },
        "security": [{ "token": [] }, { "session": [] }],
    })
}

fn operation(
    route: &Route,
    requests: &mut SchemaGenerator,
    responses: &mut SchemaGenerator,
    queries: &mut SchemaGenerator,
    problem: &Schema,
) -> Value {
    let mut parameters: Vec<Value> = path_parameters(route.path)
        .map(|name| {
            json!({
                "name": name, "in": "path", "required": true,
                "schema": { "type": "string", "format": "uuid" },
            })
        })
        .collect();
    if let Some(query) = route.query {
        parameters.extend(query_parameters(&query(queries)));
    }

    let mut answers = Map::new();
    match route.success {
        Success::Json(status, schema) => {
            answers.insert(
                status.as_u16().to_string(),
                json!({
                    "description": status.canonical_reason().unwrap_or("Success"),
                    "content": { "application/json": { "schema": schema(responses) } },
                }),
            );
        }
        Success::Empty(status) => {
            answers.insert(status.as_u16().to_string(), json!({ "description": "Done; no content" }));
        }
        Success::Upgrade => {
            answers.insert("101".into(), json!({ "description": "Switching to the WebSocket protocol" }));
        }
    }
    let problem = json!({
        "description": "A problem: the body names what was wrong, and `field` the culprit",
        "content": { PROBLEM_JSON: { "schema": problem } },
    });
    if route.public {
        // Health answers 503 with its own body when the database is down.
        if let Success::Json(_, schema) = route.success {
            answers.insert(
                "503".into(),
                json!({
                    "description": "The database is not answering",
                    "content": { "application/json": { "schema": schema(responses) } },
                }),
            );
        }
    } else {
        answers.insert("4XX".into(), problem.clone());
        if route.upstream {
            answers.insert("502".into(), problem.clone());
        }
        answers.insert("503".into(), problem);
    }

    let mut operation = json!({
        "summary": route.summary,
        "operationId": operation_id(route),
        "tags": [tag(route.path)],
        "responses": answers,
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = route.body {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body(requests) } },
        });
    }
    if route.public {
        operation["security"] = json!([]);
    }
    operation
}

/// `{id}` and the like, in order.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// A query struct's fields as `in: query` parameters.
fn query_parameters(schema: &Schema) -> Vec<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property.as_object_mut().and_then(|object| object.remove("description"));
            let mut parameter = json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "schema": property,
            });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

/// The first path segment names the group: `boards`, `tasks`, …
fn tag(path: &str) -> &str {
    path.trim_start_matches('/').split(['/', '.']).next().unwrap_or("system")
}

/// `getBoardsId`-style ids: unique, stable, and readable enough in generated clients.
fn operation_id(route: &Route) -> String {
    let mut id = route.method.as_str().to_ascii_lowercase();
    for segment in route.path.split(['/', '-', '.']).filter(|segment| !segment.is_empty()) {
        let word = segment.trim_start_matches('{').trim_end_matches('}');
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_an_operation_and_a_unique_id() {
        let document = document();
        let mut ids = std::collections::HashSet::new();
        for route in routes::table() {
            let path = format!("/api{}", route.path);
            let operation = &document["paths"][&path][route.method.as_str().to_ascii_lowercase()];
            assert!(operation.is_object(), "{} {path} is missing", route.method);
            assert!(
                ids.insert(operation["operationId"].as_str().unwrap().to_string()),
                "{path}: duplicate id"
            );
        }
    }

    #[test]
    fn every_reference_resolves_to_a_component() {
        let document = document();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let mut references = Vec::new();
        collect_references(&document, &mut references);
        assert!(!references.is_empty());
        for reference in references {
            let name = reference.strip_prefix("#/components/schemas/").expect("a component reference");
            assert!(schemas.contains_key(name), "{reference} does not resolve");
        }
    }

    #[test]
    fn types_used_in_requests_and_responses_are_described_alike() {
        let settings = |contract: SchemaSettings| {
            contract.with(|settings| settings.definitions_path = "/components/schemas".into())
        };
        let mut requests = settings(SchemaSettings::draft2020_12().for_deserialize()).into_generator();
        let mut responses = settings(SchemaSettings::draft2020_12().for_serialize()).into_generator();
        for route in routes::table() {
            if let Some(body) = route.body {
                body(&mut requests);
            }
            if let Success::Json(_, schema) = route.success {
                schema(&mut responses);
            }
        }
        let requests = requests.take_definitions(true);
        for (name, schema) in responses.take_definitions(true) {
            if let Some(other) = requests.get(&name) {
                assert_eq!(other, &schema, "{name} is described differently in requests and responses");
            }
        }
    }

    #[test]
    fn request_bodies_refuse_unknown_fields_and_name_required_ones() {
        let document = document();
        let create_task = &document["components"]["schemas"]["CreateTask"];
        assert_eq!(create_task["additionalProperties"], false);
        assert_eq!(create_task["required"], json!(["title"]));
    }

    /// The web UI's API types are generated from `assets/web/openapi.json`
    /// (openapi-typescript, in its build); this keeps that copy equal to the document.
    #[test]
    fn the_web_ui_types_come_from_the_current_document() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/web/openapi.json");
        let current = document();
        if std::env::var_os("VIBAN_UPDATE_OPENAPI").is_some() {
            let text = serde_json::to_string_pretty(&current).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
        }
        let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            committed == current,
            "assets/web/openapi.json is stale: the API changed, so the web UI's types are out of date. \
             Refresh it with `VIBAN_UPDATE_OPENAPI=1 cargo test --lib openapi`, then rebuild."
        );
    }

    fn collect_references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    found.push(reference);
                }
                object.values().for_each(|value| collect_references(value, found));
            }
            Value::Array(items) => items.iter().for_each(|value| collect_references(value, found)),
            _ => {}
        }
    }
}
