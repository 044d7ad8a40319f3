//! This viban's identity on its database (issue 11): a random id kept in the home (file
//! `instance-id`, 0600), registered in `instances` and kept alive by a heartbeat. Agent
//! sessions record it, a start recovers only its own, and the hook engine's leases
//! name their holder by it. Before, the home's *path* was the id, so two containers
//! that both use `/root/.viban` on one PostgreSQL interrupted each other's runs.
//!
//! A copied home carries the file, so a start claims the id only when no live instance
//! holds it (no heartbeat within [`LEASE`]). When a live one does:
//! - if another start claimed it than this home's latest (its `claim` is not the one in
//!   `run/instance-claim`), a copy of this home uses it: this home takes a new id;
//! - if it is this home's latest start, that process is gone when it ran on this host
//!   under a pid that is no more (this process holds the home's lock); otherwise (a
//!   recreated container, or a copy of a running home) the heartbeat is watched for
//!   [`WATCH`]: if it moves, a copy runs and this home takes a new id; if not, the
//!   latest start died and its id is taken over, with its runs to recover.
//!
//! An instance that never comes back cannot recover its runs: once its heartbeat has
//! been silent for [`ABANDONED`], a live one records them interrupted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::db::instances::{self, Claimant, Holder};
use crate::db::sessions;
use crate::home::{self, Home};
use crate::shutdown::Background;

/// How often a running instance renews its lease.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(5);
/// An instance whose heartbeat is older than this is gone.
pub(crate) const LEASE: Duration = Duration::from_secs(30);
/// An instance gone this long is not coming back for its agent runs (its home would
/// have restarted and recovered them by now): a live instance records them interrupted,
/// so that their tasks can run again.
pub(crate) const ABANDONED: Duration = Duration::from_secs(10 * 60);
/// How long a start watches a heartbeat it cannot tell the owner of: two beats, and
/// some slack for a busy machine.
pub(crate) const WATCH: Duration = Duration::from_secs(12);
/// Between two looks at a watched heartbeat.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error(transparent)]
    Home(#[from] home::HomeError),
    #[error("could not register this viban's instance id on the database: {0}")]
    Database(#[from] sqlx::Error),
}

/// This process's id on the database, for as long as its claim holds.
#[derive(Debug, Clone)]
pub struct Instance {
    id: Arc<str>,
    /// This start's claim on the id: a fencing token for the heartbeat and the release.
    claim: Uuid,
}

impl Instance {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Claims the home's id, or a new one when a live instance holds it (see the
    /// module's rules). A home's first start also adopts the runs recorded under its
    /// path, the id viban used before.
    pub(crate) async fn claim(pool: &PgPool, home: &Home) -> Result<Self, IdentityError> {
        let (mut id, first) = match read_id(home)? {
            Some(id) => (id, false),
            None => (new_id(home)?, true),
        };
        let latest = read_claim(home);
        let claimant = Claimant { claim: random_uuid(), hostname: hostname(), pid: own_pid() };
        // Written first: a crash from here on is recognised as this home's own start.
        home::write_private_file(&home.instance_claim_file(), claimant.claim.to_string().as_bytes())?;
        let mut connection = pool.acquire().await?;
        while !claim_id(&mut connection, &id, latest, &claimant).await? {
            let next = new_id(home)?;
            warn!(
                "another viban on this database uses this home's instance id {id} (a copy of this home?); \
                 this one is now {next}"
            );
            id = next;
        }
        if first {
            let legacy = home.root().display().to_string();
            let adopted = instances::adopt_sessions(&mut connection, &legacy, &id).await?;
            if adopted > 0 {
                info!("adopted {adopted} agent run(s) recorded under this home's path");
            }
        }
        info!(instance = %id, "claimed the instance id");
        Ok(Self { id: id.into(), claim: claimant.claim })
    }

    /// Renews the lease every [`HEARTBEAT`] until the background work is cancelled, and
    /// with each beat records the runs of instances gone for [`ABANDONED`] as interrupted.
    pub(crate) fn keep_alive(&self, pool: PgPool, background: &Background) {
        let (instance, cancelled) = (self.clone(), background.clone());
        background.spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is now, and the claim has just set the heartbeat.
            tick.tick().await;
            loop {
                tokio::select! {
                    () = cancelled.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let beat = async { instances::heartbeat(&mut *pool.acquire().await?, &instance.id, instance.claim).await };
                match beat.await {
                    Ok(true) => match sessions::interrupt_abandoned(&pool, ABANDONED).await {
                        Ok(0) => {}
                        Ok(count) => warn!(
                            "{count} agent run(s) of a viban gone for over {ABANDONED:?} were recorded as interrupted"
                        ),
                        Err(error) => warn!("recording the runs of vibans long gone failed: {error}"),
                    },
                    Ok(false) => {
                        error!(
                            instance = %instance.id,
                            "another viban took this instance's id over (its heartbeat was missed for {LEASE:?}); \
                             restart viban to take a new one"
                        );
                        return;
                    }
                    // PostgreSQL restarting or unreachable: the next beat tries again.
                    Err(error) => warn!(instance = %instance.id, "the instance heartbeat failed: {error}"),
                }
            }
        });
    }

    /// Gives the id up at a clean stop, once this instance's runs are recorded.
    pub(crate) async fn release(&self, pool: &PgPool) {
        let release = async { instances::release(&mut *pool.acquire().await?, &self.id, self.claim).await };
        match tokio::time::timeout(Duration::from_secs(2), release).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => warn!(instance = %self.id, "could not release the instance id: {error}"),
            Err(_) => warn!(instance = %self.id, "releasing the instance id timed out"),
        }
    }
}

/// Whether this start may use `id`: true once claimed, false when a live instance
/// holds it.
async fn claim_id(
    connection: &mut PgConnection,
    id: &str,
    latest: Option<Uuid>,
    claimant: &Claimant,
) -> Result<bool, sqlx::Error> {
    // The heartbeat seen when watching began, and when.
    let mut watching: Option<(Instant, time::OffsetDateTime)> = None;
    loop {
        if instances::claim_if_free(connection, id, claimant, LEASE).await? {
            return Ok(true);
        }
        if let Some(holder) = instances::holder(connection, id).await? {
            if latest != Some(holder.claim) {
                return Ok(false);
            }
            let gone = if left_on_this_host(&holder, claimant) {
                true
            } else {
                match watching {
                    None => {
                        info!(
                            "the viban that last used this home's instance id {id} ran elsewhere ({}, pid {}); \
                             watching its heartbeat for up to {WATCH:?}",
                            holder.hostname, holder.pid
                        );
                        watching = Some((Instant::now(), holder.heartbeat_at));
                        false
                    }
                    Some((_, seen)) if seen != holder.heartbeat_at => return Ok(false),
                    Some((since, _)) => since.elapsed() >= WATCH,
                }
            };
            if gone && instances::take_over(connection, id, &holder, claimant).await? {
                info!("took over the instance id {id} from this home's previous start, which has ended");
                return Ok(true);
            }
        }
        // Released or changed meanwhile, or still being watched: look again.
        tokio::time::sleep(POLL).await;
    }
}

/// This home's previous start, on this host, under a pid that no longer runs (or is
/// now this process's): it has ended, since this process holds the home's lock.
fn left_on_this_host(holder: &Holder, claimant: &Claimant) -> bool {
    holder.hostname == claimant.hostname
        && (holder.pid == claimant.pid
            || u32::try_from(holder.pid).is_ok_and(|pid| !crate::process::is_alive(pid)))
}

fn read_id(home: &Home) -> Result<Option<String>, home::HomeError> {
    let path = home.instance_id_file();
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_string())),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(home::HomeError::Read { path, source }),
    }
}

/// A new random id, written to the home.
fn new_id(home: &Home) -> Result<String, home::HomeError> {
    let id = random_uuid().to_string();
    home::write_private_file(&home.instance_id_file(), id.as_bytes())?;
    Ok(id)
}

/// The claim of this home's latest start, if it recorded one.
fn read_claim(home: &Home) -> Option<Uuid> {
    std::fs::read_to_string(home.instance_claim_file()).ok()?.trim().parse().ok()
}

/// A random (version 4) UUID.
fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    // The OS random source failing is not something viban can work around.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn own_pid() -> i32 {
    i32::try_from(std::process::id()).unwrap_or(i32::MAX)
}

/// The host's name, as the row shows it; empty when it cannot be read.
#[cfg(unix)]
fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|byte| *byte == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

#[cfg(not(unix))]
fn hostname() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(hostname: &str, pid: i32) -> Holder {
        Holder {
            claim: Uuid::nil(),
            hostname: hostname.into(),
            pid,
            heartbeat_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_previous_start_on_this_host_has_ended_when_its_pid_is_gone_or_ours() {
        let me = Claimant { claim: random_uuid(), hostname: hostname(), pid: own_pid() };
        // A pid above Linux's maximum (2^22) never runs.
        assert!(left_on_this_host(&holder(&me.hostname, 4_194_304 + 7), &me));
        assert!(left_on_this_host(&holder(&me.hostname, me.pid), &me));
        // The test runner's parent is alive, on this host.
        let parent = i32::try_from(std::os::unix::process::parent_id()).unwrap();
        assert!(!left_on_this_host(&holder(&me.hostname, parent), &me));
        // On another host nothing can be told from the pid.
        assert!(!left_on_this_host(&holder("elsewhere", 4_194_304 + 7), &me));
    }

    #[test]
    fn the_host_name_is_read() {
        assert!(!hostname().is_empty());
    }
}
