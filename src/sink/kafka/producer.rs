//! The Kafka sink (feature `kafka`): one rdkafka `BaseProducer` owned by the output thread
//! (no async runtime).
//!
//! For every batch the output thread produces one Kafka record per message (value = the
//! encoded message, key = the batch's key for it, if any), or with `kafka.messages =
//! "batched"` one record per group of messages ([`super::chunks`]), and polls for delivery
//! reports every loop. librdkafka batches, compresses and retries on its own threads. When its queue
//! is full the thread backs off while polling, for at most `queue_full_wait` per batch; what
//! still does not fit is dropped and counted. The workers are never blocked: if this thread
//! falls behind, the channel in front of it fills and the workers drop (and count) batches.
//!
//! Every message ends in exactly one of [`KafkaStats`]' outcome counters: `delivered`,
//! `failed` (by [`FailKind`]), `dropped_queue_full` or `dropped_shutdown`. The delivery
//! opaque of each record is a `usize` (no box): the number of messages the record holds and
//! the batch's receive time in microseconds (`Opaque`), so a delivery report accounts for
//! every flow of a batched record and the receive-to-delivery latency is recorded without
//! any allocation per message.

use super::chunks::Chunker;
use super::{FailKind, KafkaStats, OWNED_PROPERTIES};
use crate::encode::batch::{Batch, Entry};
use crate::error::ConfigError;
use crate::logging::RateLimit;
use crate::sink::settings::KafkaSettings;
use crate::sink::settings::MessageMode;
use crate::telemetry::counters::ConnectReason;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Microseconds since the first call (a process-wide monotonic epoch for the opaques).
fn mono_us(t: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let e = *EPOCH.get_or_init(Instant::now);
    t.saturating_duration_since(e).as_micros() as u64
}

/// A record's delivery opaque: how many messages it holds (high 24 bits) and `mono_us` of
/// its batch's receive time modulo 2^40 (12.7 days; the latency is taken modulo the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Opaque(usize);

const TIME_BITS: u32 = 40;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

impl Opaque {
    fn new(messages: u32, received_us: u64) -> Opaque {
        let n = u64::from(messages.min((1 << 24) - 1));
        Opaque(((n << TIME_BITS) | (received_us & TIME_MASK)) as usize)
    }

    fn messages(self) -> u64 {
        self.0 as u64 >> TIME_BITS
    }

    /// Microseconds from the receive time to `now_us` (both `mono_us`).
    fn latency_us(self, now_us: u64) -> u64 {
        now_us.wrapping_sub(self.0 as u64) & TIME_MASK
    }
}

/// The producer's context: counts delivery reports and routes librdkafka's logs.
pub struct Context {
    stats: Arc<KafkaStats>,
    /// `mono_us` of the current poll, set by the output thread before it polls.
    now_us: AtomicU64,
    /// True while shutting down: purged messages count as `dropped_shutdown`.
    stopping: std::sync::atomic::AtomicBool,
    /// Messages whose record got a delivery report (delivered, failed or purged): with
    /// `produced`, what is still inside librdkafka, in messages rather than records.
    /// Written only on the output thread ([`bump`]).
    reported: AtomicU64,
    /// Deliveries reported since the last [`KafkaSink::poll`] moved them into the shared
    /// counters: per-flow mode gets a report per message, and adding each to the shared
    /// counters would take three locked adds per message.
    delivered: Tally,
    /// Latencies not yet in the histogram: consecutive reports of one batch share one value,
    /// so they are recorded as (value, count) runs, one histogram lock per run.
    run_latency_us: AtomicU64,
    run_count: AtomicU64,
    log_limit: Mutex<RateLimit>,
    /// Why the client last failed to connect (`ConnectReason` index + 1; 0: none since the
    /// last delivery): messages that time out meanwhile are counted under that cause.
    cause: std::sync::atomic::AtomicUsize,
}

/// Counts written by one thread (the output thread, inside `poll`): a plain load and store,
/// not a locked add. Other threads may read them at any time.
fn bump(a: &AtomicU64, n: u64) {
    a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Delivered messages, records and value bytes not yet added to [`KafkaStats`].
#[derive(Default)]
struct Tally {
    messages: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Tally {
    /// Moves the tally into the shared counters.
    fn flush(&self, s: &KafkaStats) {
        for (t, c) in [
            (&self.messages, &s.delivered),
            (&self.records, &s.records_delivered),
            (&self.bytes, &s.delivered_bytes),
        ] {
            let n = t.load(Ordering::Relaxed);
            if n > 0 {
                t.store(0, Ordering::Relaxed);
                KafkaStats::add(c, n);
            }
        }
    }
}

impl Context {
    /// Adds `n` latencies of `us` (single writer: the output thread, inside `poll`).
    fn record_latency(&self, us: u64, n: u64) {
        let (last, count) = (&self.run_latency_us, &self.run_count);
        let c = count.load(Ordering::Relaxed);
        if c > 0 && last.load(Ordering::Relaxed) == us {
            count.store(c + n, Ordering::Relaxed);
        } else {
            self.flush_latency();
            last.store(us, Ordering::Relaxed);
            count.store(n, Ordering::Relaxed);
        }
    }

    fn flush_latency(&self) {
        let c = self.run_count.swap(0, Ordering::Relaxed);
        if c > 0 {
            if let Ok(mut h) = self.stats.latency_us.lock() {
                h.saturating_record_n(self.run_latency_us.load(Ordering::Relaxed).max(1), c);
            }
        }
    }

    fn log_limited(&self, level: crate::logging::Level, msg: std::fmt::Arguments<'_>) {
        if !crate::logging::enabled(level) {
            return;
        }
        let allowed = self
            .log_limit
            .lock()
            .ok()
            .and_then(|mut l| l.allow(Instant::now()));
        if let Some(s) = allowed {
            if s > 0 {
                crate::logging::write(
                    level,
                    format_args!("{msg} ({s} more kafka messages suppressed)"),
                );
            } else {
                crate::logging::write(level, msg);
            }
        }
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        use crate::logging::Level;
        let l = match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => Level::Error,
            RDKafkaLogLevel::Warning => Level::Warn,
            _ => Level::Debug,
        };
        self.log_limited(l, format_args!("kafka: librdkafka {fac}: {log_message}"));
    }

    fn error(&self, error: KafkaError, reason: &str) {
        KafkaStats::add(&self.stats.client_errors, 1);
        let cause = connect_reason(error.rdkafka_error_code());
        KafkaStats::add(&self.stats.client_errors_by[cause.index()], 1);
        // auth and TLS are what the operator must fix: a later "all brokers down" keeps them
        let sticky = matches!(cause, ConnectReason::Auth | ConnectReason::Tls);
        let now = self.cause.load(Ordering::Relaxed);
        if sticky || now == 0 {
            self.cause.store(cause.index() + 1, Ordering::Relaxed);
        }
        self.log_limited(
            crate::logging::Level::Warn,
            format_args!("kafka: {reason} ({error}); librdkafka retries"),
        );
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let s = &self.stats;
        let opaque = Opaque(opaque);
        let n = opaque.messages();
        bump(&self.reported, n);
        match result {
            Ok(m) => {
                let t = &self.delivered;
                bump(&t.messages, n);
                bump(&t.records, 1);
                bump(&t.bytes, m.payload_len() as u64);
                if self.cause.load(Ordering::Relaxed) != 0 {
                    self.cause.store(0, Ordering::Relaxed);
                }
                self.record_latency(opaque.latency_us(self.now_us.load(Ordering::Relaxed)), n);
            }
            Err((e, _)) => {
                let code = e.rdkafka_error_code();
                let purged = matches!(
                    code,
                    Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
                );
                if purged && self.stopping.load(Ordering::Relaxed) {
                    KafkaStats::add(&s.dropped_shutdown, n);
                } else {
                    let mut k = fail_kind(code.unwrap_or(RDKafkaErrorCode::Fail));
                    if k == FailKind::Timeout {
                        // never connected: the cause is what the client reported
                        match self.cause.load(Ordering::Relaxed).checked_sub(1) {
                            Some(i) if i == ConnectReason::Auth.index() => k = FailKind::Auth,
                            Some(i) if i == ConnectReason::Tls.index() => k = FailKind::Transport,
                            _ => {}
                        }
                    }
                    KafkaStats::add(&s.failed[k as usize], n);
                }
            }
        }
    }
}

/// The cause of a client error librdkafka reported.
fn connect_reason(code: Option<RDKafkaErrorCode>) -> ConnectReason {
    use RDKafkaErrorCode as C;
    match code {
        Some(
            C::Authentication
            | C::SaslAuthenticationFailed
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::UnsupportedSASLMechanism
            | C::IllegalSASLState,
        ) => ConnectReason::Auth,
        Some(C::SSL) => ConnectReason::Tls,
        Some(
            C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::BrokerNotAvailable,
        ) => ConnectReason::Transport,
        _ => ConnectReason::Other,
    }
}

/// The bounded failure label of a librdkafka error.
fn fail_kind(code: RDKafkaErrorCode) -> FailKind {
    use RDKafkaErrorCode as C;
    match code {
        C::MessageTimedOut | C::RequestTimedOut => FailKind::Timeout,
        C::MessageSizeTooLarge | C::InvalidMessageSize => FailKind::TooLarge,
        C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition => {
            FailKind::UnknownTopic
        }
        C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication => FailKind::Auth,
        _ => FailKind::Other,
    }
}

/// The librdkafka configuration for `k` with the given brokers. TLS and SASL: see
/// `sink::kafka::security` (credentials from the settings, a password file, or GoFlow's
/// `KAFKA_SASL_USER` / `KAFKA_SASL_PASS`).
pub fn client_config(
    k: &KafkaSettings,
    brokers: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ClientConfig, ConfigError> {
    let mut c = ClientConfig::new();
    c.set_log_level(RDKafkaLogLevel::Warning);
    c.set("client.id", "coreflow");
    for (key, v) in &k.librdkafka {
        c.set(key.as_str(), v.as_str());
    }
    c.set("bootstrap.servers", brokers)
        .set("compression.codec", k.compression.as_str())
        .set("linger.ms", k.linger_ms.to_string())
        .set("batch.size", k.batch_size.to_string())
        .set("acks", k.acks.as_str())
        .set("enable.idempotence", k.idempotence.to_string())
        .set("queue.buffering.max.messages", k.queue_size.to_string())
        .set("message.timeout.ms", k.message_timeout_ms.to_string());
    super::security::apply(&mut c, k, env)?;
    Ok(c)
}

/// Maps a librdkafka configuration error to the coreflow setting it came from.
fn config_error(k: &KafkaSettings, e: KafkaError) -> ConfigError {
    let setting_of = |key: &str| -> String {
        if k.librdkafka.iter().any(|(p, _)| p == key) {
            format!("kafka.librdkafka.\"{key}\"")
        } else {
            OWNED_PROPERTIES
                .iter()
                .find(|(p, _)| *p == key)
                .map(|(_, s)| s.to_string())
                .unwrap_or_else(|| format!("kafka ({key})"))
        }
    };
    match e {
        KafkaError::ClientConfig(_, desc, key, _) => ConfigError::new(setting_of(&key), desc),
        KafkaError::ClientCreation(msg) => {
            // e.g. "`acks` must be set to `all` when `enable.idempotence` is true"
            let named = OWNED_PROPERTIES
                .iter()
                .map(|(p, _)| *p)
                .chain(k.librdkafka.iter().map(|(p, _)| p.as_str()))
                .find(|p| msg.contains(&format!("`{p}`")))
                .map(setting_of)
                .unwrap_or_else(|| "kafka".into());
            ConfigError::new(named, msg)
        }
        e => ConfigError::new("kafka", e.to_string()),
    }
}

/// Where the brokers came from, for the logs.
fn describe(k: &KafkaSettings, brokers: &str) -> String {
    if k.srv.is_empty() {
        format!("kafka {brokers} topic {}", k.topic)
    } else {
        format!("kafka {brokers} (SRV {}) topic {}", k.srv, k.topic)
    }
}

/// The sink: the producer plus what the output thread needs around it.
pub struct KafkaSink {
    producer: BaseProducer<Context>,
    stats: Arc<KafkaStats>,
    topic: String,
    counters_topic: Option<String>,
    messages: MessageMode,
    max_message_bytes: usize,
    chunker: Chunker,
    queue_full_wait: Duration,
    shutdown_timeout: Duration,
    /// Set when shutdown began: queue-full waits end at this deadline.
    deadline: Option<Instant>,
    desc: String,
    /// The headers every record carries (the instance name), built once. librdkafka takes
    /// ownership of a record's headers (and frees them with the message), so each record
    /// gets a copy of these (`rd_kafka_headers_copy`: one allocation), never a rebuild.
    headers: Option<OwnedHeaders>,
}

/// The Kafka header that names the collector instance on every record.
pub const INSTANCE_HEADER: &str = super::INSTANCE_HEADER;

/// Per-batch state of [`KafkaSink::write`]: the record fields every record of the batch
/// shares, and the queue-full back-off.
struct Send {
    opaque_us: u64,
    ts_ms: i64,
    wait_until: Option<Instant>,
    give_up: bool,
    /// Messages and records accepted by librdkafka and not yet added to `produced` and
    /// `records_produced` (one add per batch instead of one per record).
    produced: u64,
    records: u64,
}

impl Send {
    fn flush(&mut self, s: &KafkaStats) {
        if self.records > 0 {
            KafkaStats::add(&s.produced, self.produced);
            KafkaStats::add(&s.records_produced, self.records);
            (self.produced, self.records) = (0, 0);
        }
    }
}

/// Why the Kafka sink could not be opened: a bad setting (exit 2) or a failed SRV lookup
/// (exit 1).
#[derive(Debug)]
pub enum OpenError {
    Config(ConfigError),
    Resolve(std::io::Error),
}

/// The brokers of `k`: its list, or what its SRV record resolves to.
pub fn brokers(k: &KafkaSettings) -> Result<String, OpenError> {
    if k.srv.is_empty() {
        return Ok(k.brokers.join(","));
    }
    let resolver = crate::sink::dns::resolver().map_err(OpenError::Resolve)?;
    let targets =
        crate::sink::dns::resolve_srv(&k.srv, resolver, Duration::from_secs(2)).map_err(|e| {
            OpenError::Resolve(std::io::Error::new(
                e.kind(),
                format!("-kafka.out.srv {}: {e} (resolver {resolver})", k.srv),
            ))
        })?;
    Ok(targets
        .iter()
        .map(|t| t.host_port())
        .collect::<Vec<_>>()
        .join(","))
}

impl KafkaSink {
    /// Resolves the SRV record (if any) and creates the producer. librdkafka connects in the
    /// background: an unreachable broker is not an error here.
    pub fn open(k: &KafkaSettings) -> Result<KafkaSink, OpenError> {
        let brokers = brokers(k)?;
        let cfg =
            client_config(k, &brokers, |v| std::env::var(v).ok()).map_err(OpenError::Config)?;
        let stats = Arc::new(KafkaStats::default());
        let ctx = Context {
            stats: stats.clone(),
            now_us: AtomicU64::new(0),
            stopping: std::sync::atomic::AtomicBool::new(false),
            reported: AtomicU64::new(0),
            delivered: Tally::default(),
            run_latency_us: AtomicU64::new(0),
            run_count: AtomicU64::new(0),
            log_limit: Mutex::new(RateLimit::new(Duration::from_secs(10))),
            cause: std::sync::atomic::AtomicUsize::new(0),
        };
        let producer: BaseProducer<Context> = cfg
            .create_with_context(ctx)
            .map_err(|e| OpenError::Config(config_error(k, e)))?;
        Ok(KafkaSink {
            producer,
            stats,
            topic: k.topic.clone(),
            counters_topic: k.counters_topic.clone(),
            messages: k.messages,
            max_message_bytes: k.max_message_bytes,
            chunker: Chunker::default(),
            queue_full_wait: k.queue_full_wait,
            shutdown_timeout: k.shutdown_timeout,
            deadline: None,
            desc: describe(k, &brokers),
            headers: None,
        })
    }

    /// Every record produced from now on carries the header `coreflow-instance: name`.
    pub fn set_instance(&mut self, name: &str) {
        self.headers = Some(OwnedHeaders::new_with_capacity(1).insert(Header {
            key: INSTANCE_HEADER,
            value: Some(name.as_bytes()),
        }));
    }

    pub fn describe(&self) -> String {
        self.desc.clone()
    }

    pub fn stats(&self) -> Arc<KafkaStats> {
        self.stats.clone()
    }

    fn set_now(&self) {
        self.producer
            .context()
            .now_us
            .store(mono_us(Instant::now()), Ordering::Relaxed);
    }

    /// Serves delivery reports until none is pending (bounded), then samples the gauge.
    pub fn poll(&mut self) {
        self.set_now();
        let ctx = self.producer.context();
        for _ in 0..64 {
            let before = KafkaStats::get(&ctx.reported);
            self.producer.poll(Duration::ZERO);
            if KafkaStats::get(&ctx.reported) == before {
                break;
            }
        }
        ctx.flush_latency();
        ctx.delivered.flush(&self.stats);
        self.stats
            .in_flight
            .store(self.in_flight(), Ordering::Relaxed);
    }

    /// Messages inside librdkafka: produced and not yet reported delivered or failed.
    pub fn in_flight(&self) -> u64 {
        let reported = KafkaStats::get(&self.producer.context().reported);
        KafkaStats::get(&self.stats.produced).saturating_sub(reported)
    }

    /// Shutdown has begun: waits for room end at `shutdown_timeout` from now.
    pub fn begin_shutdown(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.shutdown_timeout);
        }
    }

    /// Produces the messages of `b`: one record each, or batched records. Never blocks
    /// longer than `queue_full_wait` (or past the shutdown deadline).
    pub fn write(&mut self, b: &Batch) {
        // Kafka timestamp (CreateTime): the batch's receive time in wall-clock ms, computed
        // once per batch (librdkafka would otherwise read the clock for every message)
        let age = b.received.elapsed();
        let ts_ms = std::time::SystemTime::now()
            .checked_sub(age)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let mut send = Send {
            opaque_us: mono_us(b.received),
            ts_ms,
            wait_until: None,
            give_up: false,
            produced: 0,
            records: 0,
        };
        match self.messages {
            MessageMode::PerFlow => {
                for e in b.entries() {
                    let Entry {
                        value,
                        key,
                        counter,
                    } = e;
                    self.produce(&mut send, counter, value, key, 1);
                }
            }
            MessageMode::Batched => {
                let mut chunker = std::mem::take(&mut self.chunker);
                chunker.cut(b.parts(), self.max_message_bytes, |c| {
                    self.produce(&mut send, c.counter, c.value, c.key, c.flows)
                });
                self.chunker = chunker;
            }
        }
        send.flush(&self.stats);
        self.stats.backing_off.store(0, Ordering::Relaxed);
        self.poll();
    }

    /// Produces one record holding `n` messages.
    fn produce(
        &mut self,
        send: &mut Send,
        counter: bool,
        value: &[u8],
        key: Option<&[u8]>,
        n: u32,
    ) {
        let s = &self.stats;
        let topic = match (counter, &self.counters_topic) {
            (false, _) => self.topic.as_str(),
            (true, Some(t)) => t.as_str(),
            // counter records are only encoded when a counters topic is set
            (true, None) => return,
        };
        if send.give_up {
            self.drop_n(u64::from(n));
            return;
        }
        let opaque = Opaque::new(n, send.opaque_us).0;
        let mut rec = BaseRecord::<[u8], [u8], usize>::with_opaque_to(topic, opaque)
            .payload(value)
            .timestamp(send.ts_ms);
        if let Some(k) = key {
            rec = rec.key(k);
        }
        if let Some(h) = &self.headers {
            rec = rec.headers(h.clone());
        }
        loop {
            match self.producer.send(rec) {
                Ok(()) => {
                    send.produced += u64::from(n);
                    send.records += 1;
                    return;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    let now = Instant::now();
                    let until = *send.wait_until.get_or_insert_with(|| {
                        KafkaStats::add(&s.queue_full_events, 1);
                        s.backing_off.store(1, Ordering::Relaxed);
                        let w = now + self.queue_full_wait;
                        match self.deadline {
                            Some(d) => w.min(d),
                            None => w,
                        }
                    });
                    if now >= until {
                        send.give_up = true;
                        self.drop_n(u64::from(n));
                        return;
                    }
                    // let librdkafka drain: serve delivery reports while waiting
                    send.flush(s);
                    self.set_now();
                    self.producer.poll(Duration::from_millis(5));
                    rec = r;
                }
                Err((e, _)) => {
                    let k = fail_kind(e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail));
                    KafkaStats::add(&s.failed[k as usize], u64::from(n));
                    return;
                }
            }
        }
    }

    fn drop_n(&self, n: u64) {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            KafkaStats::add(&self.stats.dropped_shutdown, n);
        } else {
            KafkaStats::add(&self.stats.dropped_queue_full, n);
        }
    }

    /// After the last batch: waits for delivery until the shutdown deadline, then purges
    /// what is left (counted as `dropped_shutdown`). Returns the number not delivered.
    pub fn finish(&mut self) -> u64 {
        self.begin_shutdown();
        let deadline = self.deadline.unwrap_or_else(Instant::now);
        let before = KafkaStats::get(&self.stats.dropped_shutdown);
        loop {
            self.poll();
            let left = self.in_flight();
            let now = Instant::now();
            if left == 0 || now >= deadline {
                break;
            }
            self.set_now();
            self.producer
                .poll((deadline - now).min(Duration::from_millis(50)));
        }
        if self.in_flight() > 0 {
            self.producer
                .context()
                .stopping
                .store(true, Ordering::Relaxed);
            self.producer
                .purge(PurgeConfig::default().queue().inflight().non_blocking());
            // the purged messages come back as delivery reports (counted as dropped_shutdown)
            let end = Instant::now() + Duration::from_secs(2);
            while self.in_flight() > 0 && Instant::now() < end {
                self.producer.poll(Duration::from_millis(20));
            }
            self.poll();
            // anything librdkafka did not report back is still lost
            let rest = self.in_flight();
            KafkaStats::add(&self.stats.dropped_shutdown, rest);
            bump(&self.producer.context().reported, rest);
        }
        KafkaStats::get(&self.stats.dropped_shutdown) - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KafkaSettings {
        crate::cli::parse_args(&["-kafka.out.brokers".into(), "127.0.0.1:1".into()])
            .map(|c| match c {
                crate::cli::Command::Run(s) => s.kafka.clone(),
                _ => unreachable!(),
            })
            .unwrap()
    }

    #[test]
    fn sasl_needs_credentials() {
        let mut k = settings();
        k.sasl = true;
        let e = client_config(&k, "h:1", |_| None).unwrap_err();
        assert!(e.setting.contains("KAFKA_SASL_USER"), "{e}");
        let c = client_config(&k, "h:1", |v| Some(format!("{v}-x"))).unwrap();
        assert_eq!(c.get("sasl.username"), Some("KAFKA_SASL_USER-x"));
        assert_eq!(c.get("security.protocol"), Some("sasl_plaintext"));
    }

    #[test]
    fn bad_librdkafka_settings_are_named() {
        let mut k = settings();
        k.librdkafka = vec![("no.such.property".into(), "1".into())];
        let e = match KafkaSink::open(&k) {
            Err(OpenError::Config(e)) => e,
            _ => panic!("accepted"),
        };
        assert!(e.setting.contains("no.such.property"), "{e}");
        let mut k = settings();
        k.compression = "brotli".into();
        let e = match KafkaSink::open(&k) {
            Err(OpenError::Config(e)) => e,
            _ => panic!("accepted"),
        };
        assert_eq!(e.setting, "kafka.compression", "{e}");
    }

    #[test]
    fn fail_kinds_are_bounded() {
        assert_eq!(
            fail_kind(RDKafkaErrorCode::MessageTimedOut),
            FailKind::Timeout
        );
        assert_eq!(
            fail_kind(RDKafkaErrorCode::BrokerNotAvailable),
            FailKind::Other
        );
        for (i, k) in FailKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }
}
