//! The session's database (L5, T1): the embedded PostgreSQL cluster or an external
//! server; opening it (start, connect, back up before migrating, migrate) and closing it
//! (the pool, then PostgreSQL).

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tracing::{error, info, warn};

use crate::db;
use crate::home::Home;
use crate::postgres::{self, Cluster};
use crate::progress::StepProgress;

/// Backups of the data directory kept before migrations.
const KEEP_BACKUPS: usize = 3;

/// Where viban's data lives: the embedded cluster, or an external server (T1).
pub(super) enum Database {
    Embedded { server: postgres::Server, pool: PgPool },
    External { pool: PgPool },
}

impl Database {
    pub(super) async fn open(home: &Home, database_url: Option<&str>) -> anyhow::Result<Self> {
        match database_url {
            Some(url) => {
                let options: PgConnectOptions = url
                    .parse()
                    .map_err(|error| anyhow::anyhow!("DATABASE_URL is not a PostgreSQL URL ({error})"))?;
                let pool = db::connect(options.application_name("viban")).await?;
                db::pending_migrations(&pool).await?;
                db::migrate(&pool).await?;
                info!("using the external PostgreSQL server from DATABASE_URL");
                Ok(Self::External { pool })
            }
            None => {
                let cluster = Cluster::prepare(home, &StepProgress::new()).await?;
                let created = cluster.created;
                let server = start(cluster).await?;
                match migrate_embedded(home, server, created).await {
                    (Some(server), Ok(pool)) => Ok(Self::Embedded { server, pool }),
                    (server, result) => {
                        if let Some(server) = server {
                            stop(server).await;
                        }
                        Err(result
                            .err()
                            .unwrap_or_else(|| anyhow::anyhow!("PostgreSQL stopped during start-up")))
                    }
                }
            }
        }
    }

    pub(super) fn pool(&self) -> &PgPool {
        match self {
            Self::Embedded { pool, .. } | Self::External { pool } => pool,
        }
    }

    pub(super) fn liveness(&self) -> Option<postgres::Liveness> {
        match self {
            Self::Embedded { server, .. } => Some(server.liveness()),
            Self::External { .. } => None,
        }
    }

    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Embedded { .. } => "embedded",
            Self::External { .. } => "external",
        }
    }

    /// Closes the pool, then stops PostgreSQL: the last two steps of a session's stop.
    pub(super) async fn close(self) {
        match self {
            Self::Embedded { server, pool } => {
                let _ = tokio::time::timeout(Duration::from_secs(2), pool.close()).await;
                stop(server).await;
            }
            Self::External { pool } => {
                let _ = tokio::time::timeout(Duration::from_secs(2), pool.close()).await;
            }
        }
    }
}

/// Brings the embedded database's schema up to date, backing the data directory up
/// first when there is anything to lose (L5). Hands back the server whenever one is
/// running, so that the caller stops it whatever happened.
async fn migrate_embedded(
    home: &Home,
    server: postgres::Server,
    created: bool,
) -> (Option<postgres::Server>, anyhow::Result<PgPool>) {
    let pool = match connect_embedded(&server).await {
        Ok(pool) => pool,
        Err(error) => return (Some(server), Err(error)),
    };
    let pending = match db::pending_migrations(&pool).await {
        Ok(pending) => pending,
        Err(error) => return (Some(server), Err(error.into())),
    };
    let (server, pool) = if pending.is_empty() || created {
        (server, pool)
    } else {
        pool.close().await;
        let cluster = stop(server).await;
        let backup = back_up_data_dir(home, &pending);
        let server = match start(cluster).await {
            Ok(server) => server,
            Err(error) => {
                return (None, Err(error.context("PostgreSQL did not start again after the backup")));
            }
        };
        if let Err(error) = backup {
            return (Some(server), Err(error));
        }
        match connect_embedded(&server).await {
            Ok(pool) => (server, pool),
            Err(error) => return (Some(server), Err(error)),
        }
    };
    match db::migrate(&pool).await {
        Ok(()) => (Some(server), Ok(pool)),
        Err(error) => (Some(server), Err(error.into())),
    }
}

async fn connect_embedded(server: &postgres::Server) -> anyhow::Result<PgPool> {
    db::ensure_database(server.connect_options("postgres"), postgres::DATABASE).await?;
    Ok(db::connect(server.connect_options(postgres::DATABASE)).await?)
}

fn back_up_data_dir(home: &Home, pending: &[i64]) -> anyhow::Result<()> {
    let name = format!("{}-pre-{}", postgres::timestamp(), env!("CARGO_PKG_VERSION"));
    let target = home.backups_dir().join(name);
    info!("{} migration(s) to apply; backing up the database to {}", pending.len(), target.display());
    postgres::copy_dir(&home.data_dir(), &target).with_context(|| {
        format!("could not back up the database to {}; nothing was migrated", target.display())
    })?;
    let mut backups: Vec<_> = std::fs::read_dir(home.backups_dir())?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .collect();
    backups.sort();
    for old in backups.iter().rev().skip(KEEP_BACKUPS) {
        if let Err(error) = std::fs::remove_dir_all(old) {
            warn!("could not remove the old backup {}: {error}", old.display());
        }
    }
    Ok(())
}

async fn start(cluster: Cluster) -> anyhow::Result<postgres::Server> {
    Ok(tokio::task::spawn_blocking(move || cluster.start()).await??)
}

/// Stops PostgreSQL off the async threads (it waits for the postmaster to exit).
async fn stop(server: postgres::Server) -> Cluster {
    let cluster = server.cluster().clone();
    match tokio::task::spawn_blocking(move || server.stop()).await {
        Ok(cluster) => cluster,
        Err(error) => {
            error!("stopping PostgreSQL failed: {error}");
            cluster
        }
    }
}
