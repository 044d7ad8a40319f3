//! Progress for the slow steps of a first start (extracting PostgreSQL, initdb).
//! On a terminal: a spinner with the elapsed time, then a tick. Elsewhere: log lines.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::postgres::Progress;

pub struct StepProgress {
    terminal: bool,
}

impl StepProgress {
    pub fn new() -> Self {
        Self { terminal: std::io::stderr().is_terminal() }
    }
}

impl Default for StepProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for StepProgress {
    fn step<T, E>(&self, label: &str, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = Instant::now();
        let seconds = || started.elapsed().as_secs_f64();
        if !self.terminal {
            tracing::info!("{label}…");
            let result = work();
            match &result {
                Ok(_) => tracing::info!("{label}: done in {:.1}s", seconds()),
                // The error itself is reported by whoever handles it.
                Err(_) => tracing::info!("{label}: failed after {:.1}s", seconds()),
            }
            return result;
        }
        let done = AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            scope.spawn(|| {
                const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
                let mut frame = 0;
                while !done.load(Ordering::Relaxed) {
                    eprint!(
                        "\r{} {label}… {:.1}s ",
                        FRAMES[frame % FRAMES.len()],
                        started.elapsed().as_secs_f64()
                    );
                    let _ = std::io::stderr().flush();
                    frame += 1;
                    std::thread::sleep(Duration::from_millis(80));
                }
            });
            let result = work();
            done.store(true, Ordering::Relaxed);
            result
        });
        let mark = if result.is_ok() { '✓' } else { '✗' };
        eprintln!("\r{mark} {label} ({:.1}s)        ", seconds());
        result
    }
}
