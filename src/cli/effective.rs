//! The settings written back as TOML: `--check-config` prints the effective settings, and
//! `--print-default-config` the commented template of every key at its default.
//!
//! The effective settings go through the raw structs ([`RawConfig`]), so what is printed
//! loads back into the same settings (a test holds it to that), with the core of every
//! worker filled in once resolved. [`DEFAULT_CONFIG`] is `tuning/default.toml`, which the
//! Debian package installs as `/etc/coreflow/coreflow.toml`; a test keeps it equal to the
//! defaults.

use super::raw::{
    RawBatch, RawBind, RawCluster, RawConfig, RawKafka, RawKey, RawLimits, RawListener, RawLog,
    RawMetrics, RawOutput, RawReceive, RawScalar,
};
use super::settings::{ListenerSettings, Settings};
use super::validate_listen::bind_addr_text;
use crate::encode::key::KeyMode;
use crate::encode::Format;
use crate::sink::settings::{MessageMode, SinkSettings};

/// Every TOML key with its default value and a comment (`--print-default-config`, and the
/// Debian package's `/etc/coreflow/coreflow.toml`). A test keeps it equal to the defaults.
pub const DEFAULT_CONFIG: &str = include_str!("../../tuning/default.toml");

impl Settings {
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
            // the resolved cores are in worker order: cut them per bind
            let mut first = 0;
            let mut per_bind = l.binds.iter().map(|b| {
                let c = match &resolved {
                    Some(all) => Some(all.iter().skip(first).take(b.sockets).copied().collect()),
                    None => b.cores.clone(),
                };
                first += b.sockets;
                (
                    bind_addr_text(b.address),
                    b.sockets as i64,
                    c.map(|c| c.into_iter().map(|x| x as i64).collect()),
                )
            });
            let mut raw = RawListener {
                enabled: Some(l.enabled),
                port: Some(l.port.into()),
                reuseport: Some(l.reuseport),
                allow: (!l.allow.is_empty()).then(|| l.allow.texts()),
                ..RawListener::default()
            };
            if l.bind_list {
                raw.bind = Some(
                    per_bind
                        .map(|(address, sockets, cores)| RawBind {
                            address: Some(address),
                            sockets: Some(sockets),
                            cores,
                        })
                        .collect(),
                );
            } else if let Some((address, sockets, cores)) = per_bind.next() {
                raw.address = Some(address);
                raw.sockets = Some(sockets);
                raw.cores = cores;
            }
            raw
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
                renormalize: Some(self.output.renormalize),
                instance_field: Some(self.output.instance_field),
                rotate_bytes: Some(self.output.rotation.as_ref().map_or(0, |r| r.bytes as i64)),
                rotate_interval_s: Some(
                    self.output
                        .rotation
                        .as_ref()
                        .and_then(|r| r.interval)
                        .map_or(0, |i| i.as_secs() as i64),
                ),
                rotate_pattern: self.output.rotation.as_ref().map(|r| r.pattern.clone()),
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
                tls_ca: path(&self.kafka.tls_files.ca),
                tls_cert: path(&self.kafka.tls_files.cert),
                tls_key: path(&self.kafka.tls_files.key),
                tls_verify_hostname: self
                    .kafka
                    .tls
                    .then_some(self.kafka.tls_files.verify_hostname),
                sasl_mechanism: self
                    .kafka
                    .sasl
                    .then(|| self.kafka.sasl_auth.mechanism.name().to_string()),
                sasl_username: self.kafka.sasl_auth.username.clone(),
                sasl_password_file: path(&self.kafka.sasl_auth.password_file),
                key: Some(match self.kafka.key {
                    KeyMode::None => RawKey::One("none".into()),
                    KeyMode::Exporter => RawKey::One("by-exporter".into()),
                    KeyMode::Fields(f) => RawKey::Fields(f.names().map(String::from).collect()),
                }),
                hashing: None,
                // batched messages are always delimited: "plain" would not read back
                framing: match (self.kafka.varint, self.kafka.messages) {
                    (true, _) => Some("varint".into()),
                    (false, MessageMode::Batched) => None,
                    (false, MessageMode::PerFlow) => Some("plain".into()),
                },
                messages: Some(self.kafka.messages.name().into()),
                max_message_bytes: Some(self.kafka.max_message_bytes as i64),
                producers: Some(self.kafka.producers as i64),
                instance_header: Some(self.kafka.instance_header),
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
                        .map(|(k, v)| (k.clone(), RawScalar::Str(redact(k, v))))
                        .collect()
                }),
            },
            metrics: RawMetrics {
                address: Some(self.metrics.address.clone()),
                path: Some(self.metrics.path.clone()),
                templates_path: Some(self.metrics.templates_path.clone()),
                max_exporters: Some(self.metrics.max_exporters as i64),
                web_config: path(&self.metrics.web_config),
            },
            cluster: RawCluster {
                // unset means the host name, which the file keeps meaning
                instance: self.cluster.instance.clone(),
                templates_topic: self.cluster.templates_topic.clone(),
                load_timeout_ms: Some(self.cluster.load_timeout.as_millis() as i64),
            },
        };
        let sink = match &self.output.sink {
            SinkSettings::Stdout => "stdout".to_string(),
            SinkSettings::File(p) => format!("file {}", p.display()),
            SinkSettings::Kafka => format!("kafka topic {}", self.kafka.topic),
        };
        // the SASL password is never a setting: say where it comes from, never what it is
        let secret = if self.kafka.sasl {
            match &self.kafka.sasl_auth.password_file {
                Some(p) => format!(
                    "# kafka SASL password: read from {} (not shown)\n",
                    p.display()
                ),
                None => "# kafka SASL password: from KAFKA_SASL_PASS (not shown)\n".to_string(),
            }
        } else {
            String::new()
        };
        format!(
            "# coreflow effective settings (output: {sink})\n{secret}{}",
            toml::to_string(&raw).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
        )
    }
}

fn path(p: &Option<std::path::PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// A passthrough property that may hold a secret (`ssl.key.password`,
/// `sasl.oauthbearer.client.secret`, ...) is printed as `<redacted>`.
fn redact(key: &str, v: &str) -> String {
    let k = key.to_ascii_lowercase();
    if ["password", "secret", "passphrase", "token", "credential"]
        .iter()
        .any(|w| k.contains(w))
    {
        "<redacted>".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::run;
    use crate::cli::Origins;

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
        assert_eq!(back.sflow.binds[0].cores, Some(vec![1, 0]));
        let mut s2 = s.clone();
        s2.netflow.binds[0].cores = back.netflow.binds[0].cores.clone();
        s2.sflow.binds[0].cores = back.sflow.binds[0].cores.clone();
        assert_eq!(back, s2);
        // a bind list is written back as a list, each bind with its own cores
        let raw = RawConfig::from_toml(
            "[[netflow.bind]]\naddress = \"127.0.0.1\"\nsockets = 2\ncores = [1]\n\
             [[netflow.bind]]\naddress = \"127.0.0.2\"\n",
            "t",
        )
        .unwrap();
        let s = Settings::from_raw(&raw, &Origins::default()).unwrap();
        let text = s.to_toml(Some(&s.resolve(&[0, 1, 2, 3]).unwrap()));
        let back = RawConfig::from_toml(&text, "effective").unwrap();
        let binds = back.netflow.bind.as_ref().unwrap();
        assert_eq!(binds.len(), 2, "{text}");
        assert_eq!(binds[0].cores, Some(vec![1, 1]));
        assert_eq!(binds[1].address.as_deref(), Some("127.0.0.2"));
        assert_eq!(binds[1].cores, Some(vec![1]), "{text}");
        assert!(back.netflow.address.is_none() && back.netflow.sockets.is_none());
        let again = Settings::from_raw(&back, &Origins::default()).unwrap();
        assert_eq!(again.netflow.binds.len(), 2);
    }
}
