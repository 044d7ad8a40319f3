//! The JSON API: the route table ([`routes`]), request extractors, and the handlers of
//! the routes that are more than one domain call ([`calls`] serves the rest). Handlers
//! are thin: the JSON's shape in, one [`crate::board`] call, JSON or an
//! [`crate::error::ApiError`] out.

pub mod agents;
pub mod boards;
pub mod calls;
pub mod extract;
pub mod housekeeping;
pub mod imports;
pub mod open;
pub mod openapi;
pub mod pull_requests;
pub mod repositories;
pub mod requests;
pub mod review;
pub mod routes;
pub mod system;
pub mod tasks;
pub mod update;
pub mod ws;
