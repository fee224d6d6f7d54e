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
    /// Bytes and packets times the sampling rate, which then reads 1 (`output.renormalize`).
    pub renormalize: bool,
    /// The instance name as protobuf field 1999 / JSON `CollectorInstance` in every message
    /// (`output.instance_field`).
    pub instance_field: bool,
    /// Built-in rotation of the output file (`None`: only SIGHUP reopens it).
    pub rotation: Option<Rotation>,
}

/// `output.rotate_*`: when the file sink renames its file and starts a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a batch would take the file past this many bytes (0: no size limit).
    pub bytes: u64,
    /// Rotate a file that has been written to for this long (`None`: no time limit).
    pub interval: Option<Duration>,
    /// The rotated file's name: `{path}`, `{time}` (UTC, 20240501T120000Z), `{unix}`
    /// (seconds) and `{seq}` (rotations since start) are replaced.
    pub pattern: String,
}

/// The default `output.rotate_pattern`.
pub const DEFAULT_ROTATE_PATTERN: &str = "{path}.{time}";

/// The placeholders `output.rotate_pattern` may hold.
pub const ROTATE_PLACEHOLDERS: [&str; 4] = ["{path}", "{time}", "{unix}", "{seq}"];

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
    /// Every record carries the `coreflow-instance` header (`kafka.instance_header`).
    pub instance_header: bool,
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
    /// TLS files and checks, used when `tls` is on.
    pub tls_files: KafkaTls,
    /// SASL mechanism and where the credentials come from, used when `sasl` is on.
    pub sasl_auth: KafkaSasl,
}

/// `kafka.tls_*`: the CA that signs the brokers' certificates (absent: the system's), the
/// client certificate and key (mTLS) and whether the broker's name is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaTls {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Check the broker's host name against its certificate (on unless turned off).
    pub verify_hostname: bool,
}

impl Default for KafkaTls {
    fn default() -> Self {
        KafkaTls {
            ca: None,
            cert: None,
            key: None,
            verify_hostname: true,
        }
    }
}

/// `kafka.sasl_*`. The password is never a setting: it is read from `password_file` (or
/// `KAFKA_SASL_PASS`) when the producer is created, so nothing prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaSasl {
    pub mechanism: SaslMechanism,
    /// Absent: `KAFKA_SASL_USER`.
    pub username: Option<String>,
    /// Absent: `KAFKA_SASL_PASS`.
    pub password_file: Option<PathBuf>,
}

/// librdkafka's `sasl.mechanism`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaslMechanism {
    /// GoFlow's `-kafka.sasl`.
    #[default]
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub const NAMES: [&'static str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Case-insensitive; `SCRAM-SHA512` and goflow2's `scram-sha512` spellings too.
    pub fn parse(s: &str) -> Option<SaslMechanism> {
        match s.to_ascii_uppercase().replace('_', "-").as_str() {
            "PLAIN" => Some(SaslMechanism::Plain),
            "SCRAM-SHA-256" | "SCRAM-SHA256" => Some(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" | "SCRAM-SHA512" => Some(SaslMechanism::ScramSha512),
            _ => None,
        }
    }
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
