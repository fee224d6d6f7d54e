//! Validation of what coreflow tells about itself: `[log]`, `[metrics]` and `[cluster]` (its
//! name, and the topic it shares templates through).
//!
//! The metrics address is `[host]:port` (GoFlow's `:8080` form included); `""` or `off`
//! turns the endpoint off. Its paths must be absolute so they cannot collide silently.

use super::raw::{RawCluster, RawLog, RawMetrics};
use super::settings::{
    looks_like_host_port, valid_instance, ClusterSettings, LogSettings, MetricsSettings, V,
};
use crate::error::ConfigError;
use crate::logging::{Level, LogFormat};
use std::time::Duration;

impl V<'_> {
    /// `[log]`.
    pub(super) fn log(&self, lg: &RawLog) -> Result<LogSettings, ConfigError> {
        Ok(LogSettings {
            level: match lg.level.as_deref() {
                None => Level::Info,
                Some(s) => Level::parse(s).ok_or_else(|| {
                    self.err(
                        "log.level",
                        format!("unknown level {s:?} ({})", Level::NAMES.join(", ")),
                    )
                })?,
            },
            format: match lg.format.as_deref() {
                None => LogFormat::Normal,
                Some(s) => LogFormat::parse(s).ok_or_else(|| {
                    self.err("log.format", format!("unknown format {s:?} (normal, json)"))
                })?,
            },
        })
    }

    /// `[metrics]`.
    pub(super) fn metrics(&self, m: &RawMetrics) -> Result<MetricsSettings, ConfigError> {
        let metrics = MetricsSettings {
            address: m.address.clone().unwrap_or_else(|| ":8080".into()),
            path: m.path.clone().unwrap_or_else(|| "/metrics".into()),
            templates_path: m
                .templates_path
                .clone()
                .unwrap_or_else(|| "/templates".into()),
            max_exporters: self.int("metrics.max_exporters", m.max_exporters, 1000, 1, 1_000_000)?
                as usize,
            web_config: self.web_config(&m.web_config)?,
        };
        for (key, p) in [
            ("metrics.path", &metrics.path),
            ("metrics.templates_path", &metrics.templates_path),
        ] {
            if !p.starts_with('/') {
                return Err(self.err(key, format!("{p:?} must start with /")));
            }
        }
        if metrics.enabled()
            && !looks_like_host_port(&metrics.address)
            && !metrics.address.starts_with(':')
        {
            return Err(self.err(
                "metrics.address",
                format!("{:?} is not [host]:port", metrics.address),
            ));
        }
        Ok(metrics)
    }

    /// `[cluster]`.
    pub(super) fn cluster(&self, c: &RawCluster) -> Result<ClusterSettings, ConfigError> {
        if let Some(i) = &c.instance {
            if !valid_instance(i) {
                return Err(self.err(
                    "cluster.instance",
                    format!("{i:?} must be 1 to 255 letters, digits and . - _ :"),
                ));
            }
        }
        let templates_topic = c.templates_topic.clone().filter(|t| !t.is_empty());
        if let Some(t) = &templates_topic {
            // Kafka's own rule for topic names
            if t.len() > 249
                || t == "."
                || t == ".."
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return Err(self.err(
                    "cluster.templates_topic",
                    format!(
                        "{t:?} is not a Kafka topic name (letters, digits, . _ -; at most 249)"
                    ),
                ));
            }
        }
        Ok(ClusterSettings {
            instance: c.instance.clone(),
            templates_topic,
            load_timeout: Duration::from_millis(self.int(
                "cluster.load_timeout_ms",
                c.load_timeout_ms,
                5000,
                0,
                600_000,
            )? as u64),
        })
    }
}
