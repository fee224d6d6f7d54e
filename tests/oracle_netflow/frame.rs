//! The sampled packet a record carries (IPFIX dataLinkFrameSection 315, ipHeaderPacketSection
//! 313, NetFlow v9 layer2packetSectionData 104), as tshark dissects it under the record:
//! coreflow takes the flow keys from inside the frame, so these are the values to compare
//! where the record carries no key of its own.
//!
//! tshark's dissection of the section is flattened into the record's fields, in frame order,
//! after the section's own key: `eth.*`, `vlan.*`, then one `ip.*` / `ipv6.*` group per IP
//! header, `tcp.*` / `udp.*` / `icmp.*`. The flow fields follow coreflow's convention for
//! tunnels (docs/decoding.md "Sampled packets"): the first IP header is the flow's, its
//! transport header gives the ports; a second IP header is the tunnel's inner packet
//! (`*_encap` fields).

use super::expect::{ip_to_addr, Expect, Oracled, Val};
use super::tshark::{parse_mac, parse_uint, Record};
use std::net::IpAddr;

/// tshark's keys of the section elements whose dissection follows them.
const SECTION_KEYS: &[&str] = &[
    "cflow.data_link_frame_section",
    "cflow.ip_header_packet_section",
    "cflow.layer2packetsectiondata",
    "cflow.layer2_packet_section_data",
];

/// One IP header of the frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct IpHeader {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub proto: Option<u64>,
    pub tos: Option<u64>,
    /// The packet length it declares (IPv4 total length, IPv6 payload length + 40).
    pub len: Option<u64>,
    /// The transport ports that follow it (before any next IP header).
    pub ports: Option<(u64, u64)>,
}

/// What tshark shows of the section.
#[derive(Clone, Debug, Default)]
pub struct FrameView {
    pub frame_size: Option<u64>,
    pub section_len: usize,
    pub src_mac: Option<u64>,
    pub dst_mac: Option<u64>,
    pub vlan: Option<u64>,
    pub ips: Vec<IpHeader>,
}

/// The record's packet section, when it carries one.
pub fn view(r: &Record) -> Option<FrameView> {
    let start = r
        .fields
        .iter()
        .position(|(k, _)| SECTION_KEYS.contains(&k.as_str()))?;
    let mut v = FrameView {
        frame_size: r.first("cflow.data_link_frame_size").and_then(parse_uint),
        section_len: r.fields[start].1.split(':').count(),
        ..FrameView::default()
    };
    for (k, val) in &r.fields[start + 1..] {
        let u = || parse_uint(val);
        let ip = || val.trim().parse::<IpAddr>().ok();
        match k.as_str() {
            "eth.src" if v.src_mac.is_none() && v.ips.is_empty() => v.src_mac = parse_mac(val),
            "eth.dst" if v.dst_mac.is_none() && v.ips.is_empty() => v.dst_mac = parse_mac(val),
            "vlan.id" if v.vlan.is_none() && v.ips.is_empty() => v.vlan = u(),
            // one per header: IPv6 groups repeat "ip.version", IPv4 ones alone have hdr_len
            "ip.hdr_len" | "ipv6.version" => v.ips.push(IpHeader::default()),
            _ => {}
        }
        let Some(h) = v.ips.last_mut() else { continue };
        match k.as_str() {
            "ip.src" | "ipv6.src" => h.src = ip(),
            "ip.dst" | "ipv6.dst" => h.dst = ip(),
            "ip.proto" | "ipv6.nxt" if h.proto.is_none() => h.proto = u(),
            "ip.dsfield" | "ipv6.tclass" if h.tos.is_none() => h.tos = u(),
            "ip.len" if h.len.is_none() => h.len = u(),
            "ipv6.plen" if h.len.is_none() => h.len = u().map(|l| l + 40),
            "tcp.srcport" | "udp.srcport" if h.ports.is_none() => {
                h.ports = u().map(|p| (p, 0));
            }
            "tcp.dstport" | "udp.dstport" => {
                if let (Some((s, 0)), Some(d)) = (h.ports, u()) {
                    h.ports = Some((s, d));
                }
            }
            _ => {}
        }
    }
    Some(v)
}

fn exact(v: Val) -> Oracled {
    Some(Ok(Expect::exact(v)))
}

fn addr(ip: Option<IpAddr>) -> Oracled {
    ip.map(|a| Ok(Expect::exact(Val::A(ip_to_addr(a)))))
}

/// The flow's (first) IP header's address (`dst`: destination).
pub fn ip_addr(r: &Record, dst: bool) -> Oracled {
    let v = view(r)?;
    let h = v.ips.first()?;
    addr(if dst { h.dst } else { h.src })
}

/// The tunnel's inner packet's address.
pub fn ip_addr_encap(r: &Record, dst: bool) -> Oracled {
    let v = view(r)?;
    let h = v.ips.get(1)?;
    addr(if dst { h.dst } else { h.src })
}

pub fn proto(r: &Record, encap: bool) -> Oracled {
    let v = view(r)?;
    let h = v.ips.get(usize::from(encap))?;
    h.proto.map(|p| Ok(Expect::exact(Val::U(p))))
}

pub fn tos(r: &Record) -> Oracled {
    let v = view(r)?;
    v.ips.first()?.tos.map(|p| Ok(Expect::exact(Val::U(p))))
}

/// The flow's ports: those of the first IP header's transport header, 0 when it has none
/// that carries ports (ICMP, a tunnel).
pub fn port(r: &Record, dst: bool) -> Oracled {
    let v = view(r)?;
    let h = v.ips.first()?;
    let (s, d) = h.ports.unwrap_or((0, 0));
    exact(Val::U(if dst { d } else { s }))
}

/// Bytes: dataLinkFrameSize, else the first IP header's length, else the section's.
pub fn bytes(r: &Record) -> Oracled {
    let v = view(r)?;
    let b = v
        .frame_size
        .or_else(|| v.ips.first().and_then(|h| h.len))
        .unwrap_or(v.section_len as u64);
    exact(Val::U(b))
}

/// One sampled packet.
pub fn packets(r: &Record) -> Oracled {
    view(r)?;
    exact(Val::U(1))
}

pub fn mac(r: &Record, dst: bool) -> Oracled {
    let v = view(r)?;
    (if dst { v.dst_mac } else { v.src_mac }).map(|m| Ok(Expect::exact(Val::U(m))))
}

pub fn vlan(r: &Record) -> Oracled {
    view(r)?.vlan.map(|m| Ok(Expect::exact(Val::U(m))))
}
