//! Child processes: the one place that spawns them (own process group, stdin closed),
//! signals them, and tells whether a pid is still the process we think it is. A child
//! whose output viban follows while it runs is a [`Supervised`] one (`supervised.rs`:
//! streamed lines, stderr tail, deadline, stop, TERM → grace → KILL of its group).
//!
//! It also owns the root problem: PostgreSQL refuses to run as root. When viban is
//! root, [`Privilege::Unprivileged`] makes a command run in a new user namespace in
//! which the caller's uid 0 appears as `nobody` (65534). The child holds no root
//! rights there, PostgreSQL's root check passes, and the files it creates still
//! belong to the real user, so nothing under the home changes owner or mode.

mod supervised;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) use supervised::{Lines, Outcome, STOP_GRACE, Stop, Supervised, Supervision};

/// The uid and gid the child sees inside the namespace: `nobody`, which exists on
/// every Linux system (initdb looks its own user up in the passwd database).
#[cfg(target_os = "linux")]
const NAMESPACE_ID: &[u8] = b"65534 0 1";

/// How a child is run with respect to root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// As viban itself.
    Inherit,
    /// When viban is root, as `nobody` inside a user namespace; otherwise as viban.
    Unprivileged,
}

pub fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// A command in its own process group with stdin closed, so a terminal's Ctrl-C
/// reaches viban only and viban decides the order in which children stop.
pub fn command(program: impl AsRef<std::ffi::OsStr>, privilege: Privilege) -> Command {
    let mut command = Command::new(program);
    command.stdin(Stdio::null());
    #[cfg(not(unix))]
    let _ = privilege;
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        if privilege == Privilege::Unprivileged && running_as_root() {
            #[cfg(target_os = "linux")]
            // SAFETY: the closure runs between fork and exec and only makes
            // async-signal-safe system calls (unshare, open, write, close).
            unsafe {
                command.pre_exec(enter_unprivileged_namespace);
            }
        }
    }
    command
}

/// Makes the child receive `signal` when the thread that spawned it exits, so that a
/// `kill -9` of viban still stops it. Spawn such children from a thread that lives
/// as long as viban does.
#[cfg(target_os = "linux")]
pub fn die_with_parent(command: &mut Command, signal: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe. It must come after the namespace change,
    // which would clear it, so it is registered after that closure.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(_command: &mut Command, _signal: i32) {}

/// On Windows, where nothing like [`die_with_parent`] exists, puts a just-started child
/// (and so whatever it starts) in a job that Windows ends, killing all in it, when
/// viban's handle to it closes: when viban exits, however it exits.
#[cfg(windows)]
pub fn end_with_viban(child: std::os::windows::io::RawHandle) {
    static CHILDREN: std::sync::OnceLock<Option<windows_job::Job>> = std::sync::OnceLock::new();
    let job = CHILDREN.get_or_init(|| {
        windows_job::Job::kill_on_close()
            .inspect_err(|error| {
                tracing::warn!("no job object for child processes ({error}); a crash may leave them running")
            })
            .ok()
    });
    if let Some(job) = job
        && let Err(error) = job.assign(child)
    {
        tracing::warn!("a child process could not join viban's job object: {error}");
    }
}

#[cfg(windows)]
mod windows_job {
    use std::io;
    use std::os::windows::io::RawHandle;

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    };

    /// A job object whose processes Windows kills when it is closed.
    pub struct Job(usize);

    impl Job {
        pub fn kill_on_close() -> io::Result<Self> {
            // SAFETY: no attributes and no name: an anonymous job with default security.
            let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
            if handle.is_null() {
                return Err(io::Error::last_os_error());
            }
            let job = Self(handle as usize);
            let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
            limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            // SAFETY: a live job handle, and a limits structure of the size given.
            let set = unsafe {
                SetInformationJobObject(
                    job.handle(),
                    JobObjectExtendedLimitInformation,
                    std::ptr::from_ref(&limits).cast(),
                    size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                )
            };
            if set == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(job)
        }

        pub fn assign(&self, process: RawHandle) -> io::Result<()> {
            // SAFETY: a live job handle and the caller's live process handle.
            if unsafe { AssignProcessToJobObject(self.handle(), process as HANDLE) } == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        fn handle(&self) -> HANDLE {
            self.0 as HANDLE
        }
    }

    impl Drop for Job {
        fn drop(&mut self) {
            // SAFETY: the job handle this value owns, closed once.
            unsafe { CloseHandle(self.handle()) };
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn closing_the_job_ends_its_processes() {
            use std::os::windows::io::AsRawHandle;
            let job = Job::kill_on_close().unwrap();
            // cmd.exe reading commands from a pipe that stays open waits for ever.
            let mut child = std::process::Command::new("cmd.exe")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            job.assign(child.as_raw_handle()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            assert!(child.try_wait().unwrap().is_none(), "it runs while the job is open");
            drop(job);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                assert!(std::time::Instant::now() < deadline, "closing the job ended it");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn enter_unprivileged_namespace() -> io::Result<()> {
    fn write(path: &std::ffi::CStr, contents: &[u8]) -> io::Result<()> {
        // SAFETY: plain system calls on a NUL-terminated path and a valid buffer.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, contents.as_ptr().cast(), contents.len());
            let error = io::Error::last_os_error();
            libc::close(fd);
            if written != contents.len() as isize {
                return Err(error);
            }
        }
        Ok(())
    }
    // SAFETY: unshare has no memory-safety preconditions; the child is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(io::Error::last_os_error());
    }
    write(c"/proc/self/setgroups", b"deny")?;
    write(c"/proc/self/uid_map", NAMESPACE_ID)?;
    write(c"/proc/self/gid_map", NAMESPACE_ID)
}

/// Explains a failure to spawn a command that had to leave root behind.
pub fn unprivileged_spawn_hint(error: &io::Error) -> String {
    if running_as_root() {
        format!(
            "PostgreSQL refuses to run as root, and viban could not run it as an unprivileged \
             user in a user namespace ({error}). Run viban as an ordinary user, allow user \
             namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces), \
             or point viban at an existing server with --database-url"
        )
    } else {
        error.to_string()
    }
}

#[cfg(unix)]
pub use libc::{SIGINT, SIGKILL, SIGQUIT, SIGTERM};

/// Windows has no signals: [`signal`] and [`signal_group`] ask the process (or its tree)
/// to end with `taskkill`, forcefully for `SIGKILL`.
#[cfg(windows)]
pub const SIGINT: i32 = 2;
#[cfg(windows)]
pub const SIGQUIT: i32 = 3;
#[cfg(windows)]
pub const SIGKILL: i32 = 9;
#[cfg(windows)]
pub const SIGTERM: i32 = 15;

#[cfg(windows)]
pub fn signal(pid: u32, signal: i32) -> bool {
    taskkill(pid, signal == SIGKILL, false)
}

#[cfg(windows)]
pub fn signal_group(pid: u32, signal: i32) -> bool {
    taskkill(pid, signal == SIGKILL, true)
}

#[cfg(windows)]
fn taskkill(pid: u32, force: bool, tree: bool) -> bool {
    let mut command = std::process::Command::new("taskkill");
    command.args(["/PID", &pid.to_string()]);
    if tree {
        command.arg("/T");
    }
    if force {
        command.arg("/F");
    }
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Sends `signal` to one process. Returns false if it no longer exists.
#[cfg(unix)]
pub fn signal(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Sends `signal` to every process in the group led by `pgid`.
#[cfg(unix)]
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else { return false };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// Whether `pid` is a running process. A zombie (exited, not yet reaped by its
/// parent) is not running.
#[cfg(unix)]
pub fn is_alive(pid: u32) -> bool {
    let Ok(raw_pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(raw_pid, 0) == 0 }
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !is_zombie(pid)
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    // The state follows the parenthesised command name, which may itself hold spaces.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

#[cfg(all(unix, not(target_os = "linux")))]
fn is_zombie(_pid: u32) -> bool {
    false
}

#[cfg(not(unix))]
pub fn is_alive(_pid: u32) -> bool {
    false
}

/// Whether `pid` is a PostgreSQL server running on `data_dir`: its executable is
/// `postgres` and its working directory (the postmaster changes into its data
/// directory) is `data_dir`. A pid read from a stale file may belong to anything.
pub fn is_postgres_for(pid: u32, data_dir: &Path) -> bool {
    let Some(name) = executable_name(pid) else { return false };
    if !name.starts_with("postgres") {
        return false;
    }
    match (working_dir(pid), data_dir.canonicalize()) {
        (Some(cwd), Ok(data_dir)) => cwd == data_dir,
        // No way to read the cwd (macOS): a postgres process whose command line names
        // this data directory.
        _ => command_line(pid).is_some_and(|line| line.contains(&*data_dir.to_string_lossy())),
    }
}

#[cfg(target_os = "linux")]
fn executable_name(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(exe.file_name()?.to_string_lossy().into_owned())
}

#[cfg(target_os = "linux")]
fn working_dir(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

#[cfg(target_os = "linux")]
fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

#[cfg(all(unix, not(target_os = "linux")))]
fn executable_name(pid: u32) -> Option<String> {
    let output = Command::new("ps").args(["-o", "comm=", "-p", &pid.to_string()]).output().ok()?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Some(Path::new(&path).file_name()?.to_string_lossy().into_owned())
}

#[cfg(all(unix, not(target_os = "linux")))]
fn working_dir(_pid: u32) -> Option<PathBuf> {
    None
}

#[cfg(all(unix, not(target_os = "linux")))]
fn command_line(pid: u32) -> Option<String> {
    let output = Command::new("ps").args(["-o", "command=", "-p", &pid.to_string()]).output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(not(unix))]
fn executable_name(_pid: u32) -> Option<String> {
    None
}
#[cfg(not(unix))]
fn working_dir(_pid: u32) -> Option<PathBuf> {
    None
}
#[cfg(not(unix))]
fn command_line(_pid: u32) -> Option<String> {
    None
}

/// After a crash: SIGKILLs the members of process group `group` whose working folder
/// is inside `within` (viban's worktrees), and only those, so a group id reused by
/// something else since is left alone. Returns how many were signalled.
#[cfg(target_os = "linux")]
pub fn kill_group_within(group: u32, within: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let within = within.canonicalize().unwrap_or_else(|_| within.to_path_buf());
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name (which may hold spaces): state, ppid, pgrp, …
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let in_group = fields.get(2).and_then(|pgrp| pgrp.parse::<u32>().ok()) == Some(group);
        let inside = std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&within));
        if in_group && inside && signal(pid, libc::SIGKILL) {
            killed += 1;
        }
    }
    killed
}

#[cfg(not(target_os = "linux"))]
pub fn kill_group_within(_group: u32, _within: &Path) -> usize {
    0
}

/// Looks a program up on PATH, then in the usual install folders that a launch from a
/// tray or a service manager (with a thin PATH) would miss. On Windows `name` is tried
/// with each PATHEXT extension (`git.exe`, npm's `claude.cmd`), as the shell would.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    find_in(path_dirs.into_iter().chain(install_dirs()), name)
}

fn find_in(dirs: impl IntoIterator<Item = PathBuf>, name: &str) -> Option<PathBuf> {
    dirs.into_iter().flat_map(|dir| program_files(&dir, name)).find(|candidate| is_executable(candidate))
}

#[cfg(not(windows))]
fn install_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf()) {
        for dir in [".local/bin", ".npm-global/bin", ".bun/bin", ".cargo/bin", ".volta/bin"] {
            dirs.push(home.join(dir));
        }
    }
    dirs.push(PathBuf::from("/usr/local/bin"));
    dirs.push(PathBuf::from("/opt/homebrew/bin"));
    if let Some(nvm_bin) = std::env::var_os("NVM_BIN") {
        dirs.push(PathBuf::from(nvm_bin));
    }
    dirs
}

#[cfg(windows)]
fn install_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // npm's global installs (the agent CLIs), then Git for Windows and the GitHub CLI.
    if let Some(app_data) = std::env::var_os("APPDATA") {
        dirs.push(PathBuf::from(app_data).join("npm"));
    }
    if let Some(programs) = std::env::var_os("ProgramFiles") {
        let programs = PathBuf::from(programs);
        dirs.extend([programs.join("Git").join("cmd"), programs.join("GitHub CLI")]);
    }
    dirs
}

/// The files in `dir` that running `name` could mean.
#[cfg(not(windows))]
fn program_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    vec![dir.join(name)]
}

#[cfg(windows)]
fn program_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let extensions = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into());
    extensions
        .split(';')
        .filter(|extension| extension.starts_with('.'))
        .map(|extension| dir.join(format!("{name}{}", extension.to_ascii_lowercase())))
        .collect()
}

/// What to start for `program`: itself, or on Windows, for the `.cmd` wrapper npm
/// installs (the agent CLIs), what the wrapper would start — node with the package's
/// script, or the package's own `.exe` — plus the arguments that go first. A batch file
/// runs through cmd.exe, which cannot carry a line break in an argument (Rust refuses
/// to try), and every prompt has them; node and an `.exe` take any argument.
pub fn launcher(program: &Path) -> (PathBuf, Vec<PathBuf>) {
    #[cfg(windows)]
    if let Some(resolved) = through_npm_shim(program) {
        return resolved;
    }
    (program.to_path_buf(), Vec::new())
}

#[cfg(windows)]
fn through_npm_shim(program: &Path) -> Option<(PathBuf, Vec<PathBuf>)> {
    if !program.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("cmd")) {
        return None;
    }
    let shim = std::fs::read_to_string(program).ok()?;
    let dir = program.parent()?;
    let target = npm_shim_target(&shim)?;
    let target_path = dir.join(&target.path);
    if !target_path.is_file() {
        return None;
    }
    if !target.through_node {
        return Some((target_path, Vec::new()));
    }
    // As the wrapper does: the node.exe beside it, else the one on PATH.
    let node = Some(dir.join("node.exe")).filter(|node| node.is_file()).or_else(|| find_program("node"))?;
    Some((node, vec![target_path]))
}

/// What an npm `.cmd` wrapper (cmd-shim) starts, relative to the wrapper's folder.
#[cfg(any(windows, test))]
#[derive(Debug, PartialEq, Eq)]
struct ShimTarget {
    path: String,
    /// Run by node (`"%_prog%" "<script>"`), not started itself.
    through_node: bool,
}

#[cfg(any(windows, test))]
fn npm_shim_target(shim: &str) -> Option<ShimTarget> {
    let line = shim.lines().rev().find(|line| line.trim_end().ends_with("%*"))?;
    let (before, rest) = line.split_once("\"%dp0%\\").or_else(|| line.split_once("\"%~dp0\\"))?;
    let (path, _) = rest.split_once('"')?;
    Some(ShimTarget { path: path.to_string(), through_node: before.contains("%_prog%") })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Runs `command` to completion, capturing its output; kills its process group if it
/// takes longer than `timeout`.
pub fn output_with_timeout(
    command: &mut Command,
    timeout: std::time::Duration,
) -> io::Result<std::process::Output> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn()?;
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(timeout) {
        Ok(output) => output,
        Err(_) => {
            signal_group(pid, SIGKILL);
            Err(io::Error::new(io::ErrorKind::TimedOut, format!("timed out after {timeout:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_program_is_an_executable_file_of_that_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("tool");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        assert_eq!(find_in([dir.path().to_path_buf()], "tool"), None, "not executable yet");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_in([dir.path().to_path_buf()], "tool"), Some(program));
    }

    #[test]
    fn npm_wrappers_are_read_for_what_they_start() {
        // Written by cmd-shim 8, as npm 11 installs a package's bin on Windows.
        let script = include_str!("../../tests/fixtures/npm-shims/claude.cmd");
        assert_eq!(
            npm_shim_target(script),
            Some(ShimTarget {
                path: r"node_modules\@anthropic-ai\claude-code\cli.js".into(),
                through_node: true
            })
        );
        let native = include_str!("../../tests/fixtures/npm-shims/tool.cmd");
        assert_eq!(
            npm_shim_target(native),
            Some(ShimTarget { path: r"node_modules\tool\bin\tool.exe".into(), through_node: false })
        );
        assert_eq!(npm_shim_target("@echo off\r\ngit %*\r\n"), None, "not an npm wrapper");
    }

    #[cfg(windows)]
    #[test]
    fn an_npm_wrapper_is_started_as_what_it_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join(r"node_modules\@anthropic-ai\claude-code");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("cli.js"), "").unwrap();
        std::fs::write(dir.path().join("node.exe"), "").unwrap();
        let shim = dir.path().join("claude.cmd");
        std::fs::write(&shim, include_str!("../../tests/fixtures/npm-shims/claude.cmd")).unwrap();
        assert_eq!(launcher(&shim), (dir.path().join("node.exe"), vec![package.join("cli.js")]));

        // A wrapper whose target is missing, and any other batch file, run as they are.
        std::fs::remove_file(package.join("cli.js")).unwrap();
        assert_eq!(launcher(&shim), (shim.clone(), Vec::new()));
        let exe = dir.path().join("git.exe");
        assert_eq!(launcher(&exe), (exe.clone(), Vec::new()));
    }

    #[cfg(windows)]
    #[test]
    fn a_program_is_found_with_its_windows_extension() {
        let (plain, npm) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // A file without an extension is not a program on Windows; npm's wrapper is.
        std::fs::write(plain.path().join("tool"), "").unwrap();
        std::fs::write(npm.path().join("tool.cmd"), "@echo off\r\n").unwrap();
        let dirs = [plain.path().to_path_buf(), npm.path().to_path_buf()];
        assert_eq!(find_in(dirs.clone(), "tool"), Some(npm.path().join("tool.cmd")));
        // .exe comes before .cmd in PATHEXT.
        std::fs::write(plain.path().join("tool.exe"), "").unwrap();
        assert_eq!(find_in(dirs, "tool"), Some(plain.path().join("tool.exe")));
    }
}
