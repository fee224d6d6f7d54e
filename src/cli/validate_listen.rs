//! Validation of the receive side: the two listeners (`[netflow]`, `[sflow]`), `[receive]`
//! and `[batch]`.
//!
//! Both listeners detect the protocol per datagram; they differ only in default port and
//! flag names. At least one must be enabled, and two enabled listeners may not bind the same
//! port on overlapping addresses. A listener binds `address` (with `sockets` and `cores`), or
//! each entry of its `bind` list (`[[netflow.bind]]`, errors name `netflow.bind[i].key`,
//! counted from 0), whose addresses may not overlap either. Core lists are only checked for shape here; whether the
//! cores exist is [`super::Settings::resolve`]'s question.

use super::raw::{RawBatch, RawConfig, RawListener, RawReceive};
use super::settings::{
    BatchSettings, BindSettings, ListenerKind, ListenerSettings, ReceiveSettings, V,
};
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
            let clash = sflow
                .binds
                .iter()
                .enumerate()
                .find(|(_, b)| netflow.binds.iter().any(|n| overlap(n.address, b.address)));
            if let Some((i, _)) = clash {
                let key = if sflow.bind_list {
                    sflow.bind_key(i, "address")
                } else {
                    "sflow.port".into()
                };
                return Err(ConfigError::new(
                    key,
                    format!("port {} is also the NetFlow port", sflow.port),
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
        let port = self.int(k_port, raw.port, kind.default_port().into(), 0, 65535)? as u16;
        let label = kind.label();
        let binds = match &raw.bind {
            None => vec![BindSettings {
                address: parse_bind_addr(raw.address.as_deref().unwrap_or(""))
                    .map_err(|m| self.err(k_addr, m))?,
                sockets: self.int(k_sockets, raw.sockets, 1, 1, 1024)? as usize,
                cores: self.cores(k_cores.to_string(), raw.cores.as_deref())?,
            }],
            Some(list) => {
                // one way or the other: the single-address keys next to a list are an error
                for (key, set) in [
                    (k_addr, raw.address.is_some()),
                    (k_sockets, raw.sockets.is_some()),
                    (k_cores, raw.cores.is_some()),
                ] {
                    if set {
                        return Err(self.err(
                            key,
                            format!("set per address in [[{label}.bind]] when the list is used"),
                        ));
                    }
                }
                if list.is_empty() {
                    return Err(ConfigError::new(
                        format!("{label}.bind"),
                        "empty list (leave it out to use address, sockets and cores)",
                    ));
                }
                let mut binds: Vec<BindSettings> = Vec::with_capacity(list.len());
                for (i, b) in list.iter().enumerate() {
                    let key = |k: &str| format!("{label}.bind[{i}].{k}");
                    let address = parse_bind_addr(b.address.as_deref().unwrap_or(""))
                        .map_err(|m| ConfigError::new(key("address"), m))?;
                    if let Some(j) = binds.iter().position(|o| overlap(o.address, address)) {
                        return Err(ConfigError::new(
                            key("address"),
                            format!(
                                "{:?} overlaps {label}.bind[{j}].address ({:?}) on the same port",
                                bind_addr_text(address),
                                bind_addr_text(binds[j].address)
                            ),
                        ));
                    }
                    let sockets = match b.sockets.unwrap_or(1) {
                        n @ 1..=1024 => n as usize,
                        n => {
                            return Err(ConfigError::new(
                                key("sockets"),
                                format!("{n} is out of range (1 to 1024)"),
                            ))
                        }
                    };
                    let cores = self.cores(key("cores"), b.cores.as_deref())?;
                    binds.push(BindSettings {
                        address,
                        sockets,
                        cores,
                    });
                }
                binds
            }
        };
        Ok(ListenerSettings {
            kind,
            enabled: raw.enabled.unwrap_or(true),
            port,
            bind_list: raw.bind.is_some(),
            binds,
            reuseport: raw.reuseport.unwrap_or(false),
            allow,
        })
    }

    /// A core list's shape: not empty, every entry a plausible core number.
    fn cores(&self, key: String, raw: Option<&[i64]>) -> Result<Option<Vec<usize>>, ConfigError> {
        // no flag sets a core list: the key is the setting's name
        let err = |m: String| ConfigError::new(key.clone(), m);
        match raw {
            None => Ok(None),
            Some([]) => Err(err(
                "empty core list (leave the key out to use every core)".into()
            )),
            Some(c) => c
                .iter()
                .map(|&id| {
                    if (0..4096).contains(&id) {
                        Ok(id as usize)
                    } else {
                        Err(err(format!("{id} is not a core number")))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
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

/// Two addresses that cannot both be bound on one port: equal, or either one every address.
fn overlap(a: BindAddr, b: BindAddr) -> bool {
    match (a, b) {
        (BindAddr::Ip(a), BindAddr::Ip(b)) => a == b || a.is_unspecified() || b.is_unspecified(),
        _ => true,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::settings::{Origins, Settings};

    fn load(text: &str) -> Result<Settings, ConfigError> {
        let raw = RawConfig::from_toml(text, "t.toml")?;
        Settings::from_raw(&raw, &Origins::default())
    }

    fn setting(text: &str) -> String {
        let e = load(text).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
        e.setting
    }

    const TWO: &str = "[netflow]\nport = 9995\n\
        [[netflow.bind]]\naddress = \"192.0.2.10\"\nsockets = 4\ncores = [2, 3, 4, 5]\n\
        [[netflow.bind]]\naddress = \"198.51.100.10\"\nsockets = 2\n";

    #[test]
    fn bind_list() {
        let s = load(TWO).unwrap();
        let n = &s.netflow;
        assert!(n.bind_list);
        assert_eq!((n.port, n.binds.len(), n.workers()), (9995, 2, 6));
        assert_eq!(
            n.binds[0].address,
            BindAddr::Ip("192.0.2.10".parse().unwrap())
        );
        assert_eq!(n.binds[0].cores, Some(vec![2, 3, 4, 5]));
        assert_eq!((n.binds[1].sockets, n.binds[1].cores.clone()), (2, None));
        // worker order: bind 0's four, then bind 1's two (auto: core 0 skipped), then sFlow
        let c = s.resolve(&(0..16).collect::<Vec<_>>()).unwrap();
        assert_eq!(c, vec![vec![2, 3, 4, 5, 1, 2], vec![3]]);
        // the single-address keys are one bind
        let s = load("[netflow]\naddress = \"10.0.0.1\"\nsockets = 3\n").unwrap();
        assert!(!s.netflow.bind_list);
        assert_eq!(s.netflow.binds.len(), 1);
        assert_eq!(s.netflow.workers(), 3);
    }

    #[test]
    fn bind_errors_name_the_entry() {
        let bad_core = format!("{TWO}[[netflow.bind]]\naddress = \"10.0.0.1\"\ncores = []\n");
        assert_eq!(setting(&bad_core), "netflow.bind[2].cores");
        let bad = TWO.replace("cores = [2, 3, 4, 5]", "cores = [2, -1]");
        assert_eq!(setting(&bad), "netflow.bind[0].cores");
        let bad = TWO.replace("sockets = 2", "sockets = 0");
        assert_eq!(setting(&bad), "netflow.bind[1].sockets");
        let bad = TWO.replace("198.51.100.10", "nic1");
        assert_eq!(setting(&bad), "netflow.bind[1].address");
        // overlapping addresses within the list
        let dup = TWO.replace("198.51.100.10", "192.0.2.10");
        assert_eq!(setting(&dup), "netflow.bind[1].address");
        let any = TWO.replace("198.51.100.10", "");
        assert_eq!(setting(&any), "netflow.bind[1].address");
        // the list or the single-address keys, not both
        let both = TWO.replace("port = 9995", "port = 9995\nsockets = 2");
        assert_eq!(setting(&both), "netflow.sockets");
        let both = TWO.replace("port = 9995", "address = \"10.0.0.1\"");
        assert_eq!(setting(&both), "netflow.address");
        assert_eq!(setting("[sflow]\nbind = []\n"), "sflow.bind");
        // unknown keys in an entry are rejected by the parser
        assert!(load("[[sflow.bind]]\nport = 1\n").is_err());
        // a core that is not here names the entry
        let s = load(TWO).unwrap();
        assert_eq!(
            s.resolve(&[0, 1, 2, 3]).unwrap_err().setting,
            "netflow.bind[0].cores"
        );
    }

    #[test]
    fn binds_of_both_listeners_may_share_a_port_on_other_addresses() {
        let t = "[netflow]\nport = 7000\n[[netflow.bind]]\naddress = \"127.0.0.1\"\n\
                 [sflow]\nport = 7000\n[[sflow.bind]]\naddress = \"127.0.0.2\"\n";
        load(t).unwrap();
        let clash = t.replace("127.0.0.2", "127.0.0.1");
        assert_eq!(setting(&clash), "sflow.bind[0].address");
        let any = "[netflow]\nport = 7000\n[sflow]\nport = 7000\n[[sflow.bind]]\naddress = \"127.0.0.2\"\n";
        assert_eq!(setting(any), "sflow.bind[0].address");
    }
}
