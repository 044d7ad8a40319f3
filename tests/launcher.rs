//! The launcher's promises (issue: the `viban` binary), each against the real binary
//! and its real embedded PostgreSQL.

mod common;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::{Database, Viban, eventually, postgres_processes, run_cli, temp_home};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())).permissions().mode()
        & 0o777
}

#[test]
fn first_start_lays_out_a_private_home_and_a_durable_cluster() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);

    for dir in ["", "data", "pg", "logs", "backups", "worktrees", "repos", "run"] {
        assert_eq!(mode(&home.path().join(dir)), 0o700, "{dir}/ must be private");
    }
    for secret in ["token", "postgres.password", "run/instance.json"] {
        assert_eq!(mode(&home.path().join(secret)), 0o600, "{secret} must be private");
    }
    assert!(home.path().join("pg/17.10.0/bin/postgres").is_file(), "binaries extracted under pg/<version>");

    let db = viban.sql();
    assert_eq!(db.text("SHOW fsync"), "on");
    assert_eq!(db.text("SHOW synchronous_commit"), "on");
    assert_eq!(db.text("SHOW wal_level"), "logical");
    assert_eq!(db.text("SHOW listen_addresses"), "", "no TCP listener: Unix socket only");
    assert_eq!(db.text("SHOW password_encryption"), "scram-sha-256");
}

#[test]
fn the_database_password_never_appears_in_process_arguments() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let password = std::fs::read_to_string(home.path().join("postgres.password")).unwrap();
    let password = password.trim();
    assert_eq!(password.len(), 64);
    let pids = postgres_processes(&home.path().join("data"));
    assert!(!pids.is_empty(), "PostgreSQL runs for this home");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            assert!(
                !String::from_utf8_lossy(&cmdline).contains(password),
                "process {:?} carries the password in its arguments",
                entry.file_name()
            );
        }
    }
    drop(viban);
}

#[test]
fn logs_go_to_stderr_and_to_a_daily_file() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    assert!(viban.stderr().contains("ready in"), "{}", viban.output());
    drop(viban);
    let logs: Vec<String> = std::fs::read_dir(home.path().join("logs"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let viban_log = logs.iter().find(|name| name.starts_with("viban.") && name.ends_with(".log"));
    let viban_log = viban_log.unwrap_or_else(|| panic!("a dated viban log file in {logs:?}"));
    let text = std::fs::read_to_string(home.path().join("logs").join(viban_log)).unwrap();
    assert!(text.contains("ready in"));
    assert!(
        logs.iter().any(|name| name.starts_with("postgresql-")),
        "PostgreSQL's own log beside it: {logs:?}"
    );
}

#[test]
fn sigint_and_sigterm_stop_viban_and_its_postgres_within_ten_seconds() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let home = temp_home();
        let mut viban = Viban::start(home.path(), &[]);
        assert!(!postgres_processes(&home.path().join("data")).is_empty());
        viban.signal(signal);
        let status = viban.wait_exit(Duration::from_secs(10)).expect("viban exits within 10 s");
        assert!(status.success(), "signal {signal}: {status}\n{}", viban.output());
        assert_eq!(postgres_processes(&home.path().join("data")), Vec::<u32>::new(), "no PostgreSQL left");
        assert!(!home.path().join("run/instance.json").exists(), "instance file removed");
    }
}

#[test]
fn a_killed_viban_loses_no_committed_rows_and_the_next_start_recovers() {
    let home = temp_home();
    let mut viban = Viban::start(home.path(), &[]);
    let db = viban.sql();
    db.execute("CREATE TABLE crash_probe (id int PRIMARY KEY)");
    db.execute("INSERT INTO crash_probe SELECT generate_series(1, 1000)");
    drop(db);
    viban.kill9();

    // Its postmaster is told to stop when viban dies; whatever is still there is reaped.
    let viban = Viban::spawn(home.path(), &[], &[]);
    let took = viban.wait_healthy(common::START_TIMEOUT);
    eprintln!("healthy {took:?} after the restart");
    assert_eq!(viban.sql().text("SELECT count(*) FROM crash_probe"), "1000");
}

#[test]
fn an_orphaned_postmaster_of_this_home_is_reaped_at_start() {
    // Become the orphan's new parent and do not reap it, as a container's init may
    // not: once killed it stays a zombie, which PostgreSQL's pid check takes for alive.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
    };
    let home = temp_home();
    let mut viban = Viban::start(home.path(), &[]);
    viban.sql().execute("CREATE TABLE orphan_probe (id int); INSERT INTO orphan_probe VALUES (7)");
    // Freeze the postmaster so that viban's death cannot stop it: it stays behind,
    // orphaned and unresponsive, holding the data directory.
    let pid_file = std::fs::read_to_string(home.path().join("data/postmaster.pid")).unwrap();
    let postmaster: i32 = pid_file.lines().next().unwrap().parse().unwrap();
    unsafe { libc::kill(postmaster, libc::SIGSTOP) };
    viban.kill9();
    assert!(viban::process::is_alive(postmaster as u32));

    let viban = Viban::start(home.path(), &[]);
    assert!(viban.stderr().contains("left running by an earlier viban"), "{}", viban.output());
    assert_eq!(viban.sql().text("SELECT id::text FROM orphan_probe"), "7");
    let now = std::fs::read_to_string(home.path().join("data/postmaster.pid")).unwrap();
    assert_ne!(now.lines().next().unwrap(), postmaster.to_string(), "a new postmaster serves the home");
    assert!(eventually(Duration::from_secs(10), || !viban::process::is_alive(postmaster as u32)));
    unsafe { libc::waitpid(postmaster, std::ptr::null_mut(), libc::WNOHANG) };
}

#[test]
fn a_stale_pid_file_naming_an_unrelated_process_does_not_get_it_signalled() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    drop(viban);

    let mut bystander = Command::new("sleep").arg("120").spawn().unwrap();
    let stale = format!(
        "{}\n{}\n1700000000\n5432\n\n\n0 0\nready   \n",
        bystander.id(),
        home.path().join("data").display()
    );
    std::fs::write(home.path().join("data/postmaster.pid"), stale).unwrap();

    let _viban = Viban::start(home.path(), &[]);
    assert!(bystander.try_wait().unwrap().is_none(), "the unrelated process must not have been signalled");
    bystander.kill().unwrap();
    let _ = bystander.wait();
}

#[test]
fn postgres_killed_under_viban_is_restarted_and_health_reports_the_outage() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let pid_file = std::fs::read_to_string(home.path().join("data/postmaster.pid")).unwrap();
    let postmaster: i32 = pid_file.lines().next().unwrap().parse().unwrap();
    unsafe { libc::kill(postmaster, libc::SIGKILL) };

    let mut saw_outage = false;
    let recovered = eventually(Duration::from_secs(60), || {
        let response = viban.request("GET", "/api/health", &[], b"");
        if response.status == 503 {
            assert_eq!(response.json()["database"], "down");
            saw_outage = true;
        }
        saw_outage && response.status == 200
    });
    assert!(saw_outage, "health must report 503 while PostgreSQL is down\n{}", viban.output());
    assert!(recovered, "health must recover without restarting viban\n{}", viban.output());
    assert!(viban.exit_status().is_none(), "viban itself kept running");
    assert!(viban.stderr().contains("PostgreSQL exited unexpectedly"), "{}", viban.output());
}

#[test]
fn a_second_viban_on_the_same_home_prints_the_running_url_and_exits_zero() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let output = run_cli(home.path(), &["serve", "--no-browser"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&viban.url()), "{stdout}");
    assert!(stdout.contains("already running"), "{stdout}");
}

#[test]
fn a_taken_port_moves_viban_to_the_next_free_one_and_says_so() {
    let home = temp_home();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let viban = Viban::start(home.path(), &["--port", &port.to_string()]);
    let used = viban.addr().port();
    assert_ne!(used, port);
    assert!(used > port && used < port + 50, "the next free port, not a random one: {used}");
    assert!(viban.stdout().contains(&format!("Port {port} is in use")), "{}", viban.output());
    assert!(viban.url().ends_with(&format!(":{used}/")), "the instance file records the port used");
}

#[test]
fn a_warm_start_reuses_the_cluster() {
    let home = temp_home();
    drop(Viban::start(home.path(), &[]));
    let viban = Viban::spawn(home.path(), &[], &[]);
    let took = viban.wait_healthy(common::START_TIMEOUT);
    eprintln!("warm start healthy in {took:?}");
    assert!(!viban.stderr().contains("first run only"), "{}", viban.output());
}

#[test]
fn pending_migrations_back_up_the_data_directory_first() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let db = viban.sql();
    db.execute("CREATE TABLE keep_me (note text); INSERT INTO keep_me VALUES ('before the upgrade')");
    // Roll the newest migration back: the database now looks like an older viban's.
    let latest = viban::db::latest_known();
    let previous = viban::db::MIGRATOR.iter().map(|m| m.version).filter(|v| *v < latest).max().unwrap_or(0);
    db.with_connection(async |connection| viban::db::MIGRATOR.undo(connection, previous).await)
        .expect("undo the newest migration");
    drop(db);
    drop(viban);
    assert_eq!(std::fs::read_dir(home.path().join("backups")).unwrap().count(), 0);

    let viban = Viban::start(home.path(), &[]);
    let backups: Vec<_> = std::fs::read_dir(home.path().join("backups")).unwrap().flatten().collect();
    assert_eq!(backups.len(), 1, "one backup before migrating");
    let name = backups[0].file_name().to_string_lossy().into_owned();
    assert!(name.ends_with(&format!("-pre-{}", env!("CARGO_PKG_VERSION"))), "{name}");
    assert!(backups[0].path().join("PG_VERSION").is_file(), "a whole data directory");
    assert_eq!(viban.sql().text("SELECT note FROM keep_me"), "before the upgrade");
    assert_eq!(viban.get("/api/version").json()["schema"], latest);
}

#[test]
fn a_database_from_a_newer_viban_is_refused_naming_the_version_needed() {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    let db = viban.sql();
    db.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', true, '\\x00', 0);
         UPDATE viban_meta SET value = '9.9.0' WHERE key = 'schema_written_by'",
    );
    drop(db);
    drop(viban);

    let mut viban = Viban::spawn(home.path(), &[], &[]);
    let status = viban.wait_exit(Duration::from_secs(60)).expect("viban refuses and exits");
    assert!(!status.success());
    let stderr = viban.stderr();
    assert!(stderr.contains("99990101000000") && stderr.contains("viban 9.9.0"), "{stderr}");
    assert_eq!(postgres_processes(&home.path().join("data")), Vec::<u32>::new(), "PostgreSQL stopped too");
}

#[test]
fn an_ordinary_user_can_run_viban() {
    if unsafe { libc::geteuid() } != 0 {
        // Already an ordinary user: every other test proves it.
        return;
    }
    let home = temp_home();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    let mut command = Command::new(common::BIN);
    command
        .args(["serve", "--no-browser", "--headless", "--port", "0"])
        .env("VIBAN_HOME", home.path())
        .env("HOME", home.path());
    std::os::unix::process::CommandExt::uid(&mut command, 65534);
    std::os::unix::process::CommandExt::gid(&mut command, 65534);
    let viban = Viban::spawn_command(home.path(), command);
    viban.wait_healthy(common::START_TIMEOUT);
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(home.path().join("data")).unwrap());
    assert_eq!(owner, 65534, "the cluster belongs to the user who ran viban");
}

#[test]
fn database_url_uses_that_server_and_creates_no_embedded_cluster() {
    let url = common::scratch_database();
    let home = temp_home();
    let external = Database::connect(url.parse().unwrap());
    let viban = Viban::spawn(home.path(), &[], &[("DATABASE_URL", &url)]);
    viban.wait_healthy(common::START_TIMEOUT);
    assert!(!home.path().join("data").exists(), "no embedded cluster");
    assert_eq!(viban.instance()["database"], "external");
    assert_eq!(
        external.text("SELECT value FROM viban_meta WHERE key = 'schema_written_by'"),
        env!("CARGO_PKG_VERSION")
    );
    drop(viban);

    // The flag does the same as the variable.
    let viban = Viban::spawn(home.path(), &["--database-url", &url], &[]);
    viban.wait_healthy(common::START_TIMEOUT);
    assert!(!home.path().join("data").exists());
}
