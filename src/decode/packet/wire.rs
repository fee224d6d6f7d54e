//! The wire vocabulary of sampled headers: the protocol numbers the walk follows,
//! bounds-checked big-endian reads, and typed views over the fixed headers (Ethernet, IPv4,
//! IPv6), each a thin wrapper over borrowed bytes whose constructor checks the length once
//! (`new_checked`), after which no accessor can panic. Uses no sibling module.

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
    /// Ethernet in IPv6 (RFC 8986 SRv6 End.DX2 / T.Encaps.L2).
    pub const ETHERNET: u8 = 143;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

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
pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[inline]
pub(super) fn be32(b: &[u8], at: usize) -> Option<u32> {
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
