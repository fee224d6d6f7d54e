//! Validation of what bounds and keeps the decoder's state: `[limits]` and `state_dir`.
//!
//! Every count on the wire is hostile, so each cache and per-datagram count has a limit; the
//! defaults are [`Limits::default`]. A limit of 0 would stop everything and is refused (the
//! template idle timeout, where 0 means "never", is the exception).

use super::raw::RawLimits;
use super::settings::V;
use crate::decode::Limits;
use crate::error::ConfigError;
use std::path::PathBuf;

impl V<'_> {
    /// `[limits]`.
    pub(super) fn limits(&self, l: &RawLimits) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let lim = |key, val, def: usize| {
            self.int(key, val, def as i64, 1, 1 << 40)
                .map(|x| x as usize)
        };
        Ok(Limits {
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
            template_idle_timeout_s: self.int(
                "limits.template_idle_timeout_s",
                l.template_idle_timeout_s,
                d.template_idle_timeout_s as i64,
                0,
                1 << 32,
            )? as u64,
        })
    }

    /// `state_dir`: templates and sampling rates survive a restart there.
    pub(super) fn state_dir(
        &self,
        state_dir: Option<&str>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        Ok(match state_dir {
            None => None,
            Some("") => {
                return Err(self.err("state_dir", "empty path (leave it out to keep no state)"))
            }
            Some(p) => Some(PathBuf::from(p)),
        })
    }
}
