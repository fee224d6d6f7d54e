//! Starts the collector from validated settings and runs it until SIGTERM/SIGINT.
//!
//! Order matters: machine checks and the output sink first (a bad setting exits with status
//! 2 before any socket is opened), then the signal mask (inherited by every thread), the
//! sockets, the output thread and the workers. On a signal every worker drains what is
//! already queued on its socket, ships its last batch and hangs up; the output thread writes
//! everything it was sent and ends when the last worker has gone. A second signal exits at
//! once.
//!
//! A stop is clean when every flow received was delivered or counted as lost: messages a Kafka
//! broker did not take before `kafka.shutdown_timeout_ms` are counted (`kafka_dropped_shutdown`
//! in the exit summary, `coreflow_output_dropped_total`), logged at warn, and still a clean
//! stop (exit status 0). Only an error ends a run unclean (exit status 1): the output failed
//! for good, a worker or the output thread stopped unexpectedly, or a second signal.

use crate::cli::{ranges, ConfigError, Settings};
use crate::decode::error::{DecodeReason, Protocol};
use crate::decode::DecodeError;
use crate::encode::batch::{Batch, Encoding, Framing};
use crate::encode::key::KeyMode;
use crate::labels::ListenerKind;
use crate::metrics::{self, Paths, Sources};
use crate::net::signal::{self, Signals};
use crate::net::socket::{open_group, GroupSpec};
use crate::pipeline::worker::{self, WorkerConfig};
use crate::sink::kafka::KafkaStats;
use crate::sink::{Output, Sink};
use crate::telemetry::counters::{OutputCounters, OutputStats, WorkerCounters};
use crate::telemetry::hist::Published;
use crate::telemetry::probe::{OutputLatency, OutputProbe, WorkerHandle, WorkerProbe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest a worker blocks in recvmmsg before it looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(50);

/// Why the collector did not run: `Config` is exit status 2, `Runtime` 1.
#[derive(Debug)]
pub enum RunError {
    Config(ConfigError),
    Runtime(anyhow::Error),
}

impl From<super::cluster::RunError> for RunError {
    fn from(e: super::cluster::RunError) -> Self {
        match e {
            super::cluster::RunError::Config(e) => RunError::Config(e),
            super::cluster::RunError::Runtime(e) => RunError::Runtime(e),
        }
    }
}

impl From<ConfigError> for RunError {
    fn from(e: ConfigError) -> Self {
        RunError::Config(e)
    }
}

/// The cores this process may run on.
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// `--check-config`: every check that does not open a socket; returns the effective TOML.
pub fn check(settings: &Settings) -> Result<String, ConfigError> {
    let cores = settings.resolve(&available_cores())?;
    if let crate::cli::SinkSettings::Kafka = settings.output.sink {
        // same refusal as at start-up, so the check tells the truth
        if let Err(crate::sink::OpenError::Config(e)) =
            Sink::open(&settings.output, &settings.kafka)
        {
            return Err(e);
        }
    }
    Ok(settings.to_toml(Some(&cores)))
}

/// One bind's sockets, before their workers start.
struct Group {
    kind: ListenerKind,
    socks: Vec<socket2::Socket>,
    /// The core of each socket's worker.
    cores: Vec<usize>,
    local: Option<std::net::SocketAddr>,
    /// Each exporter reaches one socket only (by address, or there is one socket).
    steered: bool,
    /// The listener-wide number of the group's first worker.
    first: usize,
}

/// Totals over all workers and the output thread, for the exit summary.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub datagrams: u64,
    pub bytes: u64,
    pub truncated: u64,
    /// Datagrams from sources outside a listener's allowlist.
    pub rejected: u64,
    pub kernel_drops: u64,
    /// Flows those dropped datagrams likely held (`WorkerCounters::kernel_dropped_flows`).
    pub kernel_dropped_flows: u64,
    /// Sequence gaps and their missing units, by protocol (`decode::seq`).
    pub seq_gaps: [u64; Protocol::COUNT],
    pub seq_missing: [u64; Protocol::COUNT],
    pub recv_errors: u64,
    pub flows: u64,
    pub decode_errors: [u64; DecodeReason::COUNT],
    pub messages: u64,
    pub batches_dropped: u64,
    pub messages_dropped: u64,
    pub written: u64,
    pub write_failed: u64,
    /// The Kafka output's counters, when it is the sink.
    pub kafka: Option<KafkaTotals>,
}

/// Kafka outcome counts (see [`KafkaStats`]).
#[derive(Clone, Debug, Default)]
pub struct KafkaTotals {
    pub produced: u64,
    pub delivered: u64,
    pub failed: u64,
    pub dropped_queue_full: u64,
    pub dropped_shutdown: u64,
    /// `kafka_produced=... kafka_delivered=...` with failures by kind and latency quantiles.
    pub line: String,
}

fn totals(
    workers: &[Arc<WorkerCounters>],
    out: &OutputCounters,
    kafka: Option<&KafkaStats>,
) -> Totals {
    let g = WorkerCounters::get;
    let mut t = Totals::default();
    for w in workers {
        t.datagrams += g(&w.datagrams);
        t.bytes += g(&w.bytes);
        t.truncated += g(&w.truncated);
        t.rejected += g(&w.rejected);
        t.kernel_drops += g(&w.kernel_drops);
        t.kernel_dropped_flows += w.kernel_dropped_flows();
        for p in 0..Protocol::COUNT {
            t.seq_gaps[p] += g(&w.seq_gaps[p]);
            t.seq_missing[p] += g(&w.seq_missing[p]);
        }
        t.recv_errors += g(&w.recv_errors);
        t.flows += w.flows.iter().map(g).sum::<u64>();
        for (a, e) in t.decode_errors.iter_mut().zip(w.decode_errors.iter()) {
            *a += g(e);
        }
        t.messages += g(&w.messages);
        t.batches_dropped += g(&w.batches_dropped);
        t.messages_dropped += g(&w.messages_dropped);
    }
    t.written = g(&out.messages);
    t.write_failed = g(&out.messages_failed);
    if let Some(k) = kafka {
        let kt = KafkaTotals {
            produced: g(&k.produced),
            delivered: g(&k.delivered),
            failed: k.failed_total(),
            dropped_queue_full: g(&k.dropped_queue_full),
            dropped_shutdown: g(&k.dropped_shutdown),
            line: k.line(),
        };
        // for Kafka "written" means acknowledged by the broker, and "write_failed" what the
        // shutdown timeout left undelivered (counted, so not an error)
        t.written = kt.delivered;
        t.write_failed = kt.dropped_shutdown;
        t.kafka = Some(kt);
    }
    t
}

impl Totals {
    /// Messages encoded but not delivered, every one counted: dropped on the full output
    /// channel, failed writes, and for Kafka failed deliveries and messages given up (queue
    /// full, shutdown timeout).
    pub fn undelivered(&self) -> u64 {
        let sink = match &self.kafka {
            Some(k) => k.failed + k.dropped_queue_full + k.dropped_shutdown,
            None => self.write_failed,
        };
        self.messages_dropped + sink
    }

    pub fn line(&self) -> String {
        let errors: Vec<String> = DecodeError::REASONS
            .iter()
            .zip(self.decode_errors.iter())
            .filter(|(_, &n)| n > 0)
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        let kafka = match &self.kafka {
            Some(k) => format!(" {}", k.line),
            None => String::new(),
        };
        // per protocol, in its unit: `[netflow_v5_gaps=2 netflow_v5_missing_flows=60]`
        let seq: Vec<String> = (0..Protocol::COUNT)
            .filter(|&p| self.seq_gaps[p] > 0)
            .map(|p| {
                let (label, unit) = (Protocol::LABELS[p], crate::decode::seq::UNITS[p]);
                let (g, m) = (self.seq_gaps[p], self.seq_missing[p]);
                format!("{label}_gaps={g} {label}_missing_{unit}={m}")
            })
            .collect();
        format!(
            "datagrams={} bytes={} flows={} written={} kernel_drops={} kernel_dropped_flows={} \
             sequence_gaps={} [{}] truncated={} rejected={} decode_errors={} [{}] channel_dropped_batches={} channel_dropped_flows={} \
             write_failed={} recv_errors={}{kafka}",
            self.datagrams,
            self.bytes,
            self.flows,
            self.written,
            self.kernel_drops,
            self.kernel_dropped_flows,
            self.seq_gaps.iter().sum::<u64>(),
            seq.join(" "),
            self.truncated,
            self.rejected,
            self.decode_errors.iter().sum::<u64>(),
            errors.join(" "),
            self.batches_dropped,
            self.messages_dropped,
            self.write_failed,
            self.recv_errors
        )
    }
}

/// Runs until SIGTERM/SIGINT. `Ok(true)` is a clean stop: every flow received was delivered
/// or counted as lost (exit status 0). `Ok(false)` is a run ended by an error: the output
/// failed for good, a worker or the output thread stopped unexpectedly, or a second signal
/// (exit status 1).
pub fn run(settings: &Settings) -> Result<bool, RunError> {
    crate::logging::init(settings.log.level, settings.log.format);
    let cores = settings.resolve(&available_cores())?;
    // one sink per output thread: `kafka.producers` producers, else one
    let n_out = match settings.output.sink {
        crate::cli::SinkSettings::Kafka => settings.kafka.producers.max(1),
        _ => 1,
    };
    let mut sinks = Vec::with_capacity(n_out);
    for _ in 0..n_out {
        sinks.push(match Sink::open(&settings.output, &settings.kafka) {
            Ok(s) => s,
            Err(crate::sink::OpenError::Config(e)) => return Err(RunError::Config(e)),
            Err(crate::sink::OpenError::Io(e)) => {
                return Err(RunError::Runtime(anyhow::anyhow!("output: {e}")))
            }
        });
    }
    // the collector's name: a header on every Kafka record (kafka.instance_header), a field
    // of every message (output.instance_field), a label of coreflow_build_info
    let instance = settings.cluster.instance_name();
    if settings.kafka.instance_header {
        for s in &mut sinks {
            s.set_instance(&instance);
        }
    }
    let sink = &sinks[0];
    // the templates topic's clients: a bad setting stops here too, before any socket
    let mut cluster = super::cluster::prepare(settings)?;
    // the metrics endpoint's web config, loaded again (validation checked it) before any socket
    let web = match &settings.metrics.web_config {
        Some(p) if settings.metrics.enabled() => Some(
            crate::webconfig::WebConfig::load(p, "metrics.web_config").map_err(RunError::Config)?,
        ),
        _ => None,
    };
    if settings.kafka.configured && !settings.kafka.enabled {
        crate::log_debug!(
            "kafka disabled (-kafka=false): writing to {}",
            sink.describe()
        );
    }
    // Before any thread exists, so every thread inherits the mask.
    let signals = Signals::block().map_err(|e| RunError::Runtime(e.into()))?;

    // Sockets for every listener and each of its addresses before any thread starts: a bind
    // error stops here. Each bind is its own SO_REUSEPORT group with its own workers; the
    // workers of a listener are numbered across its binds (bind 0's first).
    let mut groups = Vec::new();
    for (l, cores) in settings.listeners().zip(cores) {
        let mut cores = cores.into_iter();
        let mut first = 0;
        // port 0 (a free port) is picked by the first bind and shared by the others
        let mut port = l.port;
        for (bi, b) in l.binds.iter().enumerate() {
            let bind_cores: Vec<usize> = cores.by_ref().take(b.sockets).collect();
            let spec = GroupSpec {
                addr: b.address,
                port,
                sockets: b.sockets,
                reuseport: l.reuseport,
                rcvbuf: settings.receive.rcvbuf,
                // short enough to flush batches on time and to notice shutdown quickly
                timeout: (settings.batch.flush / 2).clamp(Duration::from_millis(1), SHUTDOWN_POLL),
                timestamps: settings.receive.timestamps,
            };
            let what = l.kind.label();
            let which = if l.binds.len() > 1 {
                format!("bind {bi}, ")
            } else {
                String::new()
            };
            let (socks, info) = open_group(&spec).map_err(|e| {
                RunError::Runtime(anyhow::anyhow!(
                    "{what}: {which}cannot listen on {} port {port}: {e}",
                    match b.address {
                        crate::net::socket::BindAddr::Any => "every address".to_string(),
                        crate::net::socket::BindAddr::Ip(ip) => ip.to_string(),
                    }
                ))
            })?;
            for d in &info.degraded {
                crate::log_warn!("{what}: {which}{d}");
            }
            crate::log_info!(
                "{what} listening on {} with {} socket{} ({which}cores {}, steering {}, rcvbuf {} \
                 bytes{})",
                info.local.map(|a| a.to_string()).unwrap_or_default(),
                socks.len(),
                if socks.len() == 1 { "" } else { "s" },
                ranges(&bind_cores),
                match (info.steering, socks.len()) {
                    (true, _) => "by exporter address",
                    (false, 1) => "none (one socket)",
                    (false, _) => "kernel 4-tuple hash (CBPF unavailable)",
                },
                info.rcvbuf,
                if info.rcvbuf_forced { ", forced" } else { "" }
            );
            if let Some(a) = info.local {
                port = a.port();
            }
            let steered = info.steering || socks.len() == 1;
            let n = socks.len();
            groups.push(Group {
                kind: l.kind,
                socks,
                cores: bind_cores,
                local: info.local,
                steered,
                first,
            });
            first += n;
        }
    }

    let kafka_stats: Vec<Arc<KafkaStats>> = sinks.iter().filter_map(Sink::kafka_stats).collect();
    let kafka = !kafka_stats.is_empty();
    let k = &settings.kafka;
    let encoding = Encoding {
        format: settings.output.format,
        schema: settings.output.schema,
        framing: sink.framing(k),
        key: if kafka { k.key } else { KeyMode::None },
        counters: kafka && k.counters_topic.is_some(),
        extras: crate::encode::extras::Extras {
            renormalize: settings.output.renormalize,
            instance: settings
                .output
                .instance_field
                .then(|| crate::encode::extras::Instance::leak(&instance)),
        },
    };
    // the exit summary and the debug stats line: all producers together
    let kafka_total =
        || (!kafka_stats.is_empty()).then(|| KafkaStats::sum(kafka_stats.iter().map(|k| &**k)));
    crate::log_info!(
        "writing {} ({}) to {}",
        match (settings.output.format, encoding.framing) {
            (crate::encode::Format::Json, Framing::Stream) => "JSON lines",
            (crate::encode::Format::Json, Framing::Bare) => "JSON messages",
            (crate::encode::Format::Pb, Framing::Stream) => "varint-delimited protobuf",
            (crate::encode::Format::Pb, Framing::Bare) => "protobuf messages",
        },
        settings.output.schema.name(),
        if n_out > 1 {
            format!("{} ({n_out} producers)", sink.describe())
        } else {
            sink.describe()
        }
    );
    let n_workers: usize = groups.iter().map(|g| g.socks.len()).sum();
    // one channel per output thread; worker `id` hands its batches to output `id % n_out`
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n_out)
        .map(|_| crossbeam_channel::bounded::<Batch>(settings.batch.channel))
        .unzip();
    let shutdown = Arc::new(AtomicBool::new(false));
    // SIGHUP's generation: the main thread bumps it, the file sink reopens when it changes
    let reload = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reopens = sink.reopens();
    let sink_desc = sink.describe();
    let out_failed = Arc::new(AtomicBool::new(false));
    let out_counters = Arc::new(OutputCounters::default());
    let out_stats = Arc::new(OutputStats::default());
    out_stats
        .heartbeat_ms
        .store(crate::telemetry::clock_ms_now(), Ordering::Relaxed);
    let out_latency: Vec<Arc<Published<OutputLatency>>> = (0..n_out)
        .map(|_| Arc::new(Published::new(OutputLatency::default())))
        .collect();
    let metrics_on = settings.metrics.enabled();
    let sink_kind = sink.kind();
    let queues: Vec<_> = rxs.clone();
    let mut returns = Vec::with_capacity(n_workers);
    let mut frees = Vec::with_capacity(n_workers);
    for _ in 0..n_workers {
        let (rtx, rrx) = crossbeam_channel::bounded::<Batch>(settings.batch.channel + 4);
        returns.push(rtx);
        frees.push(rrx);
    }
    let mut out_handles = Vec::with_capacity(n_out);
    for (i, (sink, rx)) in sinks.into_iter().zip(rxs).enumerate() {
        let output = Output {
            sink,
            rx,
            returns: returns.clone(),
            counters: out_counters.clone(),
            failed: out_failed.clone(),
            shutdown: shutdown.clone(),
            stats: out_stats.clone(),
            latency: OutputProbe::new(out_latency[i].clone()),
            reload: reload.clone(),
        };
        let name = if n_out == 1 {
            "cf-output".to_string()
        } else {
            format!("cf-output-{i}")
        };
        let h = std::thread::Builder::new()
            .name(name)
            .spawn(move || output.run())
            .map_err(|e| RunError::Runtime(e.into()))?;
        out_handles.push(h);
    }
    drop(returns);

    let mut handles: Vec<JoinHandle<()>> = Vec::with_capacity(n_workers);
    let mut counters = Vec::with_capacity(n_workers);
    let mut worker_handles = Vec::with_capacity(n_workers);
    let mut frees = frees.into_iter();
    // Persisted templates and sampling rates (NetFlow v9/IPFIX only: sFlow carries its rate
    // in every sample).
    let mut state = None;
    if let Some(dir) = &settings.state_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| RunError::Runtime(anyhow::anyhow!("state_dir {}: {e}", dir.display())))?;
        let files = crate::state::load_dir(dir, ListenerKind::Netflow.label());
        let writer =
            crate::state::Writer::start(dir.clone()).map_err(|e| RunError::Runtime(e.into()))?;
        state = Some((dir.clone(), files, writer));
    }
    let mut id = 0;
    for g in groups {
        let (listener, local, n_socks) = (g.kind, g.local, g.socks.len());
        // templates are NetFlow v9 / IPFIX only: sFlow workers have no link
        let mut link = cluster
            .as_mut()
            .filter(|_| listener == ListenerKind::Netflow);
        if let Some(c) = &mut link {
            c.group(g.steered);
        }
        for (i, socket) in g.socks.into_iter().enumerate() {
            // the worker's number within its listener (state file, thread name)
            let index = g.first + i;
            let wstate = match &state {
                Some((_, files, writer)) if listener == ListenerKind::Netflow => {
                    Some(worker::WorkerState {
                        file: crate::state::file_name(listener.label(), index),
                        tx: writer.tx.clone(),
                        initial: crate::state::for_worker(files, i, n_socks, g.steered),
                    })
                }
                _ => None,
            };
            let c = Arc::new(WorkerCounters::default());
            counters.push(c.clone());
            let wh = Arc::new(WorkerHandle::new(id, listener, local, c.clone()));
            worker_handles.push(wh.clone());
            let probe = WorkerProbe::new(wh, metrics_on, settings.metrics.max_exporters);
            let cfg = WorkerConfig {
                id,
                listener,
                core: g.cores.get(i).copied(),
                socket,
                recv_batch: settings.receive.batch,
                max_datagram: settings.receive.max_datagram,
                coalesce: settings.receive.coalesce,
                batch_messages: settings.batch.messages,
                batch_bytes: settings.batch.bytes,
                flush: settings.batch.flush,
                limits: settings.limits,
                mapping: settings.mapping.clone(),
                allow: settings
                    .listeners()
                    .find(|l| l.kind == listener)
                    .map(|l| l.allow.clone())
                    .unwrap_or_default(),
                encoding,
                tx: txs[id % n_out].clone(),
                free: frees.next().expect("one return channel per worker"),
                counters: c,
                shutdown: shutdown.clone(),
                probe,
                state: wstate,
                cluster: link.as_mut().map(|c| c.link()),
            };
            let h = std::thread::Builder::new()
                .name(format!("cf-{}-{index}", listener.short()))
                .spawn(move || worker::run(cfg))
                .map_err(|e| RunError::Runtime(e.into()))?;
            handles.push(h);
            id += 1;
        }
    }
    // The workers hold the only senders now: the output threads end when they are gone.
    drop(txs);
    let cluster = match cluster.map(super::cluster::Wiring::start).transpose() {
        Ok(c) => c,
        Err(e) => {
            shutdown.store(true, Ordering::Relaxed);
            for h in handles.into_iter().chain(out_handles) {
                let _ = h.join();
            }
            return Err(e.into());
        }
    };

    let server = if metrics_on {
        let src = Sources {
            workers: worker_handles,
            output: out_stats.clone(),
            output_latency: out_latency,
            output_failed: out_failed.clone(),
            queues,
            queue_capacity: settings.batch.channel * n_out,
            producers: kafka_stats.clone(),
            sink: sink_kind,
            max_exporters: settings.metrics.max_exporters,
            started: Instant::now(),
            cluster: cluster.as_ref().map(|c| (c.stats.clone(), c.topic.clone())),
            instance: instance.clone(),
        };
        let paths = Paths {
            metrics: settings.metrics.path.clone(),
            templates: settings.metrics.templates_path.clone(),
        };
        let (scheme, guard) = match &web {
            None => ("http", String::new()),
            Some(w) => (
                if w.tls.is_some() { "https" } else { "http" },
                format!(
                    "; {}{}{}",
                    match w.client_auth {
                        crate::webconfig::ClientAuth::Require => "client certificate required, ",
                        crate::webconfig::ClientAuth::VerifyIfGiven =>
                            "client certificate checked, ",
                        crate::webconfig::ClientAuth::None => "",
                    },
                    if w.auth.is_some() {
                        "password required, "
                    } else {
                        ""
                    },
                    w.path.display()
                ),
            ),
        };
        match metrics::Server::start(&settings.metrics.address, paths.clone(), src, web) {
            Ok(s) => {
                crate::log_info!(
                    "metrics listening on {} ({scheme}://{}{}, {}, /healthz{guard})",
                    s.local,
                    s.local,
                    paths.metrics,
                    paths.templates
                );
                Some(s)
            }
            Err(e) => {
                // the threads are running: stop them before reporting
                shutdown.store(true, Ordering::Relaxed);
                for h in handles.into_iter().chain(out_handles) {
                    let _ = h.join();
                }
                return Err(RunError::Runtime(e));
            }
        }
    } else {
        drop(queues);
        None
    };

    // Every listener is bound and every thread runs, and the templates topic was read (or its
    // load timeout passed): tell systemd (Type=notify).
    if let Some(c) = &cluster {
        c.wait_loaded();
    }
    notify_systemd("READY=1");

    let started = Instant::now();
    let mut last_stats = Instant::now();
    let mut clean = true;
    let reason = loop {
        match signals.wait(Duration::from_millis(100)) {
            Ok(Some(sig)) if signal::is_reload(sig) => {
                if reopens {
                    crate::log_info!("SIGHUP: reopening the output file");
                    reload.fetch_add(1, Ordering::Relaxed);
                } else {
                    // harmless: Kafka and stdout have nothing to reopen
                    crate::log_info!("SIGHUP: nothing to reopen ({})", sink_desc);
                }
            }
            Ok(Some(sig)) => break signal::name(sig).to_string(),
            Ok(None) => {}
            Err(e) => {
                clean = false;
                break format!("signal wait failed: {e}");
            }
        }
        if out_failed.load(Ordering::Relaxed) {
            clean = false;
            break "output failure".into();
        }
        if handles.iter().any(|h| h.is_finished()) {
            clean = false;
            break "a worker stopped unexpectedly".into();
        }
        if crate::logging::enabled(crate::logging::Level::Debug)
            && last_stats.elapsed() >= Duration::from_secs(10)
        {
            last_stats = Instant::now();
            crate::log_debug!(
                "stats: {}",
                totals(&counters, &out_counters, kafka_total().as_ref()).line()
            );
        }
    };
    crate::log_info!("stopping ({reason}): draining sockets and flushing batches");
    notify_systemd("STOPPING=1");
    shutdown.store(true, Ordering::Relaxed);
    let mut all = handles;
    all.extend(out_handles);
    // Wait for every thread; a second signal gives up at once.
    while !all.iter().all(|h| h.is_finished()) {
        if let Ok(Some(sig)) = signals.wait(Duration::from_millis(20)) {
            if signal::is_reload(sig) {
                // the output is still writing: reopen as at any other time
                reload.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            crate::log_error!(
                "{} during shutdown: exiting now; {}",
                signal::name(sig),
                totals(&counters, &out_counters, kafka_total().as_ref()).line()
            );
            return Ok(false);
        }
    }
    for h in all {
        if h.join().is_err() {
            clean = false;
        }
    }
    // after the workers: it publishes what they changed last
    if let Some(c) = cluster {
        c.stop();
    }
    if let Some(s) = server {
        s.stop();
    }
    if let Some((dir, files, writer)) = state {
        writer.finish();
        // files of workers that no longer exist were loaded (and re-saved by the workers
        // their exporters steer to now)
        let n = settings.netflow.workers();
        for (p, f) in files {
            if settings.netflow.enabled && f.worker >= n {
                let _ = std::fs::remove_file(&p);
            }
        }
        crate::log_debug!("state saved in {}", dir.display());
    }
    // the output may have failed for good while flushing
    if out_failed.load(Ordering::Relaxed) {
        clean = false;
    }
    let t = totals(&counters, &out_counters, kafka_total().as_ref());
    let undelivered = t.undelivered();
    if undelivered > 0 {
        crate::log_warn!(
            "{undelivered} messages not delivered, each counted in the summary below \
             (channel_dropped_flows, write_failed{})",
            if t.kafka.is_some() {
                ", kafka_failed, kafka_dropped_queue_full, kafka_dropped_shutdown"
            } else {
                ""
            }
        );
    }
    crate::log_info!(
        "stopped after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        t.line()
    );
    Ok(clean)
}

/// `sd_notify` when started by systemd; a failure is logged, never fatal.
fn notify_systemd(state: &str) {
    match crate::notify::notify(state) {
        Ok(true) => crate::log_debug!("notified systemd: {state}"),
        Ok(false) => {}
        Err(e) => crate::log_warn!("cannot notify systemd ({state}): {e}"),
    }
}
