//! Observability: counters, histograms and the HTTP endpoint (`/metrics`, `/templates`,
//! `/healthz`) on its own thread.
//!
//! Nothing here is shared with the hot path in a way that could make a worker wait:
//! - plain counters are the workers' own relaxed atomics ([`WorkerCounters`], published once
//!   per `recvmmsg` call) and the output thread's ([`OutputStats`]);
//! - per-exporter counters and the decode-time histograms live in the worker's
//!   [`WorkerProbe`] (no atomics, no locks; one small-map lookup per datagram) and are copied
//!   into a [`Published`] snapshot about once a second with `try_lock`;
//! - the output thread's latency histograms go the same way through its [`OutputProbe`];
//! - `/templates` sets a flag each worker looks at once per loop; the worker answers with a
//!   listing of its own caches, and the request waits for it (bounded) without any lock on
//!   the caches.
//!
//! A scrape merges the snapshots and renders GoFlow's metric names (so dashboards built for
//! GoFlow keep working) plus coreflow's own (`coreflow_*`): see [`render`] and README.md.

pub mod exporters;
pub mod hist;
pub mod render;

use crate::decode::{DatagramSummary, DecodeError, DecodeStats, Decoder, Protocol};
use crate::output::{Batch, OutputStats};
use crate::template::{SamplingInfo, TemplateInfo};
use crate::worker::WorkerCounters;
use crossbeam_channel::Receiver;
use exporters::{kind_index, ExporterRow, ExporterTable};
use hist::{Lat, Published};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a worker or the output thread copies its histograms and tables for scrapes.
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);
/// A thread whose loop has not turned for this long is reported by `/healthz`.
pub const STALL_AFTER: Duration = Duration::from_secs(5);
/// How long `/templates` waits for the workers' fresh listings.
const TEMPLATES_WAIT: Duration = Duration::from_millis(500);

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

/// What a worker publishes for scrapes.
#[derive(Clone, Debug, Default)]
pub struct WorkerSnapshot {
    pub exporters: Vec<ExporterRow>,
    /// Decode time per datagram, by GoFlow kind (`exporters::KINDS`).
    pub decode: [Lat; 3],
    /// Datagrams decoded / refused, by GoFlow kind.
    pub decoder_ok: [u64; 3],
    pub decoder_errors: [u64; 3],
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
    pub listener: &'static str,
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
        listener: &'static str,
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

    /// GoFlow kind of the listener, for datagrams of no known protocol.
    fn fallback_kind(&self) -> usize {
        if self.listener == "sflow" {
            2
        } else {
            0
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
    decode: [Lat; 3],
    decoder_ok: [u64; 3],
    decoder_errors: [u64; 3],
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
            decoder_ok: [0; 3],
            decoder_errors: [0; 3],
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

/// Everything the metrics thread reads.
pub struct Sources {
    pub workers: Vec<Arc<WorkerHandle>>,
    pub output: Arc<OutputStats>,
    pub output_latency: Arc<Published<OutputLatency>>,
    /// Set when the sink failed for good.
    pub output_failed: Arc<AtomicBool>,
    /// A receiver of the worker -> output channel, only for its length.
    pub queue: Receiver<Batch>,
    pub queue_capacity: usize,
    /// `file` or `kafka`.
    pub sink: &'static str,
    pub max_exporters: usize,
    pub started: Instant,
}

impl Sources {
    /// `Ok` while every worker and the output thread are alive and the output is delivering
    /// or idle; otherwise the reason.
    pub fn health(&self) -> Result<(), String> {
        let now = clock_ms_now();
        let stall = STALL_AFTER.as_millis() as u64;
        for w in &self.workers {
            if w.exited.load(Ordering::Relaxed) {
                return Err(format!("{} worker {} has stopped", w.listener, w.id));
            }
            let idle = now.saturating_sub(w.heartbeat_ms.load(Ordering::Relaxed));
            if idle > stall {
                return Err(format!(
                    "{} worker {} has not turned its loop for {:.1} s",
                    w.listener,
                    w.id,
                    idle as f64 / 1e3
                ));
            }
        }
        let o = &self.output;
        if o.exited.load(Ordering::Relaxed) {
            return Err("the output thread has stopped".into());
        }
        if self.output_failed.load(Ordering::Relaxed) {
            return Err(format!("the {} output has failed", self.sink));
        }
        let idle = now.saturating_sub(o.heartbeat_ms.load(Ordering::Relaxed));
        if idle > stall {
            return Err(format!(
                "the output thread has been blocked for {:.1} s ({} batches queued)",
                idle as f64 / 1e3,
                self.queue.len()
            ));
        }
        let queued = self.queue.len() + o.in_flight().min(1) as usize;
        let since = now.saturating_sub(
            o.last_delivery_ms
                .load(Ordering::Relaxed)
                .max(clock_ms(self.started)),
        );
        if queued > 0 && since > stall {
            return Err(format!(
                "the {} output has delivered nothing for {:.1} s with {} batches queued",
                self.sink,
                since as f64 / 1e3,
                self.queue.len()
            ));
        }
        Ok(())
    }

    /// Asks every worker for its template and sampling caches and waits (bounded) for the
    /// answers; a worker that does not answer in time contributes its last listing.
    pub fn templates_json(&self) -> String {
        let gens: Vec<u64> = self
            .workers
            .iter()
            .map(|w| {
                let g = w.templates_gen.load(Ordering::Acquire);
                w.want_templates.store(true, Ordering::Relaxed);
                g
            })
            .collect();
        let deadline = Instant::now() + TEMPLATES_WAIT;
        while Instant::now() < deadline
            && self.workers.iter().zip(&gens).any(|(w, &g)| {
                !w.exited.load(Ordering::Relaxed) && w.templates_gen.load(Ordering::Acquire) == g
            })
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        let now = now_ns();
        let mut templates = Vec::new();
        let mut rates = Vec::new();
        for w in &self.workers {
            let l = w.templates.get();
            for t in &l.templates {
                templates.push(serde_json::json!({
                    "exporter": t.exporter.to_string(),
                    "version": t.version,
                    "obs_domain_id": t.domain,
                    "template_id": t.template_id,
                    "type": if t.options { "options_template" } else { "template" },
                    "scope_fields": t.scope_fields,
                    "fields": t.fields,
                    "age_seconds": now.saturating_sub(t.learned_ns) as f64 / 1e9,
                    "worker": w.id,
                }));
            }
            for r in &l.rates {
                rates.push(serde_json::json!({
                    "exporter": r.exporter.to_string(),
                    "version": r.version,
                    "obs_domain_id": r.domain,
                    "sampler_id": r.sampler_id,
                    "sampling_rate": r.rate,
                    "worker": w.id,
                }));
            }
        }
        let sort_key = |v: &serde_json::Value| {
            (
                v["exporter"].as_str().unwrap_or("").to_string(),
                v["version"].as_u64(),
                v["obs_domain_id"].as_u64(),
                v["template_id"].as_u64().or(v["sampler_id"].as_u64()),
            )
        };
        templates.sort_by_key(sort_key);
        rates.sort_by_key(sort_key);
        serde_json::json!({ "templates": templates, "sampling_rates": rates }).to_string()
    }
}

/// The running endpoint.
pub struct Server {
    pub local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Paths served.
#[derive(Clone, Debug)]
pub struct Paths {
    pub metrics: String,
    pub templates: String,
}

/// Resolves GoFlow's `:8080` (every address) to a bindable one.
fn bind_addrs(addr: &str) -> Vec<String> {
    match addr.strip_prefix(':') {
        Some(port) => vec![format!("[::]:{port}"), format!("0.0.0.0:{port}")],
        None => vec![addr.to_string()],
    }
}

impl Server {
    /// Binds `addr` now (a bind error is a start-up error) and serves on a new thread.
    pub fn start(addr: &str, paths: Paths, src: Sources) -> anyhow::Result<Server> {
        let mut last_err = None;
        let mut server = None;
        for a in bind_addrs(addr) {
            match tiny_http::Server::http(&a) {
                Ok(s) => {
                    server = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(server) = server else {
            return Err(anyhow::anyhow!(
                "metrics: cannot listen on {addr}: {}",
                last_err.map(|e| e.to_string()).unwrap_or_default()
            ));
        };
        let local = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("metrics: not an IP listener"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cf-metrics".into())
            .spawn(move || serve(server, paths, src, stop2))?;
        Ok(Server {
            local,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops serving and joins the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn serve(server: tiny_http::Server, paths: Paths, src: Sources, stop: Arc<AtomicBool>) {
    let mut log = crate::logging::RateLimit::new(Duration::from_secs(60));
    let mut renderer = render::Renderer::default();
    while !stop.load(Ordering::Relaxed) {
        let req = match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                if let Some(s) = log.allow(Instant::now()) {
                    crate::log_error!("metrics: accept: {e} ({s} more suppressed)");
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let path = req.url().split('?').next().unwrap_or("").to_string();
        let resp = if path == paths.metrics {
            let body = renderer.render(&src);
            tiny_http::Response::from_string(body)
                .with_header(header("Content-Type", "text/plain; version=0.0.4"))
        } else if path == paths.templates {
            tiny_http::Response::from_string(src.templates_json())
                .with_header(header("Content-Type", "application/json"))
        } else if path == "/healthz" {
            match src.health() {
                Ok(()) => tiny_http::Response::from_string("ok\n"),
                Err(why) => {
                    tiny_http::Response::from_string(format!("{why}\n")).with_status_code(503)
                }
            }
            .with_header(header("Content-Type", "text/plain"))
        } else {
            tiny_http::Response::from_string(format!(
                "not found; try {}, {} or /healthz\n",
                paths.metrics, paths.templates
            ))
            .with_status_code(404)
        };
        if let Err(e) = req.respond(resp) {
            crate::log_debug!("metrics: respond: {e}");
        }
    }
}
