//! What tshark says a record's field should be: a value read from tshark's decode, located
//! by the record's template (see [`pick`]), with a tolerance for times and the other values
//! tshark shows when its decode cannot tell which one is the flow's ("alternates": matching
//! one is reported, not failed). Repeated IEs, IPv4/IPv6 pairs, encapsulated headers and flow
//! times follow the rules documented on [`pick`], `pair_picked`, [`FLOW_IS_INNER_HEADER`] and
//! [`flow_time`].

use super::tshark::{self, Record};
use coreflow::flow::Addr;
use std::net::IpAddr;

/// Which header of an encapsulated packet the flow fields describe, when a template repeats
/// the 5-tuple IEs (IP-in-IP, IPv4-in-IPv6, SRv6: outer header first, RFC 7011 section 8) or
/// carries both an IPv4 and an IPv6 address: the other header is expected in the `*_encap`
/// fields. coreflow follows GoFlow v3's default for sFlow: the flow fields describe the
/// packet as forwarded (the outer header, the first occurrence), the encap fields the packet
/// inside the tunnel; both the NetFlow/IPFIX decoder and the sFlow header parser do this.
const FLOW_IS_INNER_HEADER: bool = false;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    U(u64),
    A(Addr),
    /// Nanoseconds since the epoch.
    T(u64),
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::U(v) => write!(f, "{v}"),
            Val::A(a) => write!(f, "{a:?}"),
            Val::T(ns) => write!(f, "{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000),
        }
    }
}

/// What tshark says a field should be.
#[derive(Clone, Debug)]
pub struct Expect {
    pub val: Val,
    /// Allowed difference for times, in ns.
    pub tol_ns: u64,
    /// Other values tshark shows for the same field when it cannot tell which is the one.
    pub alternates: Vec<Val>,
}

impl Expect {
    pub fn exact(val: Val) -> Expect {
        Expect {
            val,
            tol_ns: 0,
            alternates: Vec::new(),
        }
    }
}

pub fn same(a: Val, b: Val, tol_ns: u64) -> bool {
    match (a, b) {
        (Val::T(x), Val::T(y)) => x.abs_diff(y) <= tol_ns,
        _ => a == b,
    }
}

pub fn ip_to_addr(ip: IpAddr) -> Addr {
    // not Addr::from_ip: an IPv4-mapped IPv6 value in an IPv6 field stays IPv6
    match ip {
        IpAddr::V4(a) => Addr::v4(a.octets()),
        IpAddr::V6(a) => Addr::v6(a.octets()),
    }
}

pub fn parse_addr(s: &str) -> Option<Val> {
    s.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| Val::A(ip_to_addr(ip)))
}

pub fn parse_u(s: &str) -> Option<Val> {
    tshark::parse_uint(s).map(Val::U)
}

pub fn parse_mac(s: &str) -> Option<Val> {
    tshark::parse_mac(s).map(Val::U)
}

/// What tshark shows for one information element of a record.
pub struct Picked {
    /// The flow's value.
    pub expect: Expect,
    /// The encapsulating header's value, when the template repeats the IE (see [`pick`]).
    encap: Option<Val>,
    /// Template position of the flow's value (to order IPv4 against IPv6 fields).
    pos: Option<usize>,
}

fn unspecified(v: Val) -> bool {
    match v {
        Val::U(x) | Val::T(x) => x == 0,
        Val::A(a) => a.as_slice().iter().all(|&b| b == 0),
    }
}

/// The value of `keys` (tshark's names for IE `ie`) in a record, located with the record's
/// template:
/// - tshark repeats a key once per template field it decodes to it, in template order, and
///   RFC 5103 reverse IEs (PEN 29305) share the forward IE's name: the PEN-0 field is the
///   flow's;
/// - a template that lists the same PEN-0 IE more than once describes an encapsulated packet
///   (IP-in-IP, SRv6, ...): RFC 7011 section 8 orders repeated IEs "by their treatment", outer
///   header first. With [`FLOW_IS_INNER_HEADER`] the last occurrence is the flow and the first
///   the encapsulation (`*_encap` fields), otherwise the other way round;
/// - when tshark shows more values than the template explains, the first is expected and the
///   others are alternates.
///
/// `None` when tshark does not show the key, or only for other IEs (e.g. only a reverse IE).
pub fn pick(
    r: &Record,
    keys: &[&str],
    ie: u16,
    parse: fn(&str) -> Option<Val>,
) -> Option<Result<Picked, String>> {
    let parse_at = |key: &str, vals: &[&str], i: usize| -> Result<Val, String> {
        parse(vals[i]).ok_or_else(|| format!("{key}: cannot read tshark value {:?}", vals[i]))
    };
    for &key in keys {
        let vals = r.all(key);
        if vals.is_empty() {
            continue;
        }
        let Some(t) = &r.template else {
            let val = match parse_at(key, &vals, 0) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let alternates = vals[1..].iter().filter_map(|v| parse(v)).collect();
            return Some(Ok(Picked {
                expect: Expect {
                    val,
                    tol_ns: 0,
                    alternates,
                },
                encap: None,
                pos: None,
            }));
        };
        let same_ie: Vec<usize> = t
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.ie == ie && !f.scope)
            .map(|(i, _)| i)
            .collect();
        let pen0: Vec<usize> = same_ie
            .iter()
            .copied()
            .filter(|&i| t.fields[i].pen == 0)
            .collect();
        let (&first, &last) = (pen0.first()?, pen0.last()?);
        let (flow_at, encap_at) = if FLOW_IS_INNER_HEADER {
            (last, first)
        } else {
            (first, last)
        };
        if vals.len() == same_ie.len() {
            let occ = |p: usize| same_ie.iter().position(|&i| i == p).expect("in same_ie");
            let val = match parse_at(key, &vals, occ(flow_at)) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let encap = if pen0.len() > 1 {
                match parse_at(key, &vals, occ(encap_at)) {
                    Ok(v) => Some(v),
                    Err(e) => return Some(Err(e)),
                }
            } else {
                None
            };
            return Some(Ok(Picked {
                expect: Expect::exact(val),
                encap,
                pos: Some(flow_at),
            }));
        }
        let val = match parse_at(key, &vals, 0) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        let alternates = vals[1..].iter().filter_map(|v| parse(v)).collect();
        return Some(Ok(Picked {
            expect: Expect {
                val,
                tol_ns: 0,
                alternates,
            },
            encap: None,
            pos: Some(first),
        }));
    }
    None
}

pub type Oracled = Option<Result<Expect, String>>;

pub fn uint(r: &Record, keys: &[&str], ie: u16) -> Oracled {
    pick(r, keys, ie, parse_u).map(|x| x.map(|p| p.expect))
}

pub fn uint_encap(r: &Record, keys: &[&str], ie: u16) -> Oracled {
    match pick(r, keys, ie, parse_u)? {
        Ok(p) => p.encap.map(|v| Ok(Expect::exact(v))),
        Err(e) => Some(Err(e)),
    }
}

/// An IPv4 / IPv6 pair (source address, next hop, prefix length, ...). When the record has
/// both: a zero one (`0.0.0.0`, `::`, /0) is only the template's other family, so the other
/// is the flow's; when both are set, the packet is encapsulated (IPv4 in IPv6 and the like):
/// the earlier in template order is the outer header, the later the inner one, placed as for
/// repeated IEs (see [`pick`], [`FLOW_IS_INNER_HEADER`]).
fn pair_picked(
    r: &Record,
    v4: (&[&str], u16),
    v6: (&[&str], u16),
    parse: fn(&str) -> Option<Val>,
) -> Option<Result<Picked, String>> {
    let a = pick(r, v4.0, v4.1, parse);
    let b = pick(r, v6.0, v6.1, parse);
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x),
        (Some(Err(e)), _) | (_, Some(Err(e))) => Some(Err(e)),
        (Some(Ok(a)), Some(Ok(b))) => {
            let (ua, ub) = (unspecified(a.expect.val), unspecified(b.expect.val));
            Some(Ok(match (ua, ub, a.pos, b.pos) {
                (false, true, _, _) => a,
                (true, false, _, _) => b,
                (false, false, Some(pa), Some(pb)) => {
                    let (outer, inner) = if pa < pb { (a, b) } else { (b, a) };
                    let (mut flow, encap) = if FLOW_IS_INNER_HEADER {
                        (inner, outer)
                    } else {
                        (outer, inner)
                    };
                    flow.encap = Some(encap.expect.val);
                    flow
                }
                _ => {
                    // both zero, or no template to order them: either may be the flow's
                    let mut first = a;
                    first.expect.alternates.push(b.expect.val);
                    first
                }
            }))
        }
    }
}

pub fn pair(
    r: &Record,
    v4: (&[&str], u16),
    v6: (&[&str], u16),
    parse: fn(&str) -> Option<Val>,
) -> Oracled {
    pair_picked(r, v4, v6, parse).map(|x| x.map(|p| p.expect))
}

pub fn pair_encap(
    r: &Record,
    v4: (&[&str], u16),
    v6: (&[&str], u16),
    parse: fn(&str) -> Option<Val>,
) -> Oracled {
    match pair_picked(r, v4, v6, parse)? {
        Ok(p) => p.encap.map(|v| Ok(Expect::exact(v))),
        Err(e) => Some(Err(e)),
    }
}

/// Whether tshark shows `key` as 1970-01-01 00:00:00 (a zero absolute time).
pub fn epoch_time(r: &Record, key: &str) -> bool {
    r.all(key)
        .iter()
        .any(|t| tshark::parse_abs_time(t) == Some(0))
}

/// Flow start or end.
/// - Absolute times (IPFIX 150-157, also in NetFlow v9) are read as dates. Zero (shown as
///   1970-01-01) means "not carried" and is not compared. When a record carries several
///   (flowStartSeconds and flowStartMilliseconds, say), the most precise one is expected and
///   the others are alternates. Micro/nanosecond times are NTP fractions (RFC 7011 6.1.9,
///   6.1.10): 2^-32 s units round either way when turned into ns, so 1 us is allowed.
/// - Otherwise sysUptime offsets (v5/v9 FIRST/LAST_SWITCHED) are placed with the header's
///   export time and uptime (32-bit wrap handled; an offset after the export uptime is "now",
///   as coreflow documents); IPFIX sysUptime offsets only with systemInitTimeMilliseconds
///   (IE 160) in the same record.
pub fn flow_time(r: &Record, abs_key: &str, rel_key: &str) -> Oracled {
    let mut abs = Vec::new();
    for t in r.all(abs_key) {
        match tshark::parse_abs_time(t) {
            Some(0) => {}
            Some(ns) => abs.push(ns),
            None => return Some(Err(format!("{abs_key}: cannot read tshark time {t:?}"))),
        }
    }
    if !abs.is_empty() {
        // decimal digits of the fraction that matter: .5 -> 1, .502 -> 3, .492059999 -> 9
        let precision = |ns: u64| {
            let mut frac = ns % 1_000_000_000;
            let mut digits = 9;
            while frac != 0 && frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
            if frac == 0 {
                0
            } else {
                digits
            }
        };
        let best = *abs
            .iter()
            .max_by_key(|&&ns| precision(ns))
            .expect("not empty");
        let alternates = abs
            .iter()
            .filter(|&&x| x != best)
            .map(|&x| Val::T(x))
            .collect();
        return Some(Ok(Expect {
            val: Val::T(best),
            tol_ns: 1_000,
            alternates,
        }));
    }
    let rel = r.first(rel_key)?;
    let Some(rel_ns) = tshark::parse_secs_ns(rel) else {
        return Some(Err(format!("{rel_key}: cannot read tshark value {rel:?}")));
    };
    let h = &r.header;
    match h.version {
        5 | 9 => {
            let export_ns = h.export_secs? * 1_000_000_000
                + if h.version == 5 {
                    h.export_nsecs.unwrap_or(0).min(999_999_999)
                } else {
                    0
                };
            let uptime = h.sysuptime_ms? as u32;
            let t_ms = (rel_ns / 1_000_000) as u32;
            let ago = uptime.wrapping_sub(t_ms);
            let ago = if ago > u32::MAX / 2 { 0 } else { ago };
            Some(Ok(Expect::exact(Val::T(
                export_ns.saturating_sub(u64::from(ago) * 1_000_000),
            ))))
        }
        _ => {
            let init = tshark::parse_abs_time(r.first("cflow.sys_init_time")?)?;
            Some(Ok(Expect::exact(Val::T(init + rel_ns))))
        }
    }
}
