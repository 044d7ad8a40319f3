//! A task's diff (V1): its worktree against the merge-base with its base branch —
//! committed, uncommitted and untracked changes — read from `git diff` and parsed into
//! files, hunks and lines. Everything goes through [`crate::git`] as argument vectors;
//! paths are read from `-z` output (any byte but NUL) and from the patch's own headers.
//!
//! Untracked files are shown by marking them "intent to add" in a throwaway copy of the
//! worktree's index (`GIT_INDEX_FILE`), so one `git diff <merge-base>` sees them beside
//! everything else while the real index is never written. The limits
//! (`crate::limits::DIFF_*`, `docs/review.md`) keep an answer small: a file over them
//! keeps its counts but not its hunks (`truncated`), and `only` asks for one file whole.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::git::{self, BaseTarget, GitError};
use crate::limits::{
    DIFF_FILE_BYTES_MAX, DIFF_FILE_LINES_MAX, DIFF_FULL_FILE_BYTES_MAX, DIFF_FULL_FILE_LINES_MAX,
    DIFF_TOTAL_BYTES_MAX, DIFF_TOTAL_LINES_MAX,
};

const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the base branch '{0}' exists neither locally nor as origin/{0}")]
    NoBase(String),
    #[error("the task's branch and '{0}' have no commit in common")]
    Unrelated(String),
    #[error("{0} is not among the task's changed files")]
    NoSuchFile(String),
    #[error(transparent)]
    Git(#[from] GitError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    Copied,
    /// Not yet known to git (neither committed nor staged), and not ignored.
    Untracked,
    /// A file became a symlink or the other way round.
    TypeChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Context,
    Add,
    Del,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DiffLine {
    pub kind: LineKind,
    /// Its number in the old file (context and deleted lines).
    pub old_line: Option<u32>,
    /// Its number in the new file (context and added lines).
    pub new_line: Option<u32>,
    /// The line without its end-of-line (bytes that are not UTF-8 are replaced).
    pub text: String,
    /// The file ends on this line with no newline after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_newline_at_end: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Hunk {
    /// The whole `@@ -a,b +c,d @@ context` line.
    pub header: String,
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DiffFile {
    /// The file's path now (its old path when it was deleted): what `?file=` and a
    /// review comment's `file_path` name.
    pub path: String,
    /// Its path at the merge-base; null when added or untracked.
    pub old_path: Option<String>,
    /// Its path in the worktree; null when deleted.
    pub new_path: Option<String>,
    pub status: FileStatus,
    /// For renames and copies: how similar the two files are, in percent.
    pub similarity: Option<u8>,
    pub additions: u64,
    pub deletions: u64,
    pub binary: bool,
    /// Counts only: the file is over the limits (or the whole diff is); `?file=` has it.
    pub truncated: bool,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct DiffTotals {
    pub files: u64,
    pub additions: u64,
    pub deletions: u64,
}

/// The limits this answer was cut to (`docs/review.md`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DiffLimits {
    /// A file with more changed lines (additions + deletions) is summarized.
    pub file_lines: u64,
    /// A file whose patch is larger (bytes) is summarized.
    pub file_bytes: u64,
    /// Hunks stop once the files shown add up to this many changed lines…
    pub total_lines: u64,
    /// …or this many bytes of patch.
    pub total_bytes: u64,
    /// `?file=`: the most changed lines one file is shown with.
    pub full_file_lines: u64,
    /// `?file=`: the most bytes of patch one file is shown with.
    pub full_file_bytes: u64,
}

impl DiffLimits {
    fn current() -> Self {
        Self {
            file_lines: DIFF_FILE_LINES_MAX,
            file_bytes: DIFF_FILE_BYTES_MAX,
            total_lines: DIFF_TOTAL_LINES_MAX,
            total_bytes: DIFF_TOTAL_BYTES_MAX,
            full_file_lines: DIFF_FULL_FILE_LINES_MAX,
            full_file_bytes: DIFF_FULL_FILE_BYTES_MAX,
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Diff {
    /// The task's base branch, as it names it.
    pub base_branch: String,
    /// The ref compared with: `refs/heads/<base>`, or `refs/remotes/origin/<base>`
    /// when that is strictly newer (fetched, not pulled) or there is no local branch.
    pub base_ref: String,
    /// The base's commit.
    pub base_sha: String,
    /// Where the task's branch left the base: the diff's left side.
    pub merge_base: String,
    /// The worktree's `HEAD` commit; uncommitted changes come on top of it.
    pub head: String,
    /// Commits on the task's branch that the base lacks.
    pub ahead: u64,
    /// Commits on the base that the task's branch lacks (a rebase brings them in).
    pub behind: u64,
    pub files: Vec<DiffFile>,
    pub totals: DiffTotals,
    /// Some file was summarized (see each file's `truncated`).
    pub truncated: bool,
    pub limits: DiffLimits,
}

/// Where the task's branch stands against its base: the merge-base, `HEAD`, and the
/// ahead/behind counts.
pub(crate) struct Position {
    pub base: BaseTarget,
    pub merge_base: String,
    pub head: String,
    pub ahead: u64,
    pub behind: u64,
}

/// The base `base_branch` resolves to in the worktree's repository and where the
/// worktree's `HEAD` stands against it.
pub(crate) async fn position(worktree: &Path, base_branch: &str) -> Result<Position, DiffError> {
    let base = git::base_target(worktree, base_branch)
        .await?
        .ok_or_else(|| DiffError::NoBase(base_branch.to_string()))?;
    let head = run(worktree, &["rev-parse", "HEAD"], &[]).await?.text();
    let found =
        git::output(worktree, strings(&["merge-base", &base.sha, &head]), Vec::new(), TIMEOUT).await?;
    if !found.success {
        return Err(DiffError::Unrelated(base_branch.to_string()));
    }
    let merge_base = found.text();
    let counts =
        run(worktree, &["rev-list", "--left-right", "--count", &format!("{}...{head}", base.sha)], &[])
            .await?
            .text();
    let mut numbers = counts.split_whitespace().map(|count| count.parse::<u64>().unwrap_or(0));
    let behind = numbers.next().unwrap_or(0);
    let ahead = numbers.next().unwrap_or(0);
    Ok(Position { base, merge_base, head, ahead, behind })
}

/// The diff of the worktree against the merge-base with `base_branch`; with `only`,
/// that one file (named by its new or old path) with all its hunks, up to the
/// `DIFF_FULL_*` limits.
pub(crate) async fn diff(worktree: &Path, base_branch: &str, only: Option<&str>) -> Result<Diff, DiffError> {
    let position = position(worktree, base_branch).await?;
    let index = ScratchIndex::new(worktree).await?;
    let untracked = untracked(worktree).await?;
    if !untracked.is_empty() {
        let list = index.path.with_extension("paths");
        let mut names = Vec::new();
        for path in &untracked {
            names.extend_from_slice(path.as_bytes());
            names.push(0);
        }
        std::fs::write(&list, names).map_err(|error| io_failure("write the untracked list", &error))?;
        let added = run(
            worktree,
            &[
                "--literal-pathspecs",
                "add",
                "--intent-to-add",
                &format!("--pathspec-from-file={}", list.display()),
                "--pathspec-file-nul",
            ],
            &index.env(),
        )
        .await;
        let _ = std::fs::remove_file(&list);
        added?;
    }
    let summary = run(
        worktree,
        &[
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--ignore-submodules=dirty",
            "-M",
            "-C",
            "--raw",
            "--numstat",
            "-z",
            &position.merge_base,
        ],
        &index.env(),
    )
    .await?;
    let untracked: HashSet<String> = untracked.into_iter().collect();
    let mut files = parse_summary(&summary.stdout, &untracked);
    if let Some(only) = only {
        files.retain(|file| file.path == only || file.old_path.as_deref() == Some(only));
        if files.is_empty() {
            return Err(DiffError::NoSuchFile(only.to_string()));
        }
        files.truncate(1);
    }

    // Which files get their hunks.
    let mut wanted = Vec::new();
    let mut lines_left = if only.is_some() { DIFF_FULL_FILE_LINES_MAX } else { DIFF_TOTAL_LINES_MAX };
    let file_lines = if only.is_some() { DIFF_FULL_FILE_LINES_MAX } else { DIFF_FILE_LINES_MAX };
    for (index, file) in files.iter_mut().enumerate() {
        let lines = file.additions + file.deletions;
        if file.binary {
            continue;
        }
        if lines > file_lines || lines > lines_left {
            file.truncated = true;
            continue;
        }
        lines_left -= lines;
        wanted.push(index);
    }
    if !wanted.is_empty() {
        let mut args = strings(&[
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--ignore-submodules=dirty",
            "-M",
            "-C",
            "-U3",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            &position.merge_base,
        ]);
        if wanted.len() < files.len() {
            args.insert(0, "--literal-pathspecs".into());
            args.push("--".into());
            for &index in &wanted {
                let file = &files[index];
                args.extend(file.old_path.iter().chain(file.new_path.iter()).cloned());
            }
        }
        let patch = git::checked(worktree, args, index.env(), TIMEOUT).await?;
        let mut sections = split_patch(&patch.stdout);
        let (file_bytes, mut bytes_left) = if only.is_some() {
            (DIFF_FULL_FILE_BYTES_MAX, DIFF_FULL_FILE_BYTES_MAX)
        } else {
            (DIFF_FILE_BYTES_MAX, DIFF_TOTAL_BYTES_MAX)
        };
        for index in wanted {
            let file = &mut files[index];
            let Some(section) = sections.remove(&file.path) else {
                // A pairing the limited run saw differently: counts only.
                file.truncated = true;
                continue;
            };
            let size = section.len() as u64;
            if size > file_bytes || size > bytes_left {
                file.truncated = true;
                continue;
            }
            bytes_left -= size;
            file.hunks = parse_hunks(section);
        }
    }

    let totals = DiffTotals {
        files: files.len() as u64,
        additions: files.iter().map(|file| file.additions).sum(),
        deletions: files.iter().map(|file| file.deletions).sum(),
    };
    let truncated = files.iter().any(|file| file.truncated);
    Ok(Diff {
        base_branch: position.base.name.clone(),
        base_ref: position.base.reference.clone(),
        base_sha: position.base.sha.clone(),
        merge_base: position.merge_base,
        head: position.head,
        ahead: position.ahead,
        behind: position.behind,
        files,
        totals,
        truncated,
        limits: DiffLimits::current(),
    })
}

async fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Result<git::Output, GitError> {
    git::checked(dir, strings(args), env.to_vec(), TIMEOUT).await
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_string()).collect()
}

fn io_failure(what: &str, error: &std::io::Error) -> GitError {
    GitError::Failed { command: what.to_string(), stderr: error.to_string() }
}

/// Untracked, not ignored files of the worktree, relative to its top.
async fn untracked(worktree: &Path) -> Result<Vec<String>, GitError> {
    let listing =
        run(worktree, &["ls-files", "-z", "--others", "--exclude-standard", "--full-name"], &[]).await?;
    Ok(listing
        .stdout
        .split(|byte| *byte == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// A copy of the worktree's index beside it, removed when dropped.
struct ScratchIndex {
    path: PathBuf,
}

impl ScratchIndex {
    async fn new(worktree: &Path) -> Result<Self, GitError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let real =
            run(worktree, &["rev-parse", "--path-format=absolute", "--git-path", "index"], &[]).await?.text();
        let real = PathBuf::from(real);
        let name =
            format!("viban-diff-{}-{}.index", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = real.with_file_name(name);
        if real.exists() {
            std::fs::copy(&real, &path).map_err(|error| io_failure("copy the index", &error))?;
        }
        Ok(Self { path })
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![("GIT_INDEX_FILE".to_string(), self.path.to_string_lossy().into_owned())]
    }
}

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(self.path.with_extension("index.lock"));
    }
}

/// Files from `git diff --raw --numstat -z`: the raw records (`:modes shas status`,
/// then one path, or two for renames and copies) come first, then the numstat records
/// (`added\tdeleted\tpath`, or `added\tdeleted\t` then both paths), in the same order.
fn parse_summary(output: &[u8], untracked: &HashSet<String>) -> Vec<DiffFile> {
    let mut fields = output.split(|byte| *byte == 0).map(|field| String::from_utf8_lossy(field).into_owned());
    let mut files = Vec::new();
    let mut pending = fields.next();
    while let Some(header) = pending.take() {
        let Some(raw) = header.strip_prefix(':') else {
            pending = Some(header);
            break;
        };
        let letters = raw.split_whitespace().nth(4).unwrap_or("M");
        let (letter, score) = letters.split_at(letters.len().min(1));
        let first = fields.next().unwrap_or_default();
        let (old_path, new_path, status) = match letter {
            "R" | "C" => {
                let second = fields.next().unwrap_or_default();
                let status = if letter == "R" { FileStatus::Renamed } else { FileStatus::Copied };
                (Some(first), Some(second), status)
            }
            "A" if untracked.contains(&first) => (None, Some(first), FileStatus::Untracked),
            "A" => (None, Some(first), FileStatus::Added),
            "D" => (Some(first), None, FileStatus::Deleted),
            "T" => (Some(first.clone()), Some(first), FileStatus::TypeChanged),
            _ => (Some(first.clone()), Some(first), FileStatus::Modified),
        };
        let path = new_path.clone().or_else(|| old_path.clone()).unwrap_or_default();
        files.push(DiffFile {
            path,
            old_path,
            new_path,
            status,
            similarity: score.parse().ok(),
            additions: 0,
            deletions: 0,
            binary: false,
            truncated: false,
            hunks: Vec::new(),
        });
        pending = fields.next();
    }
    // The numstat records, one per raw record.
    let mut index = 0;
    while let Some(record) = pending.take().or_else(|| fields.next()) {
        if record.is_empty() {
            continue;
        }
        let mut parts = record.splitn(3, '\t');
        let (added, deleted, path) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
        if path.is_empty() {
            // A rename or copy: both paths follow.
            fields.next();
            fields.next();
        }
        let Some(file) = files.get_mut(index) else { break };
        match (added.and_then(|n| n.parse().ok()), deleted.and_then(|n| n.parse().ok())) {
            (Some(added), Some(deleted)) => {
                file.additions = added;
                file.deletions = deleted;
            }
            _ => file.binary = true,
        }
        index += 1;
    }
    files
}

/// The patch cut into one section per file, keyed by the file's path (its new path;
/// the old one when it was deleted).
fn split_patch(patch: &[u8]) -> HashMap<String, &[u8]> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in patch.split_inclusive(|byte| *byte == b'\n') {
        if line.starts_with(b"diff --git ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut sections = HashMap::new();
    for (number, &start) in starts.iter().enumerate() {
        let end = starts.get(number + 1).copied().unwrap_or(patch.len());
        let section = &patch[start..end];
        if let Some(path) = section_path(section) {
            sections.insert(path, section);
        }
    }
    sections
}

/// The path a patch section is about, from its extended headers: `rename to`/`copy
/// to`, the `+++ b/…` line (`--- a/…` for a deletion), else the `diff --git` line.
fn section_path(section: &[u8]) -> Option<String> {
    let mut old = None;
    let mut new = None;
    let mut git_line = None;
    for line in section.split(|byte| *byte == b'\n') {
        let line = String::from_utf8_lossy(line);
        if line.starts_with("@@") {
            break;
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            git_line = Some(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("rename to ").or_else(|| line.strip_prefix("copy to ")) {
            return Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix("+++ ") {
            new = name_after_prefix(rest, "b/");
        } else if let Some(rest) = line.strip_prefix("--- ") {
            old = name_after_prefix(rest, "a/");
        }
    }
    if new.is_some() {
        return new;
    }
    if old.is_some() {
        return old;
    }
    // No hunks (binary, mode only): `a/X b/X`, the same name twice.
    let rest = git_line?;
    if rest.starts_with('"') {
        let (first, second) = split_quoted_pair(&rest)?;
        return Some(second.strip_prefix("b/").unwrap_or(&second).to_string()).or(Some(first));
    }
    let half = rest.len().checked_sub(5)? / 2;
    let name = rest.get(2..2 + half)?;
    (rest == format!("a/{name} b/{name}")).then(|| name.to_string())
}

/// `b/path` (or `/dev/null`, which names nothing), unquoted, without the tab git adds
/// after names that hold a space.
fn name_after_prefix(text: &str, prefix: &str) -> Option<String> {
    let text = text.strip_suffix('\t').unwrap_or(text);
    if text == "/dev/null" {
        return None;
    }
    let name = unquote(text);
    Some(name.strip_prefix(prefix).map(str::to_string).unwrap_or(name))
}

/// Two C-quoted names separated by a space (`"a/x y" "b/x y"`), or a quoted and a
/// plain one.
fn split_quoted_pair(text: &str) -> Option<(String, String)> {
    let mut escaped = false;
    for (index, c) in text.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            let (first, rest) = text.split_at(index + 1);
            return Some((unquote(first), unquote(rest.trim_start())));
        }
    }
    None
}

/// git's C-style quoting undone: `"tab\there \303\251"` → the bytes it stands for.
fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|text| text.strip_suffix('"')) else {
        return text.to_string();
    };
    let mut bytes = Vec::new();
    let mut chars = inner.bytes().peekable();
    while let Some(byte) = chars.next() {
        if byte != b'\\' {
            bytes.push(byte);
            continue;
        }
        match chars.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'r') => bytes.push(b'\r'),
            Some(b'a') => bytes.push(7),
            Some(b'b') => bytes.push(8),
            Some(b'f') => bytes.push(12),
            Some(b'v') => bytes.push(11),
            Some(digit @ b'0'..=b'7') => {
                let mut value = u32::from(digit - b'0');
                for _ in 0..2 {
                    if let Some(next @ b'0'..=b'7') = chars.peek().copied() {
                        value = value * 8 + u32::from(next - b'0');
                        chars.next();
                    }
                }
                bytes.push(u8::try_from(value).unwrap_or(b'?'));
            }
            Some(other) => bytes.push(other),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The hunks of one file's patch section. Each hunk takes exactly the lines its header
/// counts, so no line of the file's content is mistaken for a header.
fn parse_hunks(section: &[u8]) -> Vec<Hunk> {
    let mut lines = section.split(|byte| *byte == b'\n').peekable();
    let mut hunks = Vec::new();
    while let Some(line) = lines.next() {
        let Some(mut hunk) = hunk_header(line) else { continue };
        let (mut old, mut new) = (hunk.old_start, hunk.new_start);
        let (mut old_left, mut new_left) = (hunk.old_lines, hunk.new_lines);
        while old_left > 0 || new_left > 0 {
            let Some(line) = lines.next() else { break };
            let text = String::from_utf8_lossy(line.get(1..).unwrap_or_default()).into_owned();
            let (kind, old_line, new_line) = match line.first() {
                Some(b'+') => {
                    new_left = new_left.saturating_sub(1);
                    new += 1;
                    (LineKind::Add, None, Some(new - 1))
                }
                Some(b'-') => {
                    old_left = old_left.saturating_sub(1);
                    old += 1;
                    (LineKind::Del, Some(old - 1), None)
                }
                Some(b'\\') => {
                    if let Some(last) = hunk.lines.last_mut() {
                        last.no_newline_at_end = true;
                    }
                    continue;
                }
                _ => {
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                    old += 1;
                    new += 1;
                    (LineKind::Context, Some(old - 1), Some(new - 1))
                }
            };
            hunk.lines.push(DiffLine { kind, old_line, new_line, text, no_newline_at_end: false });
        }
        if lines.peek().is_some_and(|line| line.starts_with(b"\\")) {
            lines.next();
            if let Some(last) = hunk.lines.last_mut() {
                last.no_newline_at_end = true;
            }
        }
        hunks.push(hunk);
    }
    hunks
}

/// `@@ -a,b +c,d @@ …` (a count of 1 may be left out).
fn hunk_header(line: &[u8]) -> Option<Hunk> {
    let line = String::from_utf8_lossy(line);
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |text: &str| -> Option<(u32, u32)> {
        match text.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((text.parse().ok()?, 1)),
        }
    };
    let (old_start, old_lines) = range(old)?;
    let (new_start, new_lines) = range(new)?;
    Some(Hunk { header: line.into_owned(), old_start, old_lines, new_start, new_lines, lines: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_gives_each_file_its_status_paths_and_counts() {
        let output = b":100644 100644 aaaa bbbb R087\0old name.txt\0new name.txt\0\
:000000 100644 0000 0000 A\0notes/\xc3\xa9t\xc3\xa9.md\0\
:100644 000000 aaaa 0000 D\0gone.rs\0\
:000000 100644 0000 0000 A\0logo.png\0\
3\t1\t\0old name.txt\0new name.txt\0\
2\t0\tnotes/\xc3\xa9t\xc3\xa9.md\0\
0\t9\tgone.rs\0\
-\t-\tlogo.png\0";
        let untracked: HashSet<String> = ["notes/été.md".to_string()].into();
        let files = parse_summary(output, &untracked);
        let summary: Vec<_> = files
            .iter()
            .map(|f| (f.path.as_str(), f.old_path.as_deref(), f.status, f.additions, f.deletions, f.binary))
            .collect();
        assert_eq!(
            summary,
            [
                ("new name.txt", Some("old name.txt"), FileStatus::Renamed, 3, 1, false),
                ("notes/été.md", None, FileStatus::Untracked, 2, 0, false),
                ("gone.rs", Some("gone.rs"), FileStatus::Deleted, 0, 9, false),
                ("logo.png", None, FileStatus::Added, 0, 0, true),
            ]
        );
        assert_eq!(files[0].similarity, Some(87));
    }

    #[test]
    fn hunks_number_their_lines_and_take_only_what_their_header_counts() {
        let section = b"diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@ fn main\n one\n-two\n+deux\n three\n\\ No newline at end of file\n@@ -10 +10,2 @@\n ten\n+diff --git a/x b/x\n";
        let hunks = parse_hunks(section);
        assert_eq!(hunks.len(), 2);
        let first: Vec<_> =
            hunks[0].lines.iter().map(|l| (l.kind, l.old_line, l.new_line, l.text.as_str())).collect();
        assert_eq!(
            first,
            [
                (LineKind::Context, Some(1), Some(1), "one"),
                (LineKind::Del, Some(2), None, "two"),
                (LineKind::Add, None, Some(2), "deux"),
                (LineKind::Context, Some(3), Some(3), "three"),
            ]
        );
        assert!(hunks[0].lines[3].no_newline_at_end);
        assert_eq!((hunks[1].old_start, hunks[1].old_lines, hunks[1].new_lines), (10, 1, 2));
        assert_eq!(hunks[1].lines[1].text, "diff --git a/x b/x", "content, not a header");
    }

    #[test]
    fn sections_are_found_by_their_paths_however_they_are_written() {
        let patch = b"diff --git a/with space.txt b/with space.txt\n--- a/with space.txt\t\n+++ b/with space.txt\t\n@@ -1 +1 @@\n-a\n+b\n\
diff --git a/bin.png b/bin.png\nnew file mode 100644\nBinary files /dev/null and b/bin.png differ\n\
diff --git a/old.rs b/new.rs\nsimilarity index 100%\nrename from old.rs\nrename to new.rs\n\
diff --git \"a/tab\\there\" \"b/tab\\there\"\n--- \"a/tab\\there\"\n+++ \"b/tab\\there\"\n@@ -1 +1 @@\n-x\n+y\n\
diff --git a/gone b/gone\ndeleted file mode 100644\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-z\n";
        let sections = split_patch(patch);
        let mut names: Vec<&str> = sections.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["bin.png", "gone", "new.rs", "tab\there", "with space.txt"]);
    }

    #[test]
    fn quoted_names_are_unquoted_to_their_bytes() {
        assert_eq!(unquote("\"caf\\303\\251 \\\"x\\\"\""), "café \"x\"");
        assert_eq!(unquote("plain name"), "plain name");
    }
}
