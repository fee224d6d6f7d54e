//! What the output side is configured with. `cli` fills these from flags and TOML; the
//! sink only reads them, so it never depends on the command-line layer.

use crate::encode::schema::Schema;
use crate::encode::Format;
use std::path::PathBuf;
use std::time::Duration;

/// Where flows go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSettings {
    Stdout,
    File(PathBuf),
    /// Kafka brokers are configured (`[kafka]` or `-kafka.out.*`) and no file was asked for.
    Kafka,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSettings {
    pub format: Format,
    pub schema: Schema,
    pub sink: SinkSettings,
}

/// The Kafka output (`[kafka]`, GoFlow's `-kafka.*` flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSettings {
    pub enabled: bool,
    pub topic: String,
    pub brokers: Vec<String>,
    pub srv: String,
    pub tls: bool,
    pub sasl: bool,
    /// Brokers or an SRV record were given explicitly (file or flag).
    pub configured: bool,
    pub key: crate::encode::key::KeyMode,
    /// A varint length prefix before each message (`-proto.fixedlen`).
    pub varint: bool,
    pub counters_topic: Option<String>,
    /// librdkafka `compression.codec`: none, gzip, snappy, lz4, zstd.
    pub compression: String,
    pub linger_ms: u64,
    /// librdkafka `batch.size` (bytes per partition batch).
    pub batch_size: u64,
    /// `all`, `1` or `0`.
    pub acks: String,
    pub idempotence: bool,
    /// librdkafka `queue.buffering.max.messages`.
    pub queue_size: u64,
    /// librdkafka `message.timeout.ms` (0: retry for ever).
    pub message_timeout_ms: u64,
    /// Longest the output thread backs off per batch when librdkafka's queue is full.
    pub queue_full_wait: Duration,
    /// Longest a shutdown waits for delivery.
    pub shutdown_timeout: Duration,
    /// `[kafka.librdkafka]` passthrough properties, sorted by name.
    pub librdkafka: Vec<(String, String)>,
}
