//! Handlers for the routes that are one domain call and nothing else: the path's id
//! (and, for writes, the JSON body) in, `f(&pool, id[, body])` once, its result out as
//! `200` JSON, `201` JSON or `204`. The route table names the domain function itself
//! (`ok(schedules::list)`), so such a route needs no handler of its own.
//!
//! A handler that does more than that (reads a query, takes other state, answers with
//! headers) is written out in its resource's module.

use std::future::Future;
use std::pin::Pin;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::extract::{Id, Json};
use crate::error::ApiError;
use crate::state::AppState;

/// What a handler made here returns.
pub type Reply<R> = Pin<Box<dyn Future<Output = Result<R, ApiError>> + Send>>;

/// `201 Created` with the new resource.
pub type Created<T> = (StatusCode, axum::Json<T>);

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
pub fn ok<F, T, E>(
    f: F,
) -> impl Fn(State<AppState>, Id) -> Reply<axum::Json<T>> + Clone + Send + Sync + 'static
where
    F: for<'a> Call<'a, (Uuid,), T, E>,
    T: Serialize + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    move |State(state): State<AppState>, Id(id): Id| -> Reply<axum::Json<T>> {
        let f = f.clone();
        Box::pin(async move { f.call(&state.pool, (id,)).await.map(axum::Json).map_err(Into::into) })
    }
}

/// `f(&pool, id)` for its effect, answered `204`.
pub fn no_content<F, T, E>(
    f: F,
) -> impl Fn(State<AppState>, Id) -> Reply<StatusCode> + Clone + Send + Sync + 'static
where
    F: for<'a> Call<'a, (Uuid,), T, E>,
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    move |State(state): State<AppState>, Id(id): Id| -> Reply<StatusCode> {
        let f = f.clone();
        Box::pin(async move {
            f.call(&state.pool, (id,)).await.map_err(Into::into)?;
            Ok(StatusCode::NO_CONTENT)
        })
    }
}

/// `f(&pool, id, body)`, answered `200` with its result.
pub fn ok_with<F, B, T, E>(
    f: F,
) -> impl Fn(State<AppState>, Id, Json<B>) -> Reply<axum::Json<T>> + Clone + Send + Sync + 'static
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

/// `f(&pool, parent_id, body)`, answered `201` with what it created.
pub fn created<F, B, T, E>(
    f: F,
) -> impl Fn(State<AppState>, Id, Json<B>) -> Reply<Created<T>> + Clone + Send + Sync + 'static
where
    F: for<'a> Call<'a, (Uuid, B), T, E>,
    B: Send + 'static,
    T: Serialize + Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    let ok_with = ok_with(f);
    move |state: State<AppState>, id: Id, body: Json<B>| -> Reply<Created<T>> {
        let written = ok_with(state, id, body);
        Box::pin(async move { Ok((StatusCode::CREATED, written.await?)) })
    }
}
