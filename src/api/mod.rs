//! JSON API handlers, one module per resource. Handlers are thin: they validate,
//! call the domain or the database, and return JSON or an [`crate::error::ApiError`].

pub mod system;
