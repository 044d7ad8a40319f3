//! Script hooks: a command run with bash — or by its own `#!` line — in the task's
//! worktree, in its own process group, with the task's `VIBAN_*` variables and a
//! deadline. What it prints (standard output and error, interleaved) is kept, up to
//! [`OUTPUT_KEEP`] bytes from its end.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::steps::Context;
use crate::board::pipeline::Outcome;
use crate::process;

/// The end of a script's output kept with its execution.
pub const OUTPUT_KEEP: usize = 64 * 1024;
/// How long a cancelled script gets after TERM before its group is killed.
const GRACE: Duration = Duration::from_secs(3);

pub(super) async fn run(context: &Context<'_>, command: &str, timeout: Duration) -> Option<Outcome> {
    let prepared = match context.runner.prepare_worktree(context.claimed.task_id).await {
        Ok(prepared) => prepared,
        Err(error) => {
            return Some(failed(format!("the task's worktree is not ready: {error}"), String::new()));
        }
    };
    // A `#!` script runs as its own program; anything else is bash's.
    let script_file;
    let mut child = if command.starts_with("#!") {
        script_file = tempfile_for(command);
        let Ok(path) = &script_file else {
            return Some(failed("could not write the script to a file".into(), String::new()));
        };
        process::command(path, process::Privilege::Inherit)
    } else {
        let mut bash = process::command("bash", process::Privilege::Inherit);
        bash.arg("-c").arg(command);
        bash
    };
    child
        .current_dir(&prepared.path)
        .env("VIBAN_TASK_ID", prepared.task.id.to_string())
        .env("VIBAN_TASK_TITLE", &prepared.task.title)
        .env("VIBAN_BOARD_ID", prepared.task.board_id.to_string())
        .env("VIBAN_BRANCH", &prepared.branch)
        .env("VIBAN_WORKTREE", &prepared.path)
        .env("VIBAN_BASE_BRANCH", &prepared.base)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    process::die_with_parent(&mut child, libc::SIGTERM);
    let mut child = match tokio::process::Command::from(child).spawn() {
        Ok(child) => child,
        Err(error) => return Some(failed(format!("the script could not start: {error}"), String::new())),
    };
    let group = child.id();
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Some(failed("the script's output could not be read".into(), String::new()));
    };
    let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let readers =
        [tokio::spawn(collect(stdout, output.clone())), tokio::spawn(collect(stderr, output.clone()))];
    let ending = tokio::select! {
        status = child.wait() => Ok(status),
        () = tokio::time::sleep(timeout) => Err(true),
        () = context.cancel.cancelled() => Err(false),
    };
    if ending.is_err()
        && let Some(group) = group
    {
        process::signal_group(group, process::SIGTERM);
        if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
            let _ = child.start_kill();
        }
    }
    // Nothing the script started outlives it.
    if let Some(group) = group {
        process::signal_group(group, process::SIGKILL);
    }
    let _ = child.wait().await;
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
    let output = {
        let kept = output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&kept).into_owned()
    };
    match ending {
        Ok(Ok(status)) if status.success() => Some(Outcome::Completed { output }),
        Ok(Ok(status)) => {
            let why = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            let error =
                if output.trim().is_empty() { why } else { format!("{why}\n{}", last_lines(&output, 10)) };
            Some(failed(error, output))
        }
        Ok(Err(error)) => Some(failed(format!("waiting for the script failed: {error}"), output)),
        Err(true) => Some(failed(
            format!("the script did not finish within {} s and was stopped", timeout.as_secs()),
            output,
        )),
        Err(false) => None,
    }
}

fn failed(error: String, output: String) -> Outcome {
    Outcome::Failed { error, output }
}

/// Reads a stream to its end into the shared buffer, keeping its last bytes.
async fn collect(mut stream: impl AsyncRead + Unpin, into: std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let mut chunk = vec![0; 8192];
    while let Ok(read) = stream.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        let mut kept = into.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.extend_from_slice(&chunk[..read]);
        if kept.len() > 2 * OUTPUT_KEEP {
            let excess = kept.len() - OUTPUT_KEEP;
            kept.drain(..excess);
        }
    }
    let mut kept = into.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if kept.len() > OUTPUT_KEEP {
        let excess = kept.len() - OUTPUT_KEEP;
        kept.drain(..excess);
    }
}

/// A `#!` script as an executable file, removed when dropped.
fn tempfile_for(script: &str) -> std::io::Result<ScriptFile> {
    let path = std::env::temp_dir().join(format!("viban-hook-{}", &crate::home::random_secret()[..16]));
    let file = ScriptFile(path);
    std::fs::write(&file.0, script)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(file)
}

struct ScriptFile(std::path::PathBuf);

impl AsRef<std::ffi::OsStr> for ScriptFile {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
