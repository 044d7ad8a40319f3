//! The disk a folder uses (the system page's worktrees, each worktree in the
//! housekeeping report), counted without following links and within a deadline, so a
//! huge `node_modules` cannot hold an answer up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct DiskUsage {
    /// Bytes on disk under the folder (the files' allocated blocks where the system says).
    pub bytes: u64,
    /// The count ran out of time: the folder uses at least `bytes`.
    pub partial: bool,
}

/// The disk used under `root`, counted off the async runtime and for at most `limit`.
pub(crate) async fn disk_usage(root: PathBuf, limit: Duration) -> DiskUsage {
    let deadline = Instant::now() + limit;
    tokio::task::spawn_blocking(move || count_disk_usage(&root, deadline))
        .await
        .unwrap_or(DiskUsage { bytes: 0, partial: true })
}

/// Walks `root` without following symbolic links, until done or `deadline`.
pub(crate) fn count_disk_usage(root: &Path, deadline: Instant) -> DiskUsage {
    let mut usage = DiskUsage { bytes: 0, partial: false };
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            if Instant::now() >= deadline {
                usage.partial = true;
                return usage;
            }
            let Ok(metadata) = entry.metadata() else { continue };
            usage.bytes = usage.bytes.saturating_add(allocated(&metadata));
            if metadata.is_dir() {
                folders.push(entry.path());
            }
        }
    }
    usage
}

#[cfg(unix)]
fn allocated(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata.blocks().saturating_mul(512)
}

#[cfg(not(unix))]
fn allocated(metadata: &std::fs::Metadata) -> u64 {
    metadata.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_nested_files_and_stops_at_its_deadline() {
        let root = tempfile::tempdir().expect("a temp dir");
        let nested = root.path().join("board").join("task");
        std::fs::create_dir_all(&nested).expect("create folders");
        std::fs::write(nested.join("big"), vec![1u8; 256 * 1024]).expect("write a file");
        let counted = count_disk_usage(root.path(), Instant::now() + Duration::from_secs(10));
        assert!(!counted.partial);
        assert!(counted.bytes >= 256 * 1024, "{}", counted.bytes);
        let late = count_disk_usage(root.path(), Instant::now());
        assert!(late.partial);
        let missing = count_disk_usage(&root.path().join("nothing"), Instant::now() + Duration::from_secs(1));
        assert_eq!((missing.bytes, missing.partial), (0, false));
    }
}
