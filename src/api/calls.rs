//! Handlers for the routes that are one domain call and nothing else: the path's id
//! (and, for writes, the JSON body) in, `f(&pool, id[, body])` once, its result out as
//! `200` JSON, `201` JSON or `204`. The route table names the domain function itself
//! (`ok(schedules::list)`), so such a route needs no handler of its own, and what it
//! takes and answers in the OpenAPI document are the domain function's own types.
//!
//! A handler that does more than that (reads a query, takes other state, answers with
//! headers) is written out in its resource's module.

use std::future::Future;
use std::pin::Pin;

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use schemars::generate::SchemaGenerator;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::extract::{Id, Json};
use super::routes::{SchemaFn, Success};
use crate::error::ApiError;
use crate::state::AppState;

/// What a handler made here returns.
pub type Reply<R> = Pin<Box<dyn Future<Output = Result<R, ApiError>> + Send>>;

/// `201 Created` with the new resource.
pub type Created<T> = (StatusCode, axum::Json<T>);

/// A handler of `/…/{id}` answering `R`.
pub trait IdHandler<R>: Fn(State<AppState>, Id) -> Reply<R> + Clone + Send + Sync + 'static {}
impl<R, H: Fn(State<AppState>, Id) -> Reply<R> + Clone + Send + Sync + 'static> IdHandler<R> for H {}

/// A handler of `/…/{id}` with a JSON body `B`, answering `R`.
pub trait BodyHandler<B, R>:
    Fn(State<AppState>, Id, Json<B>) -> Reply<R> + Clone + Send + Sync + 'static
{
}
impl<B, R, H> BodyHandler<B, R> for H where
    H: Fn(State<AppState>, Id, Json<B>) -> Reply<R> + Clone + Send + Sync + 'static
{
}

/// A handler made here, with the schemas of its body and answer.
pub struct Described<H> {
    pub handler: H,
    pub body: Option<SchemaFn>,
    pub success: Success,
}

fn json<T: JsonSchema>(status: StatusCode) -> Success {
    Success::Json(status, SchemaGenerator::subschema_for::<T>)
}

/// A domain function `f(&pool, args…)`: implemented for `async fn`s taking the pool and
/// an id, or the pool, an id and a request body. The lifetime ties the returned future
/// to the borrow of the pool, which is what lets an `async fn` taking `&PgPool` qualify.
pub trait Call<'a, Args, T, E>: Clone + Send + Sync + 'static {
    type Future: Future<Output = Result<T, E>> + Send + 'a;
    fn call(&self, pool: &'a PgPool, args: Args) -> Self::Future;
}

impl<'a, F, Fut, T, E> Call<'a, (Uuid,), T, E> for F
where
    F: Fn(&'a PgPool, Uuid) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, pool: &'a PgPool, (id,): (Uuid,)) -> Fut {
        self(pool, id)
    }
}

impl<'a, F, Fut, B, T, E> Call<'a, (Uuid, B), T, E> for F
where
    F: Fn(&'a PgPool, Uuid, B) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, pool: &'a PgPool, (id, body): (Uuid, B)) -> Fut {
        self(pool, id, body)
    }
}

/// `f(&pool, id)`, answered `200` with its result.
pub fn ok<F, T, E>(f: F) -> Described<impl IdHandler<axum::Json<T>>>
where
    F: for<'a> Call<'a, (Uuid,), T, E>,
    T: Serialize + JsonSchema + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let handler = move |State(state): State<AppState>, Id(id): Id| -> Reply<axum::Json<T>> {
        let f = f.clone();
        Box::pin(async move { f.call(&state.pool, (id,)).await.map(axum::Json).map_err(Into::into) })
    };
    Described { handler, body: None, success: json::<T>(StatusCode::OK) }
}

/// `f(&pool, id)` for its effect, answered `204`.
pub fn no_content<F, T, E>(f: F) -> Described<impl IdHandler<StatusCode>>
where
    F: for<'a> Call<'a, (Uuid,), T, E>,
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let handler = move |State(state): State<AppState>, Id(id): Id| -> Reply<StatusCode> {
        let f = f.clone();
        Box::pin(async move {
            f.call(&state.pool, (id,)).await.map_err(Into::into)?;
            Ok(StatusCode::NO_CONTENT)
        })
    };
    Described { handler, body: None, success: Success::Empty(StatusCode::NO_CONTENT) }
}

/// `f(&pool, id, body)`, answered `200` with its result.
pub fn ok_with<F, B, T, E>(f: F) -> Described<impl BodyHandler<B, axum::Json<T>>>
where
    F: for<'a> Call<'a, (Uuid, B), T, E>,
    B: JsonSchema + Send + 'static,
    T: Serialize + JsonSchema + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    Described {
        handler: with_body(f),
        body: Some(SchemaGenerator::subschema_for::<B>),
        success: json::<T>(StatusCode::OK),
    }
}

/// `f(&pool, parent_id, body)`, answered `201` with what it created.
pub fn created<F, B, T, E>(f: F) -> Described<impl BodyHandler<B, Created<T>>>
where
    F: for<'a> Call<'a, (Uuid, B), T, E>,
    B: JsonSchema + Send + 'static,
    T: Serialize + JsonSchema + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let write = with_body(f);
    let handler = move |state: State<AppState>, id: Id, body: Json<B>| -> Reply<Created<T>> {
        let written = write(state, id, body);
        Box::pin(async move { Ok((StatusCode::CREATED, written.await?)) })
    };
    Described {
        handler,
        body: Some(SchemaGenerator::subschema_for::<B>),
        success: json::<T>(StatusCode::CREATED),
    }
}

fn with_body<F, B, T, E>(f: F) -> impl BodyHandler<B, axum::Json<T>>
where
    F: for<'a> Call<'a, (Uuid, B), T, E>,
    B: Send + 'static,
    T: Serialize + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    move |State(state): State<AppState>, Id(id): Id, Json(body): Json<B>| -> Reply<axum::Json<T>> {
        let f = f.clone();
        Box::pin(async move { f.call(&state.pool, (id, body)).await.map(axum::Json).map_err(Into::into) })
    }
}
