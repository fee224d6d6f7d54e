//! Validation of the security settings: Kafka's TLS files and SASL (`kafka.tls_*`,
//! `kafka.sasl_*`) and the metrics endpoint's web config (`metrics.web_config`).
//!
//! Setting any TLS file turns TLS on, and setting any SASL key turns SASL on, unless
//! `kafka.tls` / `kafka.sasl` is explicitly false (then it is an error). The Kafka files are
//! opened when the producer is created (still before any socket, exit status 2), not here, so
//! that a config written for another host validates (tests/tuning.rs checks the shipped
//! ones); the SASL password is read only then too, so it is never part of the settings (and
//! `--check-config` cannot print it). The web config is loaded and checked here.

use super::raw::RawKafka;
use super::settings::V;
use crate::error::ConfigError;
use crate::sink::settings::{KafkaSasl, KafkaTls, SaslMechanism};
use std::path::{Path, PathBuf};

impl V<'_> {
    /// A file path (not empty; opened when the producer is created).
    fn file(&self, key: &'static str, p: &Option<String>) -> Result<Option<PathBuf>, ConfigError> {
        match p.as_deref() {
            None => Ok(None),
            Some("") => Err(self.err(key, "empty path")),
            Some(p) => Ok(Some(PathBuf::from(p))),
        }
    }

    /// `kafka.tls` and its files: (TLS on, its settings).
    pub(super) fn kafka_tls(&self, k: &RawKafka) -> Result<(bool, KafkaTls), ConfigError> {
        let tls = KafkaTls {
            ca: self.file("kafka.tls_ca", &k.tls_ca)?,
            cert: self.file("kafka.tls_cert", &k.tls_cert)?,
            key: self.file("kafka.tls_key", &k.tls_key)?,
            verify_hostname: k.tls_verify_hostname.unwrap_or(true),
        };
        match (&tls.cert, &tls.key) {
            (Some(_), None) => return Err(self.err("kafka.tls_cert", "needs kafka.tls_key")),
            (None, Some(_)) => return Err(self.err("kafka.tls_key", "needs kafka.tls_cert")),
            _ => {}
        }
        let any = tls.ca.is_some() || tls.cert.is_some() || k.tls_verify_hostname.is_some();
        let on = k.tls.unwrap_or(any);
        if any && !on {
            let key = if tls.ca.is_some() {
                "kafka.tls_ca"
            } else if tls.cert.is_some() {
                "kafka.tls_cert"
            } else {
                "kafka.tls_verify_hostname"
            };
            return Err(self.err(key, "set, but kafka.tls = false"));
        }
        Ok((on, if on { tls } else { KafkaTls::default() }))
    }

    /// `kafka.sasl` and its mechanism and credentials: (SASL on, its settings).
    pub(super) fn kafka_sasl(&self, k: &RawKafka) -> Result<(bool, KafkaSasl), ConfigError> {
        let mechanism = match k.sasl_mechanism.as_deref() {
            None => SaslMechanism::Plain,
            Some(s) => SaslMechanism::parse(s).ok_or_else(|| {
                self.err(
                    "kafka.sasl_mechanism",
                    format!(
                        "unknown SASL mechanism {s:?} ({})",
                        SaslMechanism::NAMES.join(", ")
                    ),
                )
            })?,
        };
        let sasl = KafkaSasl {
            mechanism,
            username: k.sasl_username.clone(),
            password_file: self.file("kafka.sasl_password_file", &k.sasl_password_file)?,
        };
        if sasl.username.as_deref() == Some("") {
            return Err(self.err("kafka.sasl_username", "empty user name"));
        }
        let any =
            k.sasl_mechanism.is_some() || sasl.username.is_some() || sasl.password_file.is_some();
        let on = k.sasl.unwrap_or(any);
        if any && !on {
            let key = if k.sasl_mechanism.is_some() {
                "kafka.sasl_mechanism"
            } else if sasl.username.is_some() {
                "kafka.sasl_username"
            } else {
                "kafka.sasl_password_file"
            };
            return Err(self.err(key, "set, but kafka.sasl = false"));
        }
        Ok((on, if on { sasl } else { KafkaSasl::default() }))
    }

    /// `metrics.web_config`: loaded and checked now (certificates, key, CA, hashes), and
    /// loaded again by the endpoint when it starts.
    pub(super) fn web_config(&self, p: &Option<String>) -> Result<Option<PathBuf>, ConfigError> {
        let Some(p) = p.as_deref().filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let setting = self.err("metrics.web_config", "").setting;
        crate::webconfig::WebConfig::load(Path::new(p), &setting)?;
        Ok(Some(PathBuf::from(p)))
    }
}
