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
    /// One Kafka message per flow (GoFlow's format) or many flows per Kafka message.
    pub messages: MessageMode,
    /// Largest value of a batched Kafka message (`kafka.max_message_bytes`).
    pub max_message_bytes: usize,
    /// Output threads, each with its own producer (`kafka.producers`).
    pub producers: usize,
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

/// How flows map onto Kafka messages (`kafka.messages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageMode {
    /// One Kafka message per flow, as GoFlow sends them.
    #[default]
    PerFlow,
    /// Many flows per Kafka message: varint-delimited protobuf (what ClickHouse's `Protobuf`
    /// format reads) or newline-delimited JSON, up to `max_message_bytes`.
    Batched,
}

impl MessageMode {
    pub fn name(self) -> &'static str {
        match self {
            MessageMode::PerFlow => "per-flow",
            MessageMode::Batched => "batched",
        }
    }

    pub fn parse(s: &str) -> Option<MessageMode> {
        match s {
            "per-flow" => Some(MessageMode::PerFlow),
            "batched" => Some(MessageMode::Batched),
            _ => None,
        }
    }
}
