//! coreflow against an independent decoder: every NetFlow v5, NetFlow v9 and IPFIX capture
//! under `../shared/captures` is replayed through `coreflow::app::replay::decode_capture` (one
//! `Decoder` per capture, frames in file order) and each data record is compared, field by
//! field, with what Wireshark's tshark decoded from the same bytes (`<case>.pcap.tshark.json`).
//!
//! Run with `cargo test --test oracle_netflow -- --nocapture` to see the per-capture table.
//!
//! How records are matched: each pcap frame is fed to `decode_capture` on its own (as a
//! one-record pcap, same decoder), so coreflow's records are grouped by frame number exactly
//! like tshark's. Within a frame, tshark's records come in set order, options records are
//! dropped (they are not flows: their template, learned from the JSON's template sets, is an
//! options template), and data sets tshark could not decode are kept as gaps. When coreflow
//! returns the same number of records they are paired in order; when it returns more and the
//! frame has one gap, the surplus sits at the gap (a data set whose template comes later in
//! the same datagram: tshark cannot decode it, coreflow may, see the captures README);
//! otherwise records are paired in order by their 5-tuple.
//!
//! What is compared (when tshark shows the field for that record):
//! - core, required to agree 100% for every capture not marked malformed: source and
//!   destination address, ports, protocol, bytes, packets, input and output interface;
//! - also: TOS, TCP flags, AS numbers, prefix lengths, next hop, BGP next hop, MACs, VLANs,
//!   VRF ids, sampling rate (v5 header / IE 34 in the record), flow start/end times,
//!   sequence number, exporter address, receive time and flow type; for encapsulated packets
//!   (a template repeating the 5-tuple IEs, or both IPv4 and IPv6 addresses set) the other
//!   header's addresses, protocol and TOS in the `*_encap` fields ([`FLOW_IS_INNER_HEADER`]).
//!
//! tshark shows every template field, and the JSON's template sets say which IE each value
//! came from, so values are located by template position (see `pick`). Where tshark's decode
//! still cannot say which value is the flow's (a key repeated more often than the template
//! explains, two zero addresses of both families, absolute times of several precisions), the
//! expectation is one of them and the others are "alternates": matching an alternate is
//! reported, not failed. Every other disagreement fails the test unless the exception table
//! below names the case, the field and the reason; an exception that is no longer needed
//! fails too. Captures tshark marks malformed are compared, but their disagreements are only
//! reported.

mod common;
#[path = "oracle_netflow/tshark.rs"]
mod tshark;

use common::Case;
use coreflow::decode::{DecodeError, Decoder, Limits};
use coreflow::flow::{Addr, FlowRecord, FlowType};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use tshark::{Frame, Item, Oracle, Record, RecordKind};

/// Protocol folders whose disagreements fail the test. The others are compared and reported
/// only. The NetFlow v9 / IPFIX decoders are stubs on this branch; the lead adds
/// `"netflow9"` and `"ipfix"` here when merging them (a one-line change).
const PROTOCOLS_REQUIRED: &[&str] = &["netflow5", "netflow9", "ipfix"];

/// Protocol folders compared with the oracle.
const PROTOCOLS: &[&str] = &["netflow5", "netflow9", "ipfix"];

/// Pseudo-field for records tshark decoded and coreflow did not.
const MISSING_RECORDS: &str = "records:missing";
/// Pseudo-field for records coreflow decoded and tshark did not (outside no-template sets).
const EXTRA_RECORDS: &str = "records:extra";

/// Which header of an encapsulated packet the flow fields describe, when a template repeats
/// the 5-tuple IEs (IP-in-IP, IPv4-in-IPv6, SRv6: outer header first, RFC 7011 section 8) or
/// carries both an IPv4 and an IPv6 address: the other header is expected in the `*_encap`
/// fields. coreflow follows GoFlow v3's default for sFlow: the flow fields describe the
/// packet as forwarded (the outer header, the first occurrence), the encap fields the packet
/// inside the tunnel; both the NetFlow/IPFIX decoder and the sFlow header parser do this.
const FLOW_IS_INNER_HEADER: bool = false;

/// A known, legitimate disagreement between coreflow and tshark.
struct Exception {
    /// `protocol/case` as in the captures README.
    case: &'static str,
    /// A field name of [`FIELDS`], or [`MISSING_RECORDS`] / [`EXTRA_RECORDS`].
    field: &'static str,
    /// Why coreflow is right (with the RFC / specification section).
    reason: &'static str,
    /// A `DecodeError` reason coreflow must have counted for this capture (a dropped
    /// datagram must be visible in the metrics, never silent).
    counted_error: Option<&'static str>,
}

const EXCEPTIONS: &[Exception] = &[
    Exception {
        case: "netflow5/logstash-nf5-invalid",
        field: MISSING_RECORDS,
        reason: "both datagrams claim more records in the header count (55582, 163) than the \
                 30 present; NetFlow v5 (Cisco export format, reference/protocols.md 6.1: count \
                 = records in this datagram, 1-30) gives no way to tell which bytes are records, \
                 so coreflow drops the datagram and counts bad_count; tshark dissects the 30 \
                 records that fit",
        counted_error: Some("bad_count"),
    },
    // NetFlow v9 datagrams whose header count is smaller than the records they hold. RFC 3954
    // section 5.1 defines count as the total of template, options and data records in the
    // packet, so these exporters' counts are wrong; the FlowSet Length fields (5.2, 5.3)
    // delimit every set unambiguously and chain to the end of each datagram. coreflow reads
    // every flowset present; tshark stops after `count` records.
    Exception {
        case: "netflow9/graylog-nf9",
        field: EXTRA_RECORDS,
        reason: "frame 1: header count 1, but 5 flowsets (templates 1024 and 2048, an options \
                 template, options data, 1 data record); tshark never learns template 2048 \
                 (so frames 7 and 9 are 'no template' for it), coreflow does (RFC 3954 5.1)",
        counted_error: None,
    },
    Exception {
        case: "netflow9/graylog-nf9-dat1",
        field: EXTRA_RECORDS,
        reason: "frame 1: header count 2 covers the two template records only; a data flowset \
                 of template 1024 (2 records) follows (RFC 3954 5.1)",
        counted_error: None,
    },
    Exception {
        case: "netflow9/logstash-nf9-invalid",
        field: EXTRA_RECORDS,
        reason: "header count 2 covers the two templates; an options template (22 bytes: not \
                 padded to 4, which RFC 3954 5.3 only recommends), options data and data \
                 flowsets of templates 2048 and 1024 follow, their lengths chaining exactly to \
                 the end of the datagram; coreflow decodes the 2 data records (RFC 3954 5.1)",
        counted_error: None,
    },
];

// ---------------------------------------------------------------------------------------------
// expected values

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
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
struct Expect {
    val: Val,
    /// Allowed difference for times, in ns.
    tol_ns: u64,
    /// Other values tshark shows for the same field when it cannot tell which is the one.
    alternates: Vec<Val>,
}

impl Expect {
    fn exact(val: Val) -> Expect {
        Expect {
            val,
            tol_ns: 0,
            alternates: Vec::new(),
        }
    }
}

fn same(a: Val, b: Val, tol_ns: u64) -> bool {
    match (a, b) {
        (Val::T(x), Val::T(y)) => x.abs_diff(y) <= tol_ns,
        _ => a == b,
    }
}

fn ip_to_addr(ip: IpAddr) -> Addr {
    // not Addr::from_ip: an IPv4-mapped IPv6 value in an IPv6 field stays IPv6
    match ip {
        IpAddr::V4(a) => Addr::v4(a.octets()),
        IpAddr::V6(a) => Addr::v6(a.octets()),
    }
}

fn parse_addr(s: &str) -> Option<Val> {
    s.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| Val::A(ip_to_addr(ip)))
}

fn parse_u(s: &str) -> Option<Val> {
    tshark::parse_uint(s).map(Val::U)
}

fn parse_mac(s: &str) -> Option<Val> {
    tshark::parse_mac(s).map(Val::U)
}

/// What tshark shows for one information element of a record.
struct Picked {
    /// The flow's value.
    expect: Expect,
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
fn pick(
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

type Oracled = Option<Result<Expect, String>>;

fn uint(r: &Record, keys: &[&str], ie: u16) -> Oracled {
    pick(r, keys, ie, parse_u).map(|x| x.map(|p| p.expect))
}

fn uint_encap(r: &Record, keys: &[&str], ie: u16) -> Oracled {
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

fn pair(
    r: &Record,
    v4: (&[&str], u16),
    v6: (&[&str], u16),
    parse: fn(&str) -> Option<Val>,
) -> Oracled {
    pair_picked(r, v4, v6, parse).map(|x| x.map(|p| p.expect))
}

fn pair_encap(
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
fn epoch_time(r: &Record, key: &str) -> bool {
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
fn flow_time(r: &Record, abs_key: &str, rel_key: &str) -> Oracled {
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

/// One compared field: its name, whether it is core, what tshark says and what coreflow has.
struct Field {
    name: &'static str,
    core: bool,
    oracle: fn(&Record, &Frame) -> Oracled,
    ours: fn(&FlowRecord) -> Val,
}

const SRCADDR: (&[&str], u16) = (&["cflow.srcaddr"], 8);
const SRCADDR6: (&[&str], u16) = (&["cflow.srcaddrv6", "cflow.srcaddr_v6"], 27);
const DSTADDR: (&[&str], u16) = (&["cflow.dstaddr"], 12);
const DSTADDR6: (&[&str], u16) = (&["cflow.dstaddrv6", "cflow.dstaddr_v6"], 28);
const NEXTHOP: (&[&str], u16) = (&["cflow.nexthop"], 15);
const NEXTHOP6: (&[&str], u16) = (&["cflow.nexthopv6", "cflow.nexthop_v6"], 62);
const BGPNEXTHOP: (&[&str], u16) = (&["cflow.bgpnexthop"], 18);
const BGPNEXTHOP6: (&[&str], u16) = (&["cflow.bgpnexthopv6", "cflow.bgpnexthop_v6"], 63);
const SRCMASK: (&[&str], u16) = (&["cflow.srcmask"], 9);
const SRCMASK6: (&[&str], u16) = (&["cflow.srcmaskv6", "cflow.srcmask_v6"], 29);
const DSTMASK: (&[&str], u16) = (&["cflow.dstmask"], 13);
const DSTMASK6: (&[&str], u16) = (&["cflow.dstmaskv6", "cflow.dstmask_v6"], 30);

fn flow_type_code(t: FlowType) -> u64 {
    match t {
        FlowType::NetflowV5 => 5,
        FlowType::NetflowV9 => 9,
        FlowType::Ipfix => 10,
        FlowType::SFlow5 => 1005,
        FlowType::Unknown => 0,
    }
}

const FIELDS: &[Field] = &[
    Field {
        name: "src_addr",
        core: true,
        oracle: |r, _| pair(r, SRCADDR, SRCADDR6, parse_addr),
        ours: |f| Val::A(f.src_addr),
    },
    Field {
        name: "dst_addr",
        core: true,
        oracle: |r, _| pair(r, DSTADDR, DSTADDR6, parse_addr),
        ours: |f| Val::A(f.dst_addr),
    },
    Field {
        name: "src_addr_encap",
        core: false,
        oracle: |r, _| pair_encap(r, SRCADDR, SRCADDR6, parse_addr),
        ours: |f| Val::A(f.src_addr_encap),
    },
    Field {
        name: "dst_addr_encap",
        core: false,
        oracle: |r, _| pair_encap(r, DSTADDR, DSTADDR6, parse_addr),
        ours: |f| Val::A(f.dst_addr_encap),
    },
    Field {
        name: "proto_encap",
        core: false,
        oracle: |r, _| uint_encap(r, &["cflow.protocol"], 4),
        ours: |f| Val::U(f.proto_encap.into()),
    },
    Field {
        name: "ip_tos_encap",
        core: false,
        oracle: |r, _| uint_encap(r, &["cflow.tos"], 5),
        ours: |f| Val::U(f.ip_tos_encap.into()),
    },
    Field {
        name: "src_port",
        core: true,
        oracle: |r, _| uint(r, &["cflow.srcport"], 7),
        ours: |f| Val::U(f.src_port.into()),
    },
    Field {
        name: "dst_port",
        core: true,
        oracle: |r, _| uint(r, &["cflow.dstport"], 11),
        ours: |f| Val::U(f.dst_port.into()),
    },
    Field {
        name: "proto",
        core: true,
        oracle: |r, _| uint(r, &["cflow.protocol"], 4),
        ours: |f| Val::U(f.proto.into()),
    },
    Field {
        name: "bytes",
        core: true,
        // octetDeltaCount (1; tshark names 8-byte ones octets64 in some versions), else
        // octetTotalCount (85, "permanent" in NetFlow v9 terms)
        oracle: |r, _| {
            uint(r, &["cflow.octets", "cflow.octets64"], 1)
                .or_else(|| uint(r, &["cflow.permanent_octets"], 85))
        },
        ours: |f| Val::U(f.bytes),
    },
    Field {
        name: "packets",
        core: true,
        oracle: |r, _| {
            uint(r, &["cflow.packets", "cflow.packets64"], 2)
                .or_else(|| uint(r, &["cflow.permanent_packets"], 86))
        },
        ours: |f| Val::U(f.packets),
    },
    Field {
        name: "in_if",
        core: true,
        oracle: |r, _| uint(r, &["cflow.inputint"], 10),
        ours: |f| Val::U(f.in_if.into()),
    },
    Field {
        name: "out_if",
        core: true,
        oracle: |r, _| uint(r, &["cflow.outputint"], 14),
        ours: |f| Val::U(f.out_if.into()),
    },
    Field {
        name: "ip_tos",
        core: false,
        oracle: |r, _| uint(r, &["cflow.tos"], 5),
        ours: |f| Val::U(f.ip_tos.into()),
    },
    Field {
        name: "tcp_flags",
        core: false,
        oracle: |r, _| uint(r, &["cflow.tcpflags"], 6),
        ours: |f| Val::U(f.tcp_flags.into()),
    },
    Field {
        name: "src_as",
        core: false,
        oracle: |r, _| uint(r, &["cflow.srcas"], 16),
        ours: |f| Val::U(f.src_as.into()),
    },
    Field {
        name: "dst_as",
        core: false,
        oracle: |r, _| uint(r, &["cflow.dstas"], 17),
        ours: |f| Val::U(f.dst_as.into()),
    },
    Field {
        name: "src_net",
        core: false,
        oracle: |r, _| pair(r, SRCMASK, SRCMASK6, parse_u),
        ours: |f| Val::U(f.src_net.into()),
    },
    Field {
        name: "dst_net",
        core: false,
        oracle: |r, _| pair(r, DSTMASK, DSTMASK6, parse_u),
        ours: |f| Val::U(f.dst_net.into()),
    },
    Field {
        name: "next_hop",
        core: false,
        oracle: |r, _| pair(r, NEXTHOP, NEXTHOP6, parse_addr),
        ours: |f| Val::A(f.next_hop),
    },
    Field {
        name: "bgp_next_hop",
        core: false,
        oracle: |r, _| pair(r, BGPNEXTHOP, BGPNEXTHOP6, parse_addr),
        ours: |f| Val::A(f.bgp_next_hop),
    },
    Field {
        name: "src_mac",
        core: false,
        oracle: |r, _| pick(r, &["cflow.srcmac"], 56, parse_mac).map(|x| x.map(|p| p.expect)),
        ours: |f| Val::U(f.src_mac),
    },
    Field {
        name: "dst_mac",
        core: false,
        oracle: |r, _| pick(r, &["cflow.dstmac"], 80, parse_mac).map(|x| x.map(|p| p.expect)),
        ours: |f| Val::U(f.dst_mac),
    },
    Field {
        name: "src_vlan",
        core: false,
        oracle: |r, _| uint(r, &["cflow.vlanid"], 58),
        ours: |f| Val::U(f.src_vlan.into()),
    },
    Field {
        name: "dst_vlan",
        core: false,
        oracle: |r, _| uint(r, &["cflow.post_vlanid"], 59),
        ours: |f| Val::U(f.dst_vlan.into()),
    },
    Field {
        name: "vlan_id",
        core: false,
        oracle: |r, _| uint(r, &["cflow.dot1q_vlan_id"], 243),
        ours: |f| Val::U(f.vlan_id.into()),
    },
    Field {
        name: "ingress_vrf_id",
        core: false,
        oracle: |r, _| uint(r, &["cflow.ingress_vrfid"], 234),
        ours: |f| Val::U(f.ingress_vrf_id.into()),
    },
    Field {
        name: "egress_vrf_id",
        core: false,
        oracle: |r, _| uint(r, &["cflow.egress_vrfid"], 235),
        ours: |f| Val::U(f.egress_vrf_id.into()),
    },
    Field {
        name: "sampling_rate",
        core: false,
        oracle: |r, _| match r.kind {
            RecordKind::V5 => r
                .header
                .v5_sample_rate
                .map(|v| Ok(Expect::exact(Val::U(v)))),
            _ => uint(r, &["cflow.sampling_interval"], 34),
        },
        ours: |f| Val::U(f.sampling_rate),
    },
    Field {
        name: "time_flow_start",
        core: false,
        oracle: |r, _| flow_time(r, "cflow.abstimestart", "cflow.timestart"),
        ours: |f| Val::T(f.time_flow_start_ns),
    },
    Field {
        name: "time_flow_end",
        core: false,
        oracle: |r, _| flow_time(r, "cflow.abstimeend", "cflow.timeend"),
        ours: |f| Val::T(f.time_flow_end_ns),
    },
    Field {
        name: "sequence_num",
        core: false,
        oracle: |r, _| {
            r.header
                .sequence
                .map(|s| Ok(Expect::exact(Val::U(s & 0xffff_ffff))))
        },
        ours: |f| Val::U(f.sequence_num.into()),
    },
    Field {
        name: "sampler_address",
        core: false,
        oracle: |_, fr| {
            fr.exporter
                .map(|ip| Ok(Expect::exact(Val::A(ip_to_addr(ip)))))
        },
        ours: |f| Val::A(f.sampler_address),
    },
    Field {
        name: "time_received",
        core: false,
        oracle: |_, fr| fr.time_ns.map(|t| Ok(Expect::exact(Val::T(t)))),
        ours: |f| Val::T(f.time_received_ns),
    },
    Field {
        name: "flow_type",
        core: false,
        oracle: |r, _| Some(Ok(Expect::exact(Val::U(r.header.version.into())))),
        ours: |f| Val::U(flow_type_code(f.flow_type)),
    },
];

// ---------------------------------------------------------------------------------------------
// per-capture comparison

#[derive(Default)]
struct Report {
    case: String,
    required: bool,
    malformed_case: bool,
    frames: usize,
    tshark_flows: usize,
    tshark_options: usize,
    no_template_sets: usize,
    ours: usize,
    compared_records: usize,
    fields_compared: usize,
    core_compared: usize,
    core_agreeing: usize,
    mismatches: usize,
    excepted: usize,
    alternates: usize,
    malformed_mismatches: usize,
    missing: usize,
    extra_at_gaps: usize,
    extra: usize,
    /// Records tshark shows without one of the core fields (e.g. no L3 fields at all).
    core_absent: usize,
    /// Records whose absolute flow time tshark shows as 1970-01-01 (zero: not carried).
    epoch_times: usize,
    /// Fields whose mismatches an exception explained.
    excepted_fields: Vec<&'static str>,
    errors: Vec<(&'static str, u64)>,
    /// Problems that fail the test (for required protocols).
    failures: Vec<String>,
    /// Problems of the tshark JSON reader itself: fail whatever the protocol.
    walker_failures: Vec<String>,
    /// Details shown for information only.
    notes: Vec<String>,
}

fn exception(case: &str, field: &str) -> Option<&'static Exception> {
    EXCEPTIONS
        .iter()
        .find(|e| e.case == case && e.field == field)
}

/// Frame numbers (empty: the whole file) and the coreflow records decoded from them.
type Group = (Vec<u32>, Vec<FlowRecord>);

/// The coreflow records of each frame of the capture, decoded with one decoder in file order.
fn decode_by_frame(pcap: &[u8], dec: &mut Decoder) -> Result<Vec<Group>, String> {
    let mut groups = Vec::new();
    match common::split_classic_pcap(pcap) {
        Some((header, records)) => {
            for (i, rec) in records.iter().enumerate() {
                let mut one = Vec::with_capacity(header.len() + rec.len());
                one.extend_from_slice(header);
                one.extend_from_slice(rec);
                let mut out = Vec::new();
                coreflow::app::replay::decode_capture(&one, dec, &mut |r: &FlowRecord| {
                    // the encoders skip the field groups a record's hint clears
                    assert!(
                        r.groups_hold(),
                        "frame {}: field outside groups {r:?}",
                        i + 1
                    );
                    out.push(*r)
                })
                .map_err(|e| format!("frame {}: {e}", i + 1))?;
                groups.push((vec![i as u32 + 1], out));
            }
        }
        None => {
            // not a classic pcap: one group for the whole file, matched in order
            let mut out = Vec::new();
            coreflow::app::replay::decode_capture(pcap, dec, &mut |r: &FlowRecord| {
                assert!(r.groups_hold(), "field outside groups {r:?}");
                out.push(*r)
            })
            .map_err(|e| e.to_string())?;
            groups.push((Vec::new(), out));
        }
    }
    Ok(groups)
}

fn is_flow(r: &Record) -> bool {
    matches!(
        r.kind,
        RecordKind::V5 | RecordKind::Data | RecordKind::DataUnknownTemplate
    )
}

/// The 5-tuple part of a pairing key: every core key field tshark shows must agree.
fn key_matches(r: &Record, fr: &Frame, ours: &FlowRecord) -> bool {
    FIELDS
        .iter()
        .filter(|f| {
            matches!(
                f.name,
                "src_addr" | "dst_addr" | "src_port" | "dst_port" | "proto"
            )
        })
        .all(|f| match (f.oracle)(r, fr) {
            Some(Ok(e)) => {
                let v = (f.ours)(ours);
                same(e.val, v, e.tol_ns) || e.alternates.contains(&v)
            }
            _ => true,
        })
}

fn compare_pair(rep: &mut Report, r: &Record, fr: &Frame, ours: &FlowRecord) {
    rep.compared_records += 1;
    if epoch_time(r, "cflow.abstimestart") || epoch_time(r, "cflow.abstimeend") {
        rep.epoch_times += 1;
    }
    for f in FIELDS {
        let e = match (f.oracle)(r, fr) {
            None => {
                if f.core {
                    rep.core_absent += 1;
                }
                continue;
            }
            Some(Err(msg)) => {
                rep.failures.push(format!(
                    "frame {} set {} record {}: {}: {msg}",
                    r.frame, r.set, r.index, f.name
                ));
                continue;
            }
            Some(Ok(e)) => e,
        };
        rep.fields_compared += 1;
        if f.core {
            rep.core_compared += 1;
        }
        let v = (f.ours)(ours);
        if same(e.val, v, e.tol_ns) {
            if f.core {
                rep.core_agreeing += 1;
            }
            continue;
        }
        let what = format!(
            "frame {} set {} (id {}) record {}: {}: tshark {} coreflow {}",
            r.frame, r.set, r.set_id, r.index, f.name, e.val, v
        );
        if e.alternates.iter().any(|&a| same(a, v, e.tol_ns)) {
            rep.alternates += 1;
            if f.core {
                rep.core_agreeing += 1;
            }
            rep.notes
                .push(format!("{what} (matches another value tshark shows)"));
        } else if r.malformed {
            rep.malformed_mismatches += 1;
            rep.notes
                .push(format!("{what} (record tshark marks malformed)"));
        } else if let Some(x) = exception(&rep.case, f.name) {
            rep.excepted += 1;
            rep.excepted_fields.push(f.name);
            if f.core && !rep.malformed_case {
                rep.failures.push(format!(
                    "{what}: excepted ({}) but core fields must agree 100% for a capture not \
                     marked malformed",
                    x.reason
                ));
            }
        } else {
            rep.mismatches += 1;
            rep.failures.push(what);
        }
    }
}

fn compare_case(case: &Case, manifest: Option<&serde_json::Value>) -> Report {
    let id = case.id();
    let mut rep = Report {
        case: id.clone(),
        required: PROTOCOLS_REQUIRED.contains(&case.protocol.as_str()),
        malformed_case: manifest
            .and_then(|m| m.get("tshark_malformed"))
            .and_then(|v| v.as_u64())
            .is_some_and(|n| n > 0),
        ..Report::default()
    };
    let Some(oracle_path) = &case.oracle else {
        rep.failures
            .push("no <case>.pcap.tshark.json(.gz) beside the capture".to_string());
        return rep;
    };
    let oracle: Oracle = match tshark::parse(&common::read_maybe_gz(oracle_path)) {
        Ok(o) => o,
        Err(e) => {
            rep.failures.push(e);
            return rep;
        }
    };
    check_walker(&mut rep, &oracle, manifest);

    let pcap = std::fs::read(&case.pcap).expect("read capture");
    let mut dec = Decoder::new(Limits::default());
    let groups = match decode_by_frame(&pcap, &mut dec) {
        Ok(g) => g,
        Err(e) => {
            rep.failures.push(format!("decode_capture: {e}"));
            return rep;
        }
    };
    // the same capture in one call must give the same records
    let mut whole = Vec::new();
    let mut dec2 = Decoder::new(Limits::default());
    coreflow::app::replay::decode_capture(&pcap, &mut dec2, &mut |r: &FlowRecord| whole.push(*r))
        .expect("whole-file decode_capture");
    let per_frame: Vec<FlowRecord> = groups.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    if whole != per_frame {
        rep.failures.push(format!(
            "decoding frame by frame gave {} records, the whole file at once {} (or different \
             values)",
            per_frame.len(),
            whole.len()
        ));
    }
    rep.errors = DecodeError::REASONS
        .iter()
        .zip(dec.stats.errors.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| (*r, n))
        .collect();

    let frames_by_number: HashMap<u32, &Frame> =
        oracle.frames.iter().map(|f| (f.number, f)).collect();
    rep.frames = oracle.frames.len();
    rep.tshark_flows = oracle.records().filter(|r| is_flow(r)).count();
    rep.tshark_options = oracle.count(RecordKind::Options);
    rep.no_template_sets = oracle.no_template_sets();
    rep.ours = per_frame.len();

    for (numbers, ours) in &groups {
        let frames: Vec<&Frame> = if numbers.is_empty() {
            oracle.frames.iter().collect()
        } else {
            numbers
                .iter()
                .filter_map(|n| frames_by_number.get(n).copied())
                .collect()
        };
        // tshark's flows of these frames in order, with the positions of undecodable sets
        let mut ts: Vec<(&Record, &Frame)> = Vec::new();
        let mut gaps: Vec<usize> = Vec::new();
        for fr in &frames {
            for item in &fr.items {
                match item {
                    Item::Record(r) if is_flow(r) => ts.push((r, fr)),
                    Item::Record(_) => {}
                    Item::NoTemplate(_) => gaps.push(ts.len()),
                }
            }
        }
        let frame_label = numbers
            .first()
            .map_or_else(|| "all frames".to_string(), |n| format!("frame {n}"));
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut extra: Vec<usize> = Vec::new();
        let mut missing: Vec<usize> = Vec::new();
        if ours.len() == ts.len() {
            pairs = (0..ts.len()).map(|i| (i, i)).collect();
        } else if gaps.len() == 1 && ours.len() > ts.len() {
            let g = ours.len() - ts.len();
            let p = gaps[0];
            pairs.extend((0..p).map(|i| (i, i)));
            extra.extend(p..p + g);
            pairs.extend((p..ts.len()).map(|i| (i, i + g)));
        } else {
            let mut cursor = 0;
            for (ti, (r, fr)) in ts.iter().enumerate() {
                match (cursor..ours.len()).find(|&j| key_matches(r, fr, &ours[j])) {
                    Some(j) => {
                        extra.extend(cursor..j);
                        pairs.push((ti, j));
                        cursor = j + 1;
                    }
                    None => missing.push(ti),
                }
            }
            extra.extend(cursor..ours.len());
        }
        for &(ti, oi) in &pairs {
            let (r, fr) = ts[ti];
            compare_pair(&mut rep, r, fr, &ours[oi]);
        }
        // on a capture tshark marks malformed, its record counts are information only
        let malformed_case = rep.malformed_case;
        let problem = |rep: &mut Report, msg: String| {
            if malformed_case {
                rep.notes
                    .push(format!("{msg} (capture tshark marks malformed)"));
            } else {
                rep.failures.push(msg);
            }
        };
        rep.missing += missing.len();
        if !missing.is_empty() && exception(&id, MISSING_RECORDS).is_none() {
            let (r, _) = ts[missing[0]];
            let msg = format!(
                "{frame_label}: {} record(s) tshark decoded are missing from coreflow's output \
                 (first: set {} id {} record {})",
                missing.len(),
                r.set,
                r.set_id,
                r.index
            );
            problem(&mut rep, msg);
        }
        if !extra.is_empty() {
            if !gaps.is_empty() {
                rep.extra_at_gaps += extra.len();
                rep.notes.push(format!(
                    "{frame_label}: coreflow decoded {} record(s) of data set(s) tshark could \
                     not (no template known to tshark: defined later in the datagram or beyond \
                     its header count, or sent from another source port, which tshark keys \
                     templates by); not compared",
                    extra.len()
                ));
            } else {
                rep.extra += extra.len();
                if exception(&id, EXTRA_RECORDS).is_none() {
                    let msg = format!(
                        "{frame_label}: coreflow decoded {} record(s) tshark does not show",
                        extra.len()
                    );
                    problem(&mut rep, msg);
                }
            }
        }
    }

    // exceptions must be used, and a dropped datagram must be counted
    for x in EXCEPTIONS.iter().filter(|x| x.case == id) {
        let used = match x.field {
            MISSING_RECORDS => rep.missing > 0,
            EXTRA_RECORDS => rep.extra > 0,
            f => rep.excepted_fields.contains(&f),
        };
        if !used {
            rep.failures.push(format!(
                "exception for {} is not needed any more: remove it from EXCEPTIONS",
                x.field
            ));
        }
        if let Some(reason) = x.counted_error {
            if !rep.errors.iter().any(|(r, n)| *r == reason && *n > 0) {
                rep.failures.push(format!(
                    "exception for {}: coreflow should have counted a {reason} error",
                    x.field
                ));
            }
        }
    }
    rep
}

/// The walker's own check: tshark's record counts as the manifest states them.
fn check_walker(rep: &mut Report, oracle: &Oracle, manifest: Option<&serde_json::Value>) {
    let unknown = oracle.count(RecordKind::DataUnknownTemplate);
    if unknown > 0 {
        rep.notes.push(format!(
            "{unknown} data record(s) whose template the JSON does not define (compared as data)"
        ));
    }
    let Some(m) = manifest else {
        rep.notes
            .push("no manifest entry: walker counts not cross-checked".to_string());
        return;
    };
    let checks = [
        ("nf_v5_records", oracle.count(RecordKind::V5)),
        ("nf_data_records", oracle.count(RecordKind::Data) + unknown),
        ("nf_options_records", oracle.count(RecordKind::Options)),
        ("undecodable_no_template", oracle.no_template_sets()),
    ];
    for (key, ours) in checks {
        if let Some(want) = m.get(key).and_then(|v| v.as_u64()) {
            if want != ours as u64 {
                // a walker bug, independent of the decoders: always fails
                rep.walker_failures.push(format!(
                    "tshark JSON walker: {key} = {ours}, manifest says {want}"
                ));
            }
        }
    }
}

fn load_manifest(root: &std::path::Path) -> HashMap<String, serde_json::Value> {
    let Ok(bytes) = std::fs::read(root.join("manifest.json")) else {
        eprintln!("note: no manifest.json; walker counts will not be cross-checked");
        return HashMap::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest.json is JSON");
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e.get("path")?.as_str()?.to_string(), e.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn print_table(reports: &[Report]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<60} {:>4} {:>6} {:>5} {:>6} {:>6} {:>7} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5}  decode errors",
        "case",
        "req",
        "tshark",
        "opts",
        "ours",
        "paired",
        "fields",
        "core%",
        "mism",
        "exc",
        "alt",
        "miss",
        "extra",
    );
    for r in reports {
        let core = if r.core_compared == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.2}",
                100.0 * r.core_agreeing as f64 / r.core_compared as f64
            )
        };
        let errors: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
        let _ = writeln!(
            s,
            "{:<60} {:>4} {:>6} {:>5} {:>6} {:>6} {:>7} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5}  {}",
            format!(
                "{}{}",
                r.case,
                if r.malformed_case { " (malformed)" } else { "" }
            ),
            if r.required { "yes" } else { "no" },
            r.tshark_flows,
            r.tshark_options,
            r.ours,
            r.compared_records,
            r.fields_compared,
            core,
            r.mismatches + r.malformed_mismatches,
            r.excepted,
            r.alternates,
            r.missing,
            r.extra + r.extra_at_gaps,
            errors.join(" ")
        );
    }
    let sum = |f: fn(&Report) -> usize| reports.iter().map(f).sum::<usize>();
    let _ = writeln!(
        s,
        "total: {} captures, {} tshark flows, {} paired, {} fields compared, {} mismatches \
         ({} on records tshark marks malformed), {} excepted, {} alternates, {} missing, {} \
         extra ({} at no-template sets), {} core values tshark does not show, {} records with \
         a zero (1970) absolute time not compared",
        reports.len(),
        sum(|r| r.tshark_flows),
        sum(|r| r.compared_records),
        sum(|r| r.fields_compared),
        sum(|r| r.mismatches + r.malformed_mismatches),
        sum(|r| r.malformed_mismatches),
        sum(|r| r.excepted),
        sum(|r| r.alternates),
        sum(|r| r.missing),
        sum(|r| r.extra + r.extra_at_gaps),
        sum(|r| r.extra_at_gaps),
        sum(|r| r.core_absent),
        sum(|r| r.epoch_times),
    );
    s
}

#[test]
fn oracle_netflow() {
    let Some(root) = common::captures_root("oracle_netflow") else {
        return;
    };
    for x in EXCEPTIONS {
        assert!(
            x.field == MISSING_RECORDS
                || x.field == EXTRA_RECORDS
                || FIELDS.iter().any(|f| f.name == x.field),
            "EXCEPTIONS names an unknown field {:?}",
            x.field
        );
        assert!(!x.reason.is_empty(), "every exception needs a reason");
    }
    let manifest = load_manifest(&root);
    let cases: Vec<Case> = PROTOCOLS
        .iter()
        .flat_map(|p| common::list_cases(&root, p))
        .collect();
    for x in EXCEPTIONS {
        assert!(
            cases.iter().any(|c| c.id() == x.case),
            "EXCEPTIONS names a capture that does not exist: {}",
            x.case
        );
    }
    // two threads: the big gzipped oracles dominate the run time
    let half = cases.len().div_ceil(2);
    let (a, b) = cases.split_at(half);
    let run = |cs: &[Case]| -> Vec<Report> {
        cs.iter()
            .map(|c| compare_case(c, manifest.get(&c.id())))
            .collect()
    };
    let reports: Vec<Report> = std::thread::scope(|s| {
        let hb = s.spawn(|| run(b));
        let mut ra = run(a);
        ra.extend(hb.join().expect("oracle worker thread"));
        ra
    });

    println!("{}", print_table(&reports));
    let mut failed = Vec::new();
    for r in &reports {
        let shown = 20;
        if !r.notes.is_empty() {
            println!("{}: {} note(s)", r.case, r.notes.len());
            for n in r.notes.iter().take(shown) {
                println!("    {n}");
            }
            if r.notes.len() > shown {
                println!("    ... {} more", r.notes.len() - shown);
            }
        }
        if !r.walker_failures.is_empty() {
            println!("FAIL {}: tshark JSON reader", r.case);
            for f in &r.walker_failures {
                println!("    {f}");
            }
            failed.push(r.case.clone());
        }
        if !r.failures.is_empty() {
            let head = if r.required {
                "FAIL"
            } else {
                "not required yet"
            };
            println!("{head} {}: {} problem(s)", r.case, r.failures.len());
            for f in r.failures.iter().take(shown) {
                println!("    {f}");
            }
            if r.failures.len() > shown {
                println!("    ... {} more", r.failures.len() - shown);
            }
            if r.required {
                failed.push(r.case.clone());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "coreflow disagrees with tshark on {} capture(s) without an exception: {:?} (run with \
         --nocapture for the details)",
        failed.len(),
        failed
    );
}
