//! Sampled packet headers (sFlow raw packet header, IPFIX dataLinkFrameSection) parsed into a
//! [`FlowRecord`], zero-copy over the captured bytes.
//!
//! Each fixed header is a typed view over borrowed bytes whose constructor checks the length
//! once (`new_checked`); after that no accessor can panic. The parser walks Ethernet, 802.1Q /
//! QinQ, LLC/SNAP, PPP and Cisco HDLC, MPLS, IPv4 (options, fragments), IPv6 (extension
//! headers incl. fragment and routing), GRE and IP-in-IP tunnels, then TCP, UDP, ICMP and
//! ICMPv6. A header cut anywhere (sFlow agents send the first 128 bytes or so) stops the walk
//! cleanly: every field read before the cut is kept, nothing after it is guessed.
//!
//! Where the fields go:
//! - The first IP header fills the main fields (addresses, proto, tos, ttl, fragment, flow
//!   label) and its transport header fills ports, TCP flags and ICMP type/code.
//! - A second IP header behind GRE, IP-in-IP or IPv6-in-IP fills the `*_encap` fields and
//!   sets `has_encap` (GoFlow v3 convention: the main fields describe the packet as the router
//!   forwarded it, the encap fields the packet inside the tunnel). Its transport header only
//!   shows in the layer stack, so ports never come from a different packet than `proto`.
//! - MACs and the ethertype come from the outermost Ethernet header; `vlan_id` from the outer
//!   802.1Q tag; MPLS labels from the first label stack.
//! - `layer_stack` / `layer_size` (goflow2) record every layer met, with the bytes of that
//!   layer present in the capture.

use crate::flow::{layer, Addr, FlowRecord};

/// sFlow `header_protocol` values (sFlow v5 `sampled_header`).
pub mod header_protocol {
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 7;
    pub const IPV4: u32 = 11;
    pub const IPV6: u32 = 12;
    pub const MPLS: u32 = 13;
    pub const POS: u32 = 14;
}

/// Ethertypes the parser follows.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const DOT1Q: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const PPP: u16 = 0x880b;
    pub const TEB: u16 = 0x6558;
}

/// IP protocol numbers the parser follows.
pub mod ipproto {
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NONE: u8 = 59;
    pub const DSTOPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

/// Most 802.1Q tags, MPLS labels and IPv6 extension headers walked per header: real traffic
/// has 2, 3 and a few; a hostile header gets cut here instead of looping over its bytes.
const MAX_TAGS: usize = 4;
const MAX_LABELS: usize = 16;
const MAX_EXT_HEADERS: usize = 8;
/// IP headers walked (outer, one tunnel, one tunnel in the tunnel).
const MAX_IP_HEADERS: u8 = 3;

/// A MAC address (6 bytes; any other length is 0) in the low 48 bits of a u64, as GoFlow
/// stores it. Same result as `flow::mac_from_bytes`, without the byte loop.
#[inline]
pub fn mac(b: &[u8]) -> u64 {
    match <[u8; 6]>::try_from(b) {
        Ok(m) => u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]),
        Err(_) => crate::flow::mac_from_bytes(b),
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A view of a 14-byte Ethernet II header.
#[derive(Clone, Copy)]
pub struct EthernetHeader<'a>(&'a [u8; 14]);

impl<'a> EthernetHeader<'a> {
    pub const LEN: usize = 14;
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.get(..Self::LEN)?.try_into().ok().map(EthernetHeader)
    }
    pub fn dst(&self) -> &'a [u8] {
        &self.0[0..6]
    }
    pub fn src(&self) -> &'a [u8] {
        &self.0[6..12]
    }
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.0[12], self.0[13]])
    }
}

/// A view of an IPv4 header: the fixed 20 bytes are checked, options may be cut.
#[derive(Clone, Copy)]
pub struct Ipv4Header<'a>(&'a [u8; 20]);

impl<'a> Ipv4Header<'a> {
    pub const MIN_LEN: usize = 20;
    /// The fixed part, if present and version 4.
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        let h: &[u8; 20] = b.get(..Self::MIN_LEN)?.try_into().ok()?;
        (h[0] >> 4 == 4).then_some(Ipv4Header(h))
    }
    /// Header length in bytes as declared (IHL * 4; below 20 is malformed).
    pub fn header_len(&self) -> usize {
        usize::from(self.0[0] & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.0[1]
    }
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.0[2], self.0[3]])
    }
    pub fn ident(&self) -> u16 {
        u16::from_be_bytes([self.0[4], self.0[5]])
    }
    /// The 3 flag bits (reserved 4, DF 2, MF 1).
    pub fn flags(&self) -> u8 {
        self.0[6] >> 5
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        u16::from_be_bytes([self.0[6], self.0[7]]) & 0x1fff
    }
    pub fn ttl(&self) -> u8 {
        self.0[8]
    }
    pub fn protocol(&self) -> u8 {
        self.0[9]
    }
    pub fn src(&self) -> [u8; 4] {
        [self.0[12], self.0[13], self.0[14], self.0[15]]
    }
    pub fn dst(&self) -> [u8; 4] {
        [self.0[16], self.0[17], self.0[18], self.0[19]]
    }
}

/// A view of the 40-byte IPv6 fixed header.
#[derive(Clone, Copy)]
pub struct Ipv6Header<'a>(&'a [u8; 40]);

impl<'a> Ipv6Header<'a> {
    pub const LEN: usize = 40;
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        let h: &[u8; 40] = b.get(..Self::LEN)?.try_into().ok()?;
        (h[0] >> 4 == 6).then_some(Ipv6Header(h))
    }
    pub fn traffic_class(&self) -> u8 {
        (self.0[0] << 4) | (self.0[1] >> 4)
    }
    pub fn flow_label(&self) -> u32 {
        u32::from_be_bytes([0, self.0[1] & 0x0f, self.0[2], self.0[3]])
    }
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.0[4], self.0[5]])
    }
    pub fn next_header(&self) -> u8 {
        self.0[6]
    }
    pub fn hop_limit(&self) -> u8 {
        self.0[7]
    }
    pub fn src(&self) -> [u8; 16] {
        self.0[8..24].try_into().expect("16 of 40")
    }
    pub fn dst(&self) -> [u8; 16] {
        self.0[24..40].try_into().expect("16 of 40")
    }
}

/// How far a header walk got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The walk met a layer it does not dissect (ARP, ESP, an unknown ethertype, ...).
    pub unknown: bool,
    /// The captured bytes ended inside a layer it wanted to read.
    pub cut: bool,
    /// IP headers seen (1 = plain, 2 = one tunnel).
    pub ip_headers: u8,
}

/// Parses a sampled header of sFlow `header_protocol` `proto` into `rec`. Unknown protocols
/// leave `rec` unchanged and report `unknown`.
pub fn parse(proto: u32, data: &[u8], rec: &mut FlowRecord) -> Parsed {
    let mut p = Walk {
        data,
        rec,
        out: Parsed::default(),
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
    p.out
}

/// Parses an Ethernet frame (IPFIX dataLinkFrameSection, sFlow protocol 1) into `rec`.
pub fn parse_ethernet(data: &[u8], rec: &mut FlowRecord) -> Parsed {
    parse(header_protocol::ETHERNET, data, rec)
}

struct Walk<'a, 'r> {
    data: &'a [u8],
    rec: &'r mut FlowRecord,
    out: Parsed,
}

impl<'a> Walk<'a, '_> {
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
        let r = &mut *self.rec;
        match self.out.ip_headers {
            1 => {
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
        let level = self.out.ip_headers;
        {
            let r = &mut *self.rec;
            match level {
                1 => {
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
            ipproto::IPIP => self.ipv4(off),
            ipproto::IPV6 => self.ipv6(off),
            _ => self.out.unknown = true,
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An Ethernet/IPv4/TCP frame of `len` captured bytes (payload 0xab), DF set, ACK|PSH.
    pub fn eth_ipv4_tcp(len: usize) -> Vec<u8> {
        crate::decode::sflow::fixture::eth_ipv4_tcp_header(len)
    }

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
        let mut v = vec![0x45, 0x10];
        v.extend_from_slice(&((20 + payload_len) as u16).to_be_bytes());
        v.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v
    }

    fn ipv6(next: u8, src_last: u8, dst_last: u8) -> Vec<u8> {
        let mut v = vec![0x6a, 0xb1, 0x23, 0x45, 0, 0, next, 33];
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = src_last;
        v.extend_from_slice(&a);
        a[15] = dst_last;
        v.extend_from_slice(&a);
        v
    }

    fn eth(et: u16) -> Vec<u8> {
        let mut v = vec![
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
        ];
        v.extend_from_slice(&et.to_be_bytes());
        v
    }

    fn tcp(sp: u16, dp: u16, flags: u8) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v
    }

    fn layers(r: &FlowRecord) -> Vec<(u8, u32)> {
        let (k, s) = r.layers();
        k.iter().copied().zip(s.iter().copied()).collect()
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let f = eth_ipv4_tcp(128);
        let mut r = FlowRecord::default();
        let p = parse(header_protocol::ETHERNET, &f, &mut r);
        assert_eq!(p.ip_headers, 1);
        assert!(!p.cut && !p.unknown);
        assert_eq!(r.dst_mac, 0x0011_2233_4455);
        assert_eq!(r.src_mac, 0x6677_8899_aabb);
        assert_eq!(r.etype, 0x0800);
        assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
        assert_eq!(r.dst_addr, Addr::v4([192, 0, 2, 80]));
        assert_eq!((r.proto, r.src_port, r.dst_port), (6, 40000, 443));
        assert_eq!((r.tcp_flags, r.ip_ttl, r.ip_tos), (0x18, 63, 0x28));
        assert_eq!(
            (r.fragment_id, r.ip_flags, r.fragment_offset),
            (0x1234, 2, 0)
        );
        assert_eq!(
            layers(&r),
            vec![(layer::ETHERNET, 14), (layer::IPV4, 20), (layer::TCP, 20)]
        );
    }

    #[test]
    fn qinq_and_options() {
        let mut f = eth(ethertype::QINQ);
        f.extend_from_slice(&[0x20, 0x64, 0x81, 0x00]); // S-tag 100
        f.extend_from_slice(&[0x00, 0xc8, 0x08, 0x00]); // C-tag 200
        let mut ip = ipv4(17, [10, 1, 1, 1], [10, 2, 2, 2], 8);
        ip[0] = 0x46; // 4 bytes of options
        ip.extend_from_slice(&[1, 1, 1, 0]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x00, 0x35, 0xc0, 0x00, 0, 8, 0, 0]);
        let mut r = FlowRecord::default();
        parse(header_protocol::ETHERNET, &f, &mut r);
        assert_eq!(r.vlan_id, 100);
        assert_eq!(r.etype, 0x0800);
        assert_eq!((r.proto, r.src_port, r.dst_port), (17, 53, 49152));
        assert_eq!(
            layers(&r),
            vec![
                (layer::ETHERNET, 14),
                (layer::DOT1Q, 4),
                (layer::DOT1Q, 4),
                (layer::IPV4, 24),
                (layer::UDP, 8)
            ]
        );
    }

    #[test]
    fn ipv4_fragments() {
        let mut ip = ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 20);
        ip[6] = 0x20; // MF
        ip[7] = 0x00;
        ip.extend_from_slice(&tcp(1, 2, 0x02));
        let mut r = FlowRecord::default();
        parse(header_protocol::IPV4, &ip, &mut r);
        assert_eq!((r.ip_flags, r.fragment_offset, r.src_port), (1, 0, 1));
        // non-first fragment: offset 185 * 8 bytes, no ports read from the payload
        ip[6] = 0x00;
        ip[7] = 185;
        let mut r = FlowRecord::default();
        parse(header_protocol::IPV4, &ip, &mut r);
        assert_eq!((r.ip_flags, r.fragment_offset, r.src_port), (0, 185, 0));
        assert_eq!(r.proto, 6);
        assert_eq!(r.etype, 0x0800);
    }

    #[test]
    fn ipv6_extension_headers() {
        let mut f = eth(ethertype::IPV6);
        f.extend_from_slice(&ipv6(ipproto::HOPOPT, 1, 2));
        f.extend_from_slice(&[ipproto::ROUTING, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop, 8 B
                                                                       // routing header type 4 (SRH) with one segment: 8 + 16 bytes
        f.extend_from_slice(&[ipproto::FRAGMENT, 2, 4, 1, 0, 0, 0, 0]);
        f.extend_from_slice(&[0xfc; 16]);
        // fragment header: offset 0, M set, id 0xdeadbeef
        f.extend_from_slice(&[ipproto::ICMPV6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        f.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]); // echo request
        let mut r = FlowRecord::default();
        let p = parse(header_protocol::ETHERNET, &f, &mut r);
        assert!(!p.cut && !p.unknown, "{p:?}");
        assert_eq!(r.etype, 0x86dd);
        assert_eq!(r.proto, 58);
        assert_eq!((r.ip_tos, r.ipv6_flow_label, r.ip_ttl), (0xab, 0x12345, 33));
        assert_eq!((r.fragment_id, r.ip_flags), (0xdead_beef, 1));
        assert_eq!((r.icmp_type, r.icmp_code), (128, 0));
        assert_eq!(
            layers(&r),
            vec![
                (layer::ETHERNET, 14),
                (layer::IPV6, 40),
                (layer::IPV6_ROUTING, 24),
                (layer::IPV6_FRAGMENT, 8),
                (layer::ICMPV6, 8)
            ]
        );
    }

    #[test]
    fn ipv6_later_fragment_has_no_transport() {
        let mut f = ipv6(ipproto::FRAGMENT, 1, 2);
        f.extend_from_slice(&[ipproto::UDP, 0, 0x05, 0x00, 0, 0, 0, 9]); // offset 160
        f.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        let mut r = FlowRecord::default();
        parse(header_protocol::IPV6, &f, &mut r);
        assert_eq!((r.proto, r.fragment_offset, r.fragment_id), (17, 160, 9));
        assert_eq!(r.src_port, 0);
    }

    #[test]
    fn mpls_stack_then_ipv4() {
        let mut f = eth(ethertype::MPLS);
        f.extend_from_slice(&((16001u32 << 12) | 0x40).to_be_bytes()); // ttl 64
        f.extend_from_slice(&((24000u32 << 12) | 0x100 | 0x3f).to_be_bytes()); // BoS ttl 63
        f.extend_from_slice(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], 20));
        f.extend_from_slice(&tcp(179, 5000, 0x10));
        let mut r = FlowRecord::default();
        parse(header_protocol::ETHERNET, &f, &mut r);
        assert_eq!(r.mpls_labels(), &[16001, 24000]);
        assert_eq!(r.mpls_ttls(), &[64, 63]);
        assert_eq!(r.etype, 0x0800);
        assert_eq!((r.src_port, r.dst_port, r.tcp_flags), (179, 5000, 0x10));
        assert_eq!(layers(&r)[1], (layer::MPLS, 8));
        // header_protocol 13: the capture starts at the label stack
        let mut r = FlowRecord::default();
        parse(header_protocol::MPLS, &f[14..], &mut r);
        assert_eq!(r.mpls_count, 2);
        assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
    }

    #[test]
    fn gre_tunnel_fills_encap() {
        let mut f = eth(ethertype::IPV4);
        f.extend_from_slice(&ipv4(
            ipproto::GRE,
            [198, 51, 100, 1],
            [198, 51, 100, 2],
            60,
        ));
        f.extend_from_slice(&[0x20, 0x00, 0x08, 0x00, 0, 0, 0, 42]); // K bit, key 42
        f.extend_from_slice(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], 20));
        f.extend_from_slice(&tcp(1000, 22, 0x02));
        let mut r = FlowRecord::default();
        let p = parse(header_protocol::ETHERNET, &f, &mut r);
        assert_eq!(p.ip_headers, 2);
        assert_eq!(r.src_addr, Addr::v4([198, 51, 100, 1]));
        assert_eq!(r.proto, 47);
        assert_eq!((r.src_port, r.tcp_flags), (0, 0));
        assert!(r.has_encap);
        assert_eq!(r.src_addr_encap, Addr::v4([10, 0, 0, 1]));
        assert_eq!((r.proto_encap, r.etype_encap), (6, 0x0800));
        assert_eq!(
            layers(&r).iter().map(|l| l.0).collect::<Vec<_>>(),
            vec![
                layer::ETHERNET,
                layer::IPV4,
                layer::GRE,
                layer::IPV4,
                layer::TCP
            ]
        );
    }

    #[test]
    fn ipv6_in_ipv4() {
        let mut f = ipv4(ipproto::IPV6, [192, 0, 2, 1], [192, 0, 2, 2], 48);
        f.extend_from_slice(&ipv6(ipproto::UDP, 7, 8));
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let mut r = FlowRecord::default();
        parse(header_protocol::IPV4, &f, &mut r);
        assert_eq!(r.proto, 41);
        assert!(r.has_encap);
        assert_eq!((r.etype_encap, r.proto_encap), (0x86dd, 17));
        assert_eq!(r.ipv6_flow_label_encap, 0x12345);
    }

    #[test]
    fn ppp_and_hdlc() {
        let mut f = vec![0xff, 0x03, 0x00, 0x21];
        f.extend_from_slice(&ipv4(17, [1, 2, 3, 4], [5, 6, 7, 8], 8));
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let mut r = FlowRecord::default();
        parse(header_protocol::PPP, &f, &mut r);
        assert!(r.has_ppp);
        assert_eq!(
            (r.ppp_address_control, r.etype, r.dst_port),
            (0xff03, 0x0800, 2)
        );
        let mut f2 = vec![0x0f, 0x00, 0x86, 0xdd];
        f2.extend_from_slice(&ipv6(6, 1, 2));
        let mut r = FlowRecord::default();
        parse(header_protocol::POS, &f2, &mut r);
        assert_eq!((r.etype, r.proto, r.has_ppp), (0x86dd, 6, false));
    }

    #[test]
    fn snap_and_arp() {
        let mut f = eth(60);
        f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&ipv4(1, [1, 1, 1, 1], [2, 2, 2, 2], 8));
        f.extend_from_slice(&[8, 0, 0, 0]);
        let mut r = FlowRecord::default();
        parse(header_protocol::ETHERNET, &f, &mut r);
        assert_eq!((r.etype, r.icmp_type, r.proto), (0x0800, 8, 1));

        let mut f = eth(ethertype::ARP);
        f.extend_from_slice(&[0; 28]);
        let mut r = FlowRecord::default();
        let p = parse(header_protocol::ETHERNET, &f, &mut r);
        assert!(p.unknown);
        assert_eq!((r.etype, r.src_addr), (0x0806, Addr::NONE));
    }

    #[test]
    fn cut_mid_tcp_keeps_ip_fields() {
        let f = eth_ipv4_tcp(128);
        // 14 + 20 + 4: ports present, flags not
        let mut r = FlowRecord::default();
        let p = parse(header_protocol::ETHERNET, &f[..38], &mut r);
        assert!(p.cut);
        assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
        assert_eq!((r.src_port, r.dst_port, r.tcp_flags), (40000, 443, 0));
        assert_eq!(layers(&r)[2], (layer::TCP, 4));
        // 14 + 10: the IP header itself is cut
        let mut r = FlowRecord::default();
        let p = parse(header_protocol::ETHERNET, &f[..24], &mut r);
        assert!(p.cut);
        assert_eq!(r.etype, 0x0800);
        assert_eq!(r.src_addr, Addr::NONE);
    }

    #[test]
    fn unknown_protocol_leaves_record() {
        let mut r = FlowRecord::default();
        let p = parse(9, &[1, 2, 3], &mut r);
        assert!(p.unknown);
        assert_eq!(r, FlowRecord::default());
    }

    /// Every header cut at every length, and every byte flipped: never a panic, and layers
    /// never claim more bytes than were captured.
    #[test]
    fn truncation_and_corruption_never_panic() {
        let mut frames: Vec<(u32, Vec<u8>)> = vec![(1, eth_ipv4_tcp(128))];
        let mut f = eth(ethertype::DOT1Q);
        f.extend_from_slice(&[0, 5, 0x86, 0xdd]);
        f.extend_from_slice(&ipv6(ipproto::HOPOPT, 1, 2));
        f.extend_from_slice(&[ipproto::FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        f.extend_from_slice(&[ipproto::TCP, 0, 0, 1, 0, 0, 0, 1]);
        f.extend_from_slice(&tcp(1, 2, 3));
        frames.push((1, f));
        let mut g = eth(ethertype::MPLS);
        g.extend_from_slice(&((3u32 << 12) | 0x1ff).to_be_bytes());
        g.extend_from_slice(&ipv4(ipproto::GRE, [1, 1, 1, 1], [2, 2, 2, 2], 40));
        g.extend_from_slice(&[0xb0, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        g.extend_from_slice(&eth(ethertype::IPV4));
        g.extend_from_slice(&ipv4(17, [3, 3, 3, 3], [4, 4, 4, 4], 8));
        g.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        frames.push((1, g));
        for (proto, f) in &frames {
            for n in 0..=f.len() {
                let mut r = FlowRecord::default();
                parse(*proto, &f[..n], &mut r);
                let (_, sizes) = r.layers();
                for &s in sizes {
                    assert!(s as usize <= n);
                }
            }
            for i in 0..f.len() {
                for v in [0x00, 0xff, 0x11, 0x60, 0x45] {
                    let mut g = f.clone();
                    g[i] = v;
                    let mut r = FlowRecord::default();
                    for p in [1, 7, 11, 12, 13, 14] {
                        parse(p, &g, &mut r);
                    }
                }
            }
        }
    }
}
