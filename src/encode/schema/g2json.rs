//! goflow2's JSON (`--format json --schema goflow2`): one object per record as goflow2 v2.2
//! writes it with its default formatter, so goflow2's JSON consumers read it unchanged.
//!
//! The rules, each from goflow2 v2.2.x (netsampler/goflow2, `producer/proto/`):
//! - keys are the `flowpb.FlowMessage` field names (the `json` tags protoc-gen-go gives the
//!   Go struct), in the order `pb/flow.proto` declares them, not in field-number order
//!   (`config_impl.go` `mapFormat`: the struct's fields in order);
//! - every field is written, zero or empty included (`messages.go`
//!   `FormatMessageReflectCustom` skips none of them); repeated fields are arrays, `[]` when
//!   empty; compact, `,` between members and `:` after keys;
//! - `type` and `layer_stack` are enum names; addresses (`sampler_address`, `src_addr`,
//!   `dst_addr`, `next_hop`, `bgp_next_hop`, `mpls_ip`) text, `""` when absent; MACs
//!   `aa:bb:cc:dd:ee:ff`, zero included; `etype` `"IPv4"`, `"IPv6"`, `"ARP"` or `""`; `proto`
//!   the IANA keyword (`"TCP"`, `"HOPOPT"` for 0); `src_net`/`dst_net` the address masked to
//!   the prefix length, `"10.0.0.0/24"`, or `"invalid Prefix"` without an address or with a
//!   length past the address's bits (`render.go`, `defaultRenderers`);
//! - everything else is a number.
//!
//! Written straight into the caller's `Vec`: no allocation once it has grown.

use super::map::v3_type;
use crate::flow::{layer, Addr, FlowRecord};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Writes the members of the object: the first key opens it, every other one starts with the
/// comma before it, so each key is one constant string.
macro_rules! members {
    ($j:ident; $first:literal $fkind:ident ($fe:expr); $($name:literal $kind:ident ($e:expr);)*) => {
        $j.$fkind(concat!("{\"", $first, "\":"), $fe);
        $($j.$kind(concat!(",\"", $name, "\":"), $e);)*
    };
}

/// Appends the record as goflow2's JSON object (no newline).
pub(super) fn goflow2_json(r: &FlowRecord, out: &mut Vec<u8>) {
    let mut j = G2Json { out };
    members!(j;
        "type" text(v3_type(r.flow_type).1);
        "time_received_ns" num(r.time_received_ns);
        "sequence_num" num(u64::from(r.sequence_num));
        "sampling_rate" num(r.sampling_rate);
        "sampler_address" ip(r.sampler_address);
        "time_flow_start_ns" num(r.time_flow_start_ns);
        "time_flow_end_ns" num(r.time_flow_end_ns);
        "bytes" num(r.bytes);
        "packets" num(r.packets);
        "src_addr" ip(r.src_addr);
        "dst_addr" ip(r.dst_addr);
        "etype" text(etype_name(r.etype));
        "proto" text(proto_name(r.proto));
        "src_port" num(u64::from(r.src_port));
        "dst_port" num(u64::from(r.dst_port));
        "in_if" num(u64::from(r.in_if));
        "out_if" num(u64::from(r.out_if));
        "src_mac" mac(r.src_mac);
        "dst_mac" mac(r.dst_mac);
        "src_vlan" num(u64::from(r.src_vlan));
        "dst_vlan" num(u64::from(r.dst_vlan));
        "vlan_id" num(u64::from(r.vlan_id));
        "ip_tos" num(u64::from(r.ip_tos));
        "forwarding_status" num(u64::from(r.forwarding_status));
        "ip_ttl" num(u64::from(r.ip_ttl));
        "ip_flags" num(u64::from(r.ip_flags));
        "tcp_flags" num(u64::from(r.tcp_flags));
        "icmp_type" num(u64::from(r.icmp_type));
        "icmp_code" num(u64::from(r.icmp_code));
        "ipv6_flow_label" num(u64::from(r.ipv6_flow_label));
        "fragment_id" num(u64::from(r.fragment_id));
        "fragment_offset" num(u64::from(r.fragment_offset));
        "src_as" num(u64::from(r.src_as));
        "dst_as" num(u64::from(r.dst_as));
        "next_hop" ip(r.next_hop);
        "next_hop_as" num(u64::from(r.next_hop_as));
        "src_net" net((r.src_addr, r.src_net));
        "dst_net" net((r.dst_addr, r.dst_net));
        "bgp_next_hop" ip(r.bgp_next_hop);
        "bgp_communities" nums(r.communities());
        "as_path" nums(r.as_path());
        "mpls_ttl" nums(r.mpls_ttls());
        "mpls_label" nums(r.mpls_labels());
        "mpls_ip" ips(r.mpls_ip);
        "observation_domain_id" num(u64::from(r.observation_domain_id));
        "observation_point_id" num(u64::from(r.observation_point_id));
        "layer_stack" layers(r.layers().0);
        "layer_size" nums(r.layers().1);
        // SRv6 (goflow2 fills them from sFlow headers): coreflow does not decode them
        "ipv6_routing_header_addresses" nums(&[] as &[u32]);
        "ipv6_routing_header_seg_left" num(0);
    );
    j.out.push(b'}');
}

struct G2Json<'a> {
    out: &'a mut Vec<u8>,
}

impl G2Json<'_> {
    #[inline(always)]
    fn key(&mut self, k: &'static str) {
        self.out.extend_from_slice(k.as_bytes());
    }

    #[inline(always)]
    fn num(&mut self, k: &'static str, v: u64) {
        self.key(k);
        self.digits(v);
    }

    /// A number in decimal. Most of goflow2's fields are zero in most records: one byte
    /// for them; the others are written from the end of a stack buffer. (With `write!`,
    /// which goes through the formatting machinery, and `Display` for IPv4 text, the object
    /// took twice as long: `cargo bench --bench decode -- encode/goflow2/json`.)
    #[inline(always)]
    fn digits(&mut self, v: u64) {
        if v < 10 {
            self.out.push(b'0' + v as u8);
        } else {
            self.digits_long(v);
        }
    }

    #[inline(never)]
    fn digits_long(&mut self, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        while v >= 10 {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        i -= 1;
        buf[i] = b'0' + v as u8;
        self.out.extend_from_slice(&buf[i..]);
    }

    /// An address's text inside quotes: IPv4 by hand, IPv6 by `Ipv6Addr`'s `Display`
    /// (RFC 5952, as Go's `netip` writes it).
    #[inline(always)]
    fn ip_text(&mut self, ip: IpAddr) {
        self.out.push(b'"');
        match ip {
            IpAddr::V4(a) => {
                let [a, b, c, d] = a.octets();
                self.digits(u64::from(a));
                self.out.push(b'.');
                self.digits(u64::from(b));
                self.out.push(b'.');
                self.digits(u64::from(c));
                self.out.push(b'.');
                self.digits(u64::from(d));
            }
            IpAddr::V6(a) => {
                let _ = write!(self.out, "{a}");
            }
        }
        self.out.push(b'"');
    }

    #[inline(always)]
    fn text(&mut self, k: &'static str, v: &str) {
        self.key(k);
        self.out.push(b'"');
        self.out.extend_from_slice(v.as_bytes());
        self.out.push(b'"');
    }

    /// An address as text, `""` without one (goflow2 `RenderIP`).
    #[inline(always)]
    fn ip(&mut self, k: &'static str, v: Addr) {
        self.key(k);
        match v.to_ip() {
            Some(ip) => self.ip_text(ip),
            None => self.out.extend_from_slice(b"\"\""),
        }
    }

    /// `repeated bytes` of addresses (coreflow keeps at most one).
    #[inline(always)]
    fn ips(&mut self, k: &'static str, v: Addr) {
        self.key(k);
        self.out.push(b'[');
        if let Some(ip) = v.to_ip() {
            self.ip_text(ip);
        }
        self.out.push(b']');
    }

    /// A MAC in the low 48 bits as `aa:bb:cc:dd:ee:ff`, zero included (Go's
    /// `net.HardwareAddr.String`).
    #[inline(always)]
    fn mac(&mut self, k: &'static str, v: u64) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.key(k);
        let b = v.to_be_bytes();
        let mut s = [b':'; 19];
        s[0] = b'"';
        s[18] = b'"';
        for (i, &x) in b[2..].iter().enumerate() {
            s[1 + 3 * i] = HEX[usize::from(x >> 4)];
            s[2 + 3 * i] = HEX[usize::from(x & 0xf)];
        }
        self.out.extend_from_slice(&s);
    }

    /// A prefix length as goflow2's `NetworkRenderer` shows it: the flow's address masked
    /// to it, `"10.0.0.0/24"`.
    #[inline(always)]
    fn net(&mut self, k: &'static str, (addr, bits): (Addr, u32)) {
        self.key(k);
        match masked(addr, bits) {
            Some(ip) => {
                self.ip_text(ip);
                // the prefix length goes inside the quotes
                self.out.pop();
                self.out.push(b'/');
                self.digits(u64::from(bits));
                self.out.push(b'"');
            }
            None => self.out.extend_from_slice(b"\"invalid Prefix\""),
        }
    }

    #[inline(always)]
    fn nums<T: Copy + Into<u64>>(&mut self, k: &'static str, v: &[T]) {
        self.key(k);
        self.out.push(b'[');
        for (i, &x) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.digits(x.into());
        }
        self.out.push(b']');
    }

    #[inline(always)]
    fn layers(&mut self, k: &'static str, v: &[u8]) {
        self.key(k);
        self.out.push(b'[');
        for (i, &x) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.push(b'"');
            self.out.extend_from_slice(layer::name(x).as_bytes());
            self.out.push(b'"');
        }
        self.out.push(b']');
    }
}

/// The address with its bits past `bits` cleared, or `None` where Go's
/// `netip.Addr.Prefix` gives an invalid prefix (no address, or more bits than it has).
fn masked(addr: Addr, bits: u32) -> Option<IpAddr> {
    match addr.to_ip()? {
        IpAddr::V4(a) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask)))
        }
        IpAddr::V6(a) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            Some(IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask)))
        }
        _ => None,
    }
}

/// goflow2's `etypeName`: the three EtherTypes it names, `""` for any other.
fn etype_name(etype: u32) -> &'static str {
    match etype {
        0x0800 => "IPv4",
        0x86dd => "IPv6",
        0x0806 => "ARP",
        _ => "",
    }
}

/// The IANA protocol keyword goflow2's `ProtoName` gives: the registry's names for 0-145,
/// then `unassigned` (146-252), `experimental` (253, 254), `reserved` (255), `unknown` past
/// a byte.
fn proto_name(proto: u32) -> &'static str {
    match proto {
        0..=145 => PROTO_NAMES[proto as usize],
        146..=252 => "unassigned",
        253 | 254 => "experimental",
        255 => "reserved",
        _ => "unknown",
    }
}

/// IANA "Assigned Internet Protocol Numbers" keywords 0-145, as goflow2 v2.2 spells them
/// (`render.go` `protoName`; the registry leaves 61, 63, 68, 99 and 114 without a keyword
/// and goflow2 writes their descriptions).
const PROTO_NAMES: [&str; 146] = [
    "HOPOPT",
    "ICMP",
    "IGMP",
    "GGP",
    "IPv4",
    "ST",
    "TCP",
    "CBT",
    "EGP",
    "IGP",
    "BBN-RCC-MON",
    "NVP-II",
    "PUP",
    "ARGUS",
    "EMCON",
    "XNET",
    "CHAOS",
    "UDP",
    "MUX",
    "DCN-MEAS",
    "HMP",
    "PRM",
    "XNS-IDP",
    "TRUNK-1",
    "TRUNK-2",
    "LEAF-1",
    "LEAF-2",
    "RDP",
    "IRTP",
    "ISO-TP4",
    "NETBLT",
    "MFE-NSP",
    "MERIT-INP",
    "DCCP",
    "3PC",
    "IDPR",
    "XTP",
    "DDP",
    "IDPR-CMTP",
    "TP++",
    "IL",
    "IPv6",
    "SDRP",
    "IPv6-Route",
    "IPv6-Frag",
    "IDRP",
    "RSVP",
    "GRE",
    "DSR",
    "BNA",
    "ESP",
    "AH",
    "I-NLSP",
    "SWIPE",
    "NARP",
    "Min-IPv4",
    "TLSP",
    "SKIP",
    "IPv6-ICMP",
    "IPv6-NoNxt",
    "IPv6-Opts",
    "any-host-internal-protocol",
    "CFTP",
    "any-local-network",
    "SAT-EXPAK",
    "KRYPTOLAN",
    "RVD",
    "IPPC",
    "any-distributed-file-system",
    "SAT-MON",
    "VISA",
    "IPCV",
    "CPNX",
    "CPHB",
    "WSN",
    "PVP",
    "BR-SAT-MON",
    "SUN-ND",
    "WB-MON",
    "WB-EXPAK",
    "ISO-IP",
    "VMTP",
    "SECURE-VMTP",
    "VINES",
    "IPTM",
    "NSFNET-IGP",
    "DGP",
    "TCF",
    "EIGRP",
    "OSPFIGP",
    "Sprite-RPC",
    "LARP",
    "MTP",
    "AX.25",
    "IPIP",
    "MICP",
    "SCC-SP",
    "ETHERIP",
    "ENCAP",
    "any-private-encryption-scheme",
    "GMTP",
    "IFMP",
    "PNNI",
    "PIM",
    "ARIS",
    "SCPS",
    "QNX",
    "A/N",
    "IPComp",
    "SNP",
    "Compaq-Peer",
    "IPX-in-IP",
    "VRRP",
    "PGM",
    "any-0-hop-protocol",
    "L2TP",
    "DDX",
    "IATP",
    "STP",
    "SRP",
    "UTI",
    "SMP",
    "SM",
    "PTP",
    "ISIS over IPv4",
    "FIRE",
    "CRTP",
    "CRUDP",
    "SSCOPMCE",
    "IPLT",
    "SPS",
    "PIPE",
    "SCTP",
    "FC",
    "RSVP-E2E-IGNORE",
    "Mobility Header",
    "UDPLite",
    "MPLS-in-IP",
    "manet",
    "HIP",
    "Shim6",
    "WESP",
    "ROHC",
    "Ethernet",
    "AGGFRAG",
    "NSH",
];
