//! Stage one of the configuration: the TOML file as written, and the flags set on top of it.
//!
//! [`RawConfig`] mirrors the file: every key optional (absent means "the default"), unknown
//! keys and wrong types rejected with one error naming the file, the line and the dotted key.
//! Nothing here checks ranges or meanings; [`super::Settings::from_raw`] does, so a value
//! from a flag and the same value from the file meet the same checks. [`RawConfig::set`]
//! writes one flag's text into its key (the flag beats the file); the effective settings are
//! written back through these same structs (`--check-config`), so they load again.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    pub cluster: RawCluster,
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
    /// `[[netflow.bind]]`: several addresses, each its own socket group and cores (instead of
    /// `address`, `sockets` and `cores`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<Vec<RawBind>>,
}

/// `[cluster]`: this collector's name, and the templates shared with the other collectors.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCluster {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_timeout_ms: Option<i64>,
}

/// One entry of a listener's `bind` list; the port is the listener's.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawBind {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<Vec<i64>>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renormalize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_field: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_interval_s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_pattern: Option<String>,
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
    /// PEM file of the CA that signs the brokers' certificates (TLS on when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<String>,
    /// Client certificate (PEM) for brokers that ask for one (mTLS), with `tls_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// Check the broker's name against its certificate (true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_verify_hostname: Option<bool>,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (SASL on when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<String>,
    /// The SASL user (absent: `KAFKA_SASL_USER`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_username: Option<String>,
    /// A file holding the SASL password (absent: `KAFKA_SASL_PASS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_password_file: Option<String>,
    /// `"none"`, `"by-exporter"`, a list of GoFlow field names, or them comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<RawKey>,
    /// GoFlow's `-kafka.hashing`: key by `key` fields (default `SamplerAddress,DstAS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashing: Option<bool>,
    /// `plain` (GoFlow v2) or `varint` (length-prefixed, `-proto.fixedlen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<String>,
    /// `per-flow` (one flow per Kafka message, GoFlow's) or `batched`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<String>,
    /// Largest batched Kafka message, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<i64>,
    /// Output threads, each with its own producer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producers: Option<i64>,
    /// The `coreflow-instance` header on every record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_header: Option<bool>,
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
    pub(super) fn text(&self) -> String {
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
    /// The exporter-toolkit web config file (TLS, client CA, basic-auth users).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_config: Option<String>,
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

/// Go's `strconv.ParseBool`, the boolean values GoFlow's flags take.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
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

impl RawConfig {
    /// Sets the TOML `key` from the text of a flag spelled `flag` (named in errors). Booleans
    /// take Go's spellings, integers are checked for syntax only.
    pub fn set(&mut self, key: &str, flag: &str, val: &str) -> Result<(), ConfigError> {
        let b = || {
            parse_bool(val).ok_or_else(|| {
                ConfigError::new(flag, format!("{val:?} is not a boolean (true, false)"))
            })
        };
        let s = || Some(val.to_string());
        let raw = self;
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
            "kafka.tls_ca" => raw.kafka.tls_ca = s(),
            "kafka.tls_cert" => raw.kafka.tls_cert = s(),
            "kafka.tls_key" => raw.kafka.tls_key = s(),
            "kafka.tls_verify_hostname" => raw.kafka.tls_verify_hostname = Some(b()?),
            "kafka.sasl_mechanism" => raw.kafka.sasl_mechanism = s(),
            "kafka.sasl_username" => raw.kafka.sasl_username = s(),
            "kafka.sasl_password_file" => raw.kafka.sasl_password_file = s(),
            "kafka.hashing" => raw.kafka.hashing = Some(b()?),
            "kafka.compression" => raw.kafka.compression = s(),
            "kafka.messages" => raw.kafka.messages = s(),
            "kafka.producers" => raw.kafka.producers = Some(parse_int(flag, val)?),
            "kafka.instance_header" => raw.kafka.instance_header = Some(b()?),
            "kafka.key" => raw.kafka.key = Some(RawKey::One(val.to_string())),
            "kafka.framing" => {
                raw.kafka.framing = Some(if b()? { "varint" } else { "plain" }.into())
            }
            "metrics.address" => raw.metrics.address = s(),
            "metrics.path" => raw.metrics.path = s(),
            "metrics.templates_path" => raw.metrics.templates_path = s(),
            "metrics.max_exporters" => raw.metrics.max_exporters = Some(parse_int(flag, val)?),
            "metrics.web_config" => raw.metrics.web_config = s(),
            "cluster.instance" => raw.cluster.instance = s(),
            "cluster.templates_topic" => raw.cluster.templates_topic = s(),
            "cluster.load_timeout_ms" => raw.cluster.load_timeout_ms = Some(parse_int(flag, val)?),
            "output.format" => raw.output.format = s(),
            "output.schema" => raw.output.schema = s(),
            "output.file" => raw.output.file = s(),
            "output.renormalize" => raw.output.renormalize = Some(b()?),
            "output.instance_field" => raw.output.instance_field = Some(b()?),
            "output.rotate_bytes" => raw.output.rotate_bytes = Some(parse_int(flag, val)?),
            "output.rotate_interval_s" => {
                raw.output.rotate_interval_s = Some(parse_int(flag, val)?)
            }
            "output.rotate_pattern" => raw.output.rotate_pattern = s(),
            _ => unreachable!("no flag sets the key {key}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Origins, Settings};

    #[test]
    fn toml_and_precedence() {
        let raw = RawConfig::from_toml(
            "[netflow]\nport = 9995\nsockets = 2\ncores = [1]\n[output]\nformat = \"pb\"\n",
            "t.toml",
        )
        .unwrap();
        let mut origins = Origins::default();
        let s = Settings::from_raw(&raw, &origins).unwrap();
        assert_eq!((s.netflow.port, s.netflow.binds[0].sockets), (9995, 2));
        assert_eq!(s.netflow.binds[0].cores, Some(vec![1]));
        assert_eq!(s.output.format, crate::encode::Format::Pb);
        // a flag beats the file
        let mut raw2 = raw.clone();
        raw2.set("netflow.port", "-fport", "9996").unwrap();
        origins.set("netflow.port", "-fport");
        assert_eq!(
            Settings::from_raw(&raw2, &origins).unwrap().netflow.port,
            9996
        );
        // and is named in errors, with the key
        raw2.set("netflow.port", "-fport", "70000").unwrap();
        let e = Settings::from_raw(&raw2, &origins).unwrap_err();
        assert_eq!(e.setting, "-fport (netflow.port)");
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
}
