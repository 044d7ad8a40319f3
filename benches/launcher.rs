//! Launcher figures (issue: the `viban` binary), printed, never asserted:
//! cold and warm start to a healthy `/api/health`, idle memory of viban plus all of
//! its PostgreSQL processes, and the size of the (stripped, release) binary.
//!
//! `cargo bench --bench launcher` (set VIBAN_BENCH_RUNS to change the sample size).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Viban, postgres_processes, temp_home};

fn main() {
    let runs: usize = std::env::var("VIBAN_BENCH_RUNS").ok().and_then(|runs| runs.parse().ok()).unwrap_or(7);
    println!("viban {} launcher benchmark ({runs} runs each)", env!("CARGO_PKG_VERSION"));

    let cold: Vec<Duration> = (0..runs)
        .map(|_| {
            let home = temp_home();
            let viban = Viban::spawn(home.path(), &[], &[]);
            let took = viban.wait_healthy(common::START_TIMEOUT);
            drop(viban);
            took
        })
        .collect();
    report("cold start to healthy (empty home)", &cold, "target ≤ 3 s median");

    let home = temp_home();
    drop(Viban::start(home.path(), &[]));
    let warm: Vec<Duration> = (0..runs)
        .map(|_| {
            let viban = Viban::spawn(home.path(), &[], &[]);
            let took = viban.wait_healthy(common::START_TIMEOUT);
            drop(viban);
            took
        })
        .collect();
    report("warm start to healthy", &warm, "target ≤ 0.6 s median");

    let viban = Viban::start(home.path(), &[]);
    std::thread::sleep(Duration::from_secs(5));
    let mut pids = postgres_processes(&home.path().join("data"));
    pids.push(viban.pid);
    let rss: u64 = pids.iter().map(|pid| kib(*pid, "status", "VmRSS:")).sum();
    let pss: u64 = pids.iter().map(|pid| kib(*pid, "smaps_rollup", "Pss:")).sum();
    println!(
        "idle memory, viban + {} PostgreSQL processes: {:.1} MB proportional (PSS), {:.1} MB summed RSS \
         (RSS counts shared memory once per process) — target ≤ 120 MB",
        pids.len() - 1,
        pss as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    println!("  viban alone: {:.1} MB RSS", kib(viban.pid, "status", "VmRSS:") as f64 / 1024.0);
    drop(viban);

    let size = std::fs::metadata(common::BIN).map(|meta| meta.len()).unwrap_or(0);
    println!("binary size: {:.1} MB ({}) — target ≤ 45 MB stripped", size as f64 / 1e6, common::BIN);
}

fn report(name: &str, samples: &[Duration], target: &str) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    println!(
        "{name}: median {:.3} s, min {:.3} s, max {:.3} s — {target}",
        median.as_secs_f64(),
        sorted[0].as_secs_f64(),
        sorted[sorted.len() - 1].as_secs_f64()
    );
}

/// A `kB` figure from a /proc file of `pid`.
fn kib(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}
