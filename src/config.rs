//! Configuration: one TOML file and GoFlow-compatible flags, validated into [`Settings`].
//!
//! Two stages. The TOML file parses into [`RawConfig`] (every field optional, unknown keys
//! rejected), the flags are applied on top of it (a flag beats the file, the file beats the
//! default), and [`Settings::from_raw`] validates everything into the typed settings the
//! collector runs on. Any invalid value is one [`ConfigError`] naming the setting (the flag
//! spelling when it came from a flag); `main` prints it on one line and exits with status 2
//! before any socket is opened.
//!
//! Flags accept GoFlow v2's spellings exactly (`-netflow=false`, `-fport 2055`,
//! `-kafka.out.brokers ...`), with one or two dashes, as `-flag value` or `-flag=value`;
//! booleans take `=false` (Go's `flag` package rules: a bare boolean flag means true).

use crate::decode::Limits;
use crate::encode::schema::Schema;
use crate::encode::Format;
pub use crate::error::ConfigError;
use crate::logging::{Level, LogFormat};
use crate::net::socket::BindAddr;
use crate::pipeline::allow::AllowList;
pub use crate::sink::settings::{KafkaSettings, OutputSettings, SinkSettings};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Stage 1: the raw form (TOML file, flags applied on top)

/// The TOML file. Every key is optional; unknown keys are an error.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub netflow: RawListener,
    pub sflow: RawListener,
    pub receive: RawReceive,
    pub batch: RawBatch,
    pub output: RawOutput,
    pub limits: RawLimits,
    /// Where template and sampling-rate state is persisted (absent: not persisted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    pub log: RawLog,
    pub kafka: RawKafka,
    pub metrics: RawMetrics,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawListener {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuseport: Option<bool>,
    /// Exporter allowlist (CIDR prefixes); empty or absent accepts every source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawReceive {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_datagram: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcvbuf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamps: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coalesce_us: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawBatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_exporters: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_templates_per_exporter: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fields_per_template: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_template_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_records_per_datagram: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_samples_per_datagram: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_as_path: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_idle_timeout_s: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLog {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawKafka {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl: Option<bool>,
    /// `"none"`, `"by-exporter"`, a list of GoFlow field names, or them comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<RawKey>,
    /// GoFlow's `-kafka.hashing`: key by `key` fields (default `SamplerAddress,DstAS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashing: Option<bool>,
    /// `plain` (GoFlow v2) or `varint` (length-prefixed, `-proto.fixedlen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<String>,
    /// Topic for sFlow counter records (none: they are not exported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linger_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acks: Option<RawScalar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotence: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_timeout_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_full_wait_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout_ms: Option<i64>,
    /// Raw librdkafka properties (refused: the ones coreflow sets itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub librdkafka: Option<std::collections::BTreeMap<String, RawScalar>>,
}

/// `kafka.key`: one string or a list of field names.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RawKey {
    One(String),
    Fields(Vec<String>),
}

/// A string, integer or boolean value (librdkafka takes them all as text).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RawScalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl RawScalar {
    fn text(&self) -> String {
        match self {
            RawScalar::Str(s) => s.clone(),
            RawScalar::Int(i) => i.to_string(),
            RawScalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_exporters: Option<i64>,
}

impl RawConfig {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let at = match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    match key_at(text, line) {
                        Some(key) => format!(" line {line} ({key})"),
                        None => format!(" line {line}"),
                    }
                }
                None => String::new(),
            };
            ConfigError::new(format!("{origin}{at}"), e.message().to_string())
        })
    }

    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
        })?;
        RawConfig::from_toml(&text, &path.display().to_string())
    }
}

/// The dotted key (`section.key`) defined on 1-based `line` of a TOML text, if it is a simple
/// `key = value` line, for error messages.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let l = lines.get(line.checked_sub(1)?)?.trim();
    let key = l.split_once('=')?.0.trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let section = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Stage 2: validated settings

/// Which listener: both detect the protocol per datagram; they differ in defaults and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    /// NetFlow v5/v9 and IPFIX, :2055 by default.
    Netflow,
    /// sFlow v5, :6343 by default.
    Sflow,
}

impl ListenerKind {
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Netflow => "netflow",
            ListenerKind::Sflow => "sflow",
        }
    }
    fn default_port(self) -> u16 {
        match self {
            ListenerKind::Netflow => 2055,
            ListenerKind::Sflow => 6343,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSettings {
    pub kind: ListenerKind,
    pub enabled: bool,
    pub address: BindAddr,
    /// 0 binds a free port (logged at start).
    pub port: u16,
    pub sockets: usize,
    /// As configured; `None` spreads the workers over the available cores.
    pub cores: Option<Vec<usize>>,
    pub reuseport: bool,
    /// Exporters accepted (empty: all).
    pub allow: AllowList,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveSettings {
    /// Datagrams per recvmmsg call.
    pub batch: usize,
    /// Largest datagram accepted; larger ones are counted as truncated and dropped.
    pub max_datagram: usize,
    /// Socket receive buffer in bytes (0: kernel default).
    pub rcvbuf: usize,
    pub timestamps: bool,
    /// After a recvmmsg call that returned less than half a batch, wait this long before the
    /// next one so datagrams accumulate (fewer wake-ups per datagram at moderate rates).
    pub coalesce: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Messages per batch before it is handed to the output thread.
    pub messages: usize,
    /// Bytes per batch before it is handed over.
    pub bytes: usize,
    /// Age after which a partly filled batch is handed over (also the receive timeout).
    pub flush: Duration,
    /// Capacity of the channel to the output thread, in batches.
    pub channel: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub level: Level,
    pub format: LogFormat,
}

/// The metrics endpoint (GoFlow's flags plus the exporter label limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `[host]:port`; `""` or `off` disables the endpoint and the per-exporter accounting.
    pub address: String,
    pub path: String,
    pub templates_path: String,
    /// Exporters with their own label values; the rest are counted as `other`.
    pub max_exporters: usize,
}

impl MetricsSettings {
    pub fn enabled(&self) -> bool {
        !(self.address.is_empty() || self.address == "off")
    }
}

/// Everything the collector runs on, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub netflow: ListenerSettings,
    pub sflow: ListenerSettings,
    pub receive: ReceiveSettings,
    pub batch: BatchSettings,
    pub output: OutputSettings,
    pub limits: Limits,
    /// `--state-dir`: templates and sampling rates persisted there.
    pub state_dir: Option<PathBuf>,
    pub log: LogSettings,
    pub kafka: KafkaSettings,
    pub metrics: MetricsSettings,
}

pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092,[::1]:9092";

/// Which flag (if any) set each config key, so errors name what the user typed.
#[derive(Clone, Debug, Default)]
pub struct Origins(HashMap<&'static str, String>);

impl Origins {
    fn name(&self, key: &'static str) -> String {
        match self.0.get(key) {
            Some(flag) => format!("{flag} ({key})"),
            None => key.to_string(),
        }
    }
}

struct V<'a> {
    origins: &'a Origins,
}

impl V<'_> {
    fn err(&self, key: &'static str, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(self.origins.name(key), msg)
    }

    fn int(
        &self,
        key: &'static str,
        v: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let v = v.unwrap_or(default);
        if v < min || v > max {
            return Err(self.err(key, format!("{v} is out of range ({min} to {max})")));
        }
        Ok(v)
    }

    fn listener(
        &self,
        kind: ListenerKind,
        raw: &RawListener,
        keys: [&'static str; 6],
    ) -> Result<ListenerSettings, ConfigError> {
        let [k_addr, k_port, k_sockets, k_cores, _, k_allow] = keys;
        let allow = AllowList::parse(raw.allow.as_deref().unwrap_or(&[]))
            .map_err(|m| self.err(k_allow, m))?;
        let address = parse_bind_addr(raw.address.as_deref().unwrap_or(""))
            .map_err(|m| self.err(k_addr, m))?;
        let port = self.int(k_port, raw.port, kind.default_port().into(), 0, 65535)? as u16;
        let sockets = self.int(k_sockets, raw.sockets, 1, 1, 1024)? as usize;
        let cores = match &raw.cores {
            None => None,
            Some(c) if c.is_empty() => {
                return Err(self.err(
                    k_cores,
                    "empty core list (leave the key out to use every core)",
                ))
            }
            Some(c) => Some(
                c.iter()
                    .map(|&id| {
                        if (0..4096).contains(&id) {
                            Ok(id as usize)
                        } else {
                            Err(self.err(k_cores, format!("{id} is not a core number")))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(ListenerSettings {
            kind,
            enabled: raw.enabled.unwrap_or(true),
            address,
            port,
            sockets,
            cores,
            reuseport: raw.reuseport.unwrap_or(false),
            allow,
        })
    }
}

/// `""`, `":"` (GoFlow's default) and `"*"` are every address; otherwise an IP, with or
/// without brackets.
pub fn parse_bind_addr(s: &str) -> Result<BindAddr, String> {
    let t = s.trim();
    if t.is_empty() || t == ":" || t == "*" {
        return Ok(BindAddr::Any);
    }
    let t = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    t.parse::<IpAddr>()
        .map(BindAddr::Ip)
        .map_err(|_| format!("{s:?} is not an IP address (\"\" listens on every address)"))
}

fn bind_addr_text(a: BindAddr) -> String {
    match a {
        BindAddr::Any => String::new(),
        BindAddr::Ip(ip) => ip.to_string(),
    }
}

impl Settings {
    /// Validates the raw configuration (no access to the machine: see [`Settings::resolve`]).
    pub fn from_raw(raw: &RawConfig, origins: &Origins) -> Result<Settings, ConfigError> {
        let v = V { origins };
        let netflow = v.listener(
            ListenerKind::Netflow,
            &raw.netflow,
            [
                "netflow.address",
                "netflow.port",
                "netflow.sockets",
                "netflow.cores",
                "netflow.enabled",
                "netflow.allow",
            ],
        )?;
        let sflow = v.listener(
            ListenerKind::Sflow,
            &raw.sflow,
            [
                "sflow.address",
                "sflow.port",
                "sflow.sockets",
                "sflow.cores",
                "sflow.enabled",
                "sflow.allow",
            ],
        )?;
        if !netflow.enabled && !sflow.enabled {
            return Err(v.err(
                "netflow.enabled",
                "both listeners are disabled (netflow and sflow): nothing to collect",
            ));
        }
        if netflow.enabled && sflow.enabled && netflow.port == sflow.port && netflow.port != 0 {
            let overlap = match (netflow.address, sflow.address) {
                (BindAddr::Ip(a), BindAddr::Ip(b)) => {
                    a == b || a.is_unspecified() || b.is_unspecified()
                }
                _ => true,
            };
            if overlap {
                return Err(v.err(
                    "sflow.port",
                    format!("{} is also the NetFlow port", sflow.port),
                ));
            }
        }

        let r = &raw.receive;
        let receive = ReceiveSettings {
            batch: v.int("receive.batch", r.batch, 64, 1, 1024)? as usize,
            max_datagram: v.int("receive.max_datagram", r.max_datagram, 65535, 512, 65535)?
                as usize,
            rcvbuf: v.int("receive.rcvbuf", r.rcvbuf, 32 << 20, 0, 1 << 31)? as usize,
            timestamps: r.timestamps.unwrap_or(true),
            coalesce: Duration::from_micros(v.int(
                "receive.coalesce_us",
                r.coalesce_us,
                // 10 ms, the batch flush age: each wake-up of an idle core costs tens of
                // microseconds of CPU and a cold cache, so fewer of them is less CPU per record
                // (~6% less at 3 ms than 1 ms, ~3-5% less again at 10 ms, 1M records/s;
                // tuning/measure.sh). Flow records, seconds to minutes old when exported, do
                // not notice the delay; the worker shortens the pause when the socket queue
                // fills (worker::next_pause), so a small receive buffer does not overflow.
                10_000,
                0,
                10_000,
            )? as u64),
        };
        let b = &raw.batch;
        let batch = BatchSettings {
            // 4096 messages or 256 KiB (~1750 protobuf flows): fewer hand-offs (and output
            // thread wake-ups), ~4% less CPU per record than 1024 messages at 1M records/s.
            // Larger batches saved ~2% more but made more memory resident under a template
            // flood (tests/faults.rs)
            messages: v.int("batch.messages", b.messages, 4096, 1, 1 << 20)? as usize,
            bytes: v.int("batch.bytes", b.bytes, 256 << 10, 4096, 64 << 20)? as usize,
            flush: Duration::from_millis(v.int("batch.flush_ms", b.flush_ms, 10, 1, 10_000)? as u64),
            channel: v.int("batch.channel", b.channel, 128, 1, 65536)? as usize,
        };

        let o = &raw.output;
        let format = match o.format.as_deref() {
            None => Format::Json,
            Some(s) => Format::parse(s).ok_or_else(|| {
                v.err("output.format", format!("unknown format {s:?} (json, pb)"))
            })?,
        };
        let schema = match o.schema.as_deref() {
            None => Schema::default(),
            Some(s) => Schema::parse(s).ok_or_else(|| {
                v.err(
                    "output.schema",
                    format!("unknown schema {s:?} ({})", Schema::NAMES.join(", ")),
                )
            })?,
        };

        let k = &raw.kafka;
        let brokers_text = k.brokers.clone().unwrap_or_else(|| DEFAULT_BROKERS.into());
        let brokers: Vec<String> = brokers_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        for b in &brokers {
            if !looks_like_host_port(b) {
                return Err(v.err(
                    "kafka.brokers",
                    format!("{b:?} is not host:port (e.g. 127.0.0.1:9092,[::1]:9092)"),
                ));
            }
        }
        use crate::encode::key::{KeyFields, KeyMode, GOFLOW_DEFAULT_KEY};
        let key_fields = |names: Vec<&str>| {
            KeyFields::parse(names)
                .map(KeyMode::Fields)
                .map_err(|m| v.err("kafka.key", m))
        };
        let key = match (&k.key, k.hashing) {
            (_, Some(false)) => KeyMode::None,
            (None, Some(true)) => key_fields(GOFLOW_DEFAULT_KEY.split(',').collect())?,
            (None, None) => KeyMode::None,
            (Some(RawKey::One(s)), h) => match s.trim() {
                "none" | "" if h != Some(true) => KeyMode::None,
                "by-exporter" | "exporter" => KeyMode::Exporter,
                s => key_fields(s.split(',').collect())?,
            },
            (Some(RawKey::Fields(f)), _) => key_fields(f.iter().map(String::as_str).collect())?,
        };
        let varint = match k.framing.as_deref() {
            None | Some("plain") => false,
            Some("varint") => true,
            Some(f) => {
                return Err(v.err(
                    "kafka.framing",
                    format!("unknown framing {f:?} (plain, varint)"),
                ))
            }
        };
        let compression = k.compression.clone().unwrap_or_else(|| "none".into());
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&compression.as_str()) {
            return Err(v.err(
                "kafka.compression",
                format!("unknown codec {compression:?} (none, gzip, snappy, lz4, zstd)"),
            ));
        }
        let acks = match &k.acks {
            None => "all".to_string(),
            Some(a) => match a.text().as_str() {
                "all" | "-1" => "all".to_string(),
                a @ ("0" | "1") => a.to_string(),
                a => return Err(v.err("kafka.acks", format!("{a:?} is not all, 1 or 0"))),
            },
        };
        let idempotence = k.idempotence.unwrap_or(acks == "all");
        if idempotence && acks != "all" {
            return Err(v.err(
                "kafka.acks",
                format!(
                    "idempotence needs acks = \"all\" (got {acks}); or set idempotence = false"
                ),
            ));
        }
        let mut librdkafka = Vec::new();
        for (name, val) in k.librdkafka.iter().flatten() {
            if let Some((_, ours)) = crate::sink::kafka::OWNED_PROPERTIES
                .iter()
                .find(|(p, _)| p == name)
            {
                return Err(ConfigError::new(
                    format!("kafka.librdkafka.\"{name}\""),
                    format!("coreflow sets this property itself: use {ours}"),
                ));
            }
            librdkafka.push((name.clone(), val.text()));
        }
        let counters_topic = k.counters_topic.clone().filter(|t| !t.is_empty());
        let kafka = KafkaSettings {
            enabled: k.enabled.unwrap_or(true),
            topic: k.topic.clone().unwrap_or_else(|| "flow-messages".into()),
            brokers,
            srv: k.srv.clone().unwrap_or_default(),
            tls: k.tls.unwrap_or(false),
            sasl: k.sasl.unwrap_or(false),
            configured: k.brokers.is_some() || k.srv.as_deref().is_some_and(|s| !s.is_empty()),
            key,
            varint,
            counters_topic,
            compression,
            linger_ms: v.int("kafka.linger_ms", k.linger_ms, 5, 0, 900_000)? as u64,
            batch_size: v.int(
                "kafka.batch_size",
                k.batch_size,
                1_000_000,
                1,
                2_147_483_647,
            )? as u64,
            acks,
            idempotence,
            queue_size: v.int(
                "kafka.queue_size",
                k.queue_size,
                1_000_000,
                1,
                2_147_483_647,
            )? as u64,
            message_timeout_ms: v.int(
                "kafka.message_timeout_ms",
                k.message_timeout_ms,
                300_000,
                0,
                2_147_483_647,
            )? as u64,
            queue_full_wait: Duration::from_millis(v.int(
                "kafka.queue_full_wait_ms",
                k.queue_full_wait_ms,
                500,
                0,
                60_000,
            )? as u64),
            shutdown_timeout: Duration::from_millis(v.int(
                "kafka.shutdown_timeout_ms",
                k.shutdown_timeout_ms,
                10_000,
                0,
                3_600_000,
            )? as u64),
            librdkafka,
        };
        if kafka.enabled && kafka.configured && kafka.topic.is_empty() {
            return Err(v.err("kafka.topic", "empty topic"));
        }
        if kafka.enabled && kafka.configured && kafka.brokers.is_empty() && kafka.srv.is_empty() {
            return Err(v.err("kafka.brokers", "no brokers"));
        }

        let sink = match o.file.as_deref() {
            Some(f) if !f.is_empty() && f != "-" => SinkSettings::File(PathBuf::from(f)),
            _ if kafka.enabled && kafka.configured => SinkSettings::Kafka,
            _ => SinkSettings::Stdout,
        };
        // Kafka carries protobuf unless JSON was asked for explicitly
        let format = match (&sink, &o.format) {
            (SinkSettings::Kafka, None) => Format::Pb,
            _ => format,
        };
        if sink == SinkSettings::Kafka && kafka.varint && format == Format::Json {
            return Err(v.err(
                "kafka.framing",
                "varint framing needs protobuf (output.format = \"pb\")",
            ));
        }

        let l = &raw.limits;
        let d = Limits::default();
        let lim =
            |key, val, def: usize| v.int(key, val, def as i64, 1, 1 << 40).map(|x| x as usize);
        let limits = Limits {
            max_exporters: lim("limits.max_exporters", l.max_exporters, d.max_exporters)?,
            max_templates_per_exporter: lim(
                "limits.max_templates_per_exporter",
                l.max_templates_per_exporter,
                d.max_templates_per_exporter,
            )?,
            max_fields_per_template: lim(
                "limits.max_fields_per_template",
                l.max_fields_per_template,
                d.max_fields_per_template,
            )?,
            max_template_bytes: lim(
                "limits.max_template_bytes",
                l.max_template_bytes,
                d.max_template_bytes,
            )?,
            max_records_per_datagram: lim(
                "limits.max_records_per_datagram",
                l.max_records_per_datagram,
                d.max_records_per_datagram,
            )?,
            max_samples_per_datagram: lim(
                "limits.max_samples_per_datagram",
                l.max_samples_per_datagram,
                d.max_samples_per_datagram,
            )?,
            max_as_path: lim("limits.max_as_path", l.max_as_path, d.max_as_path)?,
            template_idle_timeout_s: v.int(
                "limits.template_idle_timeout_s",
                l.template_idle_timeout_s,
                d.template_idle_timeout_s as i64,
                0,
                1 << 32,
            )? as u64,
        };
        let state_dir = match raw.state_dir.as_deref() {
            None => None,
            Some("") => {
                return Err(v.err("state_dir", "empty path (leave it out to keep no state)"))
            }
            Some(p) => Some(PathBuf::from(p)),
        };

        let lg = &raw.log;
        let log = LogSettings {
            level: match lg.level.as_deref() {
                None => Level::Info,
                Some(s) => Level::parse(s).ok_or_else(|| {
                    v.err(
                        "log.level",
                        format!("unknown level {s:?} ({})", Level::NAMES.join(", ")),
                    )
                })?,
            },
            format: match lg.format.as_deref() {
                None => LogFormat::Normal,
                Some(s) => LogFormat::parse(s).ok_or_else(|| {
                    v.err("log.format", format!("unknown format {s:?} (normal, json)"))
                })?,
            },
        };

        let m = &raw.metrics;
        let metrics = MetricsSettings {
            address: m.address.clone().unwrap_or_else(|| ":8080".into()),
            path: m.path.clone().unwrap_or_else(|| "/metrics".into()),
            templates_path: m
                .templates_path
                .clone()
                .unwrap_or_else(|| "/templates".into()),
            max_exporters: v.int("metrics.max_exporters", m.max_exporters, 1000, 1, 1_000_000)?
                as usize,
        };
        for (key, p) in [
            ("metrics.path", &metrics.path),
            ("metrics.templates_path", &metrics.templates_path),
        ] {
            if !p.starts_with('/') {
                return Err(v.err(key, format!("{p:?} must start with /")));
            }
        }
        if metrics.enabled()
            && !looks_like_host_port(&metrics.address)
            && !metrics.address.starts_with(':')
        {
            return Err(v.err(
                "metrics.address",
                format!("{:?} is not [host]:port", metrics.address),
            ));
        }

        Ok(Settings {
            netflow,
            sflow,
            receive,
            batch,
            output: OutputSettings {
                format,
                schema,
                sink,
            },
            limits,
            state_dir,
            log,
            kafka,
            metrics,
        })
    }

    /// The enabled listeners, NetFlow first.
    pub fn listeners(&self) -> impl Iterator<Item = &ListenerSettings> {
        [&self.netflow, &self.sflow]
            .into_iter()
            .filter(|l| l.enabled)
    }

    /// Checks the settings against this machine and fixes the core of every worker: a
    /// listener's worker `i` runs on `cores[i % len]`; without a list, workers are spread
    /// over the available cores in order, NetFlow's first. Returns one core list per enabled
    /// listener.
    pub fn resolve(&self, available: &[usize]) -> Result<Vec<Vec<usize>>, ConfigError> {
        if available.is_empty() {
            return Ok(self.listeners().map(|l| vec![0; l.sockets]).collect());
        }
        let mut next = 0usize;
        let mut out = Vec::new();
        for l in self.listeners() {
            let cores = match &l.cores {
                Some(list) => {
                    if let Some(bad) = list.iter().find(|c| !available.contains(c)) {
                        return Err(ConfigError::new(
                            format!("{}.cores", l.kind.name()),
                            format!(
                                "core {bad} is not available here (cores {})",
                                ranges(available)
                            ),
                        ));
                    }
                    (0..l.sockets).map(|i| list[i % list.len()]).collect()
                }
                None => (0..l.sockets)
                    .map(|_| {
                        let c = available[next % available.len()];
                        next += 1;
                        c
                    })
                    .collect(),
            };
            out.push(cores);
        }
        Ok(out)
    }

    /// The effective settings as a TOML file that loads back into the same settings.
    pub fn to_toml(&self, cores: Option<&[Vec<usize>]>) -> String {
        let mut enabled_idx = 0;
        let mut listener = |l: &ListenerSettings| {
            let resolved = if l.enabled {
                let c = cores.and_then(|c| c.get(enabled_idx)).cloned();
                enabled_idx += 1;
                c
            } else {
                None
            };
            RawListener {
                enabled: Some(l.enabled),
                address: Some(bind_addr_text(l.address)),
                port: Some(l.port.into()),
                sockets: Some(l.sockets as i64),
                cores: resolved
                    .or_else(|| l.cores.clone())
                    .map(|c| c.into_iter().map(|x| x as i64).collect()),
                reuseport: Some(l.reuseport),
                allow: (!l.allow.is_empty()).then(|| l.allow.texts()),
            }
        };
        let netflow = listener(&self.netflow);
        let sflow = listener(&self.sflow);
        let lim = |x: usize| Some(x as i64);
        let raw = RawConfig {
            netflow,
            sflow,
            receive: RawReceive {
                batch: Some(self.receive.batch as i64),
                max_datagram: Some(self.receive.max_datagram as i64),
                rcvbuf: Some(self.receive.rcvbuf as i64),
                timestamps: Some(self.receive.timestamps),
                coalesce_us: Some(self.receive.coalesce.as_micros() as i64),
            },
            batch: RawBatch {
                messages: Some(self.batch.messages as i64),
                bytes: Some(self.batch.bytes as i64),
                flush_ms: Some(self.batch.flush.as_millis() as i64),
                channel: Some(self.batch.channel as i64),
            },
            output: RawOutput {
                format: Some(
                    match self.output.format {
                        Format::Json => "json",
                        Format::Pb => "pb",
                    }
                    .into(),
                ),
                schema: Some(self.output.schema.name().into()),
                file: Some(match &self.output.sink {
                    SinkSettings::File(p) => p.display().to_string(),
                    _ => String::new(),
                }),
            },
            limits: RawLimits {
                max_exporters: lim(self.limits.max_exporters),
                max_templates_per_exporter: lim(self.limits.max_templates_per_exporter),
                max_fields_per_template: lim(self.limits.max_fields_per_template),
                max_template_bytes: lim(self.limits.max_template_bytes),
                max_records_per_datagram: lim(self.limits.max_records_per_datagram),
                max_samples_per_datagram: lim(self.limits.max_samples_per_datagram),
                max_as_path: lim(self.limits.max_as_path),
                template_idle_timeout_s: Some(self.limits.template_idle_timeout_s as i64),
            },
            state_dir: self.state_dir.as_ref().map(|p| p.display().to_string()),
            log: RawLog {
                level: Some(self.log.level.name().into()),
                format: Some(self.log.format.name().into()),
            },
            kafka: RawKafka {
                enabled: Some(self.kafka.enabled),
                topic: Some(self.kafka.topic.clone()),
                // only written back when given, so the file keeps meaning "not configured"
                brokers: self.kafka.configured.then(|| self.kafka.brokers.join(",")),
                srv: (!self.kafka.srv.is_empty()).then(|| self.kafka.srv.clone()),
                tls: Some(self.kafka.tls),
                sasl: Some(self.kafka.sasl),
                key: Some(match self.kafka.key {
                    crate::encode::key::KeyMode::None => RawKey::One("none".into()),
                    crate::encode::key::KeyMode::Exporter => RawKey::One("by-exporter".into()),
                    crate::encode::key::KeyMode::Fields(f) => {
                        RawKey::Fields(f.names().map(String::from).collect())
                    }
                }),
                hashing: None,
                framing: Some(if self.kafka.varint { "varint" } else { "plain" }.into()),
                counters_topic: self.kafka.counters_topic.clone(),
                compression: Some(self.kafka.compression.clone()),
                linger_ms: Some(self.kafka.linger_ms as i64),
                batch_size: Some(self.kafka.batch_size as i64),
                acks: Some(RawScalar::Str(self.kafka.acks.clone())),
                idempotence: Some(self.kafka.idempotence),
                queue_size: Some(self.kafka.queue_size as i64),
                message_timeout_ms: Some(self.kafka.message_timeout_ms as i64),
                queue_full_wait_ms: Some(self.kafka.queue_full_wait.as_millis() as i64),
                shutdown_timeout_ms: Some(self.kafka.shutdown_timeout.as_millis() as i64),
                librdkafka: (!self.kafka.librdkafka.is_empty()).then(|| {
                    self.kafka
                        .librdkafka
                        .iter()
                        .map(|(k, v)| (k.clone(), RawScalar::Str(v.clone())))
                        .collect()
                }),
            },
            metrics: RawMetrics {
                address: Some(self.metrics.address.clone()),
                path: Some(self.metrics.path.clone()),
                templates_path: Some(self.metrics.templates_path.clone()),
                max_exporters: Some(self.metrics.max_exporters as i64),
            },
        };
        let sink = match &self.output.sink {
            SinkSettings::Stdout => "stdout".to_string(),
            SinkSettings::File(p) => format!("file {}", p.display()),
            SinkSettings::Kafka => format!("kafka topic {}", self.kafka.topic),
        };
        format!(
            "# coreflow effective settings (output: {sink})\n{}",
            toml::to_string(&raw).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
        )
    }
}

fn looks_like_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok()
                && (host.is_empty()
                    || !host.contains(':')
                    || (host.starts_with('[') && host.ends_with(']')))
        }
        None => false,
    }
}

/// `0-3,8` for the log and errors.
pub fn ranges(ids: &[usize]) -> String {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(",")
}

// ---------------------------------------------------------------------------------------------
// Command line

/// What the command line asks for.
#[derive(Clone, Debug)]
pub enum Command {
    Run(Box<Settings>),
    CheckConfig(Box<Settings>),
    Help,
    Version,
    /// `--print-default-config`: [`DEFAULT_CONFIG`] on stdout.
    PrintDefaultConfig,
}

/// Every TOML key with its default value and a comment (`--print-default-config`, and the
/// Debian package's `/etc/coreflow/coreflow.toml`). A test keeps it equal to the defaults.
pub const DEFAULT_CONFIG: &str = include_str!("../tuning/default.toml");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
}

/// (spellings, kind, config key). Keys starting with `-` are coreflow's own, not in the file.
const FLAGS: &[(&[&str], Kind, &str)] = &[
    // GoFlow v2.1.0
    (&["netflow"], Kind::Bool, "netflow.enabled"),
    (&["sflow"], Kind::Bool, "sflow.enabled"),
    (&["faddr"], Kind::Value, "netflow.address"),
    (&["fport"], Kind::Value, "netflow.port"),
    (&["saddr"], Kind::Value, "sflow.address"),
    (&["sport"], Kind::Value, "sflow.port"),
    (&["fworkers"], Kind::Value, "netflow.sockets"),
    (&["sworkers"], Kind::Value, "sflow.sockets"),
    (&["freuse"], Kind::Bool, "netflow.reuseport"),
    (&["sreuse"], Kind::Bool, "sflow.reuseport"),
    (&["loglevel"], Kind::Value, "log.level"),
    (&["logfmt"], Kind::Value, "log.format"),
    (&["kafka"], Kind::Bool, "kafka.enabled"),
    (&["kafka.out.topic"], Kind::Value, "kafka.topic"),
    (&["kafka.out.brokers"], Kind::Value, "kafka.brokers"),
    (&["kafka.out.srv"], Kind::Value, "kafka.srv"),
    (&["kafka.tls"], Kind::Bool, "kafka.tls"),
    (&["kafka.sasl"], Kind::Bool, "kafka.sasl"),
    // GoFlow v3 (transport/kafka.go, cmd/goflow)
    (&["kafka.brokers"], Kind::Value, "kafka.brokers"),
    (&["kafka.topic"], Kind::Value, "kafka.topic"),
    (&["kafka.srv"], Kind::Value, "kafka.srv"),
    (&["kafka.hashing"], Kind::Bool, "kafka.hashing"),
    (&["kafka.key"], Kind::Value, "kafka.key"),
    (&["proto.fixedlen"], Kind::Bool, "kafka.framing"),
    // accepted for unit-file compatibility; librdkafka negotiates versions and logs errors
    (&["kafka.version"], Kind::Value, "-ignored"),
    (&["kafka.log.err"], Kind::Bool, "-ignored"),
    (&["metrics.addr"], Kind::Value, "metrics.address"),
    (&["metrics.path"], Kind::Value, "metrics.path"),
    (&["templates.path"], Kind::Value, "metrics.templates_path"),
    (
        &["metrics.maxexporters", "metrics.max_exporters"],
        Kind::Value,
        "metrics.max_exporters",
    ),
    (&["v", "version"], Kind::Bool, "-version"),
    // coreflow's own
    (&["config"], Kind::Value, "-config"),
    (&["format"], Kind::Value, "output.format"),
    (&["schema"], Kind::Value, "output.schema"),
    (&["output"], Kind::Value, "output.file"),
    (&["check-config"], Kind::Bool, "-check-config"),
    (&["state-dir"], Kind::Value, "state_dir"),
    (
        &["print-default-config"],
        Kind::Bool,
        "-print-default-config",
    ),
    (&["h", "help"], Kind::Bool, "-help"),
];

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_int(flag: &str, s: &str) -> Result<i64, ConfigError> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| ConfigError::new(flag, format!("{s:?} is not an integer")))
}

/// Sets one config key from a flag's text value.
fn apply(raw: &mut RawConfig, key: &str, flag: &str, val: &str) -> Result<(), ConfigError> {
    let b = || {
        parse_bool(val).ok_or_else(|| {
            ConfigError::new(flag, format!("{val:?} is not a boolean (true, false)"))
        })
    };
    let s = || Some(val.to_string());
    match key {
        "netflow.enabled" => raw.netflow.enabled = Some(b()?),
        "sflow.enabled" => raw.sflow.enabled = Some(b()?),
        "netflow.address" => raw.netflow.address = s(),
        "sflow.address" => raw.sflow.address = s(),
        "netflow.port" => raw.netflow.port = Some(parse_int(flag, val)?),
        "sflow.port" => raw.sflow.port = Some(parse_int(flag, val)?),
        "netflow.sockets" => raw.netflow.sockets = Some(parse_int(flag, val)?),
        "sflow.sockets" => raw.sflow.sockets = Some(parse_int(flag, val)?),
        "netflow.reuseport" => raw.netflow.reuseport = Some(b()?),
        "sflow.reuseport" => raw.sflow.reuseport = Some(b()?),
        "state_dir" => raw.state_dir = s(),
        "log.level" => raw.log.level = s(),
        "log.format" => raw.log.format = s(),
        "kafka.enabled" => raw.kafka.enabled = Some(b()?),
        "kafka.topic" => raw.kafka.topic = s(),
        "kafka.brokers" => raw.kafka.brokers = s(),
        "kafka.srv" => raw.kafka.srv = s(),
        "kafka.tls" => raw.kafka.tls = Some(b()?),
        "kafka.sasl" => raw.kafka.sasl = Some(b()?),
        "kafka.hashing" => raw.kafka.hashing = Some(b()?),
        "kafka.key" => raw.kafka.key = Some(RawKey::One(val.to_string())),
        "kafka.framing" => raw.kafka.framing = Some(if b()? { "varint" } else { "plain" }.into()),
        "metrics.address" => raw.metrics.address = s(),
        "metrics.path" => raw.metrics.path = s(),
        "metrics.templates_path" => raw.metrics.templates_path = s(),
        "metrics.max_exporters" => raw.metrics.max_exporters = Some(parse_int(flag, val)?),
        "output.format" => raw.output.format = s(),
        "output.schema" => raw.output.schema = s(),
        "output.file" => raw.output.file = s(),
        _ => unreachable!("flag table key {key}"),
    }
    Ok(())
}

/// Parses the command line (without the program name) into a [`Command`]: flags applied on
/// top of the `--config` file, validated. Machine checks (cores) come later.
pub fn parse_args(args: &[String]) -> Result<Command, ConfigError> {
    let mut sets: Vec<(&'static str, String, String)> = Vec::new();
    let (mut config, mut check, mut help, mut version) = (None, false, false, false);
    let mut print_default = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let body = a
            .strip_prefix("--")
            .or_else(|| a.strip_prefix('-'))
            .filter(|b| !b.is_empty() && !b.starts_with('-'))
            .ok_or_else(|| {
                ConfigError::new(
                    a.as_str(),
                    "unexpected argument (flags start with -; see --help)",
                )
            })?;
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        // the flag as typed (one or two dashes), without its value
        let spelled = a[..a.len() - body.len() + name.len()].to_string();
        let Some(&(_, kind, key)) = FLAGS.iter().find(|(names, _, _)| names.contains(&name)) else {
            return Err(ConfigError::new(spelled, "unknown flag (see --help)"));
        };
        let val = match (kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (_, Some(v)) => v,
            (Kind::Value, None) => match args.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => return Err(ConfigError::new(spelled, "needs a value")),
            },
        };
        let bool_of = |v: &str| {
            parse_bool(v).ok_or_else(|| {
                ConfigError::new(
                    spelled.as_str(),
                    format!("{v:?} is not a boolean (true, false)"),
                )
            })
        };
        match key {
            "-config" => config = Some(PathBuf::from(val)),
            "-check-config" => check = bool_of(&val)?,
            "-help" => help = bool_of(&val)?,
            "-version" => version = bool_of(&val)?,
            "-print-default-config" => print_default = bool_of(&val)?,
            "-ignored" => {}
            _ => sets.push((key, spelled.clone(), val)),
        }
    }
    if help {
        return Ok(Command::Help);
    }
    if version {
        return Ok(Command::Version);
    }
    if print_default {
        return Ok(Command::PrintDefaultConfig);
    }
    let mut raw = match &config {
        Some(p) => RawConfig::from_file(p)?,
        None => RawConfig::default(),
    };
    let mut origins = Origins::default();
    for (key, flag, val) in &sets {
        apply(&mut raw, key, flag, val)?;
        origins.0.insert(key, flag.clone());
    }
    let settings = Box::new(Settings::from_raw(&raw, &origins)?);
    Ok(if check {
        Command::CheckConfig(settings)
    } else {
        Command::Run(settings)
    })
}

/// Loads and validates a config file alone (no flags, no machine checks).
pub fn load_file(path: &Path) -> Result<Settings, ConfigError> {
    Settings::from_raw(&RawConfig::from_file(path)?, &Origins::default())
}

pub const HELP: &str = "\
NAME
    coreflow - thread-per-core NetFlow v5/v9, IPFIX and sFlow v5 collector

SYNOPSIS
    coreflow [OPTIONS]
    coreflow --config FILE [OPTIONS]
    coreflow --check-config [--config FILE] [OPTIONS]
    coreflow --print-default-config
    coreflow replay [--format json|pb] [--schema NAME] [--counters] FILE...
    coreflow -h | --help | -v | --version

DESCRIPTION
    coreflow receives flow datagrams from routers and switches, decodes them on worker
    threads pinned to cores (one per UDP socket, SO_REUSEPORT, exporters steered to a
    worker by source address) and writes every flow as GoFlow-compatible protobuf or JSON
    lines to stdout, a file or Kafka. Both listeners detect NetFlow v5/v9, IPFIX and sFlow
    v5 per datagram. Settings come from defaults, then the TOML file (--config), then the
    flags: a flag beats the file, the file beats the default. Every setting is validated
    before any socket is opened.

    Flags take one or two dashes, `-flag value` or `-flag=value`; booleans are set with
    `-flag` or `-flag=false`. GoFlow v2/v3 flag names work unchanged. The TOML key of each
    flag is in brackets; `coreflow --print-default-config` shows every key.

OPTIONS
  Listeners (GoFlow)
    -netflow=BOOL          enable the NetFlow/IPFIX listener (true) [netflow.enabled]
    -faddr ADDR            its address; \"\" or \":\" = every IPv4 and IPv6 address (\"\")
                           [netflow.address]
    -fport PORT            its port, 0 picks a free one, logged (2055) [netflow.port]
    -fworkers N            its sockets, one pinned worker thread each (1) [netflow.sockets]
    -freuse=BOOL           SO_REUSEPORT even with one socket, to share the port (false)
                           [netflow.reuseport]
    -sflow=BOOL, -saddr ADDR, -sport PORT (6343), -sworkers N, -sreuse=BOOL
                           the same for the sFlow listener [sflow.*]
                           Core lists, receive buffers, batching and decoder limits are
                           TOML-only: [netflow] cores, [receive], [batch], [limits].

  Output
    --format json|pb       JSON lines, or varint-length-delimited protobuf (json; pb with
                           Kafka) [output.format]
    --schema NAME          goflow-v2 (GoFlow v2 FlowMessage), goflow-v3, goflow2
                           (goflow-v2) [output.schema]
    --output FILE          append to FILE instead of writing to stdout [output.file]

  Kafka (GoFlow; giving brokers or an SRV record selects Kafka unless --output is set)
    -kafka=BOOL            use Kafka when brokers are configured (true) [kafka.enabled]
    -kafka.out.brokers L   brokers, comma-separated host:port [kafka.brokers];
                           v3: -kafka.brokers
    -kafka.out.srv NAME    brokers from this DNS SRV record [kafka.srv]; v3: -kafka.srv
    -kafka.out.topic T     topic (flow-messages) [kafka.topic]; v3: -kafka.topic
    -kafka.tls=BOOL        TLS to the brokers (false) [kafka.tls]
    -kafka.sasl=BOOL       SASL/PLAIN, credentials from KAFKA_SASL_USER, KAFKA_SASL_PASS
                           (false) [kafka.sasl]
    -kafka.hashing=BOOL    key each message by the -kafka.key fields (false) [kafka.hashing]
    -kafka.key F,F         key fields, GoFlow names (SamplerAddress,DstAS) [kafka.key];
                           TOML also takes \"by-exporter\"
    -proto.fixedlen=BOOL   varint length prefix before each message (false) [kafka.framing]
    -kafka.version V, -kafka.log.err=BOOL
                           accepted and ignored (GoFlow v3 unit files)
                           Compression, linger, acks, queue size, timeouts and librdkafka
                           properties are TOML-only: [kafka], [kafka.librdkafka].

  Metrics and logging
    -metrics.addr ADDR     HTTP endpoint for metrics, templates and /healthz (:8080);
                           \"\" or off disables it; the bound address is logged
                           [metrics.address]
    -metrics.path P        Prometheus text format (/metrics) [metrics.path]
    -templates.path P      templates and sampling rates as JSON (/templates)
                           [metrics.templates_path]
    -metrics.maxexporters N
                           exporters with their own label values, the rest are
                           router=\"other\" (1000) [metrics.max_exporters]
    -loglevel LEVEL        error, warn, info, debug, trace (info) [log.level]
    -logfmt normal|json    log line format on stderr (normal) [log.format]

  Configuration and information
    --config FILE          read settings from this TOML file
    --state-dir DIR        keep NetFlow v9/IPFIX templates and sampling rates in DIR
                           across restarts and crashes [state_dir] (none)
    --check-config         validate everything (the core lists against this machine too),
                           print the effective settings as TOML, exit 0
    --print-default-config print every TOML key with its default and a comment, exit 0
    -h, --help             this text
    -v, --version          print the version (`coreflow X.Y.Z`), exit 0

FILES
    /etc/coreflow/coreflow.toml           settings read by the systemd unit
    /lib/systemd/system/coreflow.service  the systemd unit (Type=notify)
    /usr/lib/sysctl.d/60-coreflow.conf    net.core.rmem_max, netdev_max_backlog
    /usr/share/doc/coreflow/              README, tuning guide, presets (examples/)
    /usr/share/coreflow/proto/            the output schemas (.proto)

ENVIRONMENT
    KAFKA_SASL_USER, KAFKA_SASL_PASS      SASL/PLAIN credentials (-kafka.sasl)
    COREFLOW_RESOLVER=IP:PORT             DNS server for -kafka.out.srv (default: the first
                                          nameserver of /etc/resolv.conf)
    NOTIFY_SOCKET                         set by systemd: READY=1 is sent once every
                                          listener is bound, STOPPING=1 on shutdown

SIGNALS
    SIGTERM, SIGINT        stop reading, drain what the sockets hold, flush every batch
                           (Kafka: wait up to kafka.shutdown_timeout_ms), exit
    second SIGTERM/SIGINT  exit at once, status 1

EXIT STATUS
    0   stopped by SIGTERM/SIGINT with every batch flushed; --check-config, --help and
        --version succeeded
    1   runtime failure (a port in use, the output failed, a second signal)
    2   invalid setting or command line: one line naming it, before any socket is opened

EXAMPLES
    coreflow                               NetFlow/IPFIX :2055, sFlow :6343, JSON lines
    coreflow -fworkers 4 --format pb --output /var/lib/coreflow/flows.pb
    coreflow -kafka.out.brokers 10.0.0.1:9092 -kafka.out.topic flow-messages
    coreflow --check-config --config /etc/coreflow/coreflow.toml
    coreflow --print-default-config > coreflow.toml
    coreflow replay capture.pcap | head

SEE ALSO
    README.md and tuning/README.md (installed in /usr/share/doc/coreflow/),
    coreflow-flowgen --help (flowgen, the load generator), systemctl(1), sysctl.d(5)";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Settings {
        match parse_args(&args(s)).unwrap() {
            Command::Run(s) | Command::CheckConfig(s) => *s,
            c => panic!("{c:?}"),
        }
    }

    fn err(s: &str) -> ConfigError {
        parse_args(&args(s)).unwrap_err()
    }

    #[test]
    fn defaults_are_goflows() {
        let s = run("");
        assert!(s.netflow.enabled && s.sflow.enabled);
        assert_eq!((s.netflow.port, s.sflow.port), (2055, 6343));
        assert_eq!((s.netflow.sockets, s.sflow.sockets), (1, 1));
        assert_eq!(s.netflow.address, BindAddr::Any);
        assert!(!s.netflow.reuseport);
        assert_eq!(s.output.sink, SinkSettings::Stdout);
        assert_eq!(s.output.format, Format::Json);
        assert_eq!(s.kafka.topic, "flow-messages");
        assert_eq!(s.kafka.brokers, vec!["127.0.0.1:9092", "[::1]:9092"]);
        assert!(s.kafka.enabled && !s.kafka.configured);
        assert_eq!(s.metrics.address, ":8080");
        assert_eq!(s.metrics.templates_path, "/templates");
        assert_eq!(s.receive.batch, 64);
        assert_eq!(s.log.level, Level::Info);
    }

    #[test]
    fn goflow_spellings() {
        let s = run(
            "-netflow=false -sport 7000 --saddr=127.0.0.1 -sworkers=3 -sreuse \
                     -loglevel debug --logfmt json -kafka=false -kafka.out.topic t \
                     -metrics.addr 127.0.0.1:9100 -templates.path /t --format=pb \
                     --schema goflow2 --output /tmp/x",
        );
        assert!(!s.netflow.enabled);
        assert_eq!(s.sflow.port, 7000);
        assert_eq!(s.sflow.address, BindAddr::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(s.sflow.sockets, 3);
        assert!(s.sflow.reuseport);
        assert_eq!(s.log.level, Level::Debug);
        assert_eq!(s.log.format, LogFormat::Json);
        assert!(!s.kafka.enabled);
        assert_eq!(s.kafka.topic, "t");
        assert_eq!(s.metrics.address, "127.0.0.1:9100");
        assert_eq!(s.output.format, Format::Pb);
        assert_eq!(s.output.schema, Schema::Goflow2);
        assert_eq!(s.output.sink, SinkSettings::File("/tmp/x".into()));
        assert!(matches!(parse_args(&args("-v")), Ok(Command::Version)));
        assert!(matches!(parse_args(&args("--help")), Ok(Command::Help)));
        assert!(matches!(
            parse_args(&args("--check-config")),
            Ok(Command::CheckConfig(_))
        ));
    }

    #[test]
    fn kafka_brokers_select_kafka() {
        let s = run("-kafka.out.brokers 10.0.0.1:9092");
        assert_eq!(s.output.sink, SinkSettings::Kafka);
        let s = run("-kafka.out.brokers 10.0.0.1:9092 -kafka=false");
        assert_eq!(s.output.sink, SinkSettings::Stdout);
        let s = run("-kafka.out.brokers 10.0.0.1:9092 --output f");
        assert_eq!(s.output.sink, SinkSettings::File("f".into()));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let e = err("-fport 70000");
        assert!(e.setting.contains("-fport"), "{e}");
        let e = err("-fport abc");
        assert_eq!(e.setting, "-fport");
        assert!(err("--schema nope").to_string().contains("output.schema"));
        assert!(err("--format xml").to_string().contains("output.format"));
        assert!(err("-netflow=maybe").to_string().contains("-netflow"));
        assert!(err("-faddr not-an-ip").to_string().contains("-faddr"));
        assert!(err("-loglevel loud").to_string().contains("-loglevel"));
        assert!(err("-bogus").to_string().contains("-bogus"));
        assert!(err("stray").to_string().contains("stray"));
        assert!(err("-fport").to_string().contains("needs a value"));
        assert!(err("-netflow=false -sflow=false")
            .to_string()
            .contains("disabled"));
        assert!(err("-sport 2055").to_string().contains("sflow.port"));
        assert!(err("--config /nonexistent/x.toml")
            .to_string()
            .starts_with("--config"));
        assert!(err("-kafka.out.brokers nohost")
            .to_string()
            .contains("kafka.brokers"));
    }

    #[test]
    fn toml_and_precedence() {
        let raw = RawConfig::from_toml(
            "[netflow]\nport = 9995\nsockets = 2\ncores = [1]\n[output]\nformat = \"pb\"\n",
            "t.toml",
        )
        .unwrap();
        let mut origins = Origins::default();
        let s = Settings::from_raw(&raw, &origins).unwrap();
        assert_eq!((s.netflow.port, s.netflow.sockets), (9995, 2));
        assert_eq!(s.netflow.cores, Some(vec![1]));
        assert_eq!(s.output.format, Format::Pb);
        // a flag beats the file
        let mut raw2 = raw.clone();
        apply(&mut raw2, "netflow.port", "-fport", "9996").unwrap();
        origins.0.insert("netflow.port", "-fport".into());
        assert_eq!(
            Settings::from_raw(&raw2, &origins).unwrap().netflow.port,
            9996
        );
    }

    #[test]
    fn toml_errors_are_one_line_and_named() {
        let e = RawConfig::from_toml("[netflow]\nprot = 1\n", "x.toml").unwrap_err();
        assert!(e.setting.contains("x.toml line 2"), "{e}");
        assert!(e.to_string().contains("prot"), "{e}");
        assert!(!e.to_string().contains('\n'));
        let e = RawConfig::from_toml("[netflow]\ncores = []\n", "x.toml").unwrap();
        let e = Settings::from_raw(&e, &Origins::default()).unwrap_err();
        assert_eq!(e.setting, "netflow.cores");
        let e = RawConfig::from_toml("[netflow]\nport = \"x\"\n", "x.toml").unwrap_err();
        assert!(!e.to_string().contains('\n'));
        assert_eq!(e.setting, "x.toml line 2 (netflow.port)");
    }

    #[test]
    fn cores_resolve() {
        let s = run("-fworkers 3 -sworkers 2");
        let c = s.resolve(&[0, 1]).unwrap();
        assert_eq!(c, vec![vec![0, 1, 0], vec![1, 0]]);
        let raw = RawConfig::from_toml("[sflow]\ncores = [5]\n", "t").unwrap();
        let s = Settings::from_raw(&raw, &Origins::default()).unwrap();
        let e = s.resolve(&[0, 1]).unwrap_err();
        assert_eq!(e.setting, "sflow.cores");
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }

    #[test]
    fn default_config_template_is_the_defaults() {
        // the template sets every key the effective settings print (cores, brokers, srv and
        // counters_topic are commented out: their default is "unset"), to the default value
        let raw = RawConfig::from_toml(DEFAULT_CONFIG, "default.toml").unwrap();
        let from_template = Settings::from_raw(&raw, &Origins::default()).unwrap();
        let defaults = Settings::from_raw(&RawConfig::default(), &Origins::default()).unwrap();
        assert_eq!(from_template.to_toml(None), defaults.to_toml(None));
        let written: toml::Value = toml::from_str(&toml::to_string(&raw).unwrap()).unwrap();
        let effective: toml::Value = toml::from_str(&defaults.to_toml(None)).unwrap();
        assert_eq!(
            written, effective,
            "a key is missing from or extra in the template"
        );
        // the commented-out keys still parse when uncommented
        let uncommented: String = DEFAULT_CONFIG
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let raw = RawConfig::from_toml(&uncommented, "uncommented").unwrap();
        assert!(raw.kafka.brokers.is_some() && raw.netflow.cores.is_some());
        assert!(raw.kafka.librdkafka.is_some() && raw.kafka.counters_topic.is_some());
    }

    #[test]
    fn effective_toml_round_trips() {
        let s = run("-fport 0 -sworkers 2 --format pb --output /tmp/o -kafka.out.brokers h:1");
        let text = s.to_toml(Some(&s.resolve(&[0, 1]).unwrap()));
        let raw = RawConfig::from_toml(&text, "effective").unwrap();
        let back = Settings::from_raw(&raw, &Origins::default()).unwrap();
        assert_eq!(back.sflow.cores, Some(vec![1, 0]));
        let mut s2 = s.clone();
        s2.netflow.cores = back.netflow.cores.clone();
        s2.sflow.cores = back.sflow.cores.clone();
        assert_eq!(back, s2);
    }
}
