//! `FlowRecord`: the one internal shape every decoder fills and every output schema reads.
//!
//! It is a plain `Copy` struct with fixed-size arrays for the few list-like fields (MPLS
//! stack, AS path, communities, layer stack), so building one never allocates. Decoders never
//! know which output schema is in use; `crate::schema` maps a record to each wire layout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most MPLS labels kept per flow (IPFIX 70-79 carry ten).
pub const MAX_MPLS: usize = 10;
/// Most AS-path entries kept per flow (the first ones; `dst_as` holds the last).
pub const MAX_AS_PATH: usize = 16;
/// Most BGP communities kept per flow.
pub const MAX_COMMUNITIES: usize = 8;
/// Most protocol layers recorded per sampled header (goflow2 `layer_stack`).
pub const MAX_LAYERS: usize = 12;

/// An IPv4 or IPv6 address as its network-order bytes, or nothing. `Copy`, no allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Addr {
    len: u8,
    octets: [u8; 16],
}

impl Addr {
    pub const NONE: Addr = Addr {
        len: 0,
        octets: [0; 16],
    };

    #[inline]
    pub fn v4(o: [u8; 4]) -> Addr {
        let mut octets = [0; 16];
        octets[..4].copy_from_slice(&o);
        Addr { len: 4, octets }
    }

    #[inline]
    pub fn v6(octets: [u8; 16]) -> Addr {
        Addr { len: 16, octets }
    }

    /// A 4- or 16-byte slice as an address; any other length is no address.
    #[inline]
    pub fn from_slice(s: &[u8]) -> Addr {
        match s.len() {
            4 => Addr::v4([s[0], s[1], s[2], s[3]]),
            16 => {
                let mut o = [0; 16];
                o.copy_from_slice(s);
                Addr::v6(o)
            }
            _ => Addr::NONE,
        }
    }

    #[inline]
    pub fn from_ip(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(a) => Addr::v4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                // dual-stack sockets report IPv4 exporters as ::ffff:a.b.c.d
                Some(v4) => Addr::v4(v4.octets()),
                None => Addr::v6(a.octets()),
            },
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.octets[..self.len as usize]
    }

    /// All 16 bytes of storage (an IPv4 address is the first 4, then zeros).
    #[inline]
    pub fn octets16(&self) -> &[u8; 16] {
        &self.octets
    }

    #[inline]
    pub fn is_none(&self) -> bool {
        self.len == 0
    }

    pub fn is_v4(&self) -> bool {
        self.len == 4
    }

    pub fn is_v6(&self) -> bool {
        self.len == 16
    }

    pub fn to_ip(&self) -> Option<IpAddr> {
        match self.len {
            4 => Some(IpAddr::V4(Ipv4Addr::new(
                self.octets[0],
                self.octets[1],
                self.octets[2],
                self.octets[3],
            ))),
            16 => Some(IpAddr::V6(Ipv6Addr::from(self.octets))),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_ip() {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("-"),
        }
    }
}

/// Which protocol a flow came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlowType {
    #[default]
    Unknown,
    SFlow5,
    NetflowV5,
    NetflowV9,
    Ipfix,
}

/// goflow2 `LayerStack` values, kept as the wire numbers.
pub mod layer {
    pub const ETHERNET: u8 = 0;
    pub const IPV4: u8 = 1;
    pub const IPV6: u8 = 2;
    pub const TCP: u8 = 3;
    pub const UDP: u8 = 4;
    pub const MPLS: u8 = 5;
    pub const DOT1Q: u8 = 6;
    pub const ICMP: u8 = 7;
    pub const ICMPV6: u8 = 8;
    pub const GRE: u8 = 9;
    pub const IPV6_ROUTING: u8 = 10;
    pub const IPV6_FRAGMENT: u8 = 11;
    pub const GENEVE: u8 = 12;
    pub const TEREDO: u8 = 13;
    pub const CUSTOM: u8 = 99;

    pub fn name(v: u8) -> &'static str {
        match v {
            ETHERNET => "Ethernet",
            IPV4 => "IPv4",
            IPV6 => "IPv6",
            TCP => "TCP",
            UDP => "UDP",
            MPLS => "MPLS",
            DOT1Q => "Dot1Q",
            ICMP => "ICMP",
            ICMPV6 => "ICMPv6",
            GRE => "GRE",
            IPV6_ROUTING => "IPv6HeaderRouting",
            IPV6_FRAGMENT => "IPv6HeaderFragment",
            GENEVE => "Geneve",
            TEREDO => "Teredo",
            _ => "Custom",
        }
    }
}

/// One flow, as decoded. Times are nanoseconds since the Unix epoch; schemas that want
/// seconds divide. Zero means "not carried".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowRecord {
    pub flow_type: FlowType,
    pub time_received_ns: u64,
    pub sequence_num: u32,
    pub sampling_rate: u64,
    /// The exporter (NetFlow/IPFIX: datagram source) or sFlow agent address.
    pub sampler_address: Addr,
    pub time_flow_start_ns: u64,
    pub time_flow_end_ns: u64,

    pub bytes: u64,
    pub packets: u64,
    pub src_addr: Addr,
    pub dst_addr: Addr,
    pub etype: u32,
    pub proto: u32,
    pub src_port: u32,
    pub dst_port: u32,
    pub in_if: u32,
    pub out_if: u32,
    pub src_mac: u64,
    pub dst_mac: u64,
    pub src_vlan: u32,
    pub dst_vlan: u32,
    pub vlan_id: u32,
    pub ingress_vrf_id: u32,
    pub egress_vrf_id: u32,
    pub ip_tos: u32,
    pub forwarding_status: u32,
    /// sFlow discard reason (drops extension `drop_reason`: 0-255 ICMP unreachable codes,
    /// 256+ named reasons) of a discarded-packet sample or a flow sample whose output is
    /// "discarded"; meaningful only with a dropped `forwarding_status` (128-191), since 0 is
    /// a reason (net unreachable).
    pub discard_reason: u32,
    pub ip_ttl: u32,
    /// IP fragment flags (the 3 bits above the fragment offset, i.e. `flags >> 5` of the
    /// IPFIX 197 octet, or the header bits).
    pub ip_flags: u32,
    pub tcp_flags: u32,
    pub icmp_type: u32,
    pub icmp_code: u32,
    pub ipv6_flow_label: u32,
    pub fragment_id: u32,
    pub fragment_offset: u32,
    pub flow_direction: u32,
    pub bi_flow_direction: u32,

    pub src_as: u32,
    pub dst_as: u32,
    pub next_hop: Addr,
    pub next_hop_as: u32,
    pub bgp_next_hop: Addr,
    pub src_net: u32,
    pub dst_net: u32,

    pub as_path_len: u8,
    pub as_path: [u32; MAX_AS_PATH],
    pub communities_len: u8,
    pub communities: [u32; MAX_COMMUNITIES],

    /// Number of valid entries in `mpls_labels` / `mpls_ttls` (top of stack first).
    pub mpls_count: u8,
    /// Labels (20 bits, EXP and S bits removed).
    pub mpls_labels: [u32; MAX_MPLS],
    pub mpls_ttls: [u8; MAX_MPLS],
    /// Top label's FEC address (NetFlow 47).
    pub mpls_ip: Addr,

    pub observation_domain_id: u32,
    pub observation_point_id: u32,

    pub has_encap: bool,
    pub src_addr_encap: Addr,
    pub dst_addr_encap: Addr,
    pub proto_encap: u32,
    pub etype_encap: u32,
    pub ip_tos_encap: u32,
    pub ip_ttl_encap: u32,
    pub ipv6_flow_label_encap: u32,
    pub fragment_id_encap: u32,
    pub fragment_offset_encap: u32,

    pub has_ppp: bool,
    pub ppp_address_control: u32,

    pub layer_count: u8,
    pub layer_stack: [u8; MAX_LAYERS],
    pub layer_size: [u32; MAX_LAYERS],

    /// Which groups of seldom-carried fields may be non-zero (see [`FieldGroups`]).
    pub groups: FieldGroups,
}

/// The groups of seldom-carried fields a record may hold non-zero: a hint from the decoder
/// that lets the encoders skip a whole group of fields with one test instead of testing
/// each for zero (most NetFlow templates carry none of them; v5 never does). A clear bit
/// promises that every field of the group is zero ([`FlowRecord::groups_hold`]); the
/// default, [`FieldGroups::ALL`], promises nothing. Not part of a record's value: records
/// compare equal whatever their hints.
#[derive(Clone, Copy, Debug)]
pub struct FieldGroups(pub u8);

impl FieldGroups {
    /// `next_hop_as`, `bgp_next_hop`, the AS path and communities.
    pub const BGP: u8 = 1;
    /// MAC addresses, VLANs, PPP and the sampled header's layers.
    pub const L2: u8 = 2;
    /// Forwarding status, TTL, ICMP, fragment, flow label, VRFs, directions, IP flags and
    /// the observation point.
    pub const MISC: u8 = 4;
    /// The tunnel (`*_encap`) fields and `has_encap`.
    pub const ENCAP: u8 = 8;
    /// The MPLS label stack and FEC address.
    pub const MPLS: u8 = 16;
    pub const ALL: FieldGroups = FieldGroups(0x1f);
    pub const NONE: FieldGroups = FieldGroups(0);
}

impl Default for FieldGroups {
    fn default() -> Self {
        FieldGroups::ALL
    }
}

impl PartialEq for FieldGroups {
    fn eq(&self, _: &FieldGroups) -> bool {
        true
    }
}

impl Eq for FieldGroups {}

impl FlowRecord {
    /// Whether any field of `groups` (`FieldGroups` bits) may be non-zero.
    #[inline(always)]
    pub fn may_hold(&self, groups: u8) -> bool {
        self.groups.0 & groups != 0
    }

    /// Whether the hint in `groups` is true: every field of each group it clears is zero.
    pub fn groups_hold(&self) -> bool {
        let r = self;
        let zero = |g: u8, all_zero: bool| r.may_hold(g) || all_zero;
        zero(
            FieldGroups::BGP,
            r.next_hop_as == 0
                && r.bgp_next_hop.is_none()
                && r.as_path_len == 0
                && r.communities_len == 0,
        ) && zero(
            FieldGroups::L2,
            (r.src_mac | r.dst_mac) == 0
                && (r.vlan_id | r.src_vlan | r.dst_vlan | r.ppp_address_control) == 0
                && !r.has_ppp
                && r.layer_count == 0,
        ) && zero(
            FieldGroups::MISC,
            (r.forwarding_status
                | r.discard_reason
                | r.ip_ttl
                | r.icmp_type
                | r.icmp_code
                | r.fragment_id
                | r.fragment_offset
                | r.ipv6_flow_label
                | r.ingress_vrf_id
                | r.egress_vrf_id
                | r.flow_direction
                | r.bi_flow_direction
                | r.ip_flags
                | r.observation_point_id)
                == 0,
        ) && zero(
            FieldGroups::ENCAP,
            !r.has_encap
                && r.src_addr_encap.is_none()
                && r.dst_addr_encap.is_none()
                && (r.proto_encap
                    | r.etype_encap
                    | r.ip_tos_encap
                    | r.ip_ttl_encap
                    | r.ipv6_flow_label_encap
                    | r.fragment_id_encap
                    | r.fragment_offset_encap)
                    == 0,
        ) && zero(FieldGroups::MPLS, r.mpls_count == 0 && r.mpls_ip.is_none())
    }

    #[inline(always)]
    pub fn as_path(&self) -> &[u32] {
        &self.as_path[..(self.as_path_len as usize).min(MAX_AS_PATH)]
    }

    #[inline(always)]
    pub fn communities(&self) -> &[u32] {
        &self.communities[..(self.communities_len as usize).min(MAX_COMMUNITIES)]
    }

    #[inline(always)]
    pub fn mpls_labels(&self) -> &[u32] {
        &self.mpls_labels[..(self.mpls_count as usize).min(MAX_MPLS)]
    }

    #[inline(always)]
    pub fn mpls_ttls(&self) -> &[u8] {
        &self.mpls_ttls[..(self.mpls_count as usize).min(MAX_MPLS)]
    }

    pub fn layers(&self) -> (&[u8], &[u32]) {
        let n = (self.layer_count as usize).min(MAX_LAYERS);
        (&self.layer_stack[..n], &self.layer_size[..n])
    }

    /// Appends an AS to the path; beyond `MAX_AS_PATH` the extra entries are not kept.
    pub fn push_as(&mut self, asn: u32) -> bool {
        let n = self.as_path_len as usize;
        if n >= MAX_AS_PATH {
            return false;
        }
        self.as_path[n] = asn;
        self.as_path_len += 1;
        true
    }

    pub fn push_community(&mut self, c: u32) -> bool {
        let n = self.communities_len as usize;
        if n >= MAX_COMMUNITIES {
            return false;
        }
        self.communities[n] = c;
        self.communities_len += 1;
        true
    }

    /// Pushes one MPLS label (top first) with its TTL.
    pub fn push_mpls(&mut self, label: u32, ttl: u8) -> bool {
        let n = self.mpls_count as usize;
        if n >= MAX_MPLS {
            return false;
        }
        self.mpls_labels[n] = label;
        self.mpls_ttls[n] = ttl;
        self.mpls_count += 1;
        true
    }

    pub fn push_layer(&mut self, kind: u8, size: u32) -> bool {
        let n = self.layer_count as usize;
        if n >= MAX_LAYERS {
            return false;
        }
        self.layer_stack[n] = kind;
        self.layer_size[n] = size;
        self.layer_count += 1;
        true
    }
}

/// Declares the [`Flow`] trait and its implementation for [`FlowRecord`] from one list of
/// the record's scalar fields: each becomes an accessor whose default is the field's "not
/// carried" value, and `FlowRecord` returns the field itself.
macro_rules! flow_accessors {
    ($($name:ident: $ty:ty = $absent:expr;)*) => {
        /// Read access to a flow's fields: what the protobuf encoders are written against.
        /// [`FlowRecord`] implements it from its fields. A decoder of a fixed record layout
        /// may implement it over the datagram's bytes (NetFlow v5: `netflow5::V5Flow`),
        /// overriding the accessors of the fields its layout carries: every other accessor
        /// keeps its default, the field's "not carried" value (zero, `Addr::NONE`, empty).
        /// The encoders, generic over it, then see at compile time which fields such a
        /// record never has and how wide the others are, and no record is filled in between.
        pub trait Flow {
            $(
                #[inline(always)]
                fn $name(&self) -> $ty {
                    $absent
                }
            )*
            #[inline(always)]
            fn as_path(&self) -> &[u32] {
                &[]
            }
            #[inline(always)]
            fn communities(&self) -> &[u32] {
                &[]
            }
            #[inline(always)]
            fn mpls_labels(&self) -> &[u32] {
                &[]
            }
            #[inline(always)]
            fn mpls_ttls(&self) -> &[u8] {
                &[]
            }
            #[inline(always)]
            fn layers(&self) -> (&[u8], &[u32]) {
                (&[], &[])
            }
            /// Whether any field of `groups` (`FieldGroups` bits) may be non-zero.
            fn may_hold(&self, groups: u8) -> bool;
            /// Whether the record's field-group hint holds (see [`FlowRecord::groups_hold`]).
            fn groups_hold(&self) -> bool;
            /// The flow as a record (for the sinks that take one).
            fn to_record(&self) -> FlowRecord;
        }

        impl Flow for FlowRecord {
            $(
                #[inline(always)]
                fn $name(&self) -> $ty {
                    self.$name
                }
            )*
            #[inline(always)]
            fn as_path(&self) -> &[u32] {
                FlowRecord::as_path(self)
            }
            #[inline(always)]
            fn communities(&self) -> &[u32] {
                FlowRecord::communities(self)
            }
            #[inline(always)]
            fn mpls_labels(&self) -> &[u32] {
                FlowRecord::mpls_labels(self)
            }
            #[inline(always)]
            fn mpls_ttls(&self) -> &[u8] {
                FlowRecord::mpls_ttls(self)
            }
            #[inline(always)]
            fn layers(&self) -> (&[u8], &[u32]) {
                FlowRecord::layers(self)
            }
            #[inline(always)]
            fn may_hold(&self, groups: u8) -> bool {
                FlowRecord::may_hold(self, groups)
            }
            fn groups_hold(&self) -> bool {
                FlowRecord::groups_hold(self)
            }
            #[inline(always)]
            fn to_record(&self) -> FlowRecord {
                *self
            }
        }
    };
}

flow_accessors! {
    flow_type: FlowType = FlowType::Unknown;
    sequence_num: u32 = 0;
    mpls_count: u8 = 0;
    time_received_ns: u64 = 0;
    sampling_rate: u64 = 0;
    time_flow_start_ns: u64 = 0;
    time_flow_end_ns: u64 = 0;
    bytes: u64 = 0;
    packets: u64 = 0;
    src_mac: u64 = 0;
    dst_mac: u64 = 0;
    sampler_address: Addr = Addr::NONE;
    src_addr: Addr = Addr::NONE;
    dst_addr: Addr = Addr::NONE;
    next_hop: Addr = Addr::NONE;
    bgp_next_hop: Addr = Addr::NONE;
    mpls_ip: Addr = Addr::NONE;
    src_addr_encap: Addr = Addr::NONE;
    dst_addr_encap: Addr = Addr::NONE;
    etype: u32 = 0;
    proto: u32 = 0;
    src_port: u32 = 0;
    dst_port: u32 = 0;
    in_if: u32 = 0;
    out_if: u32 = 0;
    src_vlan: u32 = 0;
    dst_vlan: u32 = 0;
    vlan_id: u32 = 0;
    ingress_vrf_id: u32 = 0;
    egress_vrf_id: u32 = 0;
    ip_tos: u32 = 0;
    forwarding_status: u32 = 0;
    discard_reason: u32 = 0;
    ip_ttl: u32 = 0;
    ip_flags: u32 = 0;
    tcp_flags: u32 = 0;
    icmp_type: u32 = 0;
    icmp_code: u32 = 0;
    ipv6_flow_label: u32 = 0;
    fragment_id: u32 = 0;
    fragment_offset: u32 = 0;
    flow_direction: u32 = 0;
    bi_flow_direction: u32 = 0;
    src_as: u32 = 0;
    dst_as: u32 = 0;
    next_hop_as: u32 = 0;
    src_net: u32 = 0;
    dst_net: u32 = 0;
    observation_domain_id: u32 = 0;
    observation_point_id: u32 = 0;
    proto_encap: u32 = 0;
    etype_encap: u32 = 0;
    ip_tos_encap: u32 = 0;
    ip_ttl_encap: u32 = 0;
    ipv6_flow_label_encap: u32 = 0;
    fragment_id_encap: u32 = 0;
    fragment_offset_encap: u32 = 0;
    ppp_address_control: u32 = 0;
    has_encap: bool = false;
    has_ppp: bool = false;
}

/// A MAC address in the low 48 bits of a u64, as GoFlow stores it.
#[inline]
pub fn mac_from_bytes(b: &[u8]) -> u64 {
    crate::cursor::be_uint(if b.len() > 6 { &b[..6] } else { b })
}
