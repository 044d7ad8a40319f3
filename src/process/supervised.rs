//! A supervised child: the one way viban runs a long-lived child whose output it
//! follows (agents now; script hooks, `git` and `gh` next). The child gets its own
//! process group and is told to stop if viban dies ([`super::die_with_parent`], a
//! kill-on-close job object on Windows). Its standard output is handed over as it
//! streams, in groups of lines; the end of its standard error is kept; it may have a
//! deadline; and a [`Stop`] ends it on request, with a reason. Its standard input is
//! closed, unless [`Supervision::stdin`] asks for a pipe the caller writes to
//! ([`Supervised::take_stdin`]: an agent that asks for approvals, `agents::control`).
//!
//! Ending it is TERM to the whole group, then KILL after a grace period, and a KILL
//! to the group whenever it ends, so nothing it started outlives it. Output still on
//! its way when it ends is handed over too, for a short while.
//!
//! It knows nothing of what the lines mean: a [`Lines`] of the caller's turns each
//! one into the caller's item on the reader task, beside the caller's own work on the
//! lines before (the agents' parser runs there; a closure can keep the text).

use std::io;
use std::pin::Pin;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};

use super::{SIGKILL, SIGTERM, signal_group};

/// How long a stopped child gets to exit after TERM before its group is killed.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(5);
/// Once the child has exited or been ended, how long its output may still take.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// Groups of lines read ahead of the caller at most (memory stays bounded).
const LINE_QUEUE: usize = 64;
/// Lines in one group at most, when more are already buffered.
const LINE_GROUP: usize = 256;
/// The reader's buffer: a fast writer is read in large pieces.
const READ_BUFFER: usize = 256 * 1024;

/// What the child's standard output becomes, line by line. It runs on the reader
/// task, so that work such as parsing overlaps with the caller's handling of the
/// lines before.
pub(crate) trait Lines: Send + 'static {
    type Item: Send + 'static;

    /// One line without its line ending (lossy UTF-8). A line split across reads
    /// arrives whole; a last line without an ending arrives too.
    fn line(&mut self, line: &str) -> Self::Item;

    /// The end of the output: what the handler still held, if anything.
    fn end(self) -> Option<Self::Item>;
}

/// A closure is a handler that holds nothing back: `|line: &str| line.to_owned()`.
impl<F, T> Lines for F
where
    F: FnMut(&str) -> T + Send + 'static,
    T: Send + 'static,
{
    type Item = T;

    fn line(&mut self, line: &str) -> T {
        self(line)
    }

    fn end(self) -> Option<T> {
        None
    }
}

/// A request to stop, with why. Clones share it: one is kept by whoever may ask, one
/// by whoever must act (a [`Supervised`] child, or a caller still waiting to start
/// one). A reason given before the stop was acted on replaces the earlier one.
pub(crate) struct Stop<R>(Arc<watch::Sender<Option<R>>>);

impl<R> Clone for Stop<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<R: Clone> Default for Stop<R> {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(None)))
    }
}

impl<R: Clone> Stop<R> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn request(&self, reason: R) {
        self.0.send_replace(Some(reason));
    }

    /// Resolves, with the reason, once a stop has been requested.
    pub(crate) async fn requested(&self) -> R {
        let mut receiver = self.0.subscribe();
        let reason = receiver.wait_for(Option::is_some).await.ok().and_then(|reason| reason.clone());
        match reason {
            Some(reason) => reason,
            // The sender is `self`'s own, so it cannot have gone: never.
            None => std::future::pending().await,
        }
    }
}

/// The limits of a supervised child.
#[derive(Debug, Clone)]
pub(crate) struct Supervision {
    /// How much of standard error is kept, from its end (bytes).
    pub(crate) stderr_tail: usize,
    /// How long it may run before it is stopped; `None` for no limit.
    pub(crate) deadline: Option<Duration>,
    /// How long it gets to exit after TERM before its group is killed.
    pub(crate) stop_grace: Duration,
    /// Once it has exited (a process it started may hold its output open) or been
    /// ended, how long its output may still take.
    pub(crate) drain_grace: Duration,
    /// Whether its standard input is a pipe the caller keeps ([`Supervised::take_stdin`])
    /// instead of closed.
    pub(crate) stdin: bool,
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            stderr_tail: 16 * 1024,
            deadline: None,
            stop_grace: STOP_GRACE,
            drain_grace: DRAIN_GRACE,
            stdin: false,
        }
    }
}

/// How a supervised child ended.
#[derive(Debug)]
pub(crate) enum Outcome<R> {
    /// It exited by itself, with its status (`None` if that could not be read).
    Exited(Option<ExitStatus>),
    /// It was stopped on request, for this reason.
    Stopped(R),
    /// It ran past its deadline and was stopped.
    TimedOut,
}

/// A supervised child once it has ended and its output has been handed over.
#[derive(Debug)]
pub(crate) struct Finished<R> {
    pub(crate) outcome: Outcome<R>,
    /// The end of its standard error, [`Supervision::stderr_tail`] bytes at most.
    pub(crate) stderr_tail: String,
    /// Why its output stopped being read before its end, if it did.
    pub(crate) output_error: Option<io::Error>,
}

/// A running child, its output as groups of [`Lines::Item`], and its stop.
///
/// Read it with [`next`](Self::next) until `None`, then [`wait`](Self::wait) for how
/// it ended. Dropped before that, it kills the child's group.
pub(crate) struct Supervised<T, R> {
    child: tokio::process::Child,
    /// Its process id, which is also its process group's.
    pid: Option<u32>,
    lines: mpsc::Receiver<Vec<T>>,
    reader: JoinHandle<io::Result<()>>,
    stderr: Option<JoinHandle<String>>,
    /// Its standard input, when [`Supervision::stdin`] asked for it and until taken.
    stdin: Option<tokio::process::ChildStdin>,
    stop: Stop<R>,
    deadline: Option<Pin<Box<Sleep>>>,
    supervision: Supervision,
    state: State,
    outcome: Option<Outcome<R>>,
}

#[derive(Clone, Copy)]
enum State {
    /// Running; once it has exited, with its status and until when its output is
    /// still awaited.
    Running {
        exited: Option<(Option<ExitStatus>, Instant)>,
    },
    /// Ended (group killed, child reaped): output on its way is handed over until then.
    Draining {
        until: Instant,
    },
    Done,
}

impl<T: Send + 'static, R: Clone + Send + Sync + 'static> Supervised<T, R> {
    /// Starts `command` (made by [`super::command`]: stdin closed, unless
    /// [`Supervision::stdin`]) in its own process
    /// group, with its standard output turned into items by `lines` and its standard
    /// error kept. An error means it did not start.
    pub(crate) fn spawn<L: Lines<Item = T>>(
        mut command: Command,
        lines: L,
        stop: Stop<R>,
        supervision: Supervision,
    ) -> io::Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        if supervision.stdin {
            command.stdin(Stdio::piped());
        }
        // If viban dies without stopping it, the child is told to stop too.
        super::die_with_parent(&mut command, SIGTERM);
        let mut child = tokio::process::Command::from(command).spawn()?;
        #[cfg(windows)]
        if let Some(handle) = child.raw_handle() {
            super::end_with_viban(handle);
        }
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.start_kill();
            return Err(io::Error::other("its standard output could not be read"));
        };
        let stderr = child.stderr.take().map(|stderr| tokio::spawn(tail(stderr, supervision.stderr_tail)));
        let stdin = child.stdin.take();
        // The reader splits the output into lines and hands them to `lines` while the
        // caller handles the groups before: what arrives meanwhile makes the next group
        // larger, so a fast writer is read in few groups and a slow one line by line.
        let (sender, receiver) = mpsc::channel(LINE_QUEUE);
        let reader = tokio::spawn(read_lines(stdout, lines, sender));
        Ok(Self {
            child,
            pid,
            lines: receiver,
            reader,
            stderr,
            stdin,
            stop,
            deadline: supervision.deadline.map(|deadline| Box::pin(tokio::time::sleep(deadline))),
            supervision,
            state: State::Running { exited: None },
            outcome: None,
        })
    }

    /// The child's process id, which is also its process group's.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Its standard input, once, if [`Supervision::stdin`] asked for it. Dropping it
    /// closes it: the end of input for the child.
    pub(crate) fn take_stdin(&mut self) -> Option<tokio::process::ChildStdin> {
        self.stdin.take()
    }

    /// The next group of output lines; `None` once the child has ended (exited, been
    /// stopped, or run past its deadline) and its output has been handed over.
    pub(crate) async fn next(&mut self) -> Option<Vec<T>> {
        if let State::Running { exited } = self.state {
            match self.follow(exited).await {
                Ok(group) => return Some(group),
                Err(outcome) => self.end(outcome).await,
            }
        }
        if let State::Draining { until } = self.state {
            if let Ok(Some(group)) = tokio::time::timeout_at(until, self.lines.recv()).await {
                return Some(group);
            }
            // Whatever still holds the output open is not waited for.
            self.reader.abort();
            self.state = State::Done;
        }
        None
    }

    /// A group of output lines already waiting, if any: for a caller that takes what
    /// has accumulated in one go.
    pub(crate) fn try_next(&mut self) -> Option<Vec<T>> {
        match self.state {
            State::Done => None,
            State::Running { .. } | State::Draining { .. } => self.lines.try_recv().ok(),
        }
    }

    /// Waits for the child to end, dropping any output not yet taken, and says how.
    pub(crate) async fn wait(mut self) -> Finished<R> {
        while self.next().await.is_some() {}
        // `next` returns `None` only after `end` has set it.
        let outcome = self.outcome.take().unwrap_or(Outcome::Exited(None));
        let output_error = match (&mut self.reader).await {
            Ok(Err(error)) => Some(error),
            Ok(Ok(())) | Err(_) => None,
        };
        let stderr_tail = match self.stderr.take() {
            // Its group is dead by now; a process that left the group may hold it open.
            Some(stderr) => match tokio::time::timeout(self.supervision.drain_grace, stderr).await {
                Ok(Ok(tail)) => tail,
                Ok(Err(_)) | Err(_) => String::new(),
            },
            None => String::new(),
        };
        Finished { outcome, stderr_tail, output_error }
    }

    /// Follows the running child until it has a group of lines (`Ok`) or has ended
    /// (`Err`, how).
    async fn follow(
        &mut self,
        mut exited: Option<(Option<ExitStatus>, Instant)>,
    ) -> Result<Vec<T>, Outcome<R>> {
        let Self { child, lines, stop, deadline, supervision, state, .. } = self;
        let ending = loop {
            let drain = async move {
                match exited {
                    Some((_, until)) => tokio::time::sleep_until(until).await,
                    None => std::future::pending().await,
                }
            };
            let past_deadline = async {
                match deadline.as_mut() {
                    Some(deadline) => deadline.as_mut().await,
                    None => std::future::pending().await,
                }
            };
            let group = tokio::select! {
                biased;
                reason = stop.requested() => break Outcome::Stopped(reason),
                () = past_deadline => break Outcome::TimedOut,
                status = child.wait(), if exited.is_none() => {
                    // What it wrote last may still be in the pipe.
                    exited = Some((status.ok(), Instant::now() + supervision.drain_grace));
                    continue;
                }
                () = drain => break Outcome::Exited(exited.and_then(|(status, _)| status)),
                group = lines.recv() => group,
            };
            match group {
                Some(group) => {
                    *state = State::Running { exited };
                    return Ok(group);
                }
                // The end of its output.
                None => match exited {
                    Some((status, _)) => break Outcome::Exited(status),
                    None => break Outcome::Exited(child.wait().await.ok()),
                },
            }
        };
        Err(ending)
    }

    /// Ends the child: TERM to its group, the grace period, then KILL, unless it has
    /// exited by itself; then a KILL to the group in any case, and the child reaped.
    async fn end(&mut self, outcome: Outcome<R>) {
        if !matches!(outcome, Outcome::Exited(_)) {
            if let Some(group) = self.pid {
                signal_group(group, SIGTERM);
            }
            if tokio::time::timeout(self.supervision.stop_grace, self.child.wait()).await.is_err() {
                let _ = self.child.start_kill();
            }
        }
        // Nothing it started outlives it.
        if let Some(group) = self.pid {
            signal_group(group, SIGKILL);
        }
        let _ = self.child.wait().await;
        self.outcome = Some(outcome);
        self.state = State::Draining { until: Instant::now() + self.supervision.drain_grace };
    }
}

impl<T, R> Drop for Supervised<T, R> {
    fn drop(&mut self) {
        if matches!(self.state, State::Running { .. }) {
            if let Some(group) = self.pid {
                signal_group(group, SIGKILL);
            }
            let _ = self.child.start_kill();
        }
        self.reader.abort();
        if let Some(stderr) = &self.stderr {
            stderr.abort();
        }
    }
}

/// Splits the stream into lines for `lines` and sends the items in groups: when the
/// next read could wait, or the group is full. At the end, what `lines` still held.
async fn read_lines<L: Lines>(
    stream: impl AsyncRead + Unpin,
    mut lines: L,
    sender: mpsc::Sender<Vec<L::Item>>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, stream);
    let mut line = Vec::new();
    let mut group = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) => {
                group.extend(lines.end());
                if !group.is_empty() {
                    let _ = sender.send(group).await;
                }
                return Ok(());
            }
            Ok(_) => {
                group.push(lines.line(&String::from_utf8_lossy(without_ending(&line))));
                if (group.len() >= LINE_GROUP || !reader.buffer().contains(&b'\n'))
                    && sender.send(std::mem::take(&mut group)).await.is_err()
                {
                    // The caller has gone.
                    return Ok(());
                }
            }
            Err(error) => {
                if !group.is_empty() {
                    let _ = sender.send(group).await;
                }
                return Err(error);
            }
        }
    }
}

fn without_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The last `limit` bytes of a stream, read to its end.
async fn tail(mut stream: impl AsyncRead + Unpin, limit: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = vec![0; 8192];
    while let Ok(read) = stream.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..read]);
        if kept.len() > 2 * limit {
            kept.drain(..kept.len() - limit);
        }
    }
    if kept.len() > limit {
        kept.drain(..kept.len() - limit);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_tail_of_standard_error_is_kept() {
        let text = format!("{}END", "x".repeat(100_000));
        let kept = tail(text.as_bytes(), 1000).await;
        assert_eq!(kept.len(), 1000);
        assert!(kept.ends_with("END"));
    }

    #[cfg(unix)]
    mod children {
        use std::time::Instant;

        use super::*;
        use crate::process::{Privilege, command, is_alive};

        fn shell(script: &str) -> Command {
            let mut shell = command("sh", Privilege::Inherit);
            shell.args(["-c", script]);
            shell
        }

        fn quick() -> Supervision {
            Supervision {
                stderr_tail: 8,
                stop_grace: Duration::from_millis(300),
                drain_grace: Duration::from_millis(300),
                ..Supervision::default()
            }
        }

        /// Every line, and how it ended.
        async fn follow(
            mut child: Supervised<String, &'static str>,
        ) -> (Vec<String>, Finished<&'static str>) {
            let mut lines = Vec::new();
            while let Some(group) = child.next().await {
                lines.extend(group);
            }
            (lines, child.wait().await)
        }

        #[tokio::test]
        async fn lines_arrive_whole_and_the_exit_status_and_the_end_of_stderr_are_kept() {
            let script =
                "echo one; printf 'tw'; sleep 0.2; printf 'o\r\nthree'; echo 0123456789abc >&2; exit 3";
            let child =
                Supervised::spawn(shell(script), |line: &str| line.to_owned(), Stop::new(), quick()).unwrap();
            assert!(child.pid().is_some());
            let (lines, finished) = follow(child).await;
            assert_eq!(lines, ["one", "two", "three"]);
            assert!(matches!(finished.outcome, Outcome::Exited(Some(status)) if status.code() == Some(3)));
            assert_eq!(finished.stderr_tail, "6789abc\n");
            assert!(finished.output_error.is_none());
        }

        #[tokio::test]
        async fn a_stop_ends_the_whole_group_even_what_ignores_term_and_says_why() {
            // The grandchild ignores TERM: the KILL after the grace period ends it.
            let script = "(trap '' TERM; sleep 1000) & echo $!; wait";
            let stop = Stop::new();
            let mut child =
                Supervised::spawn(shell(script), |line: &str| line.to_owned(), stop.clone(), quick())
                    .unwrap();
            let grandchild: u32 = child.next().await.unwrap()[0].parse().unwrap();
            assert!(is_alive(grandchild));
            stop.request("asked");
            let (_, finished) = follow(child).await;
            assert!(matches!(finished.outcome, Outcome::Stopped("asked")), "{:?}", finished.outcome);
            // A KILL takes effect when the process is next scheduled.
            let killed = Instant::now() + Duration::from_secs(5);
            while is_alive(grandchild) {
                assert!(Instant::now() < killed, "the group was not killed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        #[tokio::test]
        async fn a_child_past_its_deadline_is_timed_out() {
            let supervision = Supervision { deadline: Some(Duration::from_millis(200)), ..quick() };
            let started = Instant::now();
            let child =
                Supervised::spawn(shell("sleep 30"), |line: &str| line.to_owned(), Stop::new(), supervision)
                    .unwrap();
            let (_, finished) = follow(child).await;
            assert!(matches!(finished.outcome, Outcome::TimedOut), "{:?}", finished.outcome);
            assert!(started.elapsed() < Duration::from_secs(5));
        }

        #[tokio::test]
        async fn output_held_open_after_the_child_exits_is_awaited_for_the_drain_grace_only() {
            // The child exits at once; what it left running keeps the output open.
            let script = "echo early; (sleep 30; echo late) & exit 0";
            let started = Instant::now();
            let child =
                Supervised::spawn(shell(script), |line: &str| line.to_owned(), Stop::new(), quick()).unwrap();
            let (lines, finished) = follow(child).await;
            assert_eq!(lines, ["early"]);
            assert!(matches!(finished.outcome, Outcome::Exited(Some(status)) if status.success()));
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        }

        #[tokio::test]
        async fn a_child_with_stdin_reads_what_is_written_until_it_is_closed() {
            use tokio::io::AsyncWriteExt;
            let supervision = Supervision { stdin: true, ..quick() };
            let mut child =
                Supervised::spawn(shell("cat"), |line: &str| line.to_owned(), Stop::new(), supervision)
                    .unwrap();
            let mut stdin = child.take_stdin().expect("a pipe was asked for");
            assert!(child.take_stdin().is_none());
            stdin.write_all(b"hello\n").await.unwrap();
            assert_eq!(child.next().await.unwrap(), ["hello"]);
            drop(stdin);
            let (lines, finished) = follow(child).await;
            assert!(lines.is_empty());
            assert!(matches!(finished.outcome, Outcome::Exited(Some(status)) if status.success()));
        }

        #[tokio::test]
        async fn a_program_that_cannot_start_is_an_error() {
            let missing = command("/nonexistent/program", Privilege::Inherit);
            let spawned =
                Supervised::<String, ()>::spawn(missing, |line: &str| line.to_owned(), Stop::new(), quick());
            assert_eq!(spawned.err().map(|error| error.kind()), Some(io::ErrorKind::NotFound));
        }
    }
}
