//! The viban processes that use this database (`instances`): each row is an id a home
//! keeps, the start that claimed it (`claim`), where that runs, and its heartbeat.
//! The rules of claiming are [`crate::instance::identity`]'s; this is their SQL.

use std::time::Duration;

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who asks for an id: one start of one viban.
#[derive(Debug, Clone)]
pub(crate) struct Claimant {
    /// New at every start.
    pub(crate) claim: Uuid,
    pub(crate) hostname: String,
    pub(crate) pid: i32,
}

/// The row that holds an id.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Holder {
    pub(crate) claim: Uuid,
    pub(crate) hostname: String,
    pub(crate) pid: i32,
    pub(crate) heartbeat_at: OffsetDateTime,
}

/// Claims `id` when no row holds it or its heartbeat is older than `lease`; false when
/// a live instance holds it.
pub(crate) async fn claim_if_free(
    connection: &mut PgConnection,
    id: &str,
    claimant: &Claimant,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let claimed: Option<String> = sqlx::query_scalar(
        "INSERT INTO instances (id, claim, hostname, pid) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE
             SET claim = EXCLUDED.claim, hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
                 started_at = now(), heartbeat_at = now()
             WHERE instances.heartbeat_at < now() - make_interval(secs => $5)
         RETURNING id",
    )
    .bind(id)
    .bind(claimant.claim)
    .bind(&claimant.hostname)
    .bind(claimant.pid)
    .bind(lease.as_secs_f64())
    .fetch_optional(connection)
    .await?;
    Ok(claimed.is_some())
}

pub(crate) async fn holder(connection: &mut PgConnection, id: &str) -> Result<Option<Holder>, sqlx::Error> {
    sqlx::query_as("SELECT claim, hostname, pid, heartbeat_at FROM instances WHERE id = $1")
        .bind(id)
        .fetch_optional(connection)
        .await
}

/// Takes `id` over from `from`, only if its row is still as it was seen (same claim,
/// same heartbeat); false if it changed meanwhile.
pub(crate) async fn take_over(
    connection: &mut PgConnection,
    id: &str,
    from: &Holder,
    claimant: &Claimant,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE instances SET claim = $4, hostname = $5, pid = $6, started_at = now(), heartbeat_at = now()
         WHERE id = $1 AND claim = $2 AND heartbeat_at = $3",
    )
    .bind(id)
    .bind(from.claim)
    .bind(from.heartbeat_at)
    .bind(claimant.claim)
    .bind(&claimant.hostname)
    .bind(claimant.pid)
    .execute(connection)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Renews the lease; false when the id is no longer this claim's (another start took
/// it over).
pub(crate) async fn heartbeat(
    connection: &mut PgConnection,
    id: &str,
    claim: Uuid,
) -> Result<bool, sqlx::Error> {
    let beat = sqlx::query("UPDATE instances SET heartbeat_at = now() WHERE id = $1 AND claim = $2")
        .bind(id)
        .bind(claim)
        .execute(connection)
        .await?;
    Ok(beat.rows_affected() == 1)
}

/// Gives the id up at a clean stop: the next start of any copy of the home may claim it.
pub(crate) async fn release(connection: &mut PgConnection, id: &str, claim: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM instances WHERE id = $1 AND claim = $2")
        .bind(id)
        .bind(claim)
        .execute(connection)
        .await
        .map(|_| ())
}

/// Moves the queued and running sessions recorded under `from` to `to`; returns how
/// many. For a home's first start with an id: before, the home's path was its id.
pub(crate) async fn adopt_sessions(
    connection: &mut PgConnection,
    from: &str,
    to: &str,
) -> Result<u64, sqlx::Error> {
    let adopted = sqlx::query(
        "UPDATE agent_sessions SET instance_id = $2
         WHERE instance_id = $1 AND status IN ('queued', 'running')",
    )
    .bind(from)
    .bind(to)
    .execute(connection)
    .await?;
    Ok(adopted.rows_affected())
}
