//! The header walk: [`parse`] follows a sampled header layer by layer (one `Walk` method
//! per layer, calling the next), filling the record as the module docs of `packet` describe,
//! and reports how far it got ([`Parsed`]). Every count it follows is bounded (`MAX_*`), and
//! a header cut anywhere stops the walk with what was read so far.

use super::wire::{be16, be32, ethertype, header_protocol, ipproto, mac};
use super::wire::{EthernetHeader, Ipv4Header, Ipv6Header};
use crate::flow::{layer, Addr, FlowRecord};

/// Most 802.1Q tags, MPLS labels and IPv6 extension headers walked per header: real traffic
/// has 2, 3 and a few; a hostile header gets cut here instead of looping over its bytes.
const MAX_TAGS: usize = 4;
const MAX_LABELS: usize = 16;
const MAX_EXT_HEADERS: usize = 8;
/// IP headers walked (outer, one tunnel, one tunnel in the tunnel).
const MAX_IP_HEADERS: u8 = 3;
/// The UDP destination port of VXLAN (RFC 7348).
const VXLAN_PORT: u16 = 4789;

/// How far a header walk got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The walk met a layer it does not dissect (ARP, ESP, an unknown ethertype, ...).
    pub unknown: bool,
    /// The captured bytes ended inside a layer it wanted to read.
    pub cut: bool,
    /// IP headers seen (1 = plain, 2 = one tunnel).
    pub ip_headers: u8,
    /// The first IP header's declared packet length (IPv4 total length, IPv6 payload
    /// length + 40); 0 when no IP header was read.
    pub ip_len: u32,
}

/// Where the layers of a header start ([`offsets`]), for `[[mapping]]` entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    /// The first IP header: its offset in the bytes and its version (4 or 6).
    pub net: Option<(u32, u8)>,
    /// The header after the first IP header (IPv6 extension headers skipped): its offset and
    /// IP protocol number.
    pub transport: Option<(u32, u8)>,
}

/// Parses a sampled header of sFlow `header_protocol` `proto` into `rec`. Unknown protocols
/// leave `rec` unchanged and report `unknown`.
pub fn parse(proto: u32, data: &[u8], rec: &mut FlowRecord) -> Parsed {
    walk::<false>(proto, data, rec).0
}

/// Where the first IP header and the header after it start in a sampled header of sFlow
/// `header_protocol` `proto`: the walk [`parse`] does, with the offsets kept (a second walk,
/// so that `parse` itself stays as it was; only records with `[[mapping]]` entries pay it).
pub fn offsets(proto: u32, data: &[u8]) -> Offsets {
    walk::<true>(proto, data, &mut FlowRecord::default()).1
}

#[inline(always)]
fn walk<const TRACK: bool>(proto: u32, data: &[u8], rec: &mut FlowRecord) -> (Parsed, Offsets) {
    let mut p = Walk::<TRACK> {
        data,
        rec,
        out: Parsed::default(),
        offs: Offsets::default(),
    };
    match proto {
        header_protocol::ETHERNET => p.ethernet(0, true),
        header_protocol::IPV4 => {
            p.rec.etype = u32::from(ethertype::IPV4);
            p.ipv4(0)
        }
        header_protocol::IPV6 => {
            p.rec.etype = u32::from(ethertype::IPV6);
            p.ipv6(0)
        }
        header_protocol::MPLS => {
            p.rec.etype = u32::from(ethertype::MPLS);
            p.mpls(0)
        }
        header_protocol::PPP | header_protocol::POS => p.ppp(0),
        _ => p.out.unknown = true,
    }
    (p.out, p.offs)
}

/// Parses an Ethernet frame (IPFIX dataLinkFrameSection, sFlow protocol 1) into `rec`.
pub fn parse_ethernet(data: &[u8], rec: &mut FlowRecord) -> Parsed {
    parse(header_protocol::ETHERNET, data, rec)
}

/// Parses a packet that starts at its IP header (IPFIX ipHeaderPacketSection), IPv4 or IPv6
/// by its first nibble; anything else is `unknown`.
pub fn parse_ip(data: &[u8], rec: &mut FlowRecord) -> Parsed {
    let proto = match data.first().map(|b| b >> 4) {
        Some(4) => header_protocol::IPV4,
        Some(6) => header_protocol::IPV6,
        Some(_) => {
            return Parsed {
                unknown: true,
                ..Parsed::default()
            }
        }
        None => {
            return Parsed {
                cut: true,
                ..Parsed::default()
            }
        }
    };
    parse(proto, data, rec)
}

/// The walk's state; with `TRACK` it also keeps the layer offsets (written only then).
struct Walk<'a, 'r, const TRACK: bool> {
    data: &'a [u8],
    rec: &'r mut FlowRecord,
    out: Parsed,
    offs: Offsets,
}

impl<'a, const TRACK: bool> Walk<'a, '_, TRACK> {
    #[inline]
    fn rest(&self, off: usize) -> &'a [u8] {
        self.data.get(off..).unwrap_or(&[])
    }

    #[inline]
    fn layer(&mut self, kind: u8, declared: usize, off: usize) {
        let present = declared.min(self.data.len().saturating_sub(off));
        self.rec.push_layer(kind, present as u32);
    }

    /// `outer`: the first Ethernet header of the sample (MACs, ethertype, VLAN go to the
    /// record); an Ethernet header inside a tunnel only adds layers.
    fn ethernet(&mut self, off: usize, outer: bool) {
        let Some(eth) = EthernetHeader::new_checked(self.rest(off)) else {
            let b = self.rest(off);
            if outer && b.len() >= 12 {
                self.rec.dst_mac = mac(&b[0..6]);
                self.rec.src_mac = mac(&b[6..12]);
            }
            self.out.cut = true;
            return;
        };
        if outer {
            self.rec.dst_mac = mac(eth.dst());
            self.rec.src_mac = mac(eth.src());
        }
        self.layer(layer::ETHERNET, EthernetHeader::LEN, off);
        let mut off = off + EthernetHeader::LEN;
        let mut et = eth.ethertype();
        let mut tags = 0;
        while matches!(et, ethertype::DOT1Q | ethertype::QINQ | ethertype::QINQ_OLD) {
            if tags == MAX_TAGS {
                self.out.unknown = true;
                return;
            }
            let b = self.rest(off);
            let (Some(tci), Some(next)) = (be16(b, 0), be16(b, 2)) else {
                self.out.cut = true;
                if outer {
                    self.rec.etype = u32::from(et);
                }
                return;
            };
            if outer && tags == 0 {
                self.rec.vlan_id = u32::from(tci & 0x0fff);
            }
            self.layer(layer::DOT1Q, 4, off);
            off += 4;
            et = next;
            tags += 1;
        }
        if et < 0x0600 {
            // 802.3 length field: only LLC/SNAP carries an ethertype on
            let b = self.rest(off);
            match (b.get(..3), be16(b, 6)) {
                (Some([0xaa, 0xaa, 0x03]), Some(snap)) => {
                    off += 8;
                    et = snap;
                }
                (Some(_), _) => {
                    if outer {
                        self.rec.etype = 0;
                    }
                    self.out.unknown = true;
                    return;
                }
                (None, _) => {
                    self.out.cut = true;
                    return;
                }
            }
        }
        if outer {
            self.rec.etype = u32::from(et);
        }
        self.ethertype(et, off);
    }

    fn ethertype(&mut self, et: u16, off: usize) {
        match et {
            ethertype::IPV4 => self.ipv4(off),
            ethertype::IPV6 => self.ipv6(off),
            ethertype::MPLS | ethertype::MPLS_MC => self.mpls(off),
            ethertype::PPP => self.ppp(off),
            ethertype::TEB => self.ethernet(off, false),
            _ => self.out.unknown = true,
        }
    }

    /// PPP in HDLC-like framing (RFC 1662, also PPP over SONET) or Cisco HDLC.
    fn ppp(&mut self, off: usize) {
        let b = self.rest(off);
        let (Some(&a), Some(&c)) = (b.first(), b.get(1)) else {
            self.out.cut = true;
            return;
        };
        if (a == 0x0f || a == 0x8f) && c == 0x00 {
            // Cisco HDLC: address, control, then an ethertype
            let Some(et) = be16(b, 2) else {
                self.out.cut = true;
                return;
            };
            self.set_base_etype(et);
            return self.ethertype(et, off + 4);
        }
        let mut at = 0;
        if a == 0xff && c == 0x03 {
            self.rec.has_ppp = true;
            self.rec.ppp_address_control = 0xff03;
            at = 2;
        }
        // protocol field compression: an odd first octet is a 1-byte protocol
        let proto = match b.get(at) {
            None => {
                self.out.cut = true;
                return;
            }
            Some(&p) if p & 1 == 1 => {
                at += 1;
                u16::from(p)
            }
            Some(_) => match be16(b, at) {
                Some(p) => {
                    at += 2;
                    p
                }
                None => {
                    self.out.cut = true;
                    return;
                }
            },
        };
        let et = match proto {
            0x0021 => ethertype::IPV4,
            0x0057 => ethertype::IPV6,
            0x0281 => ethertype::MPLS,
            0x0283 => ethertype::MPLS_MC,
            _ => {
                self.out.unknown = true;
                return;
            }
        };
        self.set_base_etype(et);
        self.ethertype(et, off + at);
    }

    /// The ethertype of the flow when no Ethernet header gave one (PPP, HDLC, GRE inner).
    #[inline]
    fn set_base_etype(&mut self, et: u16) {
        if self.out.ip_headers == 0 && (self.rec.etype == 0 || self.rec.etype == 0x880b) {
            self.rec.etype = u32::from(et);
        }
    }

    fn mpls(&mut self, off: usize) {
        let outer = self.out.ip_headers == 0 && self.rec.mpls_count == 0;
        let mut at = off;
        let mut n = 0;
        loop {
            if n == MAX_LABELS {
                self.out.unknown = true;
                break;
            }
            let Some(e) = be32(self.data, at) else {
                self.out.cut = true;
                break;
            };
            if outer {
                self.rec.push_mpls(e >> 12, e as u8);
            }
            at += 4;
            n += 1;
            if e & 0x100 != 0 {
                // bottom of stack: the payload is IP if its first nibble says so
                self.layer(layer::MPLS, 4 * n, off);
                match self.data.get(at).map(|v| v >> 4) {
                    Some(4) => {
                        self.set_ip_etype(ethertype::IPV4);
                        self.ipv4(at)
                    }
                    Some(6) => {
                        self.set_ip_etype(ethertype::IPV6);
                        self.ipv6(at)
                    }
                    // a pseudowire control word (RFC 4385: first nibble 0), then the
                    // emulated Ethernet frame (EoMPLS, RFC 4448); a frame without one whose
                    // destination MAC starts with a 0 nibble is told apart by its ethertype
                    Some(0)
                        if !self.looks_like_ethernet(at) || self.looks_like_ethernet(at + 4) =>
                    {
                        // goflow2's layer kinds have none for it
                        self.layer(layer::CUSTOM, 4, at);
                        if self.data.len() < at + 4 {
                            self.out.cut = true;
                        } else {
                            self.pw_ethernet(at + 4);
                        }
                    }
                    // no control word: an Ethernet frame if its ethertype says so
                    Some(_) if self.looks_like_ethernet(at) => self.pw_ethernet(at),
                    Some(_) => self.out.unknown = true,
                    None => self.out.cut = true,
                }
                return;
            }
        }
        if n > 0 {
            self.layer(layer::MPLS, 4 * n, off);
        }
    }

    /// Whether the bytes at `off` read as an Ethernet header whose ethertype the walk
    /// follows (an Ethernet pseudowire without control word has no other marker).
    fn looks_like_ethernet(&self, off: usize) -> bool {
        matches!(
            be16(self.data, off + 12),
            Some(
                ethertype::IPV4
                    | ethertype::IPV6
                    | ethertype::DOT1Q
                    | ethertype::QINQ
                    | ethertype::MPLS
            )
        )
    }

    /// The Ethernet frame an Ethernet pseudowire carries: its IP packet is the flow's when
    /// the labels carried no other (the outer Ethernet header keeps the MACs and VLAN).
    fn pw_ethernet(&mut self, off: usize) {
        if self.out.ip_headers == 0 {
            if let Some(et @ (ethertype::IPV4 | ethertype::IPV6)) = be16(self.data, off + 12) {
                self.set_ip_etype(et);
            }
        }
        self.ethernet(off, false)
    }

    /// Behind MPLS the flow's ethertype is the IP version found under the labels.
    #[inline]
    fn set_ip_etype(&mut self, et: u16) {
        if self.out.ip_headers == 0 {
            self.rec.etype = u32::from(et);
        }
    }

    fn ipv4(&mut self, off: usize) {
        if self.out.ip_headers >= MAX_IP_HEADERS {
            self.out.unknown = true;
            return;
        }
        let b = self.rest(off);
        let Some(h) = Ipv4Header::new_checked(b) else {
            if b.len() < Ipv4Header::MIN_LEN {
                self.out.cut = true;
            } else {
                self.out.unknown = true;
            }
            return;
        };
        let hl = h.header_len();
        if hl < Ipv4Header::MIN_LEN {
            self.out.unknown = true;
            return;
        }
        self.out.ip_headers += 1;
        if TRACK && self.out.ip_headers == 1 {
            self.offs.net = Some((off as u32, 4));
        }
        let r = &mut *self.rec;
        match self.out.ip_headers {
            1 => {
                self.out.ip_len = u32::from(h.total_len());
                r.src_addr = Addr::v4(h.src());
                r.dst_addr = Addr::v4(h.dst());
                r.proto = u32::from(h.protocol());
                r.ip_tos = u32::from(h.tos());
                r.ip_ttl = u32::from(h.ttl());
                r.fragment_id = u32::from(h.ident());
                r.fragment_offset = u32::from(h.frag_offset());
                r.ip_flags = u32::from(h.flags());
            }
            2 => {
                r.has_encap = true;
                r.etype_encap = u32::from(ethertype::IPV4);
                r.src_addr_encap = Addr::v4(h.src());
                r.dst_addr_encap = Addr::v4(h.dst());
                r.proto_encap = u32::from(h.protocol());
                r.ip_tos_encap = u32::from(h.tos());
                r.ip_ttl_encap = u32::from(h.ttl());
                r.fragment_id_encap = u32::from(h.ident());
                r.fragment_offset_encap = u32::from(h.frag_offset());
            }
            _ => {}
        }
        self.layer(layer::IPV4, hl, off);
        if b.len() < hl {
            self.out.cut = true;
            return;
        }
        if h.frag_offset() != 0 {
            // a non-first fragment carries no transport header
            return;
        }
        self.transport(h.protocol(), off + hl);
    }

    fn ipv6(&mut self, off: usize) {
        if self.out.ip_headers >= MAX_IP_HEADERS {
            self.out.unknown = true;
            return;
        }
        let b = self.rest(off);
        let Some(h) = Ipv6Header::new_checked(b) else {
            if b.len() < Ipv6Header::LEN {
                self.out.cut = true;
            } else {
                self.out.unknown = true;
            }
            return;
        };
        self.out.ip_headers += 1;
        if TRACK && self.out.ip_headers == 1 {
            self.offs.net = Some((off as u32, 6));
        }
        let level = self.out.ip_headers;
        {
            let r = &mut *self.rec;
            match level {
                1 => {
                    self.out.ip_len = u32::from(h.payload_len()) + Ipv6Header::LEN as u32;
                    r.src_addr = Addr::v6(h.src());
                    r.dst_addr = Addr::v6(h.dst());
                    r.proto = u32::from(h.next_header());
                    r.ip_tos = u32::from(h.traffic_class());
                    r.ip_ttl = u32::from(h.hop_limit());
                    r.ipv6_flow_label = h.flow_label();
                }
                2 => {
                    r.has_encap = true;
                    r.etype_encap = u32::from(ethertype::IPV6);
                    r.src_addr_encap = Addr::v6(h.src());
                    r.dst_addr_encap = Addr::v6(h.dst());
                    r.proto_encap = u32::from(h.next_header());
                    r.ip_tos_encap = u32::from(h.traffic_class());
                    r.ip_ttl_encap = u32::from(h.hop_limit());
                    r.ipv6_flow_label_encap = h.flow_label();
                }
                _ => {}
            }
        }
        self.layer(layer::IPV6, Ipv6Header::LEN, off);
        let mut off = off + Ipv6Header::LEN;
        let mut next = h.next_header();
        for _ in 0..MAX_EXT_HEADERS {
            let b = self.rest(off);
            let len = match next {
                ipproto::HOPOPT
                | ipproto::ROUTING
                | ipproto::DSTOPTS
                | ipproto::MOBILITY
                | ipproto::HIP
                | ipproto::SHIM6 => b.get(1).map(|&l| (usize::from(l) + 1) * 8),
                ipproto::AH => b.get(1).map(|&l| (usize::from(l) + 2) * 4),
                ipproto::FRAGMENT => Some(8),
                _ => break,
            };
            let (Some(len), Some(&nh)) = (len, b.first()) else {
                self.out.cut = true;
                return;
            };
            let mut last_fragment_offset = 0;
            match next {
                ipproto::ROUTING => self.layer(layer::IPV6_ROUTING, len, off),
                ipproto::FRAGMENT => {
                    self.layer(layer::IPV6_FRAGMENT, len, off);
                    let (Some(fo), Some(id)) = (be16(b, 2), be32(b, 4)) else {
                        self.out.cut = true;
                        return;
                    };
                    let r = &mut *self.rec;
                    match level {
                        1 => {
                            r.fragment_id = id;
                            r.fragment_offset = u32::from(fo >> 3);
                            r.ip_flags = u32::from(fo & 1);
                        }
                        2 => {
                            r.fragment_id_encap = id;
                            r.fragment_offset_encap = u32::from(fo >> 3);
                        }
                        _ => {}
                    }
                    last_fragment_offset = fo >> 3;
                }
                _ => {}
            }
            // the upper-layer protocol is the last next-header of the chain
            match level {
                1 => self.rec.proto = u32::from(nh),
                2 => self.rec.proto_encap = u32::from(nh),
                _ => {}
            }
            if b.len() < len {
                self.out.cut = true;
                return;
            }
            off += len;
            next = nh;
            if last_fragment_offset != 0 {
                return;
            }
        }
        match next {
            ipproto::ESP | ipproto::NONE => self.out.unknown = next == ipproto::ESP,
            _ => self.transport(next, off),
        }
    }

    fn transport(&mut self, proto: u8, off: usize) {
        let base = self.out.ip_headers == 1;
        if TRACK && base && self.offs.transport.is_none() {
            self.offs.transport = Some((off as u32, proto));
        }
        let b = self.rest(off);
        match proto {
            ipproto::TCP => {
                let (Some(sp), Some(dp)) = (be16(b, 0), be16(b, 2)) else {
                    self.out.cut = true;
                    return;
                };
                if base {
                    self.rec.src_port = u32::from(sp);
                    self.rec.dst_port = u32::from(dp);
                }
                let hl = match b.get(12) {
                    Some(&d) => usize::from(d >> 4) * 4,
                    None => 20,
                };
                self.layer(layer::TCP, hl.max(20), off);
                match b.get(13) {
                    Some(&f) if base => self.rec.tcp_flags = u32::from(f),
                    Some(_) => {}
                    None => self.out.cut = true,
                }
            }
            ipproto::UDP => {
                let (Some(sp), Some(dp)) = (be16(b, 0), be16(b, 2)) else {
                    self.out.cut = true;
                    return;
                };
                if base {
                    self.rec.src_port = u32::from(sp);
                    self.rec.dst_port = u32::from(dp);
                }
                self.layer(layer::UDP, 8, off);
                if dp == VXLAN_PORT {
                    self.vxlan(off + 8);
                }
            }
            ipproto::ICMP | ipproto::ICMPV6 => {
                let (Some(&t), Some(&c)) = (b.first(), b.get(1)) else {
                    self.out.cut = true;
                    return;
                };
                if base {
                    self.rec.icmp_type = u32::from(t);
                    self.rec.icmp_code = u32::from(c);
                }
                let kind = if proto == ipproto::ICMP {
                    layer::ICMP
                } else {
                    layer::ICMPV6
                };
                self.layer(kind, 8, off);
            }
            ipproto::GRE => self.gre(off),
            ipproto::ETHERNET => self.ethernet(off, false),
            ipproto::IPIP => self.ipv4(off),
            ipproto::IPV6 => self.ipv6(off),
            _ => self.out.unknown = true,
        }
    }

    /// VXLAN (RFC 7348): an 8-byte header whose I flag says a VNI follows, then an Ethernet
    /// frame.
    fn vxlan(&mut self, off: usize) {
        let b = self.rest(off);
        let Some(&flags) = b.first() else {
            self.out.cut = true;
            return;
        };
        self.layer(layer::CUSTOM, 8, off); // goflow2 has no VXLAN kind
        if flags & 0x08 == 0 {
            self.out.unknown = true;
            return;
        }
        if b.len() < 8 {
            self.out.cut = true;
            return;
        }
        self.ethernet(off + 8, false);
    }

    /// GRE version 0 (RFC 2784/2890): optional checksum, key and sequence words.
    fn gre(&mut self, off: usize) {
        let b = self.rest(off);
        let (Some(fl), Some(pt)) = (be16(b, 0), be16(b, 2)) else {
            self.out.cut = true;
            return;
        };
        if fl & 0x7 != 0 {
            // version 1 (PPTP enhanced GRE) and others
            self.layer(layer::GRE, 4, off);
            self.out.unknown = true;
            return;
        }
        // checksum (C), key (K) and sequence (S) words
        let len = 4
            + 4 * usize::from((fl >> 15) & 1)
            + 4 * usize::from((fl >> 13) & 1)
            + 4 * usize::from((fl >> 12) & 1);
        self.layer(layer::GRE, len, off);
        if b.len() < len {
            self.out.cut = true;
            return;
        }
        self.ethertype(pt, off + len);
    }
}
