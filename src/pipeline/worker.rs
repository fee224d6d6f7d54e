//! One worker: a thread pinned to one core that owns one socket of a listener's group.
//!
//! recvmmsg (blocking for the first datagram, up to a short receive timeout) -> decode each
//! datagram in place with the worker's own [`Decoder`] (its template and sampling caches are
//! shard-local) -> encode each flow straight into the current [`Batch`] -> hand the batch to
//! the output thread when it is full (messages or bytes) or older than the flush interval.
//! Emptied batches come back on the worker's return channel; if the output channel is full
//! the batch is dropped and counted (the worker must keep reading its socket).
//!
//! Counters are plain integers while a recvmmsg batch is processed and are published once
//! per call into atomics that only this worker writes ([`WorkerCounters`]).

use crate::decode::error::DecodeReason;
use crate::decode::{DatagramSummary, Decoder, FlowSink, Limits, Protocol};
use crate::encode::batch::{Batch, Encoding};
use crate::flow::FlowRecord;
use crate::labels::ListenerKind;
use crate::logging::RateLimit;
use crate::net::recv::RecvBatch;
use crate::pipeline::allow::AllowList;
use crate::telemetry::counters::WorkerCounters;
use crate::telemetry::now_ns;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use socket2::Socket;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a worker needs; moved into its thread.
pub struct WorkerConfig {
    pub id: usize,
    /// `netflow` or `sflow`, for the logs.
    pub listener: ListenerKind,
    pub core: Option<usize>,
    pub socket: Socket,
    pub recv_batch: usize,
    pub max_datagram: usize,
    /// Pause after a call that returned less than half a batch (0: none).
    pub coalesce: Duration,
    pub batch_messages: usize,
    pub batch_bytes: usize,
    pub flush: Duration,
    pub limits: Limits,
    /// `[[mapping]]` entries (`None`: none).
    pub mapping: Option<Arc<crate::mapping::Mapping>>,
    /// Exporters accepted (empty: all); others are counted in `rejected` and dropped.
    pub allow: AllowList,
    pub encoding: Encoding,
    pub tx: Sender<Batch>,
    pub free: Receiver<Batch>,
    pub counters: Arc<WorkerCounters>,
    pub shutdown: Arc<AtomicBool>,
    /// Per-exporter counters, decode times, heartbeat, `/templates` answers.
    pub probe: crate::telemetry::probe::WorkerProbe,
    /// `--state-dir`: where this worker's templates and rates go, and what it starts with.
    pub state: Option<WorkerState>,
    /// `cluster.templates_topic`: what it publishes and the records it applies.
    pub cluster: Option<crate::cluster::WorkerLink>,
}

/// A worker's part of the persisted state.
pub struct WorkerState {
    /// Its file name in the state directory.
    pub file: String,
    /// The state writer thread.
    pub tx: Sender<(String, crate::state::StateFile)>,
    /// Exporters loaded at start that steer to this worker.
    pub initial: Vec<crate::state::ExporterState>,
}

impl WorkerState {
    /// Snapshots the cache and hands it to the writer; `false` if the writer is busy.
    fn save(&self, dec: &Decoder, listener: &str, id: usize, block: bool) -> bool {
        // serialized and written by the writer thread
        let f = crate::state::StateFile::new(listener, id, dec.templates.snapshot());
        let msg = (self.file.clone(), f);
        if block {
            self.tx.send_timeout(msg, SHUTDOWN_SEND_TIMEOUT).is_ok()
        } else {
            self.tx.try_send(msg).is_ok()
        }
    }
}

/// How often a worker expires idle templates and persists a changed state.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// At shutdown a worker drains what is already queued on its socket, up to this many calls.
const MAX_DRAIN_CALLS: usize = 4096;
/// At shutdown a batch waits this long for room in the channel before it is dropped.
const SHUTDOWN_SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Local {
    datagrams: u64,
    bytes: u64,
    truncated: u64,
    rejected: u64,
    recv_errors: u64,
    messages: u64,
    batches_sent: u64,
    batches_dropped: u64,
    messages_dropped: u64,
    batches_allocated: u64,
    renormalize_saturated: u64,
}

/// The FlowSink of a worker: encodes into the current batch and ships it when full.
struct Shipper {
    id: usize,
    enc: Encoding,
    cur: Batch,
    spare: Vec<Batch>,
    started: Instant,
    now: Instant,
    max_messages: usize,
    max_bytes: usize,
    batch_capacity: usize,
    tx: Sender<Batch>,
    free: Receiver<Batch>,
    stopping: bool,
    local: Local,
}

impl Shipper {
    fn new_batch(&mut self) -> Batch {
        self.local.batches_allocated += 1;
        Batch::new(self.id, self.batch_capacity, self.max_messages)
    }

    fn take_empty(&mut self) -> Batch {
        if let Some(b) = self.spare.pop() {
            return b;
        }
        match self.free.try_recv() {
            Ok(b) => b,
            Err(_) => self.new_batch(),
        }
    }

    /// Hands the current batch to the output thread (if it holds anything).
    fn ship(&mut self) {
        if self.cur.is_empty() {
            return;
        }
        let next = self.take_empty();
        let full = std::mem::replace(&mut self.cur, next);
        let n = full.len() as u64;
        self.local.renormalize_saturated += u64::from(full.saturated);
        let rejected = if self.stopping {
            match self.tx.send_timeout(full, SHUTDOWN_SEND_TIMEOUT) {
                Ok(()) => None,
                Err(SendTimeoutError::Timeout(b) | SendTimeoutError::Disconnected(b)) => Some(b),
            }
        } else {
            match self.tx.try_send(full) {
                Ok(()) => None,
                Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => Some(b),
            }
        };
        match rejected {
            None => self.local.batches_sent += 1,
            Some(mut b) => {
                self.local.batches_dropped += 1;
                self.local.messages_dropped += n;
                b.clear();
                self.spare.push(b);
            }
        }
    }
}

impl FlowSink for Shipper {
    #[inline]
    fn flow(&mut self, rec: &FlowRecord) {
        self.begin(rec.time_received_ns);
        let enc = self.enc;
        enc.push(rec, &mut self.cur);
        self.end();
    }

    #[inline]
    fn flow_of<F: crate::flow::Flow>(&mut self, flow: &F) {
        self.begin(flow.time_received_ns());
        let enc = self.enc;
        enc.push_flow(flow, &mut self.cur);
        self.end();
    }

    fn flow_mapped(&mut self, rec: &FlowRecord, m: &crate::mapping::Mapped<'_>) {
        self.begin(rec.time_received_ns);
        let enc = self.enc;
        enc.push_mapped(rec, m, &mut self.cur);
        self.end();
    }

    /// Counter records are encoded only when the sink exports them (a Kafka counters topic).
    fn counters(&mut self, rec: &crate::decode::sflow::CounterRecord) {
        if !self.enc.counters {
            return;
        }
        self.begin(0);
        let enc = self.enc;
        enc.push_counters(rec, &mut self.cur);
        self.end();
    }
}

impl Shipper {
    #[inline]
    fn begin(&mut self, recv_ns: u64) {
        if self.cur.is_empty() {
            self.started = self.now;
            self.cur.received = self.now;
            self.cur.recv_ns = recv_ns;
        }
    }

    #[inline]
    fn end(&mut self) {
        self.local.messages += 1;
        if self.cur.len() >= self.max_messages || self.cur.byte_len() >= self.max_bytes {
            self.ship();
        }
    }
}

fn publish(c: &WorkerCounters, l: &Local, dec: &Decoder, kernel_drops: u64) {
    let st = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
    st(&c.datagrams, l.datagrams);
    st(&c.bytes, l.bytes);
    st(&c.truncated, l.truncated);
    st(&c.rejected, l.rejected);
    st(&c.kernel_drops, kernel_drops);
    st(&c.recv_errors, l.recv_errors);
    let seq = &dec.seq.stats;
    for i in 0..4 {
        st(&c.decoded[i], dec.stats.datagrams[i]);
        st(&c.flows[i], dec.stats.flows[i]);
        st(&c.seq_gaps[i], seq.gaps[i]);
        st(&c.seq_missing[i], seq.missing[i]);
        st(&c.seq_late[i], seq.late[i]);
        st(&c.seq_resyncs[i], seq.resyncs[i]);
    }
    for (a, &v) in c.decode_errors.iter().zip(dec.stats.errors.iter()) {
        st(a, v);
    }
    st(
        &c.records_without_template,
        dec.stats.records_without_template,
    );
    st(&c.templates_learned, dec.stats.templates_learned);
    st(&c.messages, l.messages);
    st(&c.batches_sent, l.batches_sent);
    st(&c.batches_dropped, l.batches_dropped);
    st(&c.messages_dropped, l.messages_dropped);
    st(&c.renormalize_saturated, l.renormalize_saturated);
    st(&c.batches_allocated, l.batches_allocated);
}

/// The worker loop; returns when shutdown is set and the socket is drained.
/// The next coalescing pause, from how full the socket queue was after `pause`: (bytes
/// queued, queue limit). Pausing must not overflow the queue: a queue more than a quarter
/// full (a fast exporter, or a receive buffer capped by `net.core.rmem_max`) shortens the
/// next pause to what fills an eighth of it, and a queue under a sixteenth full lets it grow
/// back, doubling, up to `max` (`receive.coalesce_us`).
fn next_pause(pause: Duration, max: Duration, queue: Option<(u32, u32)>) -> Duration {
    let Some((queued, limit)) = queue else {
        return pause;
    };
    let (queued, limit) = (u64::from(queued), u64::from(limit.max(1)));
    if queued * 4 > limit {
        let us = pause.as_micros() as u64 * limit / (8 * queued);
        Duration::from_micros(us.max(MIN_PAUSE_US)).min(max)
    } else if queued * 16 < limit {
        (pause * 2).min(max)
    } else {
        pause
    }
}

/// The shortest coalescing pause (a shorter sleep saves no wake-up worth having).
const MIN_PAUSE_US: u64 = 50;

pub fn run(cfg: WorkerConfig) {
    let name = format!("{} worker {}", cfg.listener.label(), cfg.id);
    if let Some(core) = cfg.core {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
            crate::log_warn!("{name}: cannot pin to core {core}; running unpinned");
        }
    }
    let fd = cfg.socket.as_raw_fd();
    // Allocated here, after pinning, so the memory is local to the worker's core.
    let mut rb = RecvBatch::new(cfg.recv_batch, cfg.max_datagram);
    let mut dec = Decoder::new(cfg.limits);
    // before the state is restored: restored templates are compiled with the mapping too
    dec.set_mapping(cfg.mapping.clone());
    let mut cluster = cfg.cluster;
    if cluster.is_some() {
        dec.templates.enable_journal();
    }
    // a loaded state is written back under this worker's name at the first sweep
    let mut state_pending = false;
    if let Some(st) = &cfg.state {
        if !st.initial.is_empty() {
            let n = dec
                .templates
                .restore(&st.initial, &cfg.limits, &mut dec.stats, now_ns());
            crate::log_info!(
                "{name}: loaded {n} templates and the sampling rates of {} exporters from the state directory",
                st.initial.len()
            );
            state_pending = true;
        }
    }
    let mut next_sweep = Instant::now() + SWEEP_INTERVAL;
    let batch_capacity = cfg.batch_bytes + 64 * 1024;
    let now = Instant::now();
    let mut sh = Shipper {
        id: cfg.id,
        enc: cfg.encoding,
        cur: Batch::new(cfg.id, batch_capacity, cfg.batch_messages),
        spare: Vec::new(),
        started: now,
        now,
        max_messages: cfg.batch_messages,
        max_bytes: cfg.batch_bytes,
        batch_capacity,
        tx: cfg.tx,
        free: cfg.free,
        stopping: false,
        local: Local {
            batches_allocated: 1,
            ..Local::default()
        },
    };
    let spare = sh.new_batch();
    sh.spare.push(spare);
    let mut kernel_drops = 0u64;
    let mut drain_calls = 0usize;
    let mut err_log = RateLimit::new(Duration::from_secs(60));
    let mut decode_logs: [RateLimit; DecodeReason::COUNT] =
        std::array::from_fn(|_| RateLimit::new(DECODE_LOG_INTERVAL));
    let c = cfg.counters;
    let mut probe = cfg.probe;
    // starts short and doubles up to `coalesce` while the queue stays nearly empty
    let mut pause = (cfg.coalesce / 16)
        .max(Duration::from_micros(MIN_PAUSE_US))
        .min(cfg.coalesce);
    loop {
        let stopping = cfg.shutdown.load(Ordering::Relaxed);
        sh.stopping = stopping;
        // records from the cluster waiting: look at the socket without blocking
        let pending = cluster.as_ref().is_some_and(|l| l.pending());
        match rb.recv(fd, stopping || pending) {
            Ok(n) => {
                sh.now = Instant::now();
                probe.start(sh.now);
                let debug = crate::logging::enabled(crate::logging::Level::Debug);
                let mut fallback_ns = None;
                for i in 0..n {
                    let d = rb.get(i);
                    sh.local.datagrams += 1;
                    sh.local.bytes += d.data.len() as u64;
                    if let Some(drops) = d.drops {
                        kernel_drops = u64::from(drops);
                    }
                    if d.truncated {
                        sh.local.truncated += 1;
                        continue;
                    }
                    let ts = match d.timestamp_ns {
                        Some(t) => t,
                        None => *fallback_ns.get_or_insert_with(now_ns),
                    };
                    let src = d.src.ip().to_canonical();
                    if !cfg.allow.allows(src) {
                        sh.local.rejected += 1;
                        continue;
                    }
                    let before = sh.local.messages;
                    let res = dec.decode(src, ts, d.data, &mut sh);
                    let flows = sh.local.messages - before;
                    let sum = &dec.stats.last;
                    if probe.enabled {
                        let detected = match res {
                            Ok(_) => None,
                            Err(_) => Protocol::detect(d.data),
                        };
                        probe.datagram(d.src, d.data.len(), res, detected, sum, flows, ts);
                    }
                    if sum.last_error.is_some() {
                        log_decode_error(&name, &mut decode_logs, sh.now, d.src, sum);
                    }
                    if debug {
                        log_datagram(&name, d.src, d.data, res.ok(), flows, sum);
                    }
                }
                if stopping {
                    drain_calls += 1;
                    if drain_calls >= MAX_DRAIN_CALLS {
                        break;
                    }
                } else if !pause.is_zero() && n < rb.capacity() / 2 {
                    // let datagrams accumulate: one wake-up per several datagrams
                    std::thread::sleep(pause);
                    pause = next_pause(pause, cfg.coalesce, crate::net::socket_queue(fd));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stopping {
                    break;
                }
                sh.now = Instant::now();
            }
            Err(e) => {
                sh.local.recv_errors += 1;
                sh.now = Instant::now();
                if let Some(s) = err_log.allow(sh.now) {
                    crate::log_error!("{name}: recvmmsg: {e} ({s} more suppressed)");
                }
                if stopping {
                    break;
                }
                // a persistent error must not become a busy loop
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if !sh.cur.is_empty() && sh.now.duration_since(sh.started) >= cfg.flush {
            sh.ship();
        }
        // between receive batches: no lock, a try_send per change, a bounded drain
        if let Some(link) = &mut cluster {
            link.exchange(&mut dec);
        }
        if sh.now >= next_sweep {
            next_sweep = sh.now + SWEEP_INTERVAL;
            let idle = cfg.limits.template_idle_timeout_s;
            if idle > 0 {
                let cutoff = now_ns().saturating_sub(idle.saturating_mul(1_000_000_000));
                dec.templates.expire(cutoff);
                dec.stats.templates_expired = dec.templates.expired;
            }
            if let Some(st) = &cfg.state {
                if dec.templates.take_dirty() || state_pending {
                    // writer busy: try again at the next sweep
                    state_pending = !st.save(&dec, cfg.listener.label(), cfg.id, false);
                }
            }
        }
        publish(&c, &sh.local, &dec, kernel_drops);
        probe.tick(sh.now, &dec);
    }
    sh.stopping = true;
    sh.ship();
    if let Some(link) = &mut cluster {
        link.exchange(&mut dec);
    }
    if let Some(d) = crate::net::socket_drops(fd) {
        kernel_drops = kernel_drops.max(u64::from(d));
    }
    publish(&c, &sh.local, &dec, kernel_drops);
    if let Some(st) = &cfg.state {
        if !st.save(&dec, cfg.listener.label(), cfg.id, true) {
            crate::log_error!("{name}: state not saved at shutdown (writer stuck)");
        }
    }
    probe.finish(&dec);
}

/// A bad datagram is logged at most once per this interval per worker and error reason.
pub const DECODE_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Logs the last error of a datagram, rate-limited per reason (the counters have them all).
fn log_decode_error(
    name: &str,
    limits: &mut [RateLimit; DecodeReason::COUNT],
    now: Instant,
    src: std::net::SocketAddr,
    sum: &DatagramSummary,
) {
    let Some(e) = sum.last_error else { return };
    let src = std::net::SocketAddr::new(src.ip().to_canonical(), src.port());
    if let Some(s) = limits[e.index()].allow(now) {
        crate::log_warn!(
            "{name}: datagram from {src}: {e} ({s} more {} errors suppressed in the last {} s)",
            e.reason(),
            DECODE_LOG_INTERVAL.as_secs()
        );
    }
}

/// `-loglevel debug`: one line per datagram.
fn log_datagram(
    name: &str,
    src: std::net::SocketAddr,
    data: &[u8],
    proto: Option<Protocol>,
    flows: u64,
    sum: &DatagramSummary,
) {
    let p = proto
        .or_else(|| Protocol::detect(data))
        .map_or("unknown", Protocol::label);
    let errors = match sum.last_error {
        Some(e) => format!(", {} errors (last: {e})", sum.error_total()),
        None => String::new(),
    };
    let src = std::net::SocketAddr::new(src.ip().to_canonical(), src.port());
    let detail = match proto {
        Some(Protocol::SflowV5) => {
            format!(
                ", samples {:?} records {:?}",
                sum.samples, sum.sample_records
            )
        }
        Some(Protocol::NetflowV9 | Protocol::Ipfix) => format!(
            ", sets {:?} records {:?} templates {}",
            sum.sets, sum.set_records, sum.n_templates
        ),
        _ => String::new(),
    };
    crate::log_debug!(
        "{name}: datagram from {src}: {p}, {} bytes, {flows} flows{detail}{errors}",
        data.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pause_backs_off_when_the_queue_fills_and_grows_back() {
        let max = 10 * MS;
        // a quarter full or less, over a sixteenth: unchanged
        assert_eq!(next_pause(max, max, Some((1 << 20, 4 << 20))), max);
        // half full after 10 ms: the next pause fills an eighth (2.5 ms)
        assert_eq!(
            next_pause(max, max, Some((2 << 20, 4 << 20))),
            Duration::from_micros(2500)
        );
        // overflowing: never below the floor, never above the maximum
        assert_eq!(
            next_pause(max, max, Some((u32::MAX, 1 << 10))),
            Duration::from_micros(MIN_PAUSE_US)
        );
        assert_eq!(
            next_pause(
                Duration::from_micros(20),
                Duration::from_micros(20),
                Some((4, 8))
            ),
            Duration::from_micros(20)
        );
        // nearly empty: doubles back up to the maximum
        assert_eq!(next_pause(2 * MS, max, Some((0, 4 << 20))), 4 * MS);
        assert_eq!(next_pause(8 * MS, max, Some((1000, 4 << 20))), max);
        // no SO_MEMINFO, or a zero limit: no division by zero, no change without data
        assert_eq!(next_pause(3 * MS, max, None), 3 * MS);
        assert_eq!(
            next_pause(max, max, Some((100, 0))),
            Duration::from_micros(MIN_PAUSE_US)
        );
    }
}
