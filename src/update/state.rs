//! What the running server knows about updates: the last check's result (kept in
//! `update.json` so that a restart does not check again), the daily check, and one
//! check or install at a time. The API, and through it the UI and the tray, read it.

use crate::schema::Timestamp;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{CURRENT, Check, Installation, Source, UpdateError};
use crate::home::Home;
use crate::shutdown::Shutdown;

/// How often viban asks for a new release by itself.
const CHECK_EVERY: time::Duration = time::Duration::days(1);
/// A due check waits this long after start-up, out of the way of the start
/// (`VIBAN_UPDATE_FIRST_CHECK_SECONDS` changes it).
const FIRST_CHECK_DELAY: Duration = Duration::from_secs(30);

/// The update state as the API reports it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UpdateStatus {
    /// This binary's version.
    pub current: String,
    /// A newer release for this platform, when the last check found one.
    pub available: Option<String>,
    /// When the release server was last asked.
    pub checked_at: Option<Timestamp>,
    /// Why the last check, or the install of its find at start-up, failed, when it did.
    pub error: Option<String>,
    /// Why this binary cannot update itself, when it cannot.
    pub disabled: Option<String>,
    /// Whether viban checks once a day by itself (off with `VIBAN_NO_UPDATE`).
    pub daily_check: bool,
    /// Agent runs active or queued now; an update is applied only when there are none.
    pub active_runs: usize,
    /// `idle`, `checking` or `installing`.
    pub activity: Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Idle,
    Checking,
    Installing,
}

/// What `update.json` keeps between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Known {
    available: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    checked_at: Option<OffsetDateTime>,
    error: Option<String>,
    /// A version the user rolled back from: never installed at start again (a newer
    /// one is, and the user can still ask for this one).
    #[serde(default)]
    declined: Option<String>,
}

impl Known {
    /// The release to install as viban starts, if any.
    fn due_at_start(&self) -> Option<String> {
        let declined = |version: &String| self.declined.as_ref() == Some(version);
        self.available
            .clone()
            .filter(|version| self.error.is_none() && is_newer(version) && !declined(version))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{} active; viban updates only when none is. Stop them or wait for them to finish.",
        if *.0 == 1 { "1 agent run is".to_string() } else { format!("{} agent runs are", .0) }
    )]
    AgentsRunning(usize),
    #[error("no update is available; check for updates first")]
    NothingAvailable,
    #[error("another update check or install is under way; try again when it has finished")]
    Busy,
    #[error(transparent)]
    Update(#[from] UpdateError),
}

pub enum Applied {
    /// Installed; this process is stopping to start the new binary in its place.
    Restarting(String),
    /// Installed; it runs from the next start, because an agent started meanwhile.
    Installed(String),
}

#[derive(Clone)]
pub struct Updates(Arc<Inner>);

struct Inner {
    source: Source,
    installation: Option<Installation>,
    file: PathBuf,
    daily: bool,
    /// Worked out once: it probes the binary's folder with a file.
    disabled: Option<String>,
    known: Mutex<Known>,
    activity: Mutex<Activity>,
}

impl Updates {
    /// `installation` is the binary to replace, found at start-up (`None` when the
    /// system could not say where it is).
    pub fn new(home: &Home, daily: bool, installation: Option<Installation>) -> Self {
        let file = home.root().join("update.json");
        let known = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Known>(&bytes).ok())
            .unwrap_or_default();
        let disabled = match &installation {
            Some(installation) => installation.disabled_reason(),
            None => Some("viban cannot tell where its own binary is, so it cannot replace it".into()),
        };
        Self(Arc::new(Inner {
            source: Source::from_env(),
            installation,
            file,
            daily,
            disabled,
            known: Mutex::new(known),
            activity: Mutex::new(Activity::Idle),
        }))
    }

    pub fn status(&self, active_runs: usize) -> UpdateStatus {
        let known = self.0.known.lock().expect("update state lock").clone();
        UpdateStatus {
            current: CURRENT.to_string(),
            available: known.available.filter(|version| is_newer(version)),
            checked_at: known.checked_at.map(Timestamp),
            error: known.error,
            disabled: self.disabled(),
            daily_check: self.0.daily,
            active_runs,
            activity: *self.0.activity.lock().expect("update activity lock"),
        }
    }

    fn disabled(&self) -> Option<String> {
        self.0.disabled.clone()
    }

    /// Asks the release server now; the outcome, failure included, is in the state.
    pub async fn check(&self) -> Result<(), ApplyError> {
        let _busy = self.begin(Activity::Checking)?;
        let source = self.0.source.clone();
        let outcome = tokio::task::spawn_blocking(move || super::check(&source))
            .await
            .unwrap_or_else(|error| Err(UpdateError::Failed(format!("the check stopped: {error}"))));
        let mut known = self.0.known.lock().expect("update state lock").clone();
        known.checked_at = Some(OffsetDateTime::now_utc());
        match outcome {
            Ok(Check::Available { version }) => {
                info!("viban {version} is available (this is {CURRENT})");
                known.available = Some(version);
                known.error = None;
            }
            Ok(Check::UpToDate) => {
                known.available = None;
                known.error = None;
            }
            Err(error) => {
                warn!("update check failed: {error}");
                known.error = Some(error.to_string());
            }
        }
        self.remember(known);
        Ok(())
    }

    /// Installs the release the last check found and restarts into it, unless an agent
    /// runs: a restart would interrupt it. `active_runs` is asked before and after the
    /// download.
    pub async fn apply(
        &self,
        active_runs: impl Fn() -> usize,
        shutdown: &Shutdown,
    ) -> Result<Applied, ApplyError> {
        match active_runs() {
            0 => {}
            active => return Err(ApplyError::AgentsRunning(active)),
        }
        let version = self.install_available().await?;
        // A run that started during the download keeps running, and so does this
        // version until the next start.
        if active_runs() > 0 {
            return Ok(Applied::Installed(version));
        }
        info!("restarting into viban {version}");
        shutdown.restart();
        Ok(Applied::Restarting(version))
    }

    /// Installs the release the last check found ([`super::install`] refuses when this
    /// binary cannot be replaced, saying why).
    async fn install_available(&self) -> Result<String, ApplyError> {
        let version = self.status(0).available.ok_or(ApplyError::NothingAvailable)?;
        let _busy = self.begin(Activity::Installing)?;
        let (updates, installing) = (self.clone(), version.clone());
        tokio::task::spawn_blocking(move || updates.install_now(&installing))
            .await
            .unwrap_or_else(|error| Err(UpdateError::Failed(format!("the install stopped: {error}"))))?;
        info!("viban {version} is installed; the previous binary is kept for `viban rollback`");
        Ok(version)
    }

    /// The release the last check found, when it is to be installed as viban starts
    /// (R2's "at next start"): automatic updates are on, this binary can replace itself,
    /// installing that release has not failed since the last successful check, and the
    /// user has not rolled back from it.
    pub fn due_at_start(&self) -> Option<String> {
        if !self.0.daily || self.disabled().is_some() {
            return None;
        }
        self.0.known.lock().expect("update state lock").due_at_start()
    }

    /// `viban rollback` went back from `version`: a start does not install it again.
    pub fn decline(&self, version: &str) {
        let mut known = self.0.known.lock().expect("update state lock").clone();
        known.declined = Some(version.to_string());
        self.remember(known);
    }

    /// Installs `version` before anything else starts (blocking, for at most
    /// `deadline`). A failure is remembered as the state's error, so that later starts
    /// do not try again until a check has succeeded; the user can still ask for it.
    pub fn install_at_start(&self, version: &str, deadline: Duration) -> Result<(), UpdateError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let (updates, installing) = (self.clone(), version.to_string());
        std::thread::spawn(move || {
            let _ = sender.send(updates.install_now(&installing));
        });
        let outcome = receiver.recv_timeout(deadline).unwrap_or_else(|_| {
            Err(UpdateError::Failed(format!("the download did not finish within {} s", deadline.as_secs())))
        });
        if let Err(error) = &outcome {
            let mut known = self.0.known.lock().expect("update state lock").clone();
            known.error = Some(format!("viban {version} could not be installed at start: {error}"));
            self.remember(known);
        }
        outcome
    }

    /// Installs `version` over this binary (blocking).
    fn install_now(&self, version: &str) -> Result<(), UpdateError> {
        match &self.0.installation {
            Some(installation) => super::install(&self.0.source, installation, version),
            None => Err(UpdateError::Failed("viban cannot tell where its own binary is".into())),
        }
    }

    /// The daily check, until shutdown; off with `VIBAN_NO_UPDATE` or when this binary
    /// cannot update itself.
    pub fn spawn_daily(&self, shutdown: Shutdown) {
        if !self.0.daily {
            info!("the daily update check is off (VIBAN_NO_UPDATE or --no-update)");
            return;
        }
        if let Some(reason) = self.disabled() {
            info!("updates are off: {reason}");
            return;
        }
        let updates = self.clone();
        let first_delay = std::env::var("VIBAN_UPDATE_FIRST_CHECK_SECONDS")
            .ok()
            .and_then(|seconds| seconds.parse().ok())
            .map_or(FIRST_CHECK_DELAY, Duration::from_secs);
        tokio::spawn(async move {
            loop {
                let due =
                    updates.0.known.lock().expect("update state lock").checked_at.map(|at| at + CHECK_EVERY);
                let wait = due
                    .map(|due| (due - OffsetDateTime::now_utc()).try_into().unwrap_or(Duration::ZERO))
                    .unwrap_or(Duration::ZERO)
                    .max(first_delay);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shutdown.wait() => return,
                }
                if updates.check().await.is_err() {
                    // A check by hand is under way; it counts as today's.
                    tokio::time::sleep(first_delay.max(Duration::from_secs(1))).await;
                }
            }
        });
    }

    fn begin(&self, activity: Activity) -> Result<Busy<'_>, ApplyError> {
        let mut current = self.0.activity.lock().expect("update activity lock");
        if *current != Activity::Idle {
            return Err(ApplyError::Busy);
        }
        *current = activity;
        Ok(Busy(self))
    }

    fn remember(&self, known: Known) {
        if let Ok(bytes) = serde_json::to_vec_pretty(&known)
            && let Err(error) = std::fs::write(&self.0.file, bytes)
        {
            warn!("could not save the update check to {}: {error}", self.0.file.display());
        }
        *self.0.known.lock().expect("update state lock") = known;
    }
}

/// Marks the state idle again however the check or install ended.
struct Busy<'a>(&'a Updates);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        *self.0.0.activity.lock().expect("update activity lock") = Activity::Idle;
    }
}

fn is_newer(version: &str) -> bool {
    self_update::version::bump_is_greater(CURRENT, version).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_release_is_installed_at_start_unless_it_failed_or_was_rolled_back() {
        let newer = "1000.0.0".to_string();
        let found = Known { available: Some(newer.clone()), ..Known::default() };
        assert_eq!(found.due_at_start(), Some(newer.clone()));
        let failed = Known { error: Some("signature".into()), ..found.clone() };
        assert_eq!(failed.due_at_start(), None);
        let declined = Known { declined: Some(newer.clone()), ..found.clone() };
        assert_eq!(declined.due_at_start(), None);
        // A release newer than the declined one is installed again.
        let newest = Known { available: Some("1001.0.0".into()), ..declined };
        assert_eq!(newest.due_at_start(), Some("1001.0.0".into()));
        let current = Known { available: Some(CURRENT.into()), ..Known::default() };
        assert_eq!(current.due_at_start(), None, "not newer than this binary");
    }
}
