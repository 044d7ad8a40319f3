//! Script hooks: a command run with bash — or by its own `#!` line — in the task's
//! worktree, as a supervised child ([`process::Supervised`]: its own process group,
//! killed whole when it ends), with the task's `VIBAN_*` variables and a deadline. What
//! it prints is kept, up to [`OUTPUT_KEEP`] bytes from its end: standard output and
//! error interleaved for a bash command, one after the other for a `#!` script.

use std::collections::VecDeque;
use std::time::Duration;

use super::steps::Context;
use crate::board::pipeline::Outcome;
use crate::process::{self, Stop, Supervised, Supervision};

/// The end of a script's output kept with its execution.
pub const OUTPUT_KEEP: usize = 64 * 1024;

/// Why a script was stopped: the task left the column, or viban is stopping.
#[derive(Debug, Clone, Copy)]
struct Cancelled;

pub(super) async fn run(context: &Context<'_>, command: &str, timeout: Duration) -> Option<Outcome> {
    let prepared = match context.runner.prepare_worktree(context.claimed.task_id).await {
        Ok(prepared) => prepared,
        Err(error) => {
            return Some(failed(format!("the task's worktree is not ready: {error}"), String::new()));
        }
    };
    // A `#!` script runs as its own program; anything else is bash's, with its
    // standard error joined to its output so that the two read in order.
    let script_file;
    let mut child = if command.starts_with("#!") {
        script_file = tempfile_for(command);
        let Ok(path) = &script_file else {
            return Some(failed("could not write the script to a file".into(), String::new()));
        };
        process::command(path, process::Privilege::Inherit)
    } else {
        let mut bash = process::command("bash", process::Privilege::Inherit);
        bash.arg("-c").arg(format!("exec 2>&1\n{command}"));
        bash
    };
    child
        .current_dir(&prepared.path)
        .env("VIBAN_TASK_ID", prepared.task.id.to_string())
        .env("VIBAN_TASK_TITLE", &prepared.task.title)
        .env("VIBAN_BOARD_ID", prepared.task.board_id.to_string())
        .env("VIBAN_BRANCH", &prepared.branch)
        .env("VIBAN_WORKTREE", &prepared.path)
        .env("VIBAN_BASE_BRANCH", &prepared.base);
    let stop = Stop::new();
    let supervision = Supervision {
        stderr_tail: OUTPUT_KEEP,
        deadline: Some(timeout),
        stop_grace: Duration::from_secs(3),
        ..Supervision::default()
    };
    let mut script = match Supervised::spawn(child, |line: &str| line.to_owned(), stop.clone(), supervision) {
        Ok(script) => script,
        Err(error) => return Some(failed(format!("the script could not start: {error}"), String::new())),
    };
    let mut kept = Tail::default();
    // Once asked, the stop is not asked again: the cancellation stays ready, and would
    // spin this loop for the whole grace period the script gets to exit.
    let mut stopping = false;
    loop {
        tokio::select! {
            lines = script.next() => match lines {
                Some(lines) => kept.extend(lines),
                None => break,
            },
            () = context.cancel.cancelled(), if !stopping => {
                stopping = true;
                stop.request(Cancelled);
            }
        }
    }
    let finished = script.wait().await;
    let mut output = kept.text();
    if !finished.stderr_tail.trim().is_empty() {
        output.push_str(&finished.stderr_tail);
    }
    match finished.outcome {
        process::Outcome::Exited(Some(status)) if status.success() => Some(Outcome::Completed { output }),
        process::Outcome::Exited(status) => {
            let why = match status.and_then(|status| status.code()) {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            let error =
                if output.trim().is_empty() { why } else { format!("{why}\n{}", last_lines(&output, 10)) };
            Some(failed(error, output))
        }
        process::Outcome::TimedOut => Some(failed(
            format!("the script did not finish within {} s and was stopped", timeout.as_secs()),
            output,
        )),
        process::Outcome::Stopped(Cancelled) => None,
    }
}

/// The last [`OUTPUT_KEEP`] bytes of the lines seen, whole lines only.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    fn extend(&mut self, lines: Vec<String>) {
        for line in lines {
            self.bytes += line.len() + 1;
            self.lines.push_back(line);
            while self.bytes > OUTPUT_KEEP
                && let Some(dropped) = self.lines.pop_front()
            {
                self.bytes -= dropped.len() + 1;
            }
        }
    }

    fn text(&self) -> String {
        let mut text = String::with_capacity(self.bytes);
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

fn failed(error: String, output: String) -> Outcome {
    Outcome::Failed { error, output }
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
