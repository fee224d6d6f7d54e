//! Validation of the receive side: the two listeners (`[netflow]`, `[sflow]`), `[receive]`
//! and `[batch]`.
//!
//! Both listeners detect the protocol per datagram; they differ only in default port and
//! flag names. At least one must be enabled, and two enabled listeners may not bind the same
//! port on overlapping addresses. Core lists are only checked for shape here; whether the
//! cores exist is [`super::Settings::resolve`]'s question.

use super::raw::{RawBatch, RawConfig, RawListener, RawReceive};
use super::settings::{BatchSettings, ListenerKind, ListenerSettings, ReceiveSettings, V};
use crate::error::ConfigError;
use crate::net::socket::BindAddr;
use crate::pipeline::allow::AllowList;
use std::net::IpAddr;
use std::time::Duration;

impl V<'_> {
    /// Both listeners, NetFlow first, and the checks between them.
    pub(super) fn listeners(
        &self,
        raw: &RawConfig,
    ) -> Result<(ListenerSettings, ListenerSettings), ConfigError> {
        let netflow = self.listener(
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
        let sflow = self.listener(
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
            return Err(self.err(
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
                return Err(self.err(
                    "sflow.port",
                    format!("{} is also the NetFlow port", sflow.port),
                ));
            }
        }
        Ok((netflow, sflow))
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

    /// `[receive]`: how each worker reads its socket.
    pub(super) fn receive(&self, r: &RawReceive) -> Result<ReceiveSettings, ConfigError> {
        Ok(ReceiveSettings {
            batch: self.int("receive.batch", r.batch, 64, 1, 1024)? as usize,
            max_datagram: self.int("receive.max_datagram", r.max_datagram, 65535, 512, 65535)?
                as usize,
            rcvbuf: self.int("receive.rcvbuf", r.rcvbuf, 32 << 20, 0, 1 << 31)? as usize,
            timestamps: r.timestamps.unwrap_or(true),
            coalesce: Duration::from_micros(self.int(
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
        })
    }

    /// `[batch]`: when a worker hands its encoded flows to the output thread.
    pub(super) fn batch(&self, b: &RawBatch) -> Result<BatchSettings, ConfigError> {
        Ok(BatchSettings {
            // 4096 messages or 256 KiB (~1750 protobuf flows): fewer hand-offs (and output
            // thread wake-ups), ~4% less CPU per record than 1024 messages at 1M records/s.
            // Larger batches saved ~2% more but made more memory resident under a template
            // flood (tests/faults.rs)
            messages: self.int("batch.messages", b.messages, 4096, 1, 1 << 20)? as usize,
            bytes: self.int("batch.bytes", b.bytes, 256 << 10, 4096, 64 << 20)? as usize,
            flush: Duration::from_millis(
                self.int("batch.flush_ms", b.flush_ms, 10, 1, 10_000)? as u64
            ),
            channel: self.int("batch.channel", b.channel, 128, 1, 65536)? as usize,
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

/// The address as `[netflow] address` takes it back (`""` for every address).
pub(super) fn bind_addr_text(a: BindAddr) -> String {
    match a {
        BindAddr::Any => String::new(),
        BindAddr::Ip(ip) => ip.to_string(),
    }
}
