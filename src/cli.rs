//! The command line (L2): `viban [serve]`, `status`, `stop`, `open`, `doctor`,
//! `service install|uninstall`, `update [--check]`, `rollback`, `import vibe-kanban|board`, `export`,
//! `mcp`.
//! Every option has an environment equivalent; every error says what to do next.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

use crate::config::ServeOverrides;
use crate::home::Home;
use crate::instance::{self, InstanceInfo};
use crate::{app, browser, client, doctor, logging, update};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (also: `viban` found viban already running and showed it)
  1  failure; the message says why and what to do
  2  invalid command line
  3  viban is not running (status, stop, open, mcp)";

/// viban: a local kanban board that runs coding agents on your git repositories.
#[derive(Debug, Parser)]
#[command(name = "viban", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// viban's home: database, logs, worktrees, token.
    #[arg(long, global = true, env = "VIBAN_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start viban (the default): database, web UI and API on one port.
    Serve(ServeArgs),
    /// Show whether viban is running, where, and its database's health.
    Status,
    /// Stop the running viban: its agents, its server and its database.
    Stop,
    /// Open the running viban in the browser (or print a sign-in link).
    Open,
    /// Check this machine for what viban needs, with a fix for each problem.
    Doctor,
    /// Start viban at login in the background (systemd user unit, launchd agent).
    #[command(subcommand)]
    Service(crate::service::Action),
    /// Install the newest viban from its signed releases (a running one restarts into it).
    Update {
        /// Only say whether a newer viban exists; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Go back to the binary the last `viban update` replaced.
    Rollback,
    /// Bring boards in: from Vibe Kanban, or a board document (`viban export`).
    #[command(subcommand)]
    Import(ImportSource),
    /// Write a board as one JSON document, for `viban import board`.
    #[command(after_help = EXIT_CODES)]
    Export {
        /// The board's id or its name.
        board: String,
        /// The file to write [default: standard output]
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Speak MCP on standard input and output, relayed to the running viban (for MCP
    /// clients that start a command; see docs/mcp.md).
    #[command(after_help = EXIT_CODES)]
    Mcp,
}

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Vibe Kanban's projects, tasks, branches, worktrees (adopted where they are) and
    /// agent sessions; importing again adds only what is new.
    #[command(name = "vibe-kanban", after_help = EXIT_CODES)]
    VibeKanban {
        /// Its data directory, a database (db.v2.sqlite, db.sqlite) or a cloud export .zip
        /// [default: Vibe Kanban's data directory on this system]
        path: Option<PathBuf>,
        /// Print what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A board document written by `viban export`, as a new board.
    #[command(after_help = EXIT_CODES)]
    Board {
        /// The document's file.
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_CODES)]
pub struct ServeArgs {
    /// Do not open the browser.
    #[arg(long, env = "VIBAN_NO_BROWSER", value_parser = BoolishValueParser::new())]
    pub no_browser: bool,

    /// No tray icon and no browser: for servers, containers and services.
    #[arg(long, env = "VIBAN_HEADLESS", value_parser = BoolishValueParser::new())]
    pub headless: bool,

    /// Port for the web UI, API and WebSocket; the next free one is used if taken
    /// (0: any free port) [default: 7777]
    #[arg(long, env = "VIBAN_PORT")]
    pub port: Option<u16>,

    /// Address to listen on; anything but loopback needs a password [default: 127.0.0.1]
    #[arg(long, env = "VIBAN_HOST")]
    pub host: Option<IpAddr>,

    /// Use this PostgreSQL server instead of the embedded one.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Password accepted like the token; required with a non-loopback --host.
    /// Prefer the environment variable: arguments are visible to other users.
    #[arg(long, env = "VIBAN_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Do not check for a new viban once a day (`viban update` still works).
    #[arg(long, env = "VIBAN_NO_UPDATE", value_parser = BoolishValueParser::new())]
    pub no_update: bool,

    /// Another host name the server may be reached by (DNS-rebinding allow-list).
    #[arg(long = "allow-host", env = "VIBAN_ALLOWED_HOSTS", value_name = "NAME", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
}

impl From<ServeArgs> for ServeOverrides {
    fn from(args: ServeArgs) -> Self {
        let ServeArgs { no_browser, headless, port, host, database_url, password, no_update, allowed_hosts } =
            args;
        Self { no_browser, headless, port, host, database_url, password, no_update, allowed_hosts }
    }
}

/// Exit code: viban is not running.
const NOT_RUNNING: u8 = 3;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = Home::resolve(cli.home).map_err(anyhow::Error::from).and_then(|home| match cli.command {
        None => app::serve(home, default_serve_args().into()),
        Some(Command::Serve(args)) => app::serve(home, args.into()),
        Some(Command::Status) => status(&home),
        Some(Command::Stop) => stop(&home),
        Some(Command::Open) => open(&home),
        Some(Command::Doctor) => {
            logging::init_stderr();
            Ok(doctor::run(&home))
        }
        Some(Command::Service(action)) => crate::service::run(&home, action),
        Some(Command::Update { check: true }) => update_check(),
        Some(Command::Update { check: false }) => update(&home),
        Some(Command::Rollback) => rollback(&home),
        Some(Command::Import(ImportSource::VibeKanban { path, dry_run })) => {
            import_vibe_kanban(&home, path, dry_run)
        }
        Some(Command::Import(ImportSource::Board { file })) => import_board(&home, &file),
        Some(Command::Export { board, output }) => export(&home, &board, output),
        Some(Command::Mcp) => mcp(&home),
    });
    outcome.unwrap_or_else(|error| {
        eprintln!("viban: {error:#}");
        ExitCode::FAILURE
    })
}

/// `viban` with no command: `serve` with options from the environment only.
fn default_serve_args() -> ServeArgs {
    #[derive(Parser)]
    struct Bare {
        #[command(flatten)]
        serve: ServeArgs,
    }
    Bare::try_parse_from(["viban"]).map(|bare| bare.serve).unwrap_or_else(|error| error.exit())
}

fn running_or_exit(home: &Home) -> anyhow::Result<Result<InstanceInfo, ExitCode>> {
    match instance::running(home, Duration::from_secs(5))? {
        Some(info) => Ok(Ok(info)),
        None => {
            println!("viban is not running (home: {}). Start it with `viban`.", home.root().display());
            Ok(Err(ExitCode::from(NOT_RUNNING)))
        }
    }
}

/// `viban mcp`: standard output is the protocol's, so everything else goes to stderr.
fn mcp(home: &Home) -> anyhow::Result<ExitCode> {
    let info = match instance::running(home, Duration::from_secs(5))? {
        Some(info) if !info.paused => info,
        _ => {
            eprintln!(
                "viban is not running (home: {}). Start it with `viban` (or `viban serve --headless`), \
                 then start this MCP server again.",
                home.root().display()
            );
            return Ok(ExitCode::from(NOT_RUNNING));
        }
    };
    let addr = socket_addr(&info.url)?;
    let token = read_token(home)?;
    crate::mcp::proxy::relay(addr, &token).context("relaying MCP to the running viban failed")?;
    Ok(ExitCode::SUCCESS)
}

fn status(home: &Home) -> anyhow::Result<ExitCode> {
    let info = match running_or_exit(home)? {
        Ok(info) => info,
        Err(code) => return Ok(code),
    };
    if info.paused {
        println!(
            "viban (pid {}) is running with its server stopped from the tray; start it with `viban` \
             or from the tray icon",
            info.pid
        );
        return Ok(ExitCode::from(NOT_RUNNING));
    }
    let addr = socket_addr(&info.url)?;
    let token = read_token(home)?;
    let health = client::request(addr, "GET", "/api/health", &[], b"");
    let version =
        client::request(addr, "GET", "/api/version", &[("Authorization", &format!("Bearer {token}"))], b"");
    println!("viban is running");
    println!("  url:      {}", info.url);
    println!("  pid:      {}", info.pid);
    println!("  version:  {}", info.version);
    println!("  home:     {}", info.home);
    let postgres =
        version.as_ref().ok().map(|response| response.json()["postgres"].as_str().unwrap_or("?").to_string());
    let database_state = match &health {
        Ok(response) if response.status == 200 => "healthy".to_string(),
        Ok(response) => format!("unavailable (health answered {})", response.status),
        Err(error) => format!("unknown: the server did not answer ({error})"),
    };
    println!(
        "  database: {} PostgreSQL {}, {database_state}",
        info.database,
        postgres.unwrap_or_else(|| "?".into())
    );
    Ok(if matches!(&health, Ok(response) if response.status == 200) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn stop(home: &Home) -> anyhow::Result<ExitCode> {
    let info = match running_or_exit(home)? {
        Ok(info) => info,
        Err(code) => return Ok(code),
    };
    // With its server stopped from the tray, only the control endpoint still listens.
    let asked = if info.paused {
        crate::control::send(&crate::control::endpoint(home, info.pid), "quit").is_ok()
    } else {
        let addr = socket_addr(&info.url)?;
        let token = read_token(home)?;
        client::request(addr, "POST", "/api/shutdown", &[("Authorization", &format!("Bearer {token}"))], b"")
            .is_ok_and(|response| response.status == 202)
    };
    if !asked {
        #[cfg(unix)]
        crate::process::signal(info.pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if instance::running(home, Duration::ZERO).ok().flatten().is_none()
            && !crate::process::is_alive(info.pid)
        {
            println!("viban stopped (pid {}).", info.pid);
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!(
        "viban (pid {}) did not stop within 15 s; check its log in {}/logs",
        info.pid,
        home.root().display()
    )
}

fn open(home: &Home) -> anyhow::Result<ExitCode> {
    let info = match running_or_exit(home)? {
        Ok(info) if info.paused => crate::control::resume(home, &info)?,
        Ok(info) => info,
        Err(code) => return Ok(code),
    };
    let url = app::login_url(&info.url, &read_token(home)?);
    if browser::desktop_session() && browser::open(&url) {
        println!("Opened {} in your browser.", info.url);
    } else {
        println!("Open this link in your browser to sign in:\n{url}");
    }
    Ok(ExitCode::SUCCESS)
}

fn update_check() -> anyhow::Result<ExitCode> {
    let installation = update::Installation::current()?;
    let source = update::Source::from_env();
    match update::check(&source)? {
        update::Check::Available { version } => {
            println!("viban {version} is available (this is {}).", update::CURRENT);
            match installation.disabled_reason() {
                Some(reason) => println!("{reason}."),
                None => println!("Install it with `viban update`."),
            }
        }
        update::Check::UpToDate => println!("viban {} is the newest version.", update::CURRENT),
    }
    Ok(ExitCode::SUCCESS)
}

/// Through the running server when there is one (it knows whether agents run, and
/// restarts itself), else right here.
fn update(home: &Home) -> anyhow::Result<ExitCode> {
    if let Some(info) = instance::running(home, Duration::ZERO)? {
        return update_running(home, &info);
    }
    let installation = update::Installation::current()?;
    if let Some(reason) = installation.disabled_reason() {
        bail!("{reason}");
    }
    let source = update::Source::from_env();
    let update::Check::Available { version } = update::check(&source)? else {
        println!("viban {} is the newest version.", update::CURRENT);
        return Ok(ExitCode::SUCCESS);
    };
    println!("Downloading viban {version}…");
    update::install(&source, &installation, &version)?;
    println!(
        "Updated viban {} → {version}. The previous binary is kept as {}; `viban rollback` goes back to it.",
        update::CURRENT,
        installation.previous().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn update_running(home: &Home, info: &InstanceInfo) -> anyhow::Result<ExitCode> {
    let addr = socket_addr(&info.url)?;
    let auth = format!("Bearer {}", read_token(home)?);
    let headers = [("Authorization", auth.as_str())];
    let checked = client::request(addr, "POST", "/api/update/check", &headers, b"")
        .with_context(|| format!("the running viban (pid {}) did not answer", info.pid))?;
    let status = checked.json();
    if let Some(error) = status["error"].as_str() {
        bail!("{error}");
    }
    let Some(version) = status["available"].as_str() else {
        println!("viban {} is the newest version.", info.version);
        return Ok(ExitCode::SUCCESS);
    };
    println!("Installing viban {version} into the running viban (pid {})…", info.pid);
    let applied = client::request(addr, "POST", "/api/update/apply", &headers, b"")
        .with_context(|| format!("the running viban (pid {}) did not answer", info.pid))?;
    let body = applied.json();
    match (applied.status, body["status"].as_str()) {
        (202, Some("restarting")) => {
            println!("viban {version} is installed; viban is restarting into it at {}.", info.url);
            Ok(ExitCode::SUCCESS)
        }
        (202, _) => {
            println!(
                "viban {version} is installed; an agent started meanwhile, so it runs from the next start."
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!("{}", body["detail"].as_str().unwrap_or("the running viban refused the update")),
    }
}

fn rollback(home: &Home) -> anyhow::Result<ExitCode> {
    if let Some(info) = instance::running(home, Duration::ZERO)? {
        bail!("viban is running (pid {}); stop it with `viban stop`, then roll back", info.pid);
    }
    let installation = update::Installation::current()?;
    let version = update::rollback(&installation)?;
    // Otherwise the next start would install the version just rolled back from.
    update::Updates::new(home, true, None).decline(update::CURRENT);
    println!(
        "Rolled back to viban {version}; viban {} is kept as {} (`viban rollback` again returns to it). \
         viban will not install {} by itself again; `viban update` still can.",
        update::CURRENT,
        installation.previous().display(),
        update::CURRENT
    );
    let backups = std::fs::read_dir(home.backups_dir()).into_iter().flatten().flatten();
    let suffix = format!("-pre-{}", update::CURRENT);
    if let Some(backup) =
        backups.map(|entry| entry.path()).filter(|path| path.to_string_lossy().ends_with(&suffix)).max()
    {
        println!(
            "viban {} migrated the database. If {version} refuses to start it, the database as it was \
             before is in {}.",
            update::CURRENT,
            backup.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The running viban to import into or export from, or the exit code when there is none.
fn running_for_transfer(home: &Home) -> anyhow::Result<Result<InstanceInfo, ExitCode>> {
    match instance::running(home, Duration::from_secs(5))? {
        Some(info) if !info.paused => Ok(Ok(info)),
        _ => {
            println!(
                "viban is not running (home: {}). Start it with `viban` (or `viban serve --headless`), then \
                 run this again: imports and exports go through the running viban.",
                home.root().display()
            );
            Ok(Err(ExitCode::from(NOT_RUNNING)))
        }
    }
}

/// One JSON request to the running viban; the answer's status and body.
fn call(
    home: &Home,
    info: &InstanceInfo,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<client::Response> {
    let addr = socket_addr(&info.url)?;
    let auth = format!("Bearer {}", read_token(home)?);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    client::request(addr, method, path, &headers, body)
        .with_context(|| format!("the running viban (pid {}) did not answer", info.pid))
}

fn refused(response: &client::Response, what: &str) -> anyhow::Error {
    let body = response.json();
    let detail = body["detail"].as_str().unwrap_or(what).to_string();
    anyhow::anyhow!("{detail}")
}

/// Through the running viban (`POST /api/import/vibe-kanban`), which owns the database
/// and the worktrees; the report it answers is printed.
fn import_vibe_kanban(home: &Home, path: Option<PathBuf>, dry_run: bool) -> anyhow::Result<ExitCode> {
    let info = match running_for_transfer(home)? {
        Ok(info) => info,
        Err(code) => return Ok(code),
    };
    let path = match path {
        Some(path) => Some(std::path::absolute(&path).with_context(|| format!("{}", path.display()))?),
        None => crate::import::default_data_dir(),
    };
    let body = serde_json::json!({ "path": path, "dry_run": dry_run });
    let response = call(home, &info, "POST", "/api/import/vibe-kanban", body.to_string().as_bytes())?;
    if response.status != 200 {
        return Err(refused(&response, "the running viban refused the import"));
    }
    print!("{}", crate::import::render(&response.json()));
    Ok(ExitCode::SUCCESS)
}

/// `viban import board FILE`: the running viban reads the file (a document may be larger
/// than a request may be) and makes a new board of it.
fn import_board(home: &Home, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let info = match running_for_transfer(home)? {
        Ok(info) => info,
        Err(code) => return Ok(code),
    };
    let path = std::path::absolute(file).with_context(|| format!("{}", file.display()))?;
    let body = serde_json::json!({ "path": path });
    let response = call(home, &info, "POST", "/api/import/board", body.to_string().as_bytes())?;
    if response.status != 201 {
        return Err(refused(&response, "the running viban refused the board document"));
    }
    let board_id = response.json()["board_id"].as_str().unwrap_or_default().to_string();
    println!("Imported {} as board {board_id}; open it at {}.", file.display(), info.url);
    Ok(ExitCode::SUCCESS)
}

/// `viban export BOARD`: the board (by id, else by its name) as a board document.
fn export(home: &Home, board: &str, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let info = match running_for_transfer(home)? {
        Ok(info) => info,
        Err(code) => return Ok(code),
    };
    let board_id = match uuid::Uuid::parse_str(board) {
        Ok(id) => id.to_string(),
        Err(_) => {
            let listed = call(home, &info, "GET", "/api/boards", b"")?;
            let boards = listed.json();
            let named: Vec<&serde_json::Value> = boards
                .as_array()
                .into_iter()
                .flatten()
                .filter(|summary| summary["name"].as_str() == Some(board))
                .collect();
            match named.as_slice() {
                [one] => one["id"].as_str().unwrap_or_default().to_string(),
                [] => bail!("no board is named \"{board}\"; give its name or id (`viban export <id>`)"),
                _ => bail!("{} boards are named \"{board}\"; give the id of the one to export", named.len()),
            }
        }
    };
    let response = call(home, &info, "GET", &format!("/api/boards/{board_id}/export"), b"")?;
    if response.status != 200 {
        return Err(refused(&response, "the running viban refused the export"));
    }
    match output {
        Some(file) => {
            std::fs::write(&file, &response.body)
                .with_context(|| format!("could not write {}", file.display()))?;
            eprintln!("Wrote board {board_id} to {}.", file.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&response.body)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_token(home: &Home) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(home.token_file())
        .with_context(|| format!("could not read the token in {}", home.token_file().display()))?;
    Ok(token.trim().to_string())
}

fn socket_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    authority.parse().with_context(|| format!("the instance file names an unusable address {url}"))
}
