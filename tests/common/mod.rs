//! Test harness: starts the real `viban` binary on a private home, with its real
//! embedded PostgreSQL, and talks to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use viban::client::Response;

pub const BIN: &str = env!("CARGO_BIN_EXE_viban");
/// Generous: the CI machine has two cores and runs tests in parallel.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A home directory that is removed when the test ends.
pub fn temp_home() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("viban-test-").tempdir().expect("create a temp home")
}

/// A running `viban serve`. Dropping it stops it (SIGTERM, then SIGKILL).
pub struct Viban {
    pub home: PathBuf,
    child: Option<Child>,
    pub pid: u32,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Viban {
    /// `viban serve --no-browser --port 0` plus `args`, waiting until it is healthy.
    pub fn start(home: &Path, args: &[&str]) -> Self {
        let viban = Self::spawn(home, args, &[]);
        viban.wait_healthy(START_TIMEOUT);
        viban
    }

    pub fn spawn(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.args(["serve", "--no-browser", "--headless"]);
        if !args.contains(&"--port") {
            command.args(["--port", "0"]);
        }
        command.args(args).env("VIBAN_HOME", home).env_remove("DATABASE_URL");
        for (name, value) in env {
            command.env(name, value);
        }
        Self::spawn_command(home, command)
    }

    pub fn spawn_command(home: &Path, mut command: Command) -> Self {
        // No test asks GitHub for releases, unless it says so.
        if !command.get_envs().any(|(name, _)| name == "VIBAN_NO_UPDATE") {
            command.env("VIBAN_NO_UPDATE", "1");
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start viban");
        let stdout = capture(child.stdout.take().expect("piped stdout"));
        let stderr = capture(child.stderr.take().expect("piped stderr"));
        let pid = child.id();
        Self { home: home.to_path_buf(), child: Some(child), pid, stdout, stderr }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn instance(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.home.join("run/instance.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    pub fn url(&self) -> String {
        self.instance()["url"].as_str().unwrap_or_default().to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        let url = self.url();
        url.trim_start_matches("http://").trim_end_matches('/').parse().expect("instance url has an address")
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.home.join("token")).expect("token file").trim().to_string()
    }

    /// Waits until `/api/health` answers 200; panics with viban's output otherwise.
    pub fn wait_healthy(&self, timeout: Duration) -> Duration {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(status) = self.exit_status() {
                panic!("viban exited ({status}) before it was healthy\n{}", self.output());
            }
            if self.instance().is_object()
                && let Ok(response) = viban::client::request(self.addr(), "GET", "/api/health", &[], b"")
                && response.status == 200
            {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("viban was not healthy within {timeout:?}\n{}", self.output());
    }

    /// Waits until the task is in `column_id`, its agent is not running and none of its
    /// hooks is pending or running; panics with viban's output otherwise.
    pub fn settles_in(&self, task: &str, column_id: &str) {
        let settled = eventually(Duration::from_secs(60), || {
            let state = self.get(&format!("/api/tasks/{task}")).json();
            let executions = self.get(&format!("/api/tasks/{task}/hook-executions")).json();
            state["column_id"] == column_id
                && state["agent_status"] != "running"
                && executions
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| !matches!(e["status"].as_str(), Some("pending" | "running")))
        });
        assert!(settled, "{task} did not settle in column {column_id}\n{}", self.output());
    }

    pub fn output(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }

    /// A request with the Bearer token.
    pub fn get(&self, path: &str) -> Response {
        let auth = format!("Bearer {}", self.token());
        self.request("GET", path, &[("Authorization", &auth)], b"")
    }

    /// A JSON request with the Bearer token (`method` POST, PATCH, PUT or DELETE).
    pub fn send_json(&self, method: &str, path: &str, body: &serde_json::Value) -> Response {
        let auth = format!("Bearer {}", self.token());
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        self.request(method, path, &headers, body.to_string().as_bytes())
    }

    /// `DELETE` with the Bearer token.
    pub fn delete(&self, path: &str) -> Response {
        let auth = format!("Bearer {}", self.token());
        self.request("DELETE", path, &[("Authorization", &auth)], b"")
    }

    /// A request with exactly these headers (plus Host, unless given).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        viban::client::request(self.addr(), method, path, headers, body).expect("request to viban")
    }

    pub fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.pid as i32, signal) };
    }

    pub fn exit_status(&self) -> Option<ExitStatus> {
        // try_wait needs &mut; the child is only reaped through here and wait_exit.
        let child = self.child.as_ref()?;
        let mut status = 0;
        let reaped = unsafe { libc::waitpid(child.id() as i32, &mut status, libc::WNOHANG) };
        (reaped == child.id() as i32).then(|| std::os::unix::process::ExitStatusExt::from_raw(status))
    }

    /// Waits for the process to exit; `None` if it did not within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Some(status) = self.exit_status() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait_exit(Duration::from_secs(10)).expect("SIGKILL ends viban");
    }

    /// A direct connection to the embedded database, as viban's superuser.
    pub fn sql(&self) -> Database {
        Database::embedded(&self.home)
    }
}

impl Drop for Viban {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal(libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(15)).is_none() {
                self.signal(libc::SIGKILL);
                self.wait_exit(Duration::from_secs(5));
            }
        }
    }
}

fn capture(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

/// Runs `viban <args>` to completion with `VIBAN_HOME` set.
pub fn run_cli(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("VIBAN_HOME", home)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run viban")
}

/// A blocking wrapper around one sqlx connection.
pub struct Database {
    runtime: tokio::runtime::Runtime,
    connection: Mutex<sqlx::PgConnection>,
}

impl Database {
    pub fn embedded(home: &Path) -> Self {
        let password = std::fs::read_to_string(home.join("postgres.password")).expect("password file");
        let options = sqlx::postgres::PgConnectOptions::new()
            .socket(home.join("run"))
            .port(5432)
            .username("postgres")
            .password(password.trim())
            .database("viban");
        Self::connect(options)
    }

    pub fn connect(options: sqlx::postgres::PgConnectOptions) -> Self {
        use sqlx::ConnectOptions;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let connection = runtime.block_on(options.connect()).expect("connect to PostgreSQL");
        Self { runtime, connection: Mutex::new(connection) }
    }

    pub fn execute(&self, sql: &str) {
        let mut connection = self.connection.lock().unwrap();
        self.runtime
            .block_on(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut *connection))
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// The first column of the first row, as text.
    pub fn text(&self, sql: &str) -> String {
        use sqlx::Row;
        let mut connection = self.connection.lock().unwrap();
        let row = self
            .runtime
            .block_on(sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut *connection))
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        row.try_get::<String, _>(0).unwrap_or_else(|_| row.get::<i64, _>(0).to_string())
    }

    pub fn with_connection<T>(&self, work: impl AsyncFnOnce(&mut sqlx::PgConnection) -> T) -> T {
        let mut connection = self.connection.lock().unwrap();
        self.runtime.block_on(work(&mut connection))
    }
}

/// Pids of PostgreSQL processes serving `data_dir` (their cwd is the data directory).
pub fn postgres_processes(data_dir: &Path) -> Vec<u32> {
    let Ok(data_dir) = data_dir.canonicalize() else { return Vec::new() };
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
            exe.is_some_and(|exe| exe.ends_with("postgres")) && cwd.as_deref() == Some(&*data_dir)
        })
        .collect()
}

/// Waits until `condition` holds, polling; false if it did not within `timeout`.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    condition()
}

/// A fresh, empty database on the external server named by VIBAN_TEST_DATABASE_URL
/// (scripts/test.sh starts one), so that tests in parallel never share one.
pub fn scratch_database() -> String {
    let url = std::env::var("VIBAN_TEST_DATABASE_URL").expect(
        "VIBAN_TEST_DATABASE_URL must name a scratch PostgreSQL database; scripts/test.sh starts one",
    );
    let name = format!(
        "viban_{}",
        tempfile::Builder::new()
            .tempfile()
            .unwrap()
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let admin = Database::connect(url.parse().expect("VIBAN_TEST_DATABASE_URL is a PostgreSQL URL"));
    admin.execute(&format!("CREATE DATABASE {name}"));
    let (server, _database) = url.rsplit_once('/').expect("the URL names a database");
    format!("{server}/{name}")
}

/// A WebSocket client of `/api/ws`, signed in with the Bearer token and the server's
/// own Origin.
pub struct Socket(tungstenite::WebSocket<std::net::TcpStream>);

impl Viban {
    pub fn socket(&self) -> Socket {
        use tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/api/ws", self.addr()).into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("Origin", format!("http://{}", self.addr()).parse().unwrap());
        headers.insert("Authorization", format!("Bearer {}", self.token()).parse().unwrap());
        let stream = std::net::TcpStream::connect(self.addr()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (socket, _response) = tungstenite::client(request, stream).expect("WebSocket handshake");
        let mut socket = Socket(socket);
        assert_eq!(socket.next()["type"], "hello");
        socket
    }
}

impl Socket {
    pub fn send(&mut self, message: serde_json::Value) {
        self.0.send(tungstenite::Message::Text(message.to_string().into())).expect("send on the socket");
    }

    /// The next JSON message (panics after 20 s of silence).
    pub fn next(&mut self) -> serde_json::Value {
        loop {
            match self.0.read().expect("a message within 20 s") {
                tungstenite::Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                tungstenite::Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Subscribes and returns the `subscribed` reply, after any replayed messages
    /// (which are returned first, in order).
    pub fn subscribe(
        &mut self,
        stream: &str,
        after: Option<i64>,
    ) -> (Vec<serde_json::Value>, serde_json::Value) {
        self.send(serde_json::json!({ "type": "subscribe", "stream": stream, "after": after }));
        let mut before = Vec::new();
        loop {
            let message = self.next();
            if message["type"] == "subscribed" {
                return (before, message);
            }
            before.push(message);
        }
    }
}

/// `git args…` in `dir`; panics with git's message if it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").current_dir(dir).args(args).output().expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A repository on `main` with one commit and an untracked `.env.local`.
pub fn repository(dir: &Path) {
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["config", "user.name", "Test"]);
    std::fs::write(dir.join("README.md"), "# demo\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", "first"]);
    std::fs::write(dir.join(".env.local"), "SECRET=1\n").unwrap();
}

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Links `repository` and makes a board on it; returns the board's id.
pub fn board_on(viban: &Viban, repository: &Path, settings: serde_json::Value) -> String {
    let linked = viban.send_json("POST", "/api/repositories", &serde_json::json!({ "path": repository }));
    assert_eq!(linked.status, 201, "{}", linked.text());
    let board = viban.send_json("POST", "/api/boards", &serde_json::json!({ "name": "Agents" })).json();
    let board_id = board["board"]["id"].as_str().unwrap().to_string();
    let patch = serde_json::json!({ "repository_id": linked.json()["id"], "settings": settings });
    assert_eq!(viban.send_json("PATCH", &format!("/api/boards/{board_id}"), &patch).status, 200);
    board_id
}

/// A plain HTTP server on a free loopback port until the test ends: each GET's path
/// (without the query) goes to `answer`, whose bytes are a 200 and whose `None` is a
/// GitHub-style 404. Returns its base URL.
pub fn http_server(answer: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let target = request.split_whitespace().nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or_default();
            let (status, body) = match answer(path) {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", br#"{"message":"Not Found"}"#.to_vec()),
            };
            let mut stream = &stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    url
}

/// The fake agent (`tests/fixtures/bin/claude`) first on PATH, replaying
/// `transcripts/claude-tools.jsonl` and logging one line per call to `log`: the
/// environment to start viban with, plus `extra`.
pub fn fake_agent_env(log: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let path = format!("{}:{}", fixtures().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let transcript = fixtures().join("transcripts/claude-tools.jsonl");
    let mut env = vec![
        ("PATH".to_string(), path),
        ("FAKE_TRANSCRIPT".to_string(), transcript.display().to_string()),
        ("FAKE_AGENT_LOG".to_string(), log.display().to_string()),
    ];
    env.extend(extra.iter().map(|(name, value)| (name.to_string(), value.to_string())));
    env
}

/// Several viban processes on one fresh database of the external PostgreSQL
/// ([`scratch_database`]), each with its own home whose `config.toml` allows
/// `agent_slots` agent runs at once, the fake agent ([`fake_agent_env`]) first on
/// PATH, and one board on one repository that every instance reaches.
pub struct Cluster {
    pub vibans: Vec<Viban>,
    pub database_url: String,
    pub board_id: String,
    /// The board as `GET /api/boards/{id}` gave it after its creation.
    pub board: serde_json::Value,
    /// Where the fake agent logs its calls (one line each: working directory, arguments).
    pub agent_log: PathBuf,
    _homes: Vec<tempfile::TempDir>,
    _repository: tempfile::TempDir,
    _scratch: tempfile::TempDir,
}

impl Cluster {
    pub fn start(instances: usize, agent_slots: usize, extra_env: &[(&str, &str)]) -> Self {
        let database_url = scratch_database();
        let scratch = tempfile::tempdir().expect("a scratch directory");
        let agent_log = scratch.path().join("agent-calls.log");
        let repo = tempfile::tempdir().expect("a repository directory");
        repository(repo.path());
        let mut env = fake_agent_env(&agent_log, extra_env);
        env.push(("DATABASE_URL".to_string(), database_url.clone()));
        let env: Vec<(&str, &str)> =
            env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let homes: Vec<tempfile::TempDir> = (0..instances).map(|_| temp_home()).collect();
        // One after another: the first start migrates the fresh database.
        let vibans: Vec<Viban> = homes
            .iter()
            .map(|home| {
                let config = format!("[agents]\nmax_concurrent = {agent_slots}\n");
                std::fs::write(home.path().join("config.toml"), config).expect("write config.toml");
                let viban = Viban::spawn(home.path(), &[], &env);
                viban.wait_healthy(START_TIMEOUT);
                viban
            })
            .collect();
        let board_id = board_on(&vibans[0], repo.path(), serde_json::json!({}));
        let board = vibans[0].get(&format!("/api/boards/{board_id}")).json();
        Self {
            vibans,
            database_url,
            board_id,
            board,
            agent_log,
            _homes: homes,
            _repository: repo,
            _scratch: scratch,
        }
    }

    /// The id of the board's column with `role`.
    pub fn column(&self, role: &str) -> String {
        let columns = self.board["columns"].as_array().expect("the board has columns");
        let column = columns.iter().find(|column| column["role"] == role).expect("a column with that role");
        column["id"].as_str().expect("a column id").to_string()
    }

    /// A direct connection to the shared database.
    pub fn database(&self) -> Database {
        Database::connect(self.database_url.parse().expect("a PostgreSQL URL"))
    }

    /// Creates a task on the board through `viban`; returns its id.
    pub fn task(&self, viban: &Viban, body: &serde_json::Value) -> String {
        let created = viban.send_json("POST", &format!("/api/boards/{}/tasks", self.board_id), body);
        assert_eq!(created.status, 201, "{}", created.text());
        created.json()["id"].as_str().expect("a task id").to_string()
    }

    /// The fake agent's calls so far, one line each.
    pub fn agent_calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.agent_log).unwrap_or_default().lines().map(String::from).collect()
    }

    /// Every instance's output, for a failure's message.
    pub fn output(&self) -> String {
        self.vibans.iter().map(Viban::output).collect::<Vec<_>>().join("\n")
    }
}

/// An RFC 3339 timestamp of the API (`started_at`, `finished_at`).
pub fn timestamp(value: &serde_json::Value) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(value.as_str()?, &time::format_description::well_known::Rfc3339).ok()
}

/// The most intervals open at once, sweeping their starts and ends in time order; an
/// interval that ends when another starts is not open with it.
pub fn most_at_once<T: Ord + Copy>(intervals: &[(T, T)]) -> usize {
    let mut edges: Vec<(T, i32)> =
        intervals.iter().flat_map(|&(start, end)| [(start, 1), (end, -1)]).collect();
    // At one instant, ends (-1) come before starts (+1).
    edges.sort();
    let (mut open, mut most) = (0i32, 0i32);
    for (_, change) in edges {
        open += change;
        most = most.max(open);
    }
    usize::try_from(most).unwrap_or(0)
}

/// Xvfb on the first free display number in `numbers` with a `geometry` screen (e.g.
/// `640x480x24`): its `:N` name and the process (scripts/test.sh installs Xvfb).
pub fn xvfb(numbers: std::ops::Range<u32>, geometry: &str) -> (String, Child) {
    for number in numbers {
        if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
            continue;
        }
        let mut xvfb = Command::new("Xvfb")
            .args([&format!(":{number}"), "-screen", "0", geometry, "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (scripts/test.sh installs it)");
        if eventually(Duration::from_secs(10), || Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()) {
            return (format!(":{number}"), xvfb);
        }
        let _ = xvfb.kill();
        let _ = xvfb.wait();
    }
    panic!("no display number was free for Xvfb");
}
