//! What each information element does to a `FlowRecord`: the [`Kind`] of an op, and the
//! mapping from IE (with the other IEs of its template, for precedence) to kind for data
//! records (`data_kind`) and options records (`options_kind`), with the field lengths each
//! kind can decode (`accepts`). Compile-time only: the record loop sees kinds, never IEs.

use super::sampling::{S304, S305, S306, S309, S310, S311, S34, S50};
use crate::decode::spec::FieldSpec;
use crate::flow::FieldGroups;

/// `Kind::Section` args: the packet section's first layer.
pub(super) const SECTION_FRAME: u8 = 1; // Ethernet: 315, v9 104
pub(super) const SECTION_IP: u8 = 2; // IP header: 313
pub(super) const SECTION_MPLS: u8 = 3; // MPLS label stack: 316

/// What one op does with its bytes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Skip,
    Bytes,
    Packets,
    Proto,
    Tos,
    TcpFlags,
    SrcPort,
    DstPort,
    SrcAddr,
    DstAddr,
    SrcNet,
    DstNet,
    InIf,
    OutIf,
    NextHop,
    BgpNextHop,
    /// BGP next hop that also fills `next_hop` (template without 15/62).
    BgpNextHopBoth,
    SrcAs,
    DstAs,
    NextHopAs,
    FlowLabel,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    Ttl,
    FragId,
    FragOffset,
    FragFlags,
    SrcMac,
    DstMac,
    /// vlan_id and src_vlan.
    Vlan,
    DstVlan,
    IngressVrf,
    EgressVrf,
    Direction,
    BiflowDirection,
    /// MPLS label stack entry `arg` (0 = top).
    Mpls,
    MplsIp,
    FwdStatus,
    ObsPoint,
    IpVersion,
    /// Flow start time; `arg` is a [`TimeSrc`](super::time::TimeSrc).
    Start,
    /// Flow end time; `arg` is a [`TimeSrc`](super::time::TimeSrc).
    End,
    /// systemInitTimeMilliseconds (160).
    SysInit,
    /// Sampling IE `arg` (index into [`Sampling::raw`](super::sampling::Sampling::raw)).
    Sampling,
    /// samplerId (48) / selectorId (302).
    SamplerId,
    /// A sampled packet section (`arg`: a `SECTION_*` value: 315/104 frame,
    /// 313 IP header, 316 MPLS label stack), parsed after the record's other ops.
    Section,
    /// dataLinkFrameSize (312): the sampled frame's length.
    FrameSize,
    /// sectionOffset (409) / layer2packetSectionOffset (102).
    SectionOffset,
    /// A counter used only when the record's main one is zero or absent (`arg` 0: octets,
    /// 1: packets): postOctet/PacketDeltaCount (23/24) beside 1/2, initiator and responder
    /// counts (231/232, 298/299) summed when no delta or total counter is in the template.
    AltCounter,
    /// A later occurrence of an element the template already carries; `arg` is its kind.
    /// Its value replaces the earlier one only when it is not zero (the earlier one moves to
    /// the `*_encap` field for addresses, protocol, ToS and flow label: RFC 7011 §8 orders
    /// repeated elements by treatment, so a tunnel's outer header comes before the inner).
    Dup,
}

impl Kind {
    /// The [`FieldGroups`] of the fields this kind may write (a `match` without a
    /// catch-all, so that a new kind must be placed).
    pub(super) fn groups(self) -> u8 {
        match self {
            Kind::Skip
            | Kind::Bytes
            | Kind::Packets
            | Kind::Proto
            | Kind::Tos
            | Kind::TcpFlags
            | Kind::SrcPort
            | Kind::DstPort
            | Kind::SrcNet
            | Kind::DstNet
            | Kind::InIf
            | Kind::OutIf
            | Kind::NextHop
            | Kind::SrcAs
            | Kind::DstAs
            | Kind::IpVersion
            | Kind::Start
            | Kind::End
            | Kind::SysInit
            | Kind::Sampling
            | Kind::SamplerId
            | Kind::FrameSize
            | Kind::SectionOffset
            | Kind::AltCounter => 0,
            // the frame may fill any field
            Kind::Section => FieldGroups::ALL.0,
            // a first address of each direction goes to the flow fields; a second is a
            // repetition (`Dup`), which may fill the tunnel fields
            Kind::SrcAddr | Kind::DstAddr => 0,
            Kind::BgpNextHop | Kind::BgpNextHopBoth | Kind::NextHopAs => FieldGroups::BGP,
            Kind::FlowLabel
            | Kind::IcmpTypeCode
            | Kind::IcmpType
            | Kind::IcmpCode
            | Kind::Ttl
            | Kind::FragId
            | Kind::FragOffset
            | Kind::FragFlags
            | Kind::IngressVrf
            | Kind::EgressVrf
            | Kind::Direction
            | Kind::BiflowDirection
            | Kind::FwdStatus
            | Kind::ObsPoint => FieldGroups::MISC,
            Kind::SrcMac | Kind::DstMac | Kind::Vlan | Kind::DstVlan => FieldGroups::L2,
            Kind::Mpls | Kind::MplsIp => FieldGroups::MPLS,
            Kind::Dup => FieldGroups::ALL.0,
        }
    }

    /// Every kind, in declaration order (`ALL[k as usize] == k`).
    pub(super) const ALL: [Kind; 51] = [
        Kind::Skip,
        Kind::Bytes,
        Kind::Packets,
        Kind::Proto,
        Kind::Tos,
        Kind::TcpFlags,
        Kind::SrcPort,
        Kind::DstPort,
        Kind::SrcAddr,
        Kind::DstAddr,
        Kind::SrcNet,
        Kind::DstNet,
        Kind::InIf,
        Kind::OutIf,
        Kind::NextHop,
        Kind::BgpNextHop,
        Kind::BgpNextHopBoth,
        Kind::SrcAs,
        Kind::DstAs,
        Kind::NextHopAs,
        Kind::FlowLabel,
        Kind::IcmpTypeCode,
        Kind::IcmpType,
        Kind::IcmpCode,
        Kind::Ttl,
        Kind::FragId,
        Kind::FragOffset,
        Kind::FragFlags,
        Kind::SrcMac,
        Kind::DstMac,
        Kind::Vlan,
        Kind::DstVlan,
        Kind::IngressVrf,
        Kind::EgressVrf,
        Kind::Direction,
        Kind::BiflowDirection,
        Kind::Mpls,
        Kind::MplsIp,
        Kind::FwdStatus,
        Kind::ObsPoint,
        Kind::IpVersion,
        Kind::Start,
        Kind::End,
        Kind::SysInit,
        Kind::Sampling,
        Kind::SamplerId,
        Kind::Section,
        Kind::FrameSize,
        Kind::SectionOffset,
        Kind::AltCounter,
        Kind::Dup,
    ];

    #[inline]
    pub(super) fn from_u8(v: u8) -> Kind {
        Kind::ALL.get(v as usize).copied().unwrap_or(Kind::Skip)
    }
}

/// Checks a field length against what a kind can decode. `None`: map to `Skip`.
pub(super) fn accepts(kind: Kind, len: u16) -> bool {
    match kind {
        Kind::Skip => true,
        Kind::SrcAddr | Kind::DstAddr => len == 4 || len == 16,
        Kind::NextHop | Kind::BgpNextHop | Kind::BgpNextHopBoth | Kind::MplsIp => {
            len == 4 || len == 16
        }
        Kind::SrcMac | Kind::DstMac => len == 6,
        Kind::Mpls => len == 3 || len == 4,
        // any length, variable included
        Kind::Section => true,
        _ => (1..=8).contains(&len),
    }
}

/// The kind an IE maps to in a data record, given the IEs the template holds (`has`).
pub(super) fn data_kind(f: &FieldSpec, has: &dyn Fn(u16) -> bool) -> (Kind, u8) {
    if f.pen != 0 {
        return (Kind::Skip, 0);
    }
    let k = match f.id {
        // the counter rule (docs/schemas.md "Bytes and packets"): a delta counter, the
        // post one where the pre one is zero, else the total, else initiator + responder
        1 => Kind::Bytes,
        23 if !has(1) => Kind::Bytes,
        23 => return (Kind::AltCounter, 0),
        2 => Kind::Packets,
        24 if !has(2) => Kind::Packets,
        24 => return (Kind::AltCounter, 1),
        85 if !has(1) && !has(23) => Kind::Bytes,
        86 if !has(2) && !has(24) => Kind::Packets,
        231 | 232 if !has(1) && !has(23) && !has(85) => return (Kind::AltCounter, 0),
        298 | 299 if !has(2) && !has(24) && !has(86) => return (Kind::AltCounter, 1),
        315 | 104 => return (Kind::Section, SECTION_FRAME),
        313 => return (Kind::Section, SECTION_IP),
        316 => return (Kind::Section, SECTION_MPLS),
        312 => Kind::FrameSize,
        409 | 102 => Kind::SectionOffset,
        4 => Kind::Proto,
        5 => Kind::Tos,
        6 => Kind::TcpFlags,
        7 => Kind::SrcPort,
        11 => Kind::DstPort,
        180 | 182 if !has(7) => Kind::SrcPort,
        181 | 183 if !has(11) => Kind::DstPort,
        8 | 27 => Kind::SrcAddr,
        12 | 28 => Kind::DstAddr,
        9 | 29 => Kind::SrcNet,
        13 | 30 => Kind::DstNet,
        10 => Kind::InIf,
        14 => Kind::OutIf,
        252 if !has(10) => Kind::InIf,
        253 if !has(14) => Kind::OutIf,
        15 | 62 => Kind::NextHop,
        18 | 63 if has(15) || has(62) => Kind::BgpNextHop,
        18 | 63 => Kind::BgpNextHopBoth,
        16 => Kind::SrcAs,
        17 => Kind::DstAs,
        128 => Kind::NextHopAs,
        31 => Kind::FlowLabel,
        32 | 139 => Kind::IcmpTypeCode,
        176 | 178 => Kind::IcmpType,
        177 | 179 => Kind::IcmpCode,
        52 => Kind::Ttl,
        192 if !has(52) => Kind::Ttl,
        54 => Kind::FragId,
        88 => Kind::FragOffset,
        197 => Kind::FragFlags,
        56 => Kind::SrcMac,
        81 if !has(56) => Kind::SrcMac,
        57 => Kind::DstMac,
        80 if !has(57) => Kind::DstMac,
        58 => Kind::Vlan,
        243 if !has(58) => Kind::Vlan,
        59 => Kind::DstVlan,
        254 if !has(59) => Kind::DstVlan,
        234 => Kind::IngressVrf,
        235 => Kind::EgressVrf,
        61 => Kind::Direction,
        239 => Kind::BiflowDirection,
        70..=79 => return (Kind::Mpls, (f.id - 70) as u8),
        47 | 140 => Kind::MplsIp,
        89 => Kind::FwdStatus,
        138 => Kind::ObsPoint,
        60 => Kind::IpVersion,
        160 => Kind::SysInit,
        48 | 302 => Kind::SamplerId,
        _ => return sampling_kind(f.id),
    };
    (k, 0)
}

fn sampling_kind(ie: u16) -> (Kind, u8) {
    match ie {
        34 => (Kind::Sampling, S34),
        50 => (Kind::Sampling, S50),
        305 => (Kind::Sampling, S305),
        306 => (Kind::Sampling, S306),
        309 => (Kind::Sampling, S309),
        310 => (Kind::Sampling, S310),
        304 => (Kind::Sampling, S304),
        311 => (Kind::Sampling, S311),
        _ => (Kind::Skip, 0),
    }
}

/// The kind an IE maps to in an options data record: only what the cache keeps (sampling
/// rates by sampler, systemInitTimeMilliseconds). NetFlow v9 scope fields are scope *types*
/// (1 System, 2 Interface, ...), not IEs, so they are never mapped.
pub(super) fn options_kind(f: &FieldSpec, v9_scope: bool) -> (Kind, u8) {
    if f.pen != 0 || v9_scope {
        return (Kind::Skip, 0);
    }
    match f.id {
        48 | 302 => (Kind::SamplerId, 0),
        160 => (Kind::SysInit, 0),
        _ => sampling_kind(f.id),
    }
}
