//! Opening a folder on the host for the user: in the file manager (the OS handler:
//! `xdg-open` on Linux, `open` on macOS, `explorer` on Windows) or in their editor
//! (`$VISUAL`, then `$EDITOR`, then the OS handler). The program gets the path as one
//! argument, never through a shell, in its own process group, detached from viban's
//! standard streams: it is the user's window, not viban's child to supervise.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a program that exits at once (a failing one) is waited for; one that runs
/// longer (an editor's window) is left running.
const EXIT_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpenTarget {
    /// The OS's file manager.
    Folder,
    /// `$VISUAL`, else `$EDITOR`, else the OS handler.
    Editor,
}

/// The program and its leading arguments for `target`: the path goes after them.
pub fn program_for(target: OpenTarget) -> Vec<String> {
    if target == OpenTarget::Editor {
        let editor = ["VISUAL", "EDITOR"]
            .iter()
            .filter_map(std::env::var_os)
            .map(|value| value.to_string_lossy().split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|words| !words.is_empty());
        if let Some(words) = editor {
            return words;
        }
    }
    vec![os_handler().to_string()]
}

fn os_handler() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    }
}

/// Starts `program args… path`; fails, in words for the user, when it cannot start or
/// exits at once with a failure.
pub async fn launch(program: &str, args: &[String], path: &Path) -> Result<(), String> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).arg(path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|error| {
        format!("{program} could not be started: {error}; set $VISUAL or $EDITOR, or install it")
    })?;
    match tokio::time::timeout(EXIT_WAIT, child.wait()).await {
        Ok(Ok(status)) if !status.success() => {
            Err(format!("{program} failed ({status}) opening {}", path.display()))
        }
        // Exited fine, or still running (an editor's window): tokio reaps it later.
        _ => Ok(()),
    }
}
