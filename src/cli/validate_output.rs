//! Validation of what comes out: `[output]` (format, schema, file) and `[kafka]`.
//!
//! The sink follows from both: a file when `output.file` is set, Kafka when brokers or an
//! SRV record are configured (and `kafka.enabled`), stdout otherwise. Kafka carries protobuf
//! unless JSON was asked for. librdkafka properties that coreflow sets itself are refused
//! here, before librdkafka sees them; what only librdkafka can judge is checked when the
//! sink opens (`output::kafka`), still before any socket.

use super::raw::{RawKafka, RawKey, RawOutput};
use super::settings::{looks_like_host_port, DEFAULT_BROKERS, V};
use crate::encode::key::{KeyFields, KeyMode, GOFLOW_DEFAULT_KEY};
use crate::encode::schema::Schema;
use crate::encode::Format;
use crate::error::ConfigError;
use crate::sink::settings::{
    KafkaSettings, MessageMode, OutputSettings, Rotation, SinkSettings, DEFAULT_ROTATE_PATTERN,
    ROTATE_PLACEHOLDERS,
};
use std::path::PathBuf;
use std::time::Duration;

/// Default largest batched Kafka message: a quarter of the 1 MB that librdkafka
/// (`message.max.bytes`) and Kafka brokers (`message.max.bytes`) accept by default.
pub const DEFAULT_MAX_MESSAGE_BYTES: i64 = 262_144;

/// Default librdkafka `linger.ms`, by message mode. Per-flow: 5 ms (20 ms cost 10-30% more
/// CPU per record at 500k records/s, and 8 ms more median latency). Batched: 20 ms (7% less
/// CPU per record than 5 ms at 1M records/s, 0.5 ms more median latency). Both measured
/// with `tuning/kafka-bench.sh --linger MS`, runs interleaved (docs/performance.md).
pub const DEFAULT_LINGER_MS: i64 = 5;
pub const DEFAULT_LINGER_MS_BATCHED: i64 = 20;

impl V<'_> {
    /// `output.format` and `output.schema` (the format may still change with the sink).
    pub(super) fn encoding(&self, o: &RawOutput) -> Result<(Format, Schema), ConfigError> {
        let format = match o.format.as_deref() {
            None => Format::Json,
            Some(s) => Format::parse(s).ok_or_else(|| {
                self.err("output.format", format!("unknown format {s:?} (json, pb)"))
            })?,
        };
        let schema = match o.schema.as_deref() {
            None => Schema::default(),
            Some(s) => Schema::parse(s).ok_or_else(|| {
                self.err(
                    "output.schema",
                    format!("unknown schema {s:?} ({})", Schema::NAMES.join(", ")),
                )
            })?,
        };
        Ok((format, schema))
    }

    /// `[kafka]`, whether or not Kafka is the sink.
    pub(super) fn kafka(&self, k: &RawKafka) -> Result<KafkaSettings, ConfigError> {
        let brokers_text = k.brokers.clone().unwrap_or_else(|| DEFAULT_BROKERS.into());
        let brokers: Vec<String> = brokers_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        for b in &brokers {
            if !looks_like_host_port(b) {
                return Err(self.err(
                    "kafka.brokers",
                    format!("{b:?} is not host:port (e.g. 127.0.0.1:9092,[::1]:9092)"),
                ));
            }
        }
        let key_fields = |names: Vec<&str>| {
            KeyFields::parse(names)
                .map(KeyMode::Fields)
                .map_err(|m| self.err("kafka.key", m))
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
        let messages = match k.messages.as_deref() {
            None => MessageMode::PerFlow,
            Some(m) => MessageMode::parse(m).ok_or_else(|| {
                self.err(
                    "kafka.messages",
                    format!("unknown mode {m:?} (per-flow, batched)"),
                )
            })?,
        };
        let varint = match k.framing.as_deref() {
            None => false,
            Some("plain") if messages == MessageMode::Batched => {
                return Err(self.err(
                    "kafka.framing",
                    "messages = \"batched\" holds varint-delimited flows: framing must be \
                     \"varint\" or unset",
                ))
            }
            Some("plain") => false,
            Some("varint") => true,
            Some(f) => {
                return Err(self.err(
                    "kafka.framing",
                    format!("unknown framing {f:?} (plain, varint)"),
                ))
            }
        };
        let compression = k.compression.clone().unwrap_or_else(|| "none".into());
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&compression.as_str()) {
            return Err(self.err(
                "kafka.compression",
                format!("unknown codec {compression:?} (none, gzip, snappy, lz4, zstd)"),
            ));
        }
        let acks = match &k.acks {
            None => "all".to_string(),
            Some(a) => match a.text().as_str() {
                "all" | "-1" => "all".to_string(),
                a @ ("0" | "1") => a.to_string(),
                a => return Err(self.err("kafka.acks", format!("{a:?} is not all, 1 or 0"))),
            },
        };
        let idempotence = k.idempotence.unwrap_or(acks == "all");
        if idempotence && acks != "all" {
            return Err(self.err(
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
        let (tls, tls_files) = self.kafka_tls(k)?;
        let (sasl, sasl_auth) = self.kafka_sasl(k)?;
        let kafka = KafkaSettings {
            enabled: k.enabled.unwrap_or(true),
            topic: k.topic.clone().unwrap_or_else(|| "flow-messages".into()),
            brokers,
            srv: k.srv.clone().unwrap_or_default(),
            tls,
            sasl,
            configured: k.brokers.is_some() || k.srv.as_deref().is_some_and(|s| !s.is_empty()),
            key,
            varint,
            messages,
            max_message_bytes: self.int(
                "kafka.max_message_bytes",
                k.max_message_bytes,
                DEFAULT_MAX_MESSAGE_BYTES,
                1024,
                960_000,
            )? as usize,
            producers: self.int("kafka.producers", k.producers, 1, 1, 64)? as usize,
            instance_header: k.instance_header.unwrap_or(false),
            counters_topic,
            compression,
            linger_ms: self.int(
                "kafka.linger_ms",
                k.linger_ms,
                match messages {
                    MessageMode::PerFlow => DEFAULT_LINGER_MS,
                    MessageMode::Batched => DEFAULT_LINGER_MS_BATCHED,
                },
                0,
                900_000,
            )? as u64,
            batch_size: self.int(
                "kafka.batch_size",
                k.batch_size,
                1_000_000,
                1,
                2_147_483_647,
            )? as u64,
            acks,
            idempotence,
            queue_size: self.int(
                "kafka.queue_size",
                k.queue_size,
                1_000_000,
                1,
                2_147_483_647,
            )? as u64,
            message_timeout_ms: self.int(
                "kafka.message_timeout_ms",
                k.message_timeout_ms,
                300_000,
                0,
                2_147_483_647,
            )? as u64,
            queue_full_wait: Duration::from_millis(self.int(
                "kafka.queue_full_wait_ms",
                k.queue_full_wait_ms,
                500,
                0,
                60_000,
            )? as u64),
            shutdown_timeout: Duration::from_millis(self.int(
                "kafka.shutdown_timeout_ms",
                k.shutdown_timeout_ms,
                10_000,
                0,
                3_600_000,
            )? as u64),
            librdkafka,
            tls_files,
            sasl_auth,
        };
        if kafka.enabled && kafka.configured && kafka.topic.is_empty() {
            return Err(self.err("kafka.topic", "empty topic"));
        }
        if kafka.enabled && kafka.configured && kafka.brokers.is_empty() && kafka.srv.is_empty() {
            return Err(self.err("kafka.brokers", "no brokers"));
        }
        Ok(kafka)
    }

    /// The sink, and the format it gets.
    pub(super) fn output(
        &self,
        o: &RawOutput,
        format: Format,
        schema: Schema,
        kafka: &KafkaSettings,
    ) -> Result<OutputSettings, ConfigError> {
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
            return Err(self.err(
                "kafka.framing",
                "varint framing needs protobuf (output.format = \"pb\")",
            ));
        }
        let rotation = self.rotation(o, &sink)?;
        Ok(OutputSettings {
            format,
            schema,
            sink,
            renormalize: o.renormalize.unwrap_or(false),
            instance_field: o.instance_field.unwrap_or(false),
            rotation,
        })
    }

    /// `output.rotate_*`: only with a file; the pattern must name each rotated file apart
    /// from the output file.
    fn rotation(
        &self,
        o: &RawOutput,
        sink: &SinkSettings,
    ) -> Result<Option<Rotation>, ConfigError> {
        const MAX: i64 = i64::MAX;
        let bytes = self.int("output.rotate_bytes", o.rotate_bytes, 0, 0, MAX)? as u64;
        // a year at most: longer is a typo, not a rotation
        let secs = self.int(
            "output.rotate_interval_s",
            o.rotate_interval_s,
            0,
            0,
            31_622_400,
        )?;
        if bytes > 0 && bytes < 4096 {
            return Err(self.err(
                "output.rotate_bytes",
                format!("{bytes} is too small (0 = off, else at least 4096)"),
            ));
        }
        let pattern = o.rotate_pattern.clone();
        if bytes == 0 && secs == 0 {
            if pattern.is_some() {
                return Err(self.err(
                    "output.rotate_pattern",
                    "needs output.rotate_bytes or output.rotate_interval_s",
                ));
            }
            return Ok(None);
        }
        let key = if bytes > 0 {
            "output.rotate_bytes"
        } else {
            "output.rotate_interval_s"
        };
        if !matches!(sink, SinkSettings::File(_)) {
            return Err(self.err(key, "rotation needs an output file (output.file)"));
        }
        let pattern = pattern.unwrap_or_else(|| DEFAULT_ROTATE_PATTERN.into());
        let mut rest = pattern.clone();
        for p in ROTATE_PLACEHOLDERS {
            rest = rest.replace(p, "");
        }
        if let Some(i) = rest.find(['{', '}']) {
            return Err(self.err(
                "output.rotate_pattern",
                format!(
                    "unknown placeholder near {:?} (use {})",
                    &rest[i..],
                    ROTATE_PLACEHOLDERS.join(" ")
                ),
            ));
        }
        if pattern.trim().is_empty() || pattern.trim() == "{path}" {
            return Err(self.err(
                "output.rotate_pattern",
                "must differ from the output file (add {time}, {unix} or {seq})",
            ));
        }
        Ok(Some(Rotation {
            bytes,
            interval: (secs > 0).then(|| Duration::from_secs(secs as u64)),
            pattern,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::tests::{args, run};
    use crate::cli::{parse_args, CliError};
    use std::time::Duration;

    fn err(s: &str) -> String {
        match parse_args(&args(s)).unwrap_err() {
            CliError::Config(e) => e.to_string(),
            e => panic!("{s}: {e:?}"),
        }
    }

    #[test]
    fn renormalize_instance_and_rotation() {
        let s = run("");
        assert!(!s.output.renormalize && !s.output.instance_field);
        assert_eq!(s.output.rotation, None);
        let s = run(
            "-output.renormalize -output.instance_field=true --output /tmp/f \
                     -output.rotate_bytes 1000000 -output.rotate_interval_s 5",
        );
        assert!(s.output.renormalize && s.output.instance_field);
        let r = s.output.rotation.unwrap();
        assert_eq!(r.bytes, 1_000_000);
        assert_eq!(r.interval, Some(Duration::from_secs(5)));
        assert_eq!(r.pattern, "{path}.{time}");
        let s = run("--output /tmp/f -output.rotate_interval_s 60 \
                     -output.rotate_pattern /archive/{unix}-{seq}.json");
        assert_eq!(
            s.output.rotation.unwrap().pattern,
            "/archive/{unix}-{seq}.json"
        );
    }

    /// Each error is one line naming the setting (as the flag that set it, if one did).
    #[test]
    fn bad_rotation_and_renormalize_settings_are_named() {
        for (cmd, want) in [
            (
                "-output.rotate_bytes 100000",
                "-output.rotate_bytes (output.rotate_bytes): rotation needs an output file",
            ),
            (
                "--output /tmp/f -output.rotate_bytes 10",
                "-output.rotate_bytes (output.rotate_bytes): 10 is too small",
            ),
            (
                "--output /tmp/f -output.rotate_bytes -1",
                "-output.rotate_bytes (output.rotate_bytes): -1 is out of range",
            ),
            (
                "--output /tmp/f -output.rotate_interval_s 99999999",
                "-output.rotate_interval_s (output.rotate_interval_s): 99999999 is out of range",
            ),
            (
                "--output /tmp/f -output.rotate_pattern x.{seq}",
                "-output.rotate_pattern (output.rotate_pattern): needs output.rotate_bytes",
            ),
            (
                "--output /tmp/f -output.rotate_interval_s 5 -output.rotate_pattern {path}.{date}",
                "-output.rotate_pattern (output.rotate_pattern): unknown placeholder near \"{date}\"",
            ),
            (
                "--output /tmp/f -output.rotate_interval_s 5 -output.rotate_pattern {path}",
                "-output.rotate_pattern (output.rotate_pattern): must differ from the output file",
            ),
            (
                "-output.renormalize=maybe",
                "-output.renormalize: \"maybe\" is not a boolean",
            ),
        ] {
            let e = err(cmd);
            assert!(e.starts_with(want), "{cmd}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let raw = crate::cli::raw::RawConfig::from_toml(
            "[output]\nfile = \"/tmp/f\"\nrotate_bytes = 5\n",
            "t",
        )
        .unwrap();
        let e = crate::cli::Settings::from_raw(&raw, &Default::default()).unwrap_err();
        assert_eq!(e.setting, "output.rotate_bytes");
    }
}
