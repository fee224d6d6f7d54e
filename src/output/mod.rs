//! The output thread and its sinks.
//!
//! Workers hand over whole [`Batch`]es of encoded messages on one bounded channel; the output
//! thread is the only one that touches the sink, and it sends every emptied batch back to the
//! worker that filled it (one return channel per worker), so batches are reused and steady
//! state allocates nothing. Sinks are an enum: [`Sink::File`] (stdout or a file, JSON lines or
//! varint-delimited protobuf) now; Kafka is the next one (see [`Sink::open`]).

pub mod file;

use crate::config::{OutputSettings, SinkSettings};
use crate::replay::Format;
use crate::schema::Schema;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How messages are laid out in a batch's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Ready to write to a stream: JSON objects each followed by `\n`, or protobuf messages
    /// each preceded by its varint length. The file sink writes the buffer as it is.
    Stream,
    /// Bare messages (JSON without newline, protobuf without prefix), one per `ends` entry:
    /// what a message broker wants (one Kafka record per message).
    Bare,
}

/// Encoded messages: one buffer and the end offset of each message in it.
#[derive(Debug)]
pub struct Batch {
    /// The worker that owns this batch (where it goes back when written).
    pub worker: usize,
    /// Kernel receive time of the first flow put in it (ns since the epoch; 0 unknown): the
    /// start of the receive -> output / delivery latencies.
    pub recv_ns: u64,
    buf: Vec<u8>,
    ends: Vec<u32>,
}

impl Batch {
    pub fn new(worker: usize, bytes: usize, messages: usize) -> Batch {
        Batch {
            worker,
            recv_ns: 0,
            buf: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(messages),
        }
    }

    /// Appends one message: `encode` writes it at the end of the buffer.
    #[inline]
    pub fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        encode(&mut self.buf);
        self.ends.push(self.buf.len() as u32);
    }

    /// The whole buffer (all messages with their framing).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The messages one by one (each with its framing, if any).
    pub fn messages(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let m = &self.buf[start..e as usize];
            start = e as usize;
            m
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    pub fn clear(&mut self) {
        self.recv_ns = 0;
        self.buf.clear();
        self.ends.clear();
    }
}

/// How a worker encodes each flow for the chosen sink.
#[derive(Clone, Copy, Debug)]
pub struct Encoding {
    pub format: Format,
    pub schema: Schema,
    pub framing: Framing,
}

impl Encoding {
    #[inline]
    pub fn encode(&self, rec: &crate::flow::FlowRecord, buf: &mut Vec<u8>) {
        match (self.format, self.framing) {
            (Format::Pb, Framing::Stream) => self.schema.encode_pb_delimited(rec, buf),
            (Format::Pb, Framing::Bare) => self.schema.encode_pb(rec, buf),
            (Format::Json, framing) => {
                self.schema.encode_json(rec, buf);
                if framing == Framing::Stream {
                    buf.push(b'\n');
                }
            }
        }
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

/// Why a message could not be delivered: the `reason` label of
/// `coreflow_output_failed_total` and of `coreflow_records_dropped_total{stage="output"}`.
/// A sink maps its errors onto these with [`OutputStats::fail`].
pub const FAIL_REASONS: [&str; 8] = [
    "io",
    "broken_pipe",
    "timed_out",
    "msg_too_large",
    "unknown_topic",
    "auth",
    "transport",
    "other",
];

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
    /// `metrics::clock_ms` of the output loop's last turn (the thread is responsive).
    pub heartbeat_ms: AtomicU64,
    /// `metrics::clock_ms` of the last delivery (the output is making progress).
    pub last_delivery_ms: AtomicU64,
    /// Set when the output thread has ended (or unwound).
    pub exited: AtomicBool,
}

impl OutputStats {
    /// Index of `reason` in [`FAIL_REASONS`] (`other` if unknown).
    pub fn reason_index(reason: &str) -> usize {
        FAIL_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(FAIL_REASONS.len() - 1)
    }

    pub fn fail(&self, reason: &str, messages: u64) {
        self.failed[Self::reason_index(reason)].fetch_add(messages, Ordering::Relaxed);
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
    // Kafka(kafka::KafkaSink): the next issue. It takes `Framing::Bare` batches and produces
    // one record per message; `flush` waits for delivery reports up to a bounded time.
}

/// Why a sink could not be opened. `Config` errors exit with status 2 (before any socket is
/// opened), like an invalid setting.
#[derive(Debug)]
pub enum OpenError {
    Config(crate::config::ConfigError),
    Io(io::Error),
}

impl Sink {
    /// Opens the configured sink (before any socket, so a bad path is a config error).
    pub fn open(o: &OutputSettings) -> Result<Sink, OpenError> {
        match &o.sink {
            SinkSettings::Stdout => file::FileSink::stdout()
                .map(Sink::File)
                .map_err(OpenError::Io),
            SinkSettings::File(p) => file::FileSink::append(p).map(Sink::File).map_err(|e| {
                OpenError::Config(crate::config::ConfigError::new(
                    "output.file",
                    format!("cannot open {}: {e}", p.display()),
                ))
            }),
            SinkSettings::Kafka => Err(OpenError::Config(crate::config::ConfigError::new(
                "kafka.brokers (-kafka.out.brokers)",
                "the Kafka output is not in this build yet; use -kafka=false (stdout) or \
                 --output FILE",
            ))),
        }
    }

    pub fn framing(&self) -> Framing {
        match self {
            Sink::File(_) => Framing::Stream,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Sink::File(f) => f.describe(),
        }
    }

    /// The `sink` label of the output metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Sink::File(_) => "file",
        }
    }

    fn write(&mut self, b: &Batch) -> io::Result<()> {
        match self {
            Sink::File(f) => f.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
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
    /// Set when the sink failed for good (the collector then shuts down, exit status 1).
    pub failed: Arc<AtomicBool>,
    /// Delivery accounting for `/metrics` and `/healthz`.
    pub stats: Arc<OutputStats>,
    /// Receive -> output and receive -> delivery latencies.
    pub latency: crate::metrics::OutputProbe,
}

impl Output {
    pub fn run(mut self) {
        let c = self.counters.clone();
        let st = self.stats.clone();
        let _exit = ExitGuard(st.clone());
        let mut err_log = crate::logging::RateLimit::new(Duration::from_secs(60));
        loop {
            self.latency.tick(std::time::Instant::now(), &st);
            let b = match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(b) => b,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let n = b.len() as u64;
            let dequeued = crate::metrics::now_ns();
            self.latency.dequeued(b.recv_ns, n, dequeued);
            st.produced.fetch_add(n, Ordering::Relaxed);
            match self.sink.write(&b) {
                Ok(()) => {
                    c.batches.fetch_add(1, Ordering::Relaxed);
                    c.messages.fetch_add(n, Ordering::Relaxed);
                    c.bytes.fetch_add(b.byte_len() as u64, Ordering::Relaxed);
                    self.latency
                        .delivered(b.recv_ns, n, crate::metrics::now_ns());
                    st.bytes.fetch_add(b.byte_len() as u64, Ordering::Relaxed);
                    st.delivered.fetch_add(n, Ordering::Relaxed);
                    st.last_delivery_ms
                        .store(crate::metrics::clock_ms_now(), Ordering::Relaxed);
                }
                Err(e) => {
                    c.write_errors.fetch_add(1, Ordering::Relaxed);
                    c.messages_failed.fetch_add(n, Ordering::Relaxed);
                    st.fail(
                        if e.kind() == io::ErrorKind::BrokenPipe {
                            "broken_pipe"
                        } else {
                            "io"
                        },
                        n,
                    );
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        crate::log_error!("output: {}: {e}; stopping", self.sink.describe());
                        self.failed.store(true, Ordering::Relaxed);
                    } else if let Some(s) = err_log.allow(std::time::Instant::now()) {
                        crate::log_error!(
                            "output: {}: {e} ({s} more errors suppressed)",
                            self.sink.describe()
                        );
                    }
                }
            }
            let mut b = b;
            b.clear();
            if let Some(tx) = self.returns.get(b.worker) {
                // A worker that has exited drops its receiver; the batch is freed here.
                let _ = tx.try_send(b);
            }
        }
        if let Err(e) = self.sink.flush() {
            crate::log_error!("output: flush {}: {e}", self.sink.describe());
            c.write_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Addr, FlowRecord, FlowType};

    #[test]
    fn batch_messages_and_framing() {
        let rec = FlowRecord {
            flow_type: FlowType::NetflowV5,
            bytes: 1234,
            src_addr: Addr::v4([10, 0, 0, 1]),
            ..FlowRecord::default()
        };
        let mut b = Batch::new(0, 1024, 4);
        let enc = Encoding {
            format: Format::Pb,
            schema: Schema::GoflowV2,
            framing: Framing::Stream,
        };
        b.push_with(|buf| enc.encode(&rec, buf));
        b.push_with(|buf| enc.encode(&rec, buf));
        assert_eq!(b.len(), 2);
        let msgs: Vec<&[u8]> = b.messages().collect();
        assert_eq!(msgs[0], msgs[1]);
        // varint prefix = length of the rest
        assert_eq!(msgs[0][0] as usize, msgs[0].len() - 1);
        let bare = Encoding {
            framing: Framing::Bare,
            ..enc
        };
        let mut b2 = Batch::new(0, 1024, 4);
        b2.push_with(|buf| bare.encode(&rec, buf));
        assert_eq!(b2.bytes(), &msgs[0][1..]);
        let json = Encoding {
            format: Format::Json,
            ..enc
        };
        let mut b3 = Batch::new(0, 1024, 4);
        b3.push_with(|buf| json.encode(&rec, buf));
        assert!(b3.bytes().ends_with(b"}\n"));
        b3.clear();
        assert!(b3.is_empty() && b3.byte_len() == 0);
    }
}
