//! The session's periodic upkeep, three adapters driven by the clock over the domain:
//! the scheduler (H4), which every 30 seconds fires the schedules that are due
//! (`board::schedules::fire_due`); the pull-request sync (V5), which every three
//! minutes reads open pull requests back with `gh` (`board::pull_requests::sync_due`);
//! and housekeeping (H6), which every hour removes the worktrees of tasks done or
//! cancelled for longer than their board's TTL (`board::housekeeping::run`). All run on
//! the session's [`Background`] and stop with it; all are safe with several viban
//! processes on one database (each due row is claimed with `SKIP LOCKED`).
//!
//! `VIBAN_SCHEDULER_SECONDS`, `VIBAN_PR_SYNC_SECONDS` and `VIBAN_HOUSEKEEPING_SECONDS`
//! change the periods (the tests use a second or two).

use std::time::Duration;

use sqlx::PgPool;
use tracing::warn;

use crate::agents::run::Runner;
use crate::shutdown::Background;

const SCHEDULER_PERIOD: Duration = Duration::from_secs(30);
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(3600);

/// Starts the three loops on `background`.
pub(crate) fn start(pool: PgPool, runner: Runner, background: &Background) {
    let scheduler = period("VIBAN_SCHEDULER_SECONDS", SCHEDULER_PERIOD);
    let pr_sync = period("VIBAN_PR_SYNC_SECONDS", crate::board::pull_requests::SYNC_EVERY);
    let housekeeping = period("VIBAN_HOUSEKEEPING_SECONDS", HOUSEKEEPING_PERIOD);
    {
        let (pool, own) = (pool.clone(), background.clone());
        background.spawn(every(pr_sync, background.clone(), move || {
            let (pool, own) = (pool.clone(), own.clone());
            async move {
                crate::board::pull_requests::sync_due(&pool, pr_sync, &own).await;
            }
        }));
    }
    {
        let (pool, stop) = (pool.clone(), background.clone());
        background.spawn(every(scheduler, stop, move || {
            let pool = pool.clone();
            async move {
                if let Err(error) = crate::board::schedules::fire_due(&pool).await {
                    warn!("the scheduler could not fire the due schedules: {error}");
                }
            }
        }));
    }
    let stop = background.clone();
    background.spawn(every(housekeeping, stop, move || {
        let (pool, runner) = (pool.clone(), runner.clone());
        async move {
            if let Err(error) = crate::board::housekeeping::run(&pool, &runner).await {
                warn!("housekeeping could not clean up the worktrees: {error}");
            }
        }
    }));
}

/// `name` in seconds (fractions allowed) when set and positive, else `default`.
fn period(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .map_or(default, Duration::from_secs_f64)
}

/// Runs `work` after each `period` until the session's background is cancelled; a
/// round under way when it is finishes first.
async fn every<F, Fut>(period: Duration, background: Background, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = background.cancelled() => return,
            _ = ticks.tick() => {}
        }
        work().await;
    }
}
