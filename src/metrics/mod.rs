//! The HTTP endpoint (`/metrics`, `/templates`, `/healthz`) on its own thread. It only
//! reads what the data path publishes in `crate::telemetry`:
//!
//! - plain counters: the workers' relaxed atomics
//!   ([`WorkerCounters`](crate::telemetry::counters::WorkerCounters), published once per
//!   `recvmmsg` call) and the output thread's ([`OutputStats`]);
//! - per-exporter counters and decode-time histograms, owned by each worker's
//!   [`WorkerProbe`](crate::telemetry::probe::WorkerProbe) and copied into a [`Published`]
//!   snapshot about once a second with `try_lock`; the output thread's latency histograms go
//!   the same way through its [`OutputProbe`](crate::telemetry::probe::OutputProbe);
//! - `/templates` sets a flag each worker looks at once per loop; the worker answers with a
//!   listing of its own caches, and the request waits for it (bounded) without any lock on
//!   the caches.
//!
//! With a web config (`metrics.web_config`, [`WebConfig`]) every path asks for the
//! basic-auth password (401 without it) and, with `tls_server_config`, is served over TLS by
//! `metrics::tls` (rustls); without one, tiny_http serves plain HTTP.
//!
//! Nothing here can make a worker wait. A scrape merges the snapshots and renders GoFlow's
//! metric names (so dashboards built for GoFlow keep working) plus coreflow's own
//! (`coreflow_*`): see [`render`] and docs/metrics.md.

pub mod render;
mod tls;

use crate::encode::batch::Batch;
use crate::telemetry::counters::OutputStats;
use crate::telemetry::hist::Published;
use crate::telemetry::kafka::KafkaStats;
use crate::telemetry::probe::{OutputLatency, WorkerHandle};
use crate::telemetry::{clock_ms, clock_ms_now, now_ns};
use crate::webconfig::{BasicAuth, WebConfig};
use crossbeam_channel::Receiver;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `/healthz` stall rule: a worker or the output thread whose loop has not turned for
/// this long, or an output that has delivered nothing for this long while batches are
/// queued or messages in flight, turns `/healthz` to 503 with the reason. A shorter stall
/// (a broker outage's first seconds) still answers 200.
pub const STALL_AFTER: Duration = Duration::from_secs(5);
/// How long `/templates` waits for the workers' fresh listings.
const TEMPLATES_WAIT: Duration = Duration::from_millis(500);

/// Everything the metrics thread reads.
pub struct Sources {
    pub workers: Vec<Arc<WorkerHandle>>,
    /// Every output thread's delivery accounting, summed.
    pub output: Arc<OutputStats>,
    /// Each output thread's latency histograms.
    pub output_latency: Vec<Arc<Published<OutputLatency>>>,
    /// Set when the sink failed for good.
    pub output_failed: Arc<AtomicBool>,
    /// A receiver of each worker -> output channel, only for their lengths.
    pub queues: Vec<Receiver<Batch>>,
    /// Batches all the channels hold at most.
    pub queue_capacity: usize,
    /// Each Kafka producer's counters (`kafka.producers`; empty for the file output).
    pub producers: Vec<Arc<KafkaStats>>,
    /// `file` or `kafka`.
    pub sink: &'static str,
    pub max_exporters: usize,
    pub started: Instant,
    /// The templates topic's counters and its name (`cluster.templates_topic`).
    pub cluster: Option<(Arc<crate::cluster::ClusterStats>, String)>,
    /// The instance name (`[cluster] instance`, else the host name): `coreflow_build_info`'s
    /// `collector` label.
    pub instance: String,
}

impl Sources {
    /// Batches waiting in the worker -> output channels.
    pub fn queued(&self) -> usize {
        self.queues.iter().map(Receiver::len).sum()
    }

    /// The output threads' latency histograms, merged.
    pub fn output_latency(&self) -> OutputLatency {
        let mut all = OutputLatency::default();
        for p in &self.output_latency {
            all.merge(&p.get());
        }
        all
    }

    /// `Ok` while every worker and the output thread are alive and the output is delivering
    /// or idle; otherwise the reason.
    pub fn health(&self) -> Result<(), String> {
        let now = clock_ms_now();
        let stall = STALL_AFTER.as_millis() as u64;
        for w in &self.workers {
            if w.exited.load(Ordering::Relaxed) {
                return Err(format!(
                    "{} worker {} has stopped",
                    w.listener.label(),
                    w.id
                ));
            }
            let idle = now.saturating_sub(w.heartbeat_ms.load(Ordering::Relaxed));
            if idle > stall {
                return Err(format!(
                    "{} worker {} has not turned its loop for {:.1} s",
                    w.listener.label(),
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
                self.queued()
            ));
        }
        for (i, p) in self.producers.iter().enumerate() {
            let idle = now.saturating_sub(p.heartbeat_ms.load(Ordering::Relaxed));
            if self.producers.len() > 1 && idle > stall {
                return Err(format!(
                    "the output thread of Kafka producer {i} has been blocked for {:.1} s",
                    idle as f64 / 1e3
                ));
            }
        }
        let queued = self.queued() + o.in_flight().min(1) as usize;
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
                self.queued()
            ));
        }
        Ok(())
    }

    /// Asks every worker for its template and sampling caches and waits (bounded) for the
    /// answers; a worker that does not answer in time contributes its last listing.
    pub fn templates_json(&self) -> String {
        let gens: Vec<u64> = self.workers.iter().map(|w| w.request_templates()).collect();
        let deadline = Instant::now() + TEMPLATES_WAIT;
        while Instant::now() < deadline
            && self
                .workers
                .iter()
                .zip(&gens)
                .any(|(w, &g)| !w.templates_answered(g))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        let now = now_ns();
        let mut templates = Vec::new();
        let mut rates = Vec::new();
        for w in &self.workers {
            let l = w.templates();
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
                    "origin": t.origin,
                    "instance": t.instance,
                    "learned_ns": t.learned_ns,
                    "applied_ns": t.applied_ns,
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
    /// Binds `addr` now (a bind error is a start-up error) and serves on a new thread, over
    /// TLS and with passwords when `web` says so.
    pub fn start(
        addr: &str,
        paths: Paths,
        src: Sources,
        web: Option<WebConfig>,
    ) -> anyhow::Result<Server> {
        let auth = web.as_ref().and_then(|w| w.auth.clone());
        if let Some(cfg) = web.and_then(|w| w.tls) {
            let listener = tls::bind(&bind_addrs(addr))
                .map_err(|e| anyhow::anyhow!("metrics: cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr()?;
            let stop = Arc::new(AtomicBool::new(false));
            let stop2 = stop.clone();
            let thread = std::thread::Builder::new()
                .name("cf-metrics".into())
                .spawn(move || tls::serve(listener, cfg, auth, paths, src, stop2))?;
            return Ok(Server {
                local,
                stop,
                thread: Some(thread),
            });
        }
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
            .spawn(move || serve(server, paths, src, auth, stop2))?;
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

/// One response, whatever serves it.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
}

/// The response to `GET path`; `authorized` is false when a password was required and the
/// request did not carry a right one (401, whatever the path).
fn answer(
    renderer: &mut render::Renderer,
    src: &Sources,
    paths: &Paths,
    path: &str,
    authorized: bool,
) -> Answer {
    let (status, content_type, body) = if !authorized {
        (401, "text/plain", "unauthorized\n".to_string())
    } else if path == paths.metrics {
        (200, "text/plain; version=0.0.4", renderer.render(src))
    } else if path == paths.templates {
        (200, "application/json", src.templates_json())
    } else if path == "/healthz" {
        // the templates topic never fails the check: an instance decodes with what it holds
        let cluster = match &src.cluster {
            Some((c, topic)) => format!("{}\n", c.health_line(topic)),
            None => String::new(),
        };
        match src.health() {
            Ok(()) => (200, "text/plain", format!("ok\n{cluster}")),
            Err(why) => (503, "text/plain", format!("{why}\n{cluster}")),
        }
    } else {
        (
            404,
            "text/plain",
            format!(
                "not found; try {}, {} or /healthz\n",
                paths.metrics, paths.templates
            ),
        )
    };
    Answer {
        status,
        content_type,
        body,
    }
}

/// `WWW-Authenticate` of a 401.
const CHALLENGE: &str = "Basic realm=\"coreflow\", charset=\"UTF-8\"";

fn serve(
    server: tiny_http::Server,
    paths: Paths,
    src: Sources,
    auth: Option<Arc<BasicAuth>>,
    stop: Arc<AtomicBool>,
) {
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
        let authorized = auth.as_ref().is_none_or(|a| {
            a.check(
                req.headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.as_str()),
            )
        });
        let a = answer(&mut renderer, &src, &paths, &path, authorized);
        let mut resp = tiny_http::Response::from_string(a.body)
            .with_status_code(a.status)
            .with_header(header("Content-Type", a.content_type));
        if a.status == 401 {
            resp = resp.with_header(header("WWW-Authenticate", CHALLENGE));
        }
        if let Err(e) = req.respond(resp) {
            crate::log_debug!("metrics: respond: {e}");
        }
    }
}
