//! The plain counters of the data path: a worker's [`WorkerCounters`] and the output thread's
//! [`OutputCounters`] / [`OutputStats`]. Each is written by one thread (relaxed stores of its
//! running totals) and read by the metrics thread and the exit summary.

use crate::decode::error::{DecodeReason, Protocol};
use crate::labels::label_enum;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A worker's counters: written by that worker only (relaxed stores of its running totals),
/// read by the main thread for the logs and the exit summary. Aligned so two workers'
/// counters never share a cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerCounters {
    /// Datagrams read from the socket (including truncated ones).
    pub datagrams: AtomicU64,
    pub bytes: AtomicU64,
    /// Datagrams larger than the buffer (MSG_TRUNC): dropped, never parsed.
    pub truncated: AtomicU64,
    /// Datagrams from a source outside the listener's allowlist: dropped, never parsed.
    pub rejected: AtomicU64,
    /// The socket's cumulative drop counter (SO_RXQ_OVFL while running, SO_MEMINFO at exit).
    pub kernel_drops: AtomicU64,
    pub recv_errors: AtomicU64,
    /// Decoded datagrams by protocol (v5, v9, IPFIX, sFlow).
    pub decoded: [AtomicU64; Protocol::COUNT],
    /// Flows decoded by protocol.
    pub flows: [AtomicU64; Protocol::COUNT],
    /// Decode errors by `DecodeError::index` (datagram- and set-level).
    pub decode_errors: [AtomicU64; DecodeReason::COUNT],
    pub records_without_template: AtomicU64,
    pub templates_learned: AtomicU64,
    /// Sequence gaps by protocol (`decode::seq::SeqStats`): events, missing units (v5/IPFIX
    /// flows, v9/sFlow datagrams), late datagrams, resyncs.
    pub seq_gaps: [AtomicU64; Protocol::COUNT],
    pub seq_missing: [AtomicU64; Protocol::COUNT],
    pub seq_late: [AtomicU64; Protocol::COUNT],
    pub seq_resyncs: [AtomicU64; Protocol::COUNT],
    /// Messages encoded into batches.
    pub messages: AtomicU64,
    pub batches_sent: AtomicU64,
    /// Batches dropped because the output channel was full, and the messages in them.
    pub batches_dropped: AtomicU64,
    pub messages_dropped: AtomicU64,
    /// Batches allocated (start-up pool plus growth while the output lagged).
    pub batches_allocated: AtomicU64,
    /// Flows whose renormalized bytes or packets saturated at 2^64-1 (`output.renormalize`).
    pub renormalize_saturated: AtomicU64,
}

impl WorkerCounters {
    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    /// The flows the kernel's dropped datagrams likely held: the drops times this worker's
    /// flows per decoded datagram (0 before the first datagram is decoded).
    pub fn kernel_dropped_flows(&self) -> u64 {
        let g = Self::get;
        let datagrams: u64 = self.decoded.iter().map(g).sum();
        let flows: u64 = self.flows.iter().map(g).sum();
        if datagrams == 0 {
            return 0;
        }
        (u128::from(g(&self.kernel_drops)) * u128::from(flows) / u128::from(datagrams)) as u64
    }
}

/// Counters of the output thread (written by it alone, read by anyone).
#[derive(Debug, Default)]
pub struct OutputCounters {
    pub batches: AtomicU64,
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub write_errors: AtomicU64,
    /// Messages lost because a write failed.
    pub messages_failed: AtomicU64,
}

label_enum! {
    /// Why a message could not be delivered: the `reason` label of
    /// `coreflow_output_failed_total` and of `coreflow_records_dropped_total{stage="output"}`.
    /// A sink maps its errors onto these with [`OutputStats::fail`].
    pub enum FailReason {
        Io = "io",
        BrokenPipe = "broken_pipe",
        TimedOut = "timed_out",
        MsgTooLarge = "msg_too_large",
        UnknownTopic = "unknown_topic",
        Auth = "auth",
        Transport = "transport",
        Other = "other",
    }
}

label_enum! {
    /// Why the sink's connection failed (Kafka: an error librdkafka reported for the client,
    /// which it retries): the `reason` label of `coreflow_output_connection_errors_total`.
    pub enum ConnectReason {
        /// SASL authentication (wrong user or password, mechanism refused) or authorization.
        Auth = "auth",
        /// TLS handshake (certificate not trusted, wrong host name, no client certificate).
        Tls = "tls",
        /// The broker unreachable or the connection lost.
        Transport = "transport",
        Other = "other",
    }
}

/// Every failure reason label, by [`FailReason::index`].
pub const FAIL_REASONS: [&str; FailReason::COUNT] = FailReason::LABELS;

/// Delivery accounting of the output thread, whatever the sink (file now, Kafka next): what
/// `/metrics` and `/healthz` read. Written by the output thread (or the sink's delivery
/// callback), read by the metrics thread; all relaxed atomics.
///
/// For every message a worker handed over: `produced` when given to the sink, then exactly
/// one of `delivered` (written / acknowledged), `failed[reason]` or `dropped` (given up
/// without an error, e.g. still queued when the shutdown timeout expired). `queue_full`
/// counts the times the sink refused a message because its own queue was full (Kafka's
/// QueueFull): an event, not a loss, unless the message ends in `dropped`.
#[derive(Debug, Default)]
pub struct OutputStats {
    pub produced: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: [AtomicU64; FAIL_REASONS.len()],
    pub queue_full: AtomicU64,
    pub dropped: AtomicU64,
    /// Bytes of delivered messages.
    pub bytes: AtomicU64,
    /// `telemetry::clock_ms` of the output loop's last turn (the thread is responsive).
    pub heartbeat_ms: AtomicU64,
    /// `telemetry::clock_ms` of the last delivery (the output is making progress).
    pub last_delivery_ms: AtomicU64,
    /// Set when the output thread has ended (or unwound).
    pub exited: AtomicBool,
    /// Connection errors by [`ConnectReason`] (index = position in `ConnectReason::ALL`).
    pub connection_errors: [AtomicU64; ConnectReason::COUNT],
    /// File output: reopens on SIGHUP, built-in rotations, and reopens or rotations that
    /// failed (the sink kept writing the file it had).
    pub file_reopens: AtomicU64,
    pub file_rotations: AtomicU64,
    pub file_reopen_errors: AtomicU64,
}

impl OutputStats {
    pub fn fail(&self, reason: FailReason, messages: u64) {
        self.failed[reason.index()].fetch_add(messages, Ordering::Relaxed);
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }

    /// Messages given to the sink and not yet delivered, failed or dropped.
    pub fn in_flight(&self) -> u64 {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        g(&self.produced)
            .saturating_sub(g(&self.delivered) + self.failed_total() + g(&self.dropped))
    }
}
