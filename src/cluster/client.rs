//! The cluster thread (feature `kafka`): one Kafka producer that publishes what the workers
//! learned, one consumer that reads the whole templates topic and hands each record to the
//! worker its exporter steers to.
//!
//! The consumer is not in a consumer group: it assigns itself every partition at its
//! beginning, because each instance needs the whole state, and commits nothing. At start it
//! reads each partition up to the high watermark it had when assigned (the initial load), or
//! until `cluster.load_timeout_ms`; the app waits for that before telling systemd it is ready.
//! It keeps reading afterwards; records this instance published come back and are skipped.
//!
//! The broker may go away at any time: librdkafka keeps the published records queued and
//! retries (`message.timeout.ms = 0`), the consumer resumes from where it was, and a metadata
//! request every couple of seconds tells `/healthz` and `coreflow_cluster_broker_up` how it
//! stands. Nothing here can make a worker wait: the workers only `try_send` to this thread,
//! and this thread waits at most [`ROUTE_WAIT`] for room in a worker's channel.

use super::record::{Record, RecordError};
use super::{ClusterStats, Ignored};
use crate::error::ConfigError;
use crate::logging::RateLimit;
use crate::sink::settings::KafkaSettings;
use crossbeam_channel::{Receiver, Sender};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest the thread waits for room in one worker's channel before it drops the record.
pub const ROUTE_WAIT: Duration = Duration::from_millis(100);
/// Longest the thread waits for a record when there is nothing to publish.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How often the thread asks a broker for the topic's metadata (the broker's health).
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// Longest one metadata or watermark request blocks the thread.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
/// Records the thread produces per loop at most, so that reading keeps turning.
const PUBLISH_PER_LOOP: usize = 4096;
/// Delivery-report events served per loop at most.
const DELIVERY_EVENTS_PER_LOOP: usize = 256;
/// How long a shutdown waits for the broker to take what is queued.
const FLUSH_AT_SHUTDOWN: Duration = Duration::from_secs(2);

/// What the cluster thread runs with.
pub struct ClusterConfig {
    pub topic: String,
    pub instance: Arc<str>,
    pub load_timeout: Duration,
}

/// The workers of one socket group (one listener address): records go to the worker the
/// exporter steers to, or to all of them when the kernel does not steer by address.
pub struct Route {
    pub workers: Vec<Sender<Record>>,
    pub steered: bool,
}

/// The Kafka clients, created (and their settings checked) before any socket is opened.
pub struct Clients {
    producer: BaseProducer<Delivery>,
    consumer: BaseConsumer<Logs>,
    desc: String,
}

/// Routes librdkafka's logs into coreflow's, rate-limited (a broker away logs every retry).
/// The consumer's also keeps the partitions' high watermarks from librdkafka's statistics.
pub struct Logs {
    limit: std::sync::Mutex<RateLimit>,
    high: std::sync::Mutex<Vec<i64>>,
}

impl Logs {
    fn new() -> Logs {
        Logs {
            limit: std::sync::Mutex::new(RateLimit::new(Duration::from_secs(30))),
            high: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn say(&self, warn: bool, msg: std::fmt::Arguments<'_>) {
        let allowed = self
            .limit
            .lock()
            .ok()
            .and_then(|mut l| l.allow(Instant::now()));
        if let Some(s) = allowed {
            if warn {
                crate::log_warn!("cluster: {msg} ({s} more suppressed)");
            } else {
                crate::log_debug!("cluster: {msg}");
            }
        }
    }
}

impl ClientContext for Logs {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let warn = (level as i32) <= (RDKafkaLogLevel::Warning as i32);
        self.say(warn, format_args!("librdkafka {fac}: {log_message}"));
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.say(true, format_args!("{reason} ({error}); librdkafka retries"));
    }

    fn stats(&self, s: rdkafka::Statistics) {
        let Ok(mut high) = self.high.lock() else {
            return;
        };
        for t in s.topics.values() {
            for (&p, part) in &t.partitions {
                let Ok(i) = usize::try_from(p) else { continue };
                if high.len() <= i {
                    high.resize(i + 1, -1);
                }
                high[i] = high[i].max(part.hi_offset);
            }
        }
    }
}

impl ConsumerContext for Logs {}

/// The producer's context: counts delivery reports.
pub struct Delivery {
    logs: Logs,
    stats: Arc<ClusterStats>,
}

impl ClientContext for Delivery {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.logs.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.logs.error(error, reason);
    }
}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let c = match result {
            Ok(_) => &self.stats.delivered,
            Err(_) => &self.stats.publish_failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The librdkafka settings both clients share: the brokers, TLS and SASL of `[kafka]`.
fn base_config(k: &KafkaSettings, brokers: &str) -> Result<ClientConfig, ConfigError> {
    let mut c = ClientConfig::new();
    c.set_log_level(RDKafkaLogLevel::Warning);
    for (key, v) in &k.librdkafka {
        c.set(key.as_str(), v.as_str());
    }
    c.set("bootstrap.servers", brokers)
        .set("reconnect.backoff.max.ms", "1000");
    crate::sink::kafka::security::apply(&mut c, k, |v| std::env::var(v).ok())?;
    Ok(c)
}

impl Clients {
    /// Creates the producer and the consumer (librdkafka connects in the background: a
    /// broker away is not an error). `Err`: a setting librdkafka refuses, or an SRV record
    /// that does not resolve.
    pub fn open(
        k: &KafkaSettings,
        instance: &str,
        stats: Arc<ClusterStats>,
    ) -> Result<Clients, crate::sink::kafka::producer::OpenError> {
        use crate::sink::kafka::producer::OpenError;
        let brokers = crate::sink::kafka::producer::brokers(k)?;
        let cfg = |e: KafkaError| {
            OpenError::Config(ConfigError::new(
                "cluster.templates_topic",
                format!("the Kafka client for the templates topic: {e}"),
            ))
        };
        let mut p = base_config(k, &brokers).map_err(OpenError::Config)?;
        p.set("client.id", format!("coreflow-cluster-{instance}"))
            // a record waits in librdkafka's queue for as long as the broker is away
            .set("message.timeout.ms", "0")
            .set("linger.ms", "5")
            .set("acks", "all")
            .set("compression.codec", "none")
            .set("queue.buffering.max.messages", "200000");
        let producer: BaseProducer<Delivery> = p
            .create_with_context(Delivery {
                logs: Logs::new(),
                stats,
            })
            .map_err(cfg)?;
        let mut c = base_config(k, &brokers).map_err(OpenError::Config)?;
        // the group is never joined (the partitions are assigned); librdkafka wants a name
        c.set("group.id", format!("coreflow-cluster-{instance}"))
            .set("client.id", format!("coreflow-cluster-{instance}"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // what another instance learned reaches this one within about this long (a broker
            // answers a fetch at once when records are there; an idle topic costs a request
            // per this interval)
            .set("fetch.wait.max.ms", "100")
            .set("fetch.error.backoff.ms", "100")
            // the partitions' high watermarks, for the lag
            .set("statistics.interval.ms", "5000")
            // what librdkafka prefetches is heap too: keep it small beside the templates
            .set("queued.max.messages.kbytes", "1024")
            // and fetch again soon once it has room (librdkafka waits a second by default)
            .set("fetch.queue.backoff.ms", "10")
            .set("fetch.max.bytes", "1048576")
            .set("max.partition.fetch.bytes", "262144");
        let consumer: BaseConsumer<Logs> = c.create_with_context(Logs::new()).map_err(cfg)?;
        Ok(Clients {
            producer,
            consumer,
            desc: brokers,
        })
    }

    pub fn describe(&self) -> &str {
        &self.desc
    }
}

/// The running cluster thread.
pub struct Cluster {
    handle: JoinHandle<()>,
    loaded: Receiver<bool>,
    stop: Arc<AtomicBool>,
}

impl Cluster {
    /// Starts the thread: `rx` carries what the workers publish, `routes` their channels.
    pub fn start(
        clients: Clients,
        cfg: ClusterConfig,
        rx: Receiver<Record>,
        routes: Vec<Route>,
        stats: Arc<ClusterStats>,
    ) -> std::io::Result<Cluster> {
        let (loaded_tx, loaded) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("cf-cluster".into())
            .spawn(move || {
                let mut t = Thread {
                    producer: clients.producer,
                    consumer: clients.consumer,
                    cfg,
                    rx,
                    routes,
                    stats,
                    stop: s,
                    next: Vec::new(),
                    ends: Vec::new(),
                    loading: true,
                    loaded_tx: Some(loaded_tx),
                    bad_log: RateLimit::new(Duration::from_secs(60)),
                    names: std::collections::HashSet::new(),
                };
                t.run();
            })?;
        Ok(Cluster {
            handle,
            loaded,
            stop,
        })
    }

    /// Waits until the topic was read to its end, or its load timeout passed (or `max`);
    /// returns whether it was read to its end.
    pub fn wait_loaded(&self, max: Duration) -> bool {
        self.loaded.recv_timeout(max).unwrap_or(false)
    }

    /// Publishes what the workers left (bounded) and ends the thread. Call it after the
    /// workers have stopped.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

struct Thread {
    producer: BaseProducer<Delivery>,
    consumer: BaseConsumer<Logs>,
    cfg: ClusterConfig,
    rx: Receiver<Record>,
    routes: Vec<Route>,
    stats: Arc<ClusterStats>,
    stop: Arc<AtomicBool>,
    /// The next offset to read, by partition (the low watermark until a record was read).
    next: Vec<i64>,
    /// The high watermark of each partition when it was assigned: the initial load's end.
    ends: Vec<i64>,
    loading: bool,
    loaded_tx: Option<Sender<bool>>,
    bad_log: RateLimit,
    /// The instance names seen, shared by the templates they published.
    names: std::collections::HashSet<Arc<str>>,
}

/// Instance names kept for sharing at most (the topic may hold anything).
const MAX_NAMES: usize = 4096;

impl Thread {
    fn run(&mut self) {
        let started = Instant::now();
        let deadline = started + self.cfg.load_timeout;
        let mut next_probe = Instant::now();
        let mut next_lag = Instant::now();
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            let now = Instant::now();
            if now >= next_probe {
                next_probe = now + PROBE_EVERY;
                self.probe();
            }
            self.publish(stopping);
            if stopping {
                break;
            }
            self.read();
            if self.loading {
                // read to the end, and the workers took what was routed to them
                let done = !self.ends.is_empty()
                    && self.next.iter().zip(&self.ends).all(|(n, e)| n >= e)
                    && self
                        .routes
                        .iter()
                        .all(|r| r.workers.iter().all(Sender::is_empty));
                if done {
                    self.loading = false;
                    let ms = started.elapsed().as_millis() as u64;
                    self.stats.load_ms.store(ms, Ordering::Relaxed);
                    self.stats.loaded.store(true, Ordering::Relaxed);
                    crate::log_info!(
                        "cluster: read the templates topic {} ({} records) in {ms} ms",
                        self.cfg.topic,
                        self.stats.consumed.load(Ordering::Relaxed)
                    );
                    if let Some(tx) = self.loaded_tx.take() {
                        let _ = tx.try_send(true);
                    }
                } else if Instant::now() >= deadline {
                    if let Some(tx) = self.loaded_tx.take() {
                        crate::log_warn!(
                            "cluster: the templates topic {} was not read to its end within \
                             cluster.load_timeout_ms ({} ms, {} records read): starting with \
                             what arrived, reading on",
                            self.cfg.topic,
                            self.cfg.load_timeout.as_millis(),
                            self.stats.consumed.load(Ordering::Relaxed)
                        );
                        let _ = tx.try_send(false);
                    }
                }
            }
            if now >= next_lag {
                next_lag = now + Duration::from_secs(1);
                self.lag();
            }
        }
        let left = self.producer.in_flight_count();
        if left > 0 {
            let _ = self.producer.flush(FLUSH_AT_SHUTDOWN);
            let still = self.producer.in_flight_count();
            if still > 0 {
                crate::log_warn!(
                    "cluster: {still} template records not published at shutdown (broker away)"
                );
            }
        }
    }

    /// Asks for the topic's metadata: whether a broker answers and, the first time, the
    /// partitions to assign.
    fn probe(&mut self) {
        let md = self
            .consumer
            .fetch_metadata(Some(&self.cfg.topic), REQUEST_TIMEOUT);
        let up = md.is_ok();
        self.stats.broker_up.store(up, Ordering::Relaxed);
        if up {
            self.stats.broker_down_since_ms.store(0, Ordering::Relaxed);
        } else if self.stats.broker_down_since_ms.load(Ordering::Relaxed) == 0 {
            self.stats
                .broker_down_since_ms
                .store(crate::telemetry::clock_ms_now().max(1), Ordering::Relaxed);
        }
        if !self.next.is_empty() {
            return;
        }
        let Ok(md) = md else { return };
        let n = md
            .topics()
            .iter()
            .find(|t| t.name() == self.cfg.topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len());
        if n == 0 {
            crate::log_debug!("cluster: topic {} has no partitions yet", self.cfg.topic);
            return;
        }
        let mut ends = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        for p in 0..n as i32 {
            match self
                .consumer
                .fetch_watermarks(&self.cfg.topic, p, REQUEST_TIMEOUT * 4)
            {
                Ok((low, high)) => {
                    // an empty partition may report no low watermark (negative)
                    next.push(low.max(0));
                    ends.push(high.max(0));
                }
                Err(e) => {
                    crate::log_debug!("cluster: watermarks of partition {p}: {e}");
                    return;
                }
            }
        }
        let mut tpl = TopicPartitionList::new();
        for p in 0..n as i32 {
            if let Err(e) = tpl.add_partition_offset(&self.cfg.topic, p, Offset::Beginning) {
                crate::log_error!("cluster: partition {p}: {e}");
                return;
            }
        }
        if let Err(e) = self.consumer.assign(&tpl) {
            crate::log_error!("cluster: cannot assign the templates topic: {e}");
            return;
        }
        crate::log_info!(
            "cluster: reading the templates topic {} ({n} partitions, {} records)",
            self.cfg.topic,
            ends.iter().zip(&next).map(|(e, l)| e - l).sum::<i64>()
        );
        self.next = next;
        self.ends = ends;
    }

    /// Produces what the workers sent (bounded per loop; everything when stopping).
    fn publish(&mut self, stopping: bool) {
        let max = if stopping {
            usize::MAX
        } else {
            PUBLISH_PER_LOOP
        };
        for r in self.rx.try_iter().take(max) {
            let key = r.key.encode();
            let value = r.value();
            let mut rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(&self.cfg.topic).key(&key);
            if let Some(v) = &value {
                rec = rec.payload(v);
            }
            if self.producer.send(rec).is_err() {
                // librdkafka's queue is full (a long outage): the change is lost
                self.stats.publish_failed.fetch_add(1, Ordering::Relaxed);
            } else {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
            }
        }
        // one delivery-report event per call (each reports a produced batch): serve what is
        // there, bounded, so the reports (and the records they hold) do not pile up
        for _ in 0..DELIVERY_EVENTS_PER_LOOP {
            if self.producer.in_flight_count() == 0 {
                break;
            }
            self.producer.poll(Duration::ZERO);
        }
    }

    /// Reads what arrived (a short wait when nothing did) and routes it.
    fn read(&mut self) {
        // idle, the thread wakes every IDLE_WAIT: for the workers' changes (which wait that
        // long at most) and the periodic work; a record read wakes it at once
        if self.next.is_empty() {
            std::thread::sleep(IDLE_WAIT);
            return;
        }
        let mut wait = if self.rx.is_empty() {
            IDLE_WAIT
        } else {
            Duration::ZERO
        };
        for _ in 0..4096 {
            let Some(m) = self.consumer.poll(wait) else {
                return;
            };
            wait = Duration::ZERO;
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    if let Some(s) = self.bad_log.allow(Instant::now()) {
                        crate::log_warn!(
                            "cluster: reading the templates topic: {e} ({s} more suppressed)"
                        );
                    }
                    return;
                }
            };
            self.stats.consumed.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = usize::try_from(m.partition())
                .ok()
                .and_then(|p| self.next.get_mut(p))
            {
                *n = (*n).max(m.offset() + 1);
            }
            let ts = m
                .timestamp()
                .to_millis()
                .map_or(0, |ms| u64::try_from(ms).unwrap_or(0) * 1_000_000);
            match Record::read(m.key(), m.payload(), ts) {
                Ok(mut r) => {
                    // every template applied keeps its instance's name: one copy per name
                    if let Some(a) = self.names.get(&*r.instance) {
                        r.instance = a.clone();
                    } else if self.names.len() < MAX_NAMES {
                        self.names.insert(r.instance.clone());
                    }
                    let own = !r.instance.is_empty() && r.instance == self.cfg.instance;
                    if own && !self.loading {
                        self.stats.ignore(Ignored::Own);
                    } else {
                        self.route(r);
                    }
                }
                Err(e) => {
                    self.stats.ignore(match e {
                        RecordError::Foreign => Ignored::Foreign,
                        RecordError::Malformed => Ignored::Malformed,
                    });
                    if let Some(s) = self.bad_log.allow(Instant::now()) {
                        crate::log_warn!(
                            "cluster: partition {} offset {}: {e}: ignored ({s} more suppressed)",
                            m.partition(),
                            m.offset()
                        );
                    }
                }
            }
        }
    }

    /// Hands a record to the worker(s) its exporter steers to.
    fn route(&self, r: Record) {
        let ip = r.key.exporter();
        for g in &self.routes {
            if g.workers.is_empty() {
                continue;
            }
            let targets: &[Sender<Record>] = if g.steered {
                let i = crate::net::socket::steer_index(ip, g.workers.len() as u32) as usize;
                &g.workers[i..=i]
            } else {
                &g.workers
            };
            for w in targets {
                if w.send_timeout(r.clone(), ROUTE_WAIT).is_err() {
                    self.stats.ignore(Ignored::QueueFull);
                }
            }
        }
    }

    /// The consumer's lag: the cached high watermarks less the next offsets.
    fn lag(&self) {
        let mut lag = 0i64;
        if let Ok(high) = self.consumer.context().high.lock() {
            for (p, &n) in self.next.iter().enumerate() {
                let h = high.get(p).copied().unwrap_or(-1).max(self.ends[p]);
                lag += (h - n).max(0);
            }
        }
        self.stats.lag.store(lag as u64, Ordering::Relaxed);
    }
}
