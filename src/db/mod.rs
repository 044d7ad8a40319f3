//! The database: connection pool and schema migrations (L5, T1), and the queries,
//! one module per resource.
//!
//! Migrations live in `migrations/` and are embedded in the binary. Before applying
//! any, viban refuses a database that carries a migration this binary does not know
//! (a newer viban wrote it) instead of running on a schema it does not understand.

pub mod activity;
pub mod boards;
pub mod columns;
pub mod events;
pub mod executions;
pub mod hooks;
pub mod housekeeping;
pub mod imports;
pub mod instances;
pub mod pull_requests;
pub mod record;
pub mod repositories;
pub mod requests;
pub mod review_comments;
pub mod schedules;
pub mod sessions;
pub mod tasks;
pub mod templates;
pub mod webhooks;

use std::collections::HashSet;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

/// Every migration this binary knows.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(
        "this database's schema is at migration {found}, written by viban {written_by}; this is \
         viban {this}, which knows migrations up to {known}. Run viban {written_by} or newer \
         (`viban update`), or use another --home / --database-url"
    )]
    NewerSchema { found: i64, known: i64, written_by: String, this: &'static str },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// A pool sized for one local user. Connections are checked before use, so a restarted
/// PostgreSQL is picked up without restarting viban.
pub async fn connect(options: PgConnectOptions) -> Result<PgPool, DbError> {
    PgPoolOptions::new()
        .max_connections(16)
        // Connections kept open: the first burst of requests (the UI opening, several
        // clients) would otherwise wait on new connections, ~100 ms each.
        .min_connections(8)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(true)
        .connect_with(options)
        .await
        .map_err(DbError::Connect)
}

/// Creates `database` on the server reached by `server` (any database of it) if missing.
pub async fn ensure_database(server: PgConnectOptions, database: &str) -> Result<(), DbError> {
    let mut connection = server.connect().await.map_err(DbError::Connect)?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(&mut connection)
        .await?;
    if !exists {
        // Identifiers cannot be bound; `database` is one of viban's constants.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{database}\"")))
            .execute(&mut connection)
            .await?;
    }
    connection.close().await?;
    Ok(())
}

/// The migrations this binary would apply; an error if the database is newer.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<i64>, DbError> {
    let applied = applied_versions(pool).await?;
    let known: HashSet<i64> =
        MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect();
    if let Some(&found) = applied.iter().filter(|version| !known.contains(version)).max() {
        let written_by: Option<String> =
            sqlx::query_scalar("SELECT value FROM viban_meta WHERE key = 'schema_written_by'")
                .fetch_optional(pool)
                .await
                .unwrap_or(None);
        return Err(DbError::NewerSchema {
            found,
            known: latest_known(),
            written_by: written_by.unwrap_or_else(|| "(a newer version)".into()),
            this: env!("CARGO_PKG_VERSION"),
        });
    }
    let mut pending: Vec<i64> = known.into_iter().filter(|version| !applied.contains(version)).collect();
    pending.sort_unstable();
    Ok(pending)
}

/// Applies pending migrations and records which viban applied them.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    sqlx::query(
        "INSERT INTO viban_meta (key, value) VALUES ('schema_written_by', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
         WHERE viban_meta.value IS DISTINCT FROM EXCLUDED.value",
    )
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(pool)
    .await?;
    Ok(())
}

/// The newest migration this binary knows: the schema version it speaks.
pub fn latest_known() -> i64 {
    MIGRATOR.iter().map(|migration| migration.version).max().unwrap_or(0)
}

async fn applied_versions(pool: &PgPool) -> Result<HashSet<i64>, DbError> {
    let table: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text").fetch_one(pool).await?;
    if table.is_none() {
        return Ok(HashSet::new());
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await?;
    Ok(versions.into_iter().collect())
}

/// One round trip, for health checks.
pub async fn ping(pool: &PgPool) -> bool {
    let check = async {
        let mut connection = pool.acquire().await?;
        connection.ping().await
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), check).await, Ok(Ok(())))
}

/// The server's version string, e.g. "17.10".
pub async fn server_version(pool: &PgPool) -> Result<String, DbError> {
    Ok(sqlx::query_scalar("SHOW server_version").fetch_one(pool).await?)
}

/// An error that may go away if the transaction is simply run again.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for sqlx::Error {
    /// PostgreSQL aborted the transaction to break a deadlock (40P01) or for a
    /// serialization failure (40001): nothing was written, and a retry usually passes.
    fn is_transient(&self) -> bool {
        matches!(self, sqlx::Error::Database(error) if matches!(error.code().as_deref(), Some("40P01" | "40001")))
    }
}

/// Runs a whole transaction again, up to three times, when PostgreSQL aborted it for a
/// deadlock or a serialization failure. Transactions that lock several tasks' rows and
/// event streams (a column deleted while hooks finish on its tasks) can deadlock with
/// one another; PostgreSQL rolls one back, and it is this one's turn again.
pub async fn retrying<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(error) if tries < 3 && error.is_transient() => {
                tracing::debug!("a transaction was rolled back to break a deadlock; running it again");
                tokio::time::sleep(Duration::from_millis(20 * tries)).await;
            }
            other => return other,
        }
    }
}
