//! The Kafka output's counters ([`KafkaStats`], compiled with or without the `kafka` feature
//! so that the metrics and the exit summary need no feature checks) and its failure kinds.

use super::counters::{ConnectReason, FailReason};
use crate::labels::label_enum;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

label_enum! {
    /// Why librdkafka failed a message: the `reason` label of the Kafka failure counters.
    pub enum FailKind {
        /// Not delivered within `message_timeout_ms` (broker unreachable for too long).
        Timeout = "timeout",
        /// Larger than the broker or producer accepts.
        TooLarge = "too_large",
        /// The topic or partition does not exist (and is not auto-created).
        UnknownTopic = "unknown_topic",
        /// Authentication or authorization refused (also: timed out while the last client
        /// error was an authentication failure).
        Auth = "auth",
        /// Timed out while the last client error was a TLS handshake failure.
        Transport = "transport",
        /// Any other error.
        Other = "other",
    }
}

impl FailKind {
    /// The sink-independent failure reason this kind is accounted as.
    pub fn reason(self) -> FailReason {
        match self {
            FailKind::Timeout => FailReason::TimedOut,
            FailKind::TooLarge => FailReason::MsgTooLarge,
            FailKind::UnknownTopic => FailReason::UnknownTopic,
            FailKind::Auth => FailReason::Auth,
            FailKind::Transport => FailReason::Transport,
            FailKind::Other => FailReason::Other,
        }
    }
}

/// The Kafka output's counters, written by the output thread (and librdkafka callbacks run
/// on it), readable by anyone (the metrics endpoint, the exit summary). All counters are
/// cumulative counts of messages as the workers encoded them (flows, and sFlow counter
/// records), whether each went in its own Kafka message or many went in one
/// (`kafka.messages = "batched"`); `records_*` count Kafka messages.
///
/// Accounting: every message the output thread takes from a batch ends in exactly one of
/// `delivered`, `failed[*]`, `dropped_queue_full`, `dropped_shutdown`; `produced` counts the
/// ones librdkafka accepted (`produced = delivered + failed after produce + in flight +
/// purged at shutdown`). With the workers' own counters:
/// `encoded = channel drops + delivered + sum(failed) + dropped_queue_full + dropped_shutdown`.
#[derive(Debug)]
pub struct KafkaStats {
    /// Accepted by librdkafka (`produce` returned Ok).
    pub produced: AtomicU64,
    /// Acknowledged by the broker (delivery report without error).
    pub delivered: AtomicU64,
    /// Value bytes of the delivered messages.
    pub delivered_bytes: AtomicU64,
    /// Failed for good, by [`FailKind`] (index = position in [`FailKind::ALL`]): either
    /// refused by `produce` (other than queue full) or reported failed by librdkafka.
    pub failed: [AtomicU64; FailKind::COUNT],
    /// Dropped because librdkafka's queue stayed full for `queue_full_wait`.
    pub dropped_queue_full: AtomicU64,
    /// Not delivered by the end of `shutdown_timeout` (purged from librdkafka's queue, or
    /// never produced).
    pub dropped_shutdown: AtomicU64,
    /// Times a produce met a full queue and the thread started backing off.
    pub queue_full_events: AtomicU64,
    /// Gauge: 1 while the output thread is backing off on a full queue.
    pub backing_off: AtomicU64,
    /// Gauge: messages inside librdkafka (queued or in flight), sampled every loop.
    pub in_flight: AtomicU64,
    /// `telemetry::clock_ms` of this producer's output loop's last turn.
    pub heartbeat_ms: AtomicU64,
    /// Kafka messages accepted by librdkafka (per-flow: equal to `produced`).
    pub records_produced: AtomicU64,
    /// Kafka messages acknowledged by the broker.
    pub records_delivered: AtomicU64,
    /// Errors librdkafka reported for the client as a whole (broker down, resolve failure,
    /// authentication...), which it retries by itself.
    pub client_errors: AtomicU64,
    /// The same errors by cause (index = position in [`ConnectReason::ALL`]).
    pub client_errors_by: [AtomicU64; ConnectReason::COUNT],
    /// Receive (datagram of the batch's first message) to delivery report, microseconds.
    /// Recorded by the output thread; lock it briefly to read or export.
    pub latency_us: Mutex<Histogram<u64>>,
}

impl Default for KafkaStats {
    fn default() -> Self {
        KafkaStats {
            produced: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivered_bytes: AtomicU64::new(0),
            failed: Default::default(),
            dropped_queue_full: AtomicU64::new(0),
            dropped_shutdown: AtomicU64::new(0),
            queue_full_events: AtomicU64::new(0),
            backing_off: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            heartbeat_ms: AtomicU64::new(0),
            records_produced: AtomicU64::new(0),
            records_delivered: AtomicU64::new(0),
            client_errors: AtomicU64::new(0),
            client_errors_by: Default::default(),
            // 1 us to 1 hour, 3 significant digits
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            ),
        }
    }
}

impl KafkaStats {
    /// Adds `n` to one counter (relaxed; the output thread is the only writer).
    pub fn add(a: &AtomicU64, n: u64) {
        a.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    pub fn failed_total(&self) -> u64 {
        self.failed.iter().map(Self::get).sum()
    }

    /// Messages lost for any reason (failed or dropped).
    pub fn lost(&self) -> u64 {
        self.failed_total()
            + Self::get(&self.dropped_queue_full)
            + Self::get(&self.dropped_shutdown)
    }

    /// The sums of several producers' counters (`kafka.producers` > 1), as one snapshot.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a KafkaStats>) -> KafkaStats {
        let t = KafkaStats::default();
        let add = |to: &AtomicU64, from: &AtomicU64| Self::add(to, Self::get(from));
        for k in all {
            add(&t.produced, &k.produced);
            add(&t.delivered, &k.delivered);
            add(&t.delivered_bytes, &k.delivered_bytes);
            for (a, b) in t.failed.iter().zip(k.failed.iter()) {
                add(a, b);
            }
            add(&t.dropped_queue_full, &k.dropped_queue_full);
            add(&t.dropped_shutdown, &k.dropped_shutdown);
            add(&t.queue_full_events, &k.queue_full_events);
            add(&t.backing_off, &k.backing_off);
            add(&t.in_flight, &k.in_flight);
            add(&t.records_produced, &k.records_produced);
            add(&t.records_delivered, &k.records_delivered);
            add(&t.client_errors, &k.client_errors);
            for (a, b) in t.client_errors_by.iter().zip(k.client_errors_by.iter()) {
                add(a, b);
            }
            if let (Ok(mut to), Ok(from)) = (t.latency_us.lock(), k.latency_us.lock()) {
                // same bounds on both sides: cannot fail
                let _ = to.add(&*from);
            }
        }
        t
    }

    /// `kafka_delivered=.. kafka_failed=.. ...` for the logs and the exit summary.
    pub fn line(&self) -> String {
        let g = Self::get;
        let fails: Vec<String> = FailKind::ALL
            .iter()
            .zip(self.failed.iter())
            .filter(|(_, n)| g(n) > 0)
            .map(|(k, n)| format!("{}={}", k.label(), g(n)))
            .collect();
        let (p50, p99) = self
            .latency_us
            .lock()
            .map(|h| (h.value_at_quantile(0.5), h.value_at_quantile(0.99)))
            .unwrap_or((0, 0));
        format!(
            "kafka_produced={} kafka_delivered={} kafka_failed={} [{}] kafka_dropped_queue_full={} \
             kafka_dropped_shutdown={} kafka_queue_full_events={} kafka_latency_p50_us={p50} \
             kafka_latency_p99_us={p99} kafka_records={}",
            g(&self.produced),
            g(&self.delivered),
            self.failed_total(),
            fails.join(" "),
            g(&self.dropped_queue_full),
            g(&self.dropped_shutdown),
            g(&self.queue_full_events),
            g(&self.records_produced),
        )
    }
}
