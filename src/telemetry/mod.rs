//! What the workers and the output thread count and time, in the shapes the metrics thread
//! and the exit summary read: plain relaxed atomics ([`counters`]), per-thread probes that
//! publish histogram and table snapshots about once a second ([`probe`]), and the clocks they
//! share. Everything here is written by exactly one thread and read by others without making
//! the writer wait; the HTTP endpoint that renders it is a layer above and only reads it.

pub mod counters;
pub mod exporters;
pub mod hist;
pub mod kafka;
pub mod probe;

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a worker or the output thread copies its histograms and tables for scrapes.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Milliseconds of the process-wide monotonic clock at `t` (heartbeats).
#[inline]
pub fn clock_ms(t: Instant) -> u64 {
    let e = *EPOCH.get_or_init(Instant::now);
    t.saturating_duration_since(e).as_millis() as u64
}

pub fn clock_ms_now() -> u64 {
    clock_ms(Instant::now())
}

/// Wall-clock ns since the epoch (the clock of the kernel receive timestamps).
#[inline]
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
