//! Repositories boards work on (D4): local ones linked by path, or clones viban
//! manages under `repos/`.

use crate::schema::Timestamp;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Repository {
    pub id: Uuid,
    pub managed: bool,
    pub path: String,
    pub clone_url: Option<String>,
    pub default_branch: String,
    pub created_at: Timestamp,
}

macro_rules! repository_fields {
    () => {
        "id, managed, path, clone_url, default_branch, created_at"
    };
}
super::record::record!(Repository, repository_fields, "repositories");

/// Records a repository; linking the same path again refreshes and returns it.
pub async fn upsert(
    connection: &mut PgConnection,
    path: &str,
    clone_url: Option<&str>,
    default_branch: &str,
) -> Result<Repository, sqlx::Error> {
    sqlx::query_as(concat!(
        "INSERT INTO repositories (path, managed, clone_url, default_branch) VALUES ($1, $2 IS NOT NULL, $2, $3)
         ON CONFLICT (path) DO UPDATE SET default_branch = EXCLUDED.default_branch RETURNING ",
        repository_fields!()
    ))
    .bind(path)
    .bind(clone_url)
    .bind(default_branch)
    .fetch_one(connection)
    .await
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<Repository>, sqlx::Error> {
    super::record::one(connection, "id = $1", id).await
}

pub async fn list(connection: &mut PgConnection) -> Result<Vec<Repository>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", repository_fields!(), " FROM repositories ORDER BY path"))
        .fetch_all(connection)
        .await
}
