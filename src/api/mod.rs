//! JSON API handlers, one module per resource. Handlers are thin: they validate,
//! call the database layer, and return JSON or an [`crate::error::ApiError`].

pub mod agents;
pub mod boards;
pub mod columns;
pub mod executions;
pub mod extract;
pub mod hooks;
pub mod housekeeping;
pub mod imports;
pub mod open;
pub mod openapi;
pub mod pull_requests;
pub mod repositories;
pub mod requests;
pub mod review;
pub mod routes;
pub mod schedules;
pub mod system;
pub mod tasks;
pub mod templates;
pub mod update;
pub mod webhooks;
pub mod ws;
