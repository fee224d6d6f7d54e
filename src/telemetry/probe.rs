//! The per-thread halves of the metrics: a worker's [`WorkerProbe`] (per-exporter table and
//! decode-time histograms, owned by the worker: no locks, no atomics per datagram) and the
//! output thread's [`OutputProbe`] (latency histograms). Each copies its state into a
//! [`Published`] slot about once a second with `try_lock`; `/templates` requests are a flag the
//! worker checks once per loop.

use super::counters::{OutputStats, WorkerCounters};
use super::exporters::{kind_index, ExporterRow, ExporterTable, GoflowKind};
use super::hist::{Lat, Published};
use super::{clock_ms, clock_ms_now, now_ns, PUBLISH_INTERVAL};
use crate::decode::template::{SamplingInfo, TemplateInfo};
use crate::decode::{DatagramSummary, DecodeError, DecodeStats, Decoder, Protocol};
use crate::labels::ListenerKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a worker publishes for scrapes.
#[derive(Clone, Debug, Default)]
pub struct WorkerSnapshot {
    pub exporters: Vec<ExporterRow>,
    /// Decode time per datagram, by GoFlow kind (`exporters::KINDS`).
    pub decode: [Lat; GoflowKind::COUNT],
    /// Datagrams decoded / refused, by GoFlow kind.
    pub decoder_ok: [u64; GoflowKind::COUNT],
    pub decoder_errors: [u64; GoflowKind::COUNT],
    pub stats: DecodeStats,
    pub templates_held: usize,
    pub exporters_held: usize,
}

/// A worker's caches as `/templates` lists them.
#[derive(Clone, Debug, Default)]
pub struct TemplateListing {
    pub at_ns: u64,
    pub templates: Vec<TemplateInfo>,
    pub rates: Vec<SamplingInfo>,
}

/// The part of a worker the metrics thread sees.
#[derive(Debug)]
pub struct WorkerHandle {
    pub id: usize,
    /// `netflow` or `sflow`.
    pub listener: ListenerKind,
    /// The socket's local address.
    pub local: Option<SocketAddr>,
    pub counters: Arc<WorkerCounters>,
    pub snapshot: Published<WorkerSnapshot>,
    want_templates: AtomicBool,
    templates: Published<TemplateListing>,
    templates_gen: AtomicU64,
    pub heartbeat_ms: AtomicU64,
    pub exited: AtomicBool,
}

impl WorkerHandle {
    pub fn new(
        id: usize,
        listener: ListenerKind,
        local: Option<SocketAddr>,
        counters: Arc<WorkerCounters>,
    ) -> WorkerHandle {
        WorkerHandle {
            id,
            listener,
            local,
            counters,
            snapshot: Published::new(WorkerSnapshot::default()),
            want_templates: AtomicBool::new(false),
            templates: Published::new(TemplateListing::default()),
            templates_gen: AtomicU64::new(0),
            heartbeat_ms: AtomicU64::new(clock_ms_now()),
            exited: AtomicBool::new(false),
        }
    }

    /// Asks the worker for a fresh `/templates` listing; returns the generation to wait past.
    pub fn request_templates(&self) -> u64 {
        let g = self.templates_gen.load(Ordering::Acquire);
        self.want_templates.store(true, Ordering::Relaxed);
        g
    }

    /// True once the worker answered a request made at generation `g` (or has exited).
    pub fn templates_answered(&self, g: u64) -> bool {
        self.exited.load(Ordering::Relaxed) || self.templates_gen.load(Ordering::Acquire) != g
    }

    /// The worker's latest listing.
    pub fn templates(&self) -> Arc<TemplateListing> {
        self.templates.get()
    }

    /// GoFlow kind of the listener, for datagrams of no known protocol.
    fn fallback_kind(&self) -> usize {
        match self.listener {
            ListenerKind::Sflow => GoflowKind::Sflow.index(),
            ListenerKind::Netflow => GoflowKind::NetFlow.index(),
        }
    }
}

/// The worker's side: per-exporter table and decode-time histograms, owned by the worker
/// thread (no locks, no atomics on the per-datagram path).
pub struct WorkerProbe {
    /// False when the endpoint is off: the per-datagram accounting is skipped.
    pub enabled: bool,
    handle: Arc<WorkerHandle>,
    fallback_kind: usize,
    table: ExporterTable,
    decode: [Lat; GoflowKind::COUNT],
    decoder_ok: [u64; GoflowKind::COUNT],
    decoder_errors: [u64; GoflowKind::COUNT],
    mark: Instant,
    last_publish: Instant,
}

impl WorkerProbe {
    pub fn new(handle: Arc<WorkerHandle>, enabled: bool, max_exporters: usize) -> WorkerProbe {
        let now = Instant::now();
        WorkerProbe {
            enabled,
            fallback_kind: handle.fallback_kind(),
            handle,
            table: ExporterTable::new(max_exporters),
            decode: Default::default(),
            decoder_ok: [0; GoflowKind::COUNT],
            decoder_errors: [0; GoflowKind::COUNT],
            mark: now,
            last_publish: now,
        }
    }

    /// Starts the decode clock for a `recvmmsg` batch received at `now`.
    #[inline]
    pub fn start(&mut self, now: Instant) {
        self.mark = now;
    }

    /// Accounts one datagram just decoded: `res` is the decoder's answer, `detected` the
    /// protocol its first bytes announce, `flows` the flows it produced. Returns its decode
    /// time (the time since the previous datagram's end, one clock read per datagram).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn datagram(
        &mut self,
        src: SocketAddr,
        len: usize,
        res: Result<Protocol, DecodeError>,
        detected: Option<Protocol>,
        sum: &DatagramSummary,
        flows: u64,
        recv_ns: u64,
    ) -> Duration {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.mark);
        self.mark = now;
        let ok = res.is_ok();
        let proto = res.ok().or(detected);
        let kind = proto.map_or(self.fallback_kind, kind_index);
        self.decode[kind].record(took.as_nanos() as u64);
        if ok {
            self.decoder_ok[kind] += 1;
        } else {
            self.decoder_errors[kind] += 1;
        }
        self.table.row(src.ip().to_canonical()).datagram(
            src.port(),
            len,
            proto,
            ok,
            self.fallback_kind,
            sum,
            flows,
            recv_ns / 1_000_000,
        );
        took
    }

    /// Once per worker loop: heartbeat, a `/templates` request, and the periodic snapshot.
    #[inline]
    pub fn tick(&mut self, now: Instant, dec: &Decoder) {
        let h = &self.handle;
        h.heartbeat_ms.store(clock_ms(now), Ordering::Relaxed);
        if h.want_templates.load(Ordering::Relaxed) {
            h.want_templates.store(false, Ordering::Relaxed);
            h.templates.publish(TemplateListing {
                at_ns: now_ns(),
                templates: dec.templates.templates(),
                rates: dec.templates.sampling_rates(),
            });
            h.templates_gen.fetch_add(1, Ordering::Release);
        }
        if self.enabled && now.saturating_duration_since(self.last_publish) >= PUBLISH_INTERVAL {
            self.publish(dec, false);
            self.last_publish = now;
        }
    }

    fn snapshot(&self, dec: &Decoder) -> WorkerSnapshot {
        WorkerSnapshot {
            exporters: self.table.rows().to_vec(),
            decode: self.decode.clone(),
            decoder_ok: self.decoder_ok,
            decoder_errors: self.decoder_errors,
            stats: dec.stats.clone(),
            templates_held: dec.templates.template_count(),
            exporters_held: dec.templates.exporter_count(),
        }
    }

    fn publish(&mut self, dec: &Decoder, wait: bool) {
        let snap = self.snapshot(dec);
        if wait {
            self.handle.snapshot.publish(snap);
        } else {
            // a scrape holds the lock right now: next interval
            let _ = self.handle.snapshot.try_publish(snap);
        }
    }

    /// At the worker's exit: the last snapshot (waiting for a scrape if one is running).
    pub fn finish(&mut self, dec: &Decoder) {
        self.publish(dec, true);
    }
}

impl Drop for WorkerProbe {
    fn drop(&mut self) {
        self.handle.exited.store(true, Ordering::Relaxed);
    }
}

/// The output thread's latency histograms, as published.
#[derive(Clone, Debug, Default)]
pub struct OutputLatency {
    /// Kernel receive time of a batch's first flow -> the output thread takes the batch.
    pub to_output: Lat,
    /// ... -> the sink confirmed it (file: written; Kafka: delivery report).
    pub to_delivery: Lat,
}

impl OutputLatency {
    pub fn merge(&mut self, o: &OutputLatency) {
        self.to_output.merge(&o.to_output);
        self.to_delivery.merge(&o.to_delivery);
    }
}

/// The output thread's side: owns the latency histograms, publishes them once a second.
/// Both record once per batch, weighted by its number of flows.
#[derive(Debug, Default)]
pub struct OutputProbe {
    lat: OutputLatency,
    slot: Arc<Published<OutputLatency>>,
    last: Option<Instant>,
}

impl OutputProbe {
    pub fn new(slot: Arc<Published<OutputLatency>>) -> OutputProbe {
        OutputProbe {
            lat: OutputLatency::default(),
            slot,
            last: None,
        }
    }

    #[inline]
    pub fn dequeued(&mut self, recv_ns: u64, flows: u64, now_ns: u64) {
        if recv_ns != 0 {
            self.lat
                .to_output
                .record_n(now_ns.saturating_sub(recv_ns), flows);
        }
    }

    #[inline]
    pub fn delivered(&mut self, recv_ns: u64, flows: u64, now_ns: u64) {
        if recv_ns != 0 {
            self.lat
                .to_delivery
                .record_n(now_ns.saturating_sub(recv_ns), flows);
        }
    }

    /// Once per output loop: heartbeat and the periodic snapshot.
    pub fn tick(&mut self, now: Instant, stats: &OutputStats) {
        stats.heartbeat_ms.store(clock_ms(now), Ordering::Relaxed);
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= PUBLISH_INTERVAL);
        if due {
            let _ = self.slot.try_publish(self.lat.clone());
            self.last = Some(now);
        }
    }

    pub fn finish(&mut self) {
        self.slot.publish(self.lat.clone());
    }
}
