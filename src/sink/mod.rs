//! The output thread and its sinks.
//!
//! Workers hand over whole [`Batch`]es of encoded messages on one bounded channel; the output
//! thread is the only one that touches the sink, and it sends every emptied batch back to the
//! worker that filled it (one return channel per worker), so batches are reused and steady
//! state allocates nothing. Sinks are an enum: [`Sink::File`] (stdout or a file, JSON lines or
//! varint-delimited protobuf) and [`Sink::Kafka`] (one record per message, see [`kafka`]).

pub mod dns;
pub mod file;
pub mod kafka;
pub mod settings;

use crate::encode::batch::{Batch, Framing};
use crate::telemetry::counters::{FailReason, OutputCounters, OutputStats};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use settings::{OutputSettings, SinkSettings};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Marks the output thread as ended when dropped (also on unwind).
struct ExitGuard(Arc<OutputStats>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.exited.store(true, Ordering::Relaxed);
    }
}

/// Where the output thread writes.
pub enum Sink {
    /// stdout or a file.
    File(file::FileSink),
    /// One Kafka record per message (boxed: the producer is large and opened once).
    #[cfg(feature = "kafka")]
    Kafka(Box<kafka::producer::KafkaSink>),
}

/// Why a sink could not be opened. `Config` errors exit with status 2 (before any socket is
/// opened), like an invalid setting.
#[derive(Debug)]
pub enum OpenError {
    Config(crate::error::ConfigError),
    Io(io::Error),
}

impl Sink {
    /// Opens the configured sink (before any socket, so a bad path or a bad Kafka setting is
    /// a config error). Kafka brokers need not be reachable yet.
    pub fn open(o: &OutputSettings, k: &settings::KafkaSettings) -> Result<Sink, OpenError> {
        match &o.sink {
            SinkSettings::Stdout => file::FileSink::stdout()
                .map(Sink::File)
                .map_err(OpenError::Io),
            SinkSettings::File(p) => file::FileSink::append(p, o.rotation.clone())
                .map(Sink::File)
                .map_err(|e| {
                    OpenError::Config(crate::error::ConfigError::new(
                        "output.file",
                        format!("cannot open {}: {e}", p.display()),
                    ))
                }),
            #[cfg(feature = "kafka")]
            SinkSettings::Kafka => match kafka::producer::KafkaSink::open(k) {
                Ok(s) => Ok(Sink::Kafka(Box::new(s))),
                Err(kafka::producer::OpenError::Config(e)) => Err(OpenError::Config(e)),
                Err(kafka::producer::OpenError::Resolve(e)) => Err(OpenError::Io(e)),
            },
            #[cfg(not(feature = "kafka"))]
            SinkSettings::Kafka => {
                let _ = k;
                Err(OpenError::Config(crate::error::ConfigError::new(
                    "kafka.brokers",
                    "this build has no Kafka output (built without the `kafka` feature)",
                )))
            }
        }
    }

    /// How the workers must frame messages for this sink: Kafka messages are bare unless
    /// they carry a length prefix (`-proto.fixedlen`) or hold many flows (batched).
    pub fn framing(&self, k: &settings::KafkaSettings) -> Framing {
        #[cfg(not(feature = "kafka"))]
        let _ = k;
        match self {
            Sink::File(_) => Framing::Stream,
            #[cfg(feature = "kafka")]
            Sink::Kafka(_) if k.varint || k.messages == settings::MessageMode::Batched => {
                Framing::Stream
            }
            #[cfg(feature = "kafka")]
            Sink::Kafka(_) => Framing::Bare,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Sink::File(f) => f.describe(),
            #[cfg(feature = "kafka")]
            Sink::Kafka(k) => k.describe(),
        }
    }

    /// Stamps the instance name on what the sink writes where it can without touching the
    /// messages: a header on every Kafka record; nothing for a file.
    pub fn set_instance(&mut self, name: &str) {
        #[cfg(not(feature = "kafka"))]
        let _ = name;
        match self {
            Sink::File(_) => {}
            #[cfg(feature = "kafka")]
            Sink::Kafka(k) => k.set_instance(name),
        }
    }

    /// Whether the sink writes a file that SIGHUP can reopen.
    pub fn reopens(&self) -> bool {
        match self {
            Sink::File(f) => f.is_file(),
            #[cfg(feature = "kafka")]
            Sink::Kafka(_) => false,
        }
    }

    /// The `sink` label of the output metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Sink::File(_) => "file",
            #[cfg(feature = "kafka")]
            Sink::Kafka(_) => "kafka",
        }
    }

    /// The Kafka output's counters (for the metrics endpoint and the exit summary).
    pub fn kafka_stats(&self) -> Option<Arc<kafka::KafkaStats>> {
        match self {
            #[cfg(feature = "kafka")]
            Sink::Kafka(k) => Some(k.stats()),
            Sink::File(_) => None,
        }
    }
}

/// The output thread: writes every batch it receives, returns it to its worker, and ends when
/// every worker has hung up (after writing what they sent last).
pub struct Output {
    pub sink: Sink,
    pub rx: Receiver<Batch>,
    /// Return channel of each worker, by worker index.
    pub returns: Vec<Sender<Batch>>,
    pub counters: Arc<OutputCounters>,
    /// Set when the sink failed for good, or its last flush failed (the collector then shuts
    /// down, exit status 1).
    pub failed: Arc<AtomicBool>,
    /// Set when shutdown begins (the Kafka sink then bounds its waits by its
    /// `shutdown_timeout`).
    pub shutdown: Arc<AtomicBool>,
    /// Delivery accounting for `/metrics` and `/healthz`.
    pub stats: Arc<OutputStats>,
    /// Receive -> output and receive -> delivery latencies.
    pub latency: crate::telemetry::probe::OutputProbe,
    /// Bumped by the main thread on each SIGHUP: the file sink reopens its file when it sees
    /// a new value (read once per turn of its loop; no lock).
    pub reload: Arc<AtomicU64>,
}

impl Output {
    pub fn run(self) {
        let _exit = ExitGuard(self.stats.clone());
        match self.sink {
            Sink::File(f) => run_file(
                f,
                self.rx,
                self.returns,
                self.counters,
                self.failed,
                self.stats,
                self.latency,
                self.reload,
            ),
            #[cfg(feature = "kafka")]
            Sink::Kafka(k) => run_kafka(
                *k,
                self.rx,
                self.returns,
                self.counters,
                self.shutdown,
                self.stats,
                self.latency,
            ),
        }
    }
}

fn give_back(returns: &[Sender<Batch>], mut b: Batch) {
    b.clear();
    if let Some(tx) = returns.get(b.worker) {
        // A worker that has exited drops its receiver; the batch is freed here.
        let _ = tx.try_send(b);
    }
}

/// How often the output thread looks at the channel while batches keep coming. Each look
/// that finds the channel empty is a timer wake-up: at 2 ms, with the workers coalescing
/// 10 ms of datagrams, four of five looks found nothing and their wake-ups cost 3-4% of the
/// CPU of a NetFlow v5 record (tuning/pair.sh); at 5 ms a batch waits 2.5 ms longer on
/// average, and at 9M records/s about 6 MiB more of batches are in flight.
const POLL: Duration = Duration::from_millis(5);
/// Empty polls in a row after which the output thread blocks on the channel again.
const IDLE_POLLS: u32 = 10;

/// Takes batches off the channel. While batches keep coming, the output thread polls the
/// channel every [`POLL`] instead of blocking on it: a blocked receiver has to be woken by
/// the worker's send, a futex call and a cross-core wake-up per batch that the worker pays
/// for on its hot path; a polling one does not. After [`IDLE_POLLS`] empty polls (an idle
/// collector) it blocks again, so idle costs no wake-ups every few milliseconds.
#[derive(Default)]
struct Intake {
    empty_polls: u32,
}

impl Intake {
    fn next(&mut self, rx: &Receiver<Batch>, block: Duration) -> Result<Batch, RecvTimeoutError> {
        if self.empty_polls >= IDLE_POLLS {
            let got = rx.recv_timeout(block);
            if got.is_ok() {
                self.empty_polls = 0;
            }
            return got;
        }
        match rx.try_recv() {
            Ok(b) => {
                self.empty_polls = 0;
                Ok(b)
            }
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {
                self.empty_polls += 1;
                std::thread::sleep(POLL);
                Err(RecvTimeoutError::Timeout)
            }
        }
    }
}

/// The file sink's reopens and rotations, between batches: the SIGHUP generation it has
/// acted on, and whether the last attempt failed (a failure is logged once until one works).
struct Reopener {
    seen: u64,
    failing: bool,
}

impl Reopener {
    /// Reopens the file if a SIGHUP came since the last call, and rotates it if the
    /// built-in rotation is due before writing `next` bytes.
    fn turn(
        &mut self,
        sink: &mut file::FileSink,
        reload: &AtomicU64,
        st: &OutputStats,
        next: usize,
    ) {
        let gen = reload.load(Ordering::Relaxed);
        if gen != self.seen {
            self.seen = gen;
            let r = sink.reopen();
            self.done(sink, r, st);
        }
        if sink.rotates() {
            let now = Instant::now();
            if sink.rotation_due(next, now) {
                let r = sink.rotate(now);
                self.done(sink, r, st);
            }
        }
    }

    #[cold]
    fn done(
        &mut self,
        sink: &file::FileSink,
        r: Result<file::Reopened, file::ReopenError>,
        st: &OutputStats,
    ) {
        match r {
            Ok(file::Reopened::Reopened) => {
                st.file_reopens.fetch_add(1, Ordering::Relaxed);
                crate::log_info!("output: {}: reopened (SIGHUP)", sink.describe());
                self.failing = false;
            }
            Ok(file::Reopened::Rotated(to)) => {
                st.file_rotations.fetch_add(1, Ordering::Relaxed);
                crate::log_debug!("output: {}: rotated to {}", sink.describe(), to.display());
                self.failing = false;
            }
            Err(file::ReopenError::NoFile) => {
                crate::log_info!("output: SIGHUP: {}: nothing to reopen", sink.describe());
            }
            Err(e) => {
                st.file_reopen_errors.fetch_add(1, Ordering::Relaxed);
                if !self.failing {
                    crate::log_error!(
                        "output: {}: {e}; still writing the file it had (further failures \
                         counted in coreflow_output_file_reopen_errors_total, not logged)",
                        sink.describe()
                    );
                }
                self.failing = true;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_file(
    mut sink: file::FileSink,
    rx: Receiver<Batch>,
    returns: Vec<Sender<Batch>>,
    c: Arc<OutputCounters>,
    failed: Arc<AtomicBool>,
    st: Arc<OutputStats>,
    mut latency: crate::telemetry::probe::OutputProbe,
    reload: Arc<AtomicU64>,
) {
    let mut err_log = crate::logging::RateLimit::new(Duration::from_secs(60));
    let mut intake = Intake::default();
    let mut reopener = Reopener {
        seen: reload.load(Ordering::Relaxed),
        failing: false,
    };
    loop {
        latency.tick(Instant::now(), &st);
        let b = match intake.next(&rx, Duration::from_millis(100)) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => {
                // a SIGHUP or the rotation interval while no batch comes
                reopener.turn(&mut sink, &reload, &st, 0);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        reopener.turn(&mut sink, &reload, &st, b.byte_len());
        let n = b.len() as u64;
        latency.dequeued(b.recv_ns, n, crate::telemetry::now_ns());
        st.produced.fetch_add(n, Ordering::Relaxed);
        match sink.write(&b) {
            Ok(()) => {
                c.batches.fetch_add(1, Ordering::Relaxed);
                c.messages.fetch_add(n, Ordering::Relaxed);
                c.bytes.fetch_add(b.byte_len() as u64, Ordering::Relaxed);
                latency.delivered(b.recv_ns, n, crate::telemetry::now_ns());
                st.bytes.fetch_add(b.byte_len() as u64, Ordering::Relaxed);
                st.delivered.fetch_add(n, Ordering::Relaxed);
                st.last_delivery_ms
                    .store(crate::telemetry::clock_ms_now(), Ordering::Relaxed);
            }
            Err(e) => {
                c.write_errors.fetch_add(1, Ordering::Relaxed);
                c.messages_failed.fetch_add(n, Ordering::Relaxed);
                let broken = e.kind() == io::ErrorKind::BrokenPipe;
                st.fail(
                    if broken {
                        FailReason::BrokenPipe
                    } else {
                        FailReason::Io
                    },
                    n,
                );
                if broken {
                    crate::log_error!("output: {}: {e}; stopping", sink.describe());
                    failed.store(true, Ordering::Relaxed);
                } else if let Some(s) = err_log.allow(Instant::now()) {
                    crate::log_error!(
                        "output: {}: {e} ({s} more errors suppressed)",
                        sink.describe()
                    );
                }
            }
        }
        give_back(&returns, b);
    }
    if let Err(e) = sink.flush() {
        // what the buffer held is lost uncounted: an error, not a clean stop
        crate::log_error!("output: flush {}: {e}", sink.describe());
        c.write_errors.fetch_add(1, Ordering::Relaxed);
        failed.store(true, Ordering::Relaxed);
    }
    latency.finish();
}

/// Adds what the Kafka sink's outcome counters gained since the last call to the
/// sink-independent [`OutputStats`] the metrics endpoint and `/healthz` read. With
/// `kafka.producers` > 1 every output thread adds its own producer's gains to the one
/// [`OutputStats`], so its counters are the sums over the producers.
#[cfg(feature = "kafka")]
#[derive(Default)]
struct Mirror {
    delivered: u64,
    bytes: u64,
    failed: [u64; kafka::FailKind::COUNT],
    connection_errors: [u64; crate::telemetry::counters::ConnectReason::COUNT],
    queue_full: u64,
    dropped: u64,
}

#[cfg(feature = "kafka")]
impl Mirror {
    fn update(&mut self, k: &kafka::KafkaStats, st: &OutputStats) {
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let add = |to: &std::sync::atomic::AtomicU64, last: &mut u64, now: u64| {
            if now > *last {
                to.fetch_add(now - *last, Ordering::Relaxed);
                *last = now;
            }
        };
        let before = self.delivered;
        add(&st.delivered, &mut self.delivered, g(&k.delivered));
        if self.delivered != before {
            st.last_delivery_ms
                .store(crate::telemetry::clock_ms_now(), Ordering::Relaxed);
        }
        add(&st.bytes, &mut self.bytes, g(&k.delivered_bytes));
        for (i, (kind, n)) in kafka::FailKind::ALL.iter().zip(k.failed.iter()).enumerate() {
            add(&st.failed[kind.reason().index()], &mut self.failed[i], g(n));
        }
        let conn = st.connection_errors.iter().zip(k.client_errors_by.iter());
        for (i, (to, from)) in conn.enumerate() {
            add(to, &mut self.connection_errors[i], g(from));
        }
        add(
            &st.queue_full,
            &mut self.queue_full,
            g(&k.queue_full_events),
        );
        let dropped = g(&k.dropped_queue_full) + g(&k.dropped_shutdown);
        add(&st.dropped, &mut self.dropped, dropped);
    }
}

#[cfg(feature = "kafka")]
fn run_kafka(
    mut sink: kafka::producer::KafkaSink,
    rx: Receiver<Batch>,
    returns: Vec<Sender<Batch>>,
    c: Arc<OutputCounters>,
    shutdown: Arc<AtomicBool>,
    st: Arc<OutputStats>,
    mut latency: crate::telemetry::probe::OutputProbe,
) {
    let ks = sink.stats();
    let mut mirror = Mirror::default();
    loop {
        latency.tick(Instant::now(), &st);
        ks.heartbeat_ms
            .store(crate::telemetry::clock_ms_now(), Ordering::Relaxed);
        if shutdown.load(Ordering::Relaxed) {
            sink.begin_shutdown();
        }
        // with messages in flight, delivery reports are polled at least every 5 ms (and
        // after every batch): often enough to keep librdkafka's queue short, rarely enough
        // that idle wake-ups cost little (1 ms cost ~5% more CPU per record at 200k/s)
        let wait = if sink.in_flight() > 0 {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(100)
        };
        match rx.recv_timeout(wait) {
            Ok(b) => {
                let n = b.len() as u64;
                latency.dequeued(b.recv_ns, n, crate::telemetry::now_ns());
                st.produced.fetch_add(n, Ordering::Relaxed);
                sink.write(&b);
                c.batches.fetch_add(1, Ordering::Relaxed);
                c.messages.fetch_add(n, Ordering::Relaxed);
                c.bytes.fetch_add(b.byte_len() as u64, Ordering::Relaxed);
                give_back(&returns, b);
            }
            Err(RecvTimeoutError::Timeout) => sink.poll(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
        mirror.update(&ks, &st);
    }
    let lost = sink.finish();
    mirror.update(&ks, &st);
    if lost > 0 {
        // counted (kafka_dropped_shutdown, coreflow_output_dropped_total): a clean stop
        crate::log_warn!(
            "output: {}: {lost} messages not delivered within kafka.shutdown_timeout_ms, \
             counted as kafka_dropped_shutdown",
            sink.describe()
        );
    }
    crate::log_info!("output: {}: {}", sink.describe(), ks.line());
    latency.finish();
}
