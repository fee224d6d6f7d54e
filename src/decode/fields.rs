//! The information-element -> `FlowRecord` mapping NetFlow v9 and IPFIX share, and the
//! per-record decoding loop built on it.
//!
//! A template is compiled once, when it is learned, into a [`Plan`]: a compact list of
//! [`Op`]s (offset, length, what to do with the bytes). For fixed-length templates the plan
//! keeps only the mapped fields with their offsets in the record, so decoding one record is a
//! copy of a prefilled base record plus one small `match` per mapped field. Variable-length
//! templates keep every field (runs of unmapped fixed-length fields merged into one skip).
//! Precedence between IEs that fill the same `FlowRecord` field (1 over 23, 10 over 252, the
//! most precise flow time, ...) is resolved at compile time, so the record loop never looks
//! at what else the template holds.
//!
//! Variable-length fields (template length 65535, RFC 7011 §7) carry a 1-byte length, or 255
//! followed by a 2-byte length. NetFlow v9 (RFC 3954) has no variable-length fields, but H3C
//! sends 65535 in v9 templates with the same encoding, and Wireshark and goflow2 accept it, so
//! both decoders accept it.

use super::spec::{FieldSpec, VARLEN};
use super::{DecodeError, Section};
use crate::cursor::be_uint;
use crate::flow::{mac_from_bytes, Addr, FieldGroups, FlowRecord, MAX_MPLS};

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
    /// Flow start time; `arg` is a [`TimeSrc`].
    Start,
    /// Flow end time; `arg` is a [`TimeSrc`].
    End,
    /// systemInitTimeMilliseconds (160).
    SysInit,
    /// Sampling IE `arg` (index into [`Sampling::raw`]).
    Sampling,
    /// samplerId (48) / selectorId (302).
    SamplerId,
    /// A later occurrence of an element the template already carries; `arg` is its kind.
    /// Its value replaces the earlier one only when it is not zero (the earlier one moves to
    /// the `*_encap` field for addresses, protocol, ToS and flow label: RFC 7011 §8 orders
    /// repeated elements by treatment, so a tunnel's outer header comes before the inner).
    Dup,
}

impl Kind {
    /// The [`FieldGroups`] of the fields this kind may write (a `match` without a
    /// catch-all, so that a new kind must be placed).
    fn groups(self) -> u8 {
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
            | Kind::SamplerId => 0,
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
    const ALL: [Kind; 47] = [
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
        Kind::Dup,
    ];

    #[inline]
    fn from_u8(v: u8) -> Kind {
        Kind::ALL.get(v as usize).copied().unwrap_or(Kind::Skip)
    }
}

/// Where a flow time comes from, most precise first (the order of preference).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimeSrc {
    /// 156/157 dateTimeNanoseconds (NTP format).
    NtpNanos = 0,
    /// 154/155 dateTimeMicroseconds (NTP format).
    NtpMicros = 1,
    /// 152/153 milliseconds since the Unix epoch.
    Millis = 2,
    /// 150/151 seconds since the Unix epoch.
    Seconds = 3,
    /// 158/159 microseconds before the export time.
    DeltaMicros = 4,
    /// 22/21 sysUptime milliseconds (v9: header uptime; IPFIX: relative to 160).
    Uptime = 5,
    None = 6,
}

impl TimeSrc {
    fn from_u8(v: u8) -> TimeSrc {
        match v {
            0 => TimeSrc::NtpNanos,
            1 => TimeSrc::NtpMicros,
            2 => TimeSrc::Millis,
            3 => TimeSrc::Seconds,
            4 => TimeSrc::DeltaMicros,
            5 => TimeSrc::Uptime,
            _ => TimeSrc::None,
        }
    }

    fn of(ie: u16) -> Option<(bool, TimeSrc)> {
        // (is_start, source)
        Some(match ie {
            156 => (true, TimeSrc::NtpNanos),
            157 => (false, TimeSrc::NtpNanos),
            154 => (true, TimeSrc::NtpMicros),
            155 => (false, TimeSrc::NtpMicros),
            152 => (true, TimeSrc::Millis),
            153 => (false, TimeSrc::Millis),
            150 => (true, TimeSrc::Seconds),
            151 => (false, TimeSrc::Seconds),
            158 => (true, TimeSrc::DeltaMicros),
            159 => (false, TimeSrc::DeltaMicros),
            22 => (true, TimeSrc::Uptime),
            21 => (false, TimeSrc::Uptime),
            _ => return None,
        })
    }
}

/// Indexes into [`Sampling::raw`].
const S34: u8 = 0; // samplingInterval
const S50: u8 = 1; // samplerRandomInterval
const S305: u8 = 2; // samplingPacketInterval
const S306: u8 = 3; // samplingPacketSpace
const S309: u8 = 4; // samplingSize
const S310: u8 = 5; // samplingPopulation

/// Sampling IEs seen in one record (options or data).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sampling {
    raw: [u64; 6],
    present: u8,
    pub sampler_id: Option<u64>,
    pub sys_init_ms: u64,
}

impl Sampling {
    /// The sampling rate these IEs give, if any: (305+306)/305, else 305, else 50, else 34,
    /// else 310/309 (population / size).
    pub fn rate(&self) -> Option<u64> {
        let has = |i: u8| self.present & (1 << i) != 0;
        let v = |i: u8| self.raw[i as usize];
        if has(S305) && v(S305) > 0 {
            if has(S306) {
                return Some(v(S305).saturating_add(v(S306)) / v(S305));
            }
            return Some(v(S305));
        }
        if has(S50) && v(S50) > 0 {
            return Some(v(S50));
        }
        if has(S34) && v(S34) > 0 {
            return Some(v(S34));
        }
        if has(S309) && has(S310) && v(S309) > 0 && v(S310) > 0 {
            return Some(v(S310) / v(S309));
        }
        None
    }
}

/// One compiled field: `kind` applied to `len` bytes at `off` (fixed-length plans) or at the
/// running position (variable-length plans, where `len == VARLEN` reads a length prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Op {
    pub off: u16,
    pub len: u16,
    pub kind: Kind,
    pub arg: u8,
    /// [`window_shift`] of the field in its record (fixed-length plans).
    pub shift: u8,
}

/// `Val::shift` value: the field cannot be read through an 8-byte window.
const NO_WINDOW: u8 = 0xFF;

/// How an integer field ending at `end` (bytes into its buffer) and `len` long is read: as
/// the 8 bytes ending at the field, shifted mask `u64::MAX >> (64 - 8 * len)`, when there are
/// 8 bytes before its end; else byte by byte.
#[inline(always)]
fn window_shift(end: usize, len: usize) -> u8 {
    if end >= 8 && (1..=8).contains(&len) {
        (64 - 8 * len) as u8
    } else {
        NO_WINDOW
    }
}

/// One field's bytes: `len` bytes at `off` of `r`.
#[derive(Clone, Copy)]
struct Val<'a> {
    r: &'a [u8],
    off: usize,
    len: usize,
    shift: u8,
}

impl<'a> Val<'a> {
    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        &self.r[self.off..self.off + self.len]
    }

    /// Unsigned big-endian value (reduced-size encoding: any length 1..=8).
    #[inline(always)]
    fn uint(&self) -> u64 {
        if self.shift != NO_WINDOW {
            let e = self.off + self.len;
            let w: [u8; 8] = self.r[e - 8..e].try_into().expect("an 8-byte window");
            u64::from_be_bytes(w) & (u64::MAX >> self.shift)
        } else {
            be_uint(self.bytes())
        }
    }
}

/// Post-processing a plan needs after its ops ran.
pub(crate) mod flag {
    /// Record carries sampling IEs or a sampler id.
    pub const SAMPLING: u8 = 1;
    /// ICMP type/code from the destination port (Cisco puts type*256+code there).
    pub const ICMP_FROM_PORT: u8 = 2;
    /// Record carries systemInitTimeMilliseconds.
    pub const SYS_INIT: u8 = 4;
}

/// A template compiled for decoding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub ops: Box<[Op]>,
    /// Every field has a fixed length; `min_len` is then the record length.
    pub fixed: bool,
    /// Record length (fixed) or the least bytes a record can take (1 per varlen field).
    pub min_len: usize,
    pub start: u8,
    pub end: u8,
    pub flags: u8,
    /// Each record may start from the previous one of its set (see `restore_volatile`)
    /// instead of a fresh copy of the base record.
    pub reuse: bool,
    /// Fixed-length plans: the plain integer fields read through `slots`, and the other ops
    /// (`rest`, in template order), which together do what `ops` does.
    pub slots: Slots,
    pub rest: Box<[Op]>,
    /// No op in `rest` writes an address field: a reused record's addresses are the
    /// slots' (or the base's, untouched), so `restore_volatile` can leave them be.
    pub rest_without_addrs: bool,
    /// The [`FieldGroups`] the template's records may hold (`Kind::groups` of every op).
    pub groups: u8,
}

/// The kinds a fixed-length record's element can fill through a slot (see [`Slots`]): each
/// writes one integer field of its own, which no other kind writes and no op reads while a
/// record's ops run (a repeated element reads its own kind's field, after it was written),
/// so they can be read before the other ops, in any order.
const SLOT_KINDS: [Kind; 15] = [
    Kind::Bytes,
    Kind::Packets,
    Kind::Proto,
    Kind::Tos,
    Kind::TcpFlags,
    Kind::SrcPort,
    Kind::DstPort,
    Kind::SrcNet,
    Kind::DstNet,
    Kind::InIf,
    Kind::OutIf,
    Kind::SrcAs,
    Kind::DstAs,
    Kind::NextHopAs,
    Kind::Direction,
];

/// Where each of [`SLOT_KINDS`] is in a fixed-length record. A record's counters, ports,
/// interfaces and AS numbers are read one after the other with no per-field dispatch: the
/// `match` of `apply` is an indirect jump per field, about a third of the decoder's time,
/// while a slot is a test of a value that is the same for every record of the template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slots {
    /// End of the field in the record; 0: the template has no such element (or it is read
    /// by `apply`: a field within the record's first 8 bytes, which has no 8-byte window).
    end: [u16; SLOT_KINDS.len()],
    /// [`window_shift`] of the field.
    shift: [u8; SLOT_KINDS.len()],
    /// Source, destination and next-hop address elements: offset and length (4 or 16; 0:
    /// none, or read by `apply`). Taken only from templates without repeated elements,
    /// where each address op fills a field the base record leaves empty, so that it
    /// depends on nothing another op does.
    addr: [(u16, u8); 3],
    /// The ether type the source and destination addresses set: the family of the last of
    /// them in template order (0: neither is slotted).
    addr_etype: u16,
    /// Flow start and end times (the elements `Plan::start`/`end` chose): window end and
    /// shift as in `end`/`shift` (end 0: none).
    times: [(u16, u8); 2],
}

impl Slots {
    /// Takes the ops that can be read through a slot out of `ops`.
    fn split(ops: &[Op]) -> (Slots, Vec<Op>) {
        let mut slots = Slots::default();
        let mut rest = Vec::with_capacity(ops.len());
        // a repeated element reads the address fields (a second address is the tunnel's)
        let addr_slots = !ops.iter().any(|o| o.kind == Kind::Dup);
        for o in ops {
            let addr = match o.kind {
                Kind::SrcAddr => Some(0),
                Kind::DstAddr => Some(1),
                Kind::NextHop => Some(2),
                _ => None,
            };
            let time = match o.kind {
                Kind::Start => Some(0),
                Kind::End => Some(1),
                _ => None,
            };
            match SLOT_KINDS.iter().position(|&k| k == o.kind) {
                Some(i) if o.shift != NO_WINDOW && slots.end[i] == 0 => {
                    slots.end[i] = o.off + o.len;
                    slots.shift[i] = o.shift;
                }
                Some(_) => rest.push(*o),
                None => match (addr, time) {
                    (Some(i), _) if addr_slots && slots.addr[i].1 == 0 => {
                        // `accepts` let only 4- and 16-byte addresses through
                        slots.addr[i] = (o.off, o.len as u8);
                        if i < 2 {
                            slots.addr_etype = if o.len == 4 { 0x0800 } else { 0x86dd };
                        }
                    }
                    (_, Some(i)) if o.shift != NO_WINDOW && slots.times[i].0 == 0 => {
                        slots.times[i] = (o.off + o.len, o.shift);
                    }
                    _ => rest.push(*o),
                },
            }
        }
        (slots, rest)
    }
}

/// Reads the slotted fields of record `r` (`Slots::split`).
#[inline(always)]
fn apply_slots(rec: &mut FlowRecord, aux: &mut Aux, r: &[u8], s: &Slots) {
    #[inline(always)]
    fn read(r: &[u8], end: u16, shift: u8) -> u64 {
        // end >= 8 and end <= the record length, by construction (`window_shift`)
        let e = end as usize;
        let w: [u8; 8] = r[e - 8..e].try_into().expect("an 8-byte window");
        u64::from_be_bytes(w) & (u64::MAX >> shift)
    }
    macro_rules! slots {
        ($($i:literal $field:ident $ty:ty;)*) => {$(
            debug_assert_eq!(SLOT_KINDS[$i] as u8, Kind::ALL[SLOT_KINDS[$i] as usize] as u8);
            if s.end[$i] != 0 {
                rec.$field = read(r, s.end[$i], s.shift[$i]) as $ty;
            }
        )*};
    }
    slots! {
        0 bytes u64;
        1 packets u64;
        2 proto u32;
        3 ip_tos u32;
        4 tcp_flags u32;
        5 src_port u32;
        6 dst_port u32;
        7 src_net u32;
        8 dst_net u32;
        9 in_if u32;
        10 out_if u32;
        11 src_as u32;
        12 dst_as u32;
        13 next_hop_as u32;
        14 flow_direction u32;
    }
    #[inline(always)]
    fn addr(r: &[u8], (off, len): (u16, u8)) -> Addr {
        // off + len <= the record length, by construction (`Plan::build`)
        let o = off as usize;
        if len == 4 {
            Addr::v4(r[o..o + 4].try_into().expect("4 bytes"))
        } else {
            Addr::v6(r[o..o + 16].try_into().expect("16 bytes"))
        }
    }
    if s.addr[0].1 != 0 {
        rec.src_addr = addr(r, s.addr[0]);
    }
    if s.addr[1].1 != 0 {
        rec.dst_addr = addr(r, s.addr[1]);
    }
    if s.addr[2].1 != 0 {
        rec.next_hop = addr(r, s.addr[2]);
    }
    if s.addr_etype != 0 {
        rec.etype = u32::from(s.addr_etype);
    }
    if s.times[0].0 != 0 {
        aux.start = read(r, s.times[0].0, s.times[0].1);
    }
    if s.times[1].0 != 0 {
        aux.end = read(r, s.times[1].0, s.times[1].1);
    }
}

/// Whether every op of a plan leaves a record that `restore_volatile` turns back into the
/// base plus this record's own values: each op either overwrites its fields whatever they
/// held, or only touches fields `restore_volatile` puts back. The MPLS stack (counted
/// across ops) and repeated elements (which read what earlier ones wrote) do neither.
fn reusable(ops: &[Op]) -> bool {
    ops.iter()
        .all(|o| !matches!(o.kind, Kind::Mpls | Kind::Dup))
}

/// Puts back from `base` every field that an op or `finish` reads, or writes only under a
/// condition: addresses (a second address goes to the encapsulation fields, a zero one
/// does not replace a set one), the ether types and encapsulation flag they set, the
/// sampling rate, ICMP type/code and field groups `finish` may set. Every other field an
/// op writes is overwritten by the same op of the next record. This replaces a copy of the
/// whole record (576 bytes, a memcpy call) per record with a few small moves. The
/// address fields only when `addrs` (`!Plan::rest_without_addrs`): otherwise the slots
/// overwrite them for every record, or nothing writes them.
#[inline(always)]
fn restore_volatile(rec: &mut FlowRecord, base: &FlowRecord, addrs: bool) {
    rec.etype = base.etype;
    rec.sampling_rate = base.sampling_rate;
    rec.icmp_type = base.icmp_type;
    rec.icmp_code = base.icmp_code;
    rec.groups = base.groups;
    if !addrs {
        return;
    }
    rec.src_addr = base.src_addr;
    rec.dst_addr = base.dst_addr;
    rec.src_addr_encap = base.src_addr_encap;
    rec.dst_addr_encap = base.dst_addr_encap;
    rec.next_hop = base.next_hop;
    rec.bgp_next_hop = base.bgp_next_hop;
    rec.mpls_ip = base.mpls_ip;
    rec.etype_encap = base.etype_encap;
    rec.has_encap = base.has_encap;
}

#[cfg(test)]
thread_local! {
    /// Tests turn record reuse and slots off to compare the output with the plain path's
    /// (each record copied from the base, every op through `apply` in template order).
    pub(crate) static NO_REUSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[inline(always)]
fn plain_path() -> bool {
    #[cfg(test)]
    if NO_REUSE.with(|c| c.get()) {
        return true;
    }
    false
}

#[inline(always)]
fn reuse_enabled(plan: &Plan) -> bool {
    plan.reuse && !plain_path()
}

/// Largest record a set can hold (set length is 16 bits, 4 of them the set header).
const MAX_RECORD: usize = 65535 - 4;

/// Checks a field length against what a kind can decode. `None`: map to `Skip`.
fn accepts(kind: Kind, len: u16) -> bool {
    match kind {
        Kind::Skip => true,
        Kind::SrcAddr | Kind::DstAddr => len == 4 || len == 16,
        Kind::NextHop | Kind::BgpNextHop | Kind::BgpNextHopBoth | Kind::MplsIp => {
            len == 4 || len == 16
        }
        Kind::SrcMac | Kind::DstMac => len == 6,
        Kind::Mpls => len == 3 || len == 4,
        _ => (1..=8).contains(&len),
    }
}

/// The kind an IE maps to in a data record, given the IEs the template holds (`has`).
fn data_kind(f: &FieldSpec, has: &dyn Fn(u16) -> bool) -> (Kind, u8) {
    if f.pen != 0 {
        return (Kind::Skip, 0);
    }
    let k = match f.id {
        1 => Kind::Bytes,
        23 if !has(1) => Kind::Bytes,
        2 => Kind::Packets,
        24 if !has(2) => Kind::Packets,
        // octet/packetTotalCount (YAF, nProbe) when no delta counter is present
        85 if !has(1) && !has(23) => Kind::Bytes,
        86 if !has(2) && !has(24) => Kind::Packets,
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
        _ => (Kind::Skip, 0),
    }
}

/// The kind an IE maps to in an options data record: only what the cache keeps (sampling
/// rates by sampler, systemInitTimeMilliseconds). NetFlow v9 scope fields are scope *types*
/// (1 System, 2 Interface, ...), not IEs, so they are never mapped.
fn options_kind(f: &FieldSpec, v9_scope: bool) -> (Kind, u8) {
    if f.pen != 0 || v9_scope {
        return (Kind::Skip, 0);
    }
    match f.id {
        48 | 302 => (Kind::SamplerId, 0),
        160 => (Kind::SysInit, 0),
        _ => sampling_kind(f.id),
    }
}

impl Plan {
    /// Compiles a template. `scope_count` fields at the front are scope fields (options
    /// templates); `v9` selects NetFlow v9 scope semantics.
    pub fn build(
        fields: &[FieldSpec],
        options: bool,
        scope_count: usize,
        v9: bool,
        template_id: u16,
    ) -> Result<Plan, DecodeError> {
        let bad = DecodeError::BadTemplate {
            section: if options {
                Section::OptionsTemplate
            } else {
                Section::Template
            },
            template_id,
        };
        let fixed = fields.iter().all(|f| f.len != VARLEN);
        let min_len: usize = fields
            .iter()
            .map(|f| if f.len == VARLEN { 1 } else { f.len as usize })
            .sum();
        if fields.is_empty() || min_len == 0 || min_len > MAX_RECORD {
            return Err(bad);
        }
        // IANA elements present (fixed length), for precedence: every mapped IE is < 512.
        let mut present = [0u64; 8];
        for f in fields
            .iter()
            .filter(|f| f.pen == 0 && f.len != VARLEN && f.id < 512)
        {
            present[f.id as usize / 64] |= 1 << (f.id % 64);
        }
        let has = |id: u16| id < 512 && present[id as usize / 64] & (1 << (id % 64)) != 0;

        // The most precise start and end time sources the template carries.
        let mut start = TimeSrc::None;
        let mut end = TimeSrc::None;
        if !options {
            for f in fields.iter().filter(|f| f.pen == 0 && f.len != VARLEN) {
                if let Some((is_start, src)) = TimeSrc::of(f.id) {
                    let ok = match src {
                        TimeSrc::NtpNanos | TimeSrc::NtpMicros => f.len == 8,
                        _ => (1..=8).contains(&f.len),
                    };
                    if ok && is_start && src < start {
                        start = src;
                    } else if ok && !is_start && src < end {
                        end = src;
                    }
                }
            }
        }

        let mut ops = Vec::with_capacity(fields.len());
        let mut flags = 0u8;
        let mut off = 0usize;
        let (mut seen_start, mut seen_end) = (false, false);
        let mut seen = [0u16; Kind::ALL.len()];
        for (i, f) in fields.iter().enumerate() {
            let (mut kind, mut arg) = if options {
                options_kind(f, v9 && i < scope_count)
            } else if let (0, Some((is_start, src))) = (f.pen, TimeSrc::of(f.id)) {
                // only the chosen source, and only its first occurrence
                if is_start && src == start && !seen_start {
                    seen_start = true;
                    (Kind::Start, src as u8)
                } else if !is_start && src == end && !seen_end {
                    seen_end = true;
                    (Kind::End, src as u8)
                } else {
                    (Kind::Skip, 0)
                }
            } else {
                data_kind(f, &has)
            };
            if f.len == VARLEN || !accepts(kind, f.len) {
                (kind, arg) = (Kind::Skip, 0);
            }
            match kind {
                Kind::Sampling | Kind::SamplerId => flags |= flag::SAMPLING,
                Kind::SysInit => flags |= flag::SYS_INIT,
                _ => {}
            }
            // a kind (with its arg) already filled by an earlier field: a repetition
            let slot = &mut seen[kind as usize];
            if kind != Kind::Skip && *slot & (1 << (arg & 15)) != 0 {
                (kind, arg) = match kind {
                    Kind::Mpls | Kind::Sampling => (Kind::Skip, 0),
                    k => (Kind::Dup, k as u8),
                };
            } else {
                *slot |= 1 << (arg & 15);
            }
            let end = off + f.len as usize;
            ops.push(Op {
                off: off as u16,
                len: f.len,
                kind,
                arg,
                shift: window_shift(end, f.len as usize),
            });
            if f.len != VARLEN {
                off += f.len as usize;
            }
        }
        if !options
            && has(11)
            && !ops
                .iter()
                .any(|o| matches!(o.kind, Kind::IcmpTypeCode | Kind::IcmpType | Kind::IcmpCode))
        {
            flags |= flag::ICMP_FROM_PORT;
        }
        if fixed {
            ops.retain(|o| o.kind != Kind::Skip);
        } else {
            // merge runs of fixed-length skips
            let mut merged: Vec<Op> = Vec::with_capacity(ops.len());
            for o in ops {
                match merged.last_mut() {
                    Some(last)
                        if o.kind == Kind::Skip
                            && o.len != VARLEN
                            && last.kind == Kind::Skip
                            && last.len != VARLEN =>
                    {
                        last.len += o.len; // bounded by min_len <= MAX_RECORD
                    }
                    _ => merged.push(o),
                }
            }
            ops = merged;
        }
        // (the ICMP type and code `finish` may take from the port add their group to the
        // record that has them)
        let groups = ops.iter().fold(0, |g, o| g | o.kind.groups());
        let (slots, rest) = if fixed {
            Slots::split(&ops)
        } else {
            (Slots::default(), Vec::new())
        };
        // the kinds that write an address field, or the encapsulation fields a second
        // address sets (`Dup`)
        let rest_without_addrs = fixed
            && !rest.iter().any(|o| {
                matches!(
                    o.kind,
                    Kind::SrcAddr
                        | Kind::DstAddr
                        | Kind::NextHop
                        | Kind::BgpNextHop
                        | Kind::BgpNextHopBoth
                        | Kind::MplsIp
                        | Kind::Dup
                )
            });
        Ok(Plan {
            reuse: reusable(&ops),
            rest_without_addrs,
            groups,
            slots,
            rest: rest.into_boxed_slice(),
            ops: ops.into_boxed_slice(),
            fixed,
            min_len,
            start: start as u8,
            end: end as u8,
            flags,
        })
    }
}

/// Per-record values that are resolved after all ops ran.
#[derive(Clone, Copy, Default)]
struct Aux {
    start: u64,
    end: u64,
    samp: Sampling,
}

/// Stores an address unless it is all zeros and the field already holds one: templates that
/// carry both the IPv4 and the IPv6 variant of a field (Cisco: 18 and 63) fill the unused
/// one with zeros, whatever the order. Returns whether it was stored.
#[inline]
fn set_addr(dst: &mut Addr, v: &[u8]) -> bool {
    if dst.is_none() || !is_zero(v) {
        *dst = Addr::from_slice(v);
        true
    } else {
        false
    }
}

#[inline]
fn is_zero(v: &[u8]) -> bool {
    v.iter().all(|&b| b == 0)
}

/// An address that is present and not all zeros.
#[inline]
fn is_set(a: &Addr) -> bool {
    !is_zero(a.as_slice())
}

/// Applies one mapped field to the record.
#[inline(always)]
fn apply(rec: &mut FlowRecord, aux: &mut Aux, kind: Kind, arg: u8, x: Val<'_>) {
    let n = || x.uint();
    let n32 = || x.uint() as u32;
    let v = || x.bytes();
    match kind {
        Kind::Skip => {}
        Kind::Bytes => rec.bytes = n(),
        Kind::Packets => rec.packets = n(),
        Kind::Proto => rec.proto = n32(),
        Kind::Tos => rec.ip_tos = n32(),
        Kind::TcpFlags => rec.tcp_flags = n32(),
        Kind::SrcPort => rec.src_port = n32(),
        Kind::DstPort => rec.dst_port = n32(),
        Kind::SrcAddr => {
            if is_set(&rec.src_addr) {
                // a second non-zero address is the packet inside the tunnel
                if !is_zero(v()) && set_addr(&mut rec.src_addr_encap, v()) {
                    rec.etype_encap = if v().len() == 4 { 0x0800 } else { 0x86dd };
                    rec.has_encap = true;
                }
            } else if set_addr(&mut rec.src_addr, v()) {
                rec.etype = if v().len() == 4 { 0x0800 } else { 0x86dd };
            }
        }
        Kind::DstAddr => {
            if is_set(&rec.dst_addr) {
                // a second non-zero address is the packet inside the tunnel
                if !is_zero(v()) && set_addr(&mut rec.dst_addr_encap, v()) {
                    rec.etype_encap = if v().len() == 4 { 0x0800 } else { 0x86dd };
                    rec.has_encap = true;
                }
            } else if set_addr(&mut rec.dst_addr, v()) {
                rec.etype = if v().len() == 4 { 0x0800 } else { 0x86dd };
            }
        }
        Kind::SrcNet => rec.src_net = n32(),
        Kind::DstNet => rec.dst_net = n32(),
        Kind::InIf => rec.in_if = n32(),
        Kind::OutIf => rec.out_if = n32(),
        Kind::NextHop => {
            set_addr(&mut rec.next_hop, v());
        }
        Kind::BgpNextHop => {
            set_addr(&mut rec.bgp_next_hop, v());
        }
        Kind::BgpNextHopBoth => {
            if set_addr(&mut rec.bgp_next_hop, v()) {
                rec.next_hop = rec.bgp_next_hop;
            }
        }
        Kind::SrcAs => rec.src_as = n32(),
        Kind::DstAs => rec.dst_as = n32(),
        Kind::NextHopAs => rec.next_hop_as = n32(),
        Kind::FlowLabel => rec.ipv6_flow_label = n32() & 0xF_FFFF,
        Kind::IcmpTypeCode => {
            let x = n32();
            rec.icmp_type = (x >> 8) & 0xFF;
            rec.icmp_code = x & 0xFF;
        }
        Kind::IcmpType => rec.icmp_type = n32(),
        Kind::IcmpCode => rec.icmp_code = n32(),
        Kind::Ttl => rec.ip_ttl = n32(),
        Kind::FragId => rec.fragment_id = n32(),
        Kind::FragOffset => rec.fragment_offset = n32(),
        Kind::FragFlags => rec.ip_flags = (n32() >> 5) & 0x7,
        Kind::SrcMac => rec.src_mac = mac_from_bytes(v()),
        Kind::DstMac => rec.dst_mac = mac_from_bytes(v()),
        Kind::Vlan => {
            rec.vlan_id = n32();
            rec.src_vlan = rec.vlan_id;
        }
        Kind::DstVlan => rec.dst_vlan = n32(),
        Kind::IngressVrf => rec.ingress_vrf_id = n32(),
        Kind::EgressVrf => rec.egress_vrf_id = n32(),
        Kind::Direction => rec.flow_direction = n32(),
        Kind::BiflowDirection => rec.bi_flow_direction = n32(),
        Kind::Mpls => {
            // label stack entry: label(20) EXP(3) S(1) in the first 3 bytes; an all-zero
            // entry is "no label" as exporters send it for unlabelled flows
            let entry = be_uint(&v()[..3]) as u32;
            let i = arg as usize;
            if entry != 0 && i < MAX_MPLS {
                rec.mpls_labels[i] = entry >> 4;
                if rec.mpls_count as usize <= i {
                    rec.mpls_count = i as u8 + 1;
                }
            }
        }
        Kind::MplsIp => {
            set_addr(&mut rec.mpls_ip, v());
        }
        Kind::FwdStatus => rec.forwarding_status = n32(),
        Kind::ObsPoint => rec.observation_point_id = n32(),
        Kind::IpVersion => match n() {
            4 if rec.etype == 0 => rec.etype = 0x0800,
            6 if rec.etype == 0 => rec.etype = 0x86dd,
            _ => {}
        },
        Kind::Start => aux.start = n(),
        Kind::End => aux.end = n(),
        Kind::SysInit => aux.samp.sys_init_ms = n(),
        Kind::Sampling => {
            aux.samp.raw[arg as usize] = n();
            aux.samp.present |= 1 << arg;
        }
        Kind::SamplerId => aux.samp.sampler_id = Some(n()),
        Kind::Dup => apply_dup(rec, aux, Kind::from_u8(arg), x),
    }
}

/// A later occurrence of an element. Templates repeat elements for two reasons:
/// - alternatives (IPv6 then IPv4 fields, one group all zero): a non-zero later value fills a
///   flow field the earlier occurrence left zero;
/// - tunnels (Cisco SRv6/MPLS: outer header fields, then inner ones; RFC 7011 §8 orders
///   repeated elements by treatment): once a second address has gone to the `*_encap`
///   fields (see `apply`), later protocol, ToS and flow label go there too, and fields
///   without an encapsulation twin (ports, ...) keep the first occurrence. The flow fields
///   describe the packet as forwarded, the encap fields the packet inside the tunnel: the
///   GoFlow v3 convention, which the sFlow header parser follows too.
#[cold]
fn apply_dup(rec: &mut FlowRecord, aux: &mut Aux, kind: Kind, val: Val<'_>) {
    if is_zero(val.bytes()) {
        return;
    }
    let x = val.uint() as u32;
    match kind {
        Kind::SrcAddr | Kind::DstAddr => apply(rec, aux, kind, 0, val),
        Kind::Proto if rec.has_encap => rec.proto_encap = x,
        Kind::Tos if rec.has_encap => rec.ip_tos_encap = x,
        Kind::FlowLabel if rec.has_encap => rec.ipv6_flow_label_encap = x & 0xF_FFFF,
        Kind::Dup => {}
        _ if rec.has_encap => {}
        _ if field_is_zero(rec, kind) => apply(rec, aux, kind, 0, val),
        _ => {}
    }
}

/// Whether the flow field `kind` writes is still zero (its earlier occurrence was unused).
/// Kinds that are not flow fields (times, sampling) report `false`: first occurrence wins.
#[cold]
fn field_is_zero(r: &FlowRecord, kind: Kind) -> bool {
    match kind {
        Kind::Bytes => r.bytes == 0,
        Kind::Packets => r.packets == 0,
        Kind::Proto => r.proto == 0,
        Kind::Tos => r.ip_tos == 0,
        Kind::TcpFlags => r.tcp_flags == 0,
        Kind::SrcPort => r.src_port == 0,
        Kind::DstPort => r.dst_port == 0,
        Kind::SrcNet => r.src_net == 0,
        Kind::DstNet => r.dst_net == 0,
        Kind::InIf => r.in_if == 0,
        Kind::OutIf => r.out_if == 0,
        Kind::NextHop | Kind::BgpNextHop | Kind::BgpNextHopBoth | Kind::MplsIp => true,
        Kind::SrcAs => r.src_as == 0,
        Kind::DstAs => r.dst_as == 0,
        Kind::NextHopAs => r.next_hop_as == 0,
        Kind::FlowLabel => r.ipv6_flow_label == 0,
        Kind::IcmpTypeCode | Kind::IcmpType | Kind::IcmpCode => {
            r.icmp_type == 0 && r.icmp_code == 0
        }
        Kind::Ttl => r.ip_ttl == 0,
        Kind::FragId => r.fragment_id == 0,
        Kind::FragOffset => r.fragment_offset == 0,
        Kind::FragFlags => r.ip_flags == 0,
        Kind::SrcMac => r.src_mac == 0,
        Kind::DstMac => r.dst_mac == 0,
        Kind::Vlan => r.vlan_id == 0,
        Kind::DstVlan => r.dst_vlan == 0,
        Kind::IngressVrf => r.ingress_vrf_id == 0,
        Kind::EgressVrf => r.egress_vrf_id == 0,
        Kind::Direction => r.flow_direction == 0,
        Kind::BiflowDirection => r.bi_flow_direction == 0,
        Kind::FwdStatus => r.forwarding_status == 0,
        Kind::ObsPoint => r.observation_point_id == 0,
        _ => false,
    }
}

/// Seconds between the NTP epoch (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// An NTP-format timestamp (32-bit seconds since 1900, 32-bit fraction) in Unix ns.
#[inline]
pub(crate) fn ntp_to_unix_ns(v: u64) -> u64 {
    let secs = (v >> 32).saturating_sub(NTP_UNIX_OFFSET);
    let frac_ns = ((v & 0xFFFF_FFFF) * 1_000_000_000) >> 32;
    secs.saturating_mul(1_000_000_000).saturating_add(frac_ns)
}

/// What a data set needs beyond its bytes: the datagram's times and the sampling state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecCtx {
    pub v9: bool,
    pub export_ns: u64,
    /// NetFlow v9 header sysUptime (ms).
    pub uptime_ms: u32,
    /// IPFIX systemInitTimeMilliseconds known for the domain (options data), 0 if none.
    pub sys_init_ms: u64,
}

#[inline]
fn resolve_time(src: u8, raw: u64, ctx: &RecCtx, sys_init_ms: u64) -> u64 {
    match TimeSrc::from_u8(src) {
        TimeSrc::NtpNanos | TimeSrc::NtpMicros => ntp_to_unix_ns(raw),
        TimeSrc::Millis => raw.saturating_mul(1_000_000),
        TimeSrc::Seconds => raw.saturating_mul(1_000_000_000),
        TimeSrc::DeltaMicros => ctx.export_ns.saturating_sub(raw.saturating_mul(1_000)),
        TimeSrc::Uptime if ctx.v9 => {
            super::netflow5::uptime_to_ns(ctx.export_ns, ctx.uptime_ms, raw as u32)
        }
        TimeSrc::Uptime if sys_init_ms != 0 => {
            sys_init_ms.saturating_add(raw).saturating_mul(1_000_000)
        }
        _ => ctx.export_ns,
    }
}

/// Sampling rates by sampler id, as a data set sees them (read-only during the set).
pub(crate) trait SamplerRates {
    fn rate(&self, sampler_id: u64) -> Option<u64>;
}

/// The outcome of one data set.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SetOutcome {
    pub records: usize,
    /// The last sampling rate a record carried (IE 34/50/305..), with its sampler id.
    pub seen_rate: Option<(Option<u64>, u64)>,
    /// The record budget ran out before the set was done.
    pub limit_hit: bool,
    /// A variable-length record ran past the set.
    pub error: Option<DecodeError>,
}

/// Reads one variable-length prefix at `*p`.
#[inline]
fn varlen(data: &[u8], p: &mut usize) -> Option<usize> {
    let l = *data.get(*p)? as usize;
    *p += 1;
    if l < 255 {
        return Some(l);
    }
    let b = data.get(*p..*p + 2)?;
    *p += 2;
    Some(u16::from_be_bytes([b[0], b[1]]) as usize)
}

/// What a record needs after all its ops ran: times, sampling rate, ICMP from the port.
/// A function rather than a closure so that it is inlined into both record loops.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn finish<R: SamplerRates>(
    plan: &Plan,
    ctx: &RecCtx,
    samplers: &R,
    last_sampler: &mut Option<(u64, Option<u64>)>,
    rec: &mut FlowRecord,
    aux: &Aux,
    out: &mut SetOutcome,
) {
    if plan.start != TimeSrc::None as u8 || plan.end != TimeSrc::None as u8 {
        let sys_init = if aux.samp.sys_init_ms != 0 {
            aux.samp.sys_init_ms
        } else {
            ctx.sys_init_ms
        };
        if plan.start != TimeSrc::None as u8 {
            rec.time_flow_start_ns = resolve_time(plan.start, aux.start, ctx, sys_init);
        }
        if plan.end != TimeSrc::None as u8 {
            rec.time_flow_end_ns = resolve_time(plan.end, aux.end, ctx, sys_init);
        }
    }
    if plan.flags & flag::SAMPLING != 0 {
        if let Some(sid) = aux.samp.sampler_id {
            let rate = match *last_sampler {
                Some((id, r)) if id == sid => r,
                _ => {
                    let r = samplers.rate(sid);
                    *last_sampler = Some((sid, r));
                    r
                }
            };
            if let Some(r) = rate {
                rec.sampling_rate = r;
            }
        }
        if let Some(r) = aux.samp.rate() {
            rec.sampling_rate = r;
            out.seen_rate = Some((aux.samp.sampler_id, r));
        }
    }
    if plan.flags & flag::ICMP_FROM_PORT != 0 && (rec.proto == 1 || rec.proto == 58) {
        rec.icmp_type = (rec.dst_port >> 8) & 0xFF;
        rec.icmp_code = rec.dst_port & 0xFF;
        rec.groups.0 |= FieldGroups::MISC;
    }
}

/// Decodes every record of one data set and hands each flow to `sink`. `base` is the
/// datagram's prefilled record (sampling rate of the domain already in it).
#[inline]
pub(crate) fn decode_data<S: super::FlowSink, R: SamplerRates>(
    plan: &Plan,
    data: &[u8],
    base: &FlowRecord,
    ctx: &RecCtx,
    samplers: &R,
    budget: usize,
    sink: &mut S,
) -> SetOutcome {
    let mut out = SetOutcome::default();
    let base = &FlowRecord {
        groups: FieldGroups(base.groups.0 | plan.groups),
        ..*base
    };
    // one-entry cache of the sampler-id lookup: a set's records share their sampler
    let mut last_sampler: Option<(u64, Option<u64>)> = None;
    if plan.fixed {
        let n = data.len() / plan.min_len;
        let take = if n > budget {
            out.limit_hit = true;
            budget
        } else {
            n
        };
        let reuse = reuse_enabled(plan);
        let no_slots = Slots::default();
        let (slots, ops) = if plain_path() {
            (&no_slots, &plan.ops)
        } else {
            (&plan.slots, &plan.rest)
        };
        let mut rec = *base;
        for r in data.chunks_exact(plan.min_len).take(take) {
            if reuse {
                restore_volatile(&mut rec, base, !plan.rest_without_addrs);
            } else {
                rec = *base;
            }
            let mut aux = Aux::default();
            apply_slots(&mut rec, &mut aux, r, slots);
            for op in ops.iter() {
                let x = Val {
                    r,
                    off: op.off as usize,
                    len: op.len as usize,
                    shift: op.shift,
                };
                apply(&mut rec, &mut aux, op.kind, op.arg, x);
            }
            finish(
                plan,
                ctx,
                samplers,
                &mut last_sampler,
                &mut rec,
                &aux,
                &mut out,
            );
            sink.flow(&rec);
        }
        out.records = take;
        return out;
    }
    let mut pos = 0usize;
    while data.len() - pos >= plan.min_len {
        if out.records == budget {
            out.limit_hit = true;
            break;
        }
        let mut p = pos;
        let mut rec = *base;
        let mut aux = Aux::default();
        let mut ok = true;
        for op in plan.ops.iter() {
            let len = if op.len == VARLEN {
                match varlen(data, &mut p) {
                    Some(l) => l,
                    None => {
                        ok = false;
                        break;
                    }
                }
            } else {
                op.len as usize
            };
            if data.len() - p < len {
                ok = false;
                break;
            }
            let x = Val {
                r: data,
                off: p,
                len,
                shift: window_shift(p + len, len),
            };
            p += len;
            apply(&mut rec, &mut aux, op.kind, op.arg, x);
        }
        if !ok {
            out.error = Some(DecodeError::Truncated {
                section: Section::DataSet,
                offset: pos,
                need: plan.min_len.max(p - pos + 1),
                have: data.len() - pos,
            });
            break;
        }
        finish(
            plan,
            ctx,
            samplers,
            &mut last_sampler,
            &mut rec,
            &aux,
            &mut out,
        );
        sink.flow(&rec);
        out.records += 1;
        pos = p;
    }
    out
}

/// Walks the records of one options data set and calls `each` with the sampling IEs of each.
/// Returns (records, limit hit, error).
pub(crate) fn decode_options(
    plan: &Plan,
    data: &[u8],
    budget: usize,
    mut each: impl FnMut(&Sampling),
) -> (usize, bool, Option<DecodeError>) {
    let mut records = 0;
    let mut pos = 0usize;
    let mut rec = FlowRecord::default();
    while data.len() - pos >= plan.min_len {
        if records == budget {
            return (records, true, None);
        }
        let mut aux = Aux::default();
        let mut p = pos;
        for op in plan.ops.iter() {
            let (start, len) = if plan.fixed {
                (pos + op.off as usize, op.len as usize)
            } else {
                let len = if op.len == VARLEN {
                    varlen(data, &mut p)
                } else {
                    Some(op.len as usize)
                };
                let s = p;
                p = p.saturating_add(len.unwrap_or(usize::MAX));
                (s, len.unwrap_or(usize::MAX))
            };
            if data.get(start..start.saturating_add(len)).is_none() {
                let e = DecodeError::Truncated {
                    section: Section::DataSet,
                    offset: pos,
                    need: plan.min_len,
                    have: data.len() - pos,
                };
                return (records, false, Some(e));
            }
            let x = Val {
                r: data,
                off: start,
                len,
                shift: window_shift(start + len, len),
            };
            apply(&mut rec, &mut aux, op.kind, op.arg, x);
        }
        pos = if plan.fixed { pos + plan.min_len } else { p };
        records += 1;
        each(&aux.samp);
    }
    (records, false, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: u16, len: u16) -> FieldSpec {
        FieldSpec { id, len, pen: 0 }
    }

    #[test]
    fn kind_table_in_order() {
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(Kind::from_u8(i as u8), *k);
        }
        assert_eq!(Kind::from_u8(200), Kind::Skip);
    }

    #[test]
    fn slots_take_windowed_integer_fields_once() {
        // IN_BYTES at 0..4 (no 8-byte window), IPV4_SRC_ADDR, L4_SRC_PORT at 8..10,
        // L4_DST_PORT at 10..12, L4_SRC_PORT again (a repetition), IN_PKTS at 14..18
        let fields = [f(1, 4), f(8, 4), f(7, 2), f(11, 2), f(7, 2), f(2, 4)];
        let p = Plan::build(&fields, false, 0, true, 256).unwrap();
        let slot = |k: Kind| SLOT_KINDS.iter().position(|&s| s == k).unwrap();
        assert_eq!(p.slots.end[slot(Kind::Bytes)], 0);
        assert_eq!(p.slots.end[slot(Kind::SrcPort)], 10);
        assert_eq!(p.slots.end[slot(Kind::DstPort)], 12);
        assert_eq!(p.slots.end[slot(Kind::Packets)], 18);
        assert_eq!(p.slots.shift[slot(Kind::Packets)], 32);
        let rest: Vec<_> = p.rest.iter().map(|o| o.kind).collect();
        assert_eq!(rest, [Kind::Bytes, Kind::SrcAddr, Kind::Dup]);
        assert_eq!(p.ops.len(), 6);
        // the slot table follows the field list it is written with
        let mut rec = FlowRecord::default();
        let r = [0, 0, 0, 7, 10, 0, 0, 1, 0, 80, 1, 187, 0, 53, 0, 0, 0, 9];
        apply_slots(&mut rec, &mut Aux::default(), &r, &p.slots);
        assert_eq!(
            (rec.src_port, rec.dst_port, rec.packets, rec.bytes),
            (80, 443, 9, 0)
        );
        // a repetition keeps the addresses in template order, through `apply`
        assert_eq!(p.slots.addr, [(0, 0); 3]);
        // a variable-length template has none: its fields move from record to record
        let var = Plan::build(&[f(7, 2), f(82, VARLEN)], false, 0, true, 257).unwrap();
        assert_eq!(var.slots, Slots::default());
        assert!(var.rest.is_empty());
    }

    #[test]
    fn slots_take_addresses_and_times_without_repetitions() {
        // IPV4_SRC_ADDR 0..4, IPV6_DST_ADDR 4..20, IPV4_NEXT_HOP 20..24, octets 24..32,
        // flowStartMilliseconds 32..40, flowEndMilliseconds 40..48
        let fields = [f(8, 4), f(28, 16), f(15, 4), f(1, 8), f(152, 8), f(153, 8)];
        let p = Plan::build(&fields, false, 0, false, 256).unwrap();
        assert!(p.rest.is_empty(), "{:?}", p.rest);
        assert_eq!(p.slots.addr, [(0, 4), (4, 16), (20, 4)]);
        assert_eq!(p.slots.addr_etype, 0x86dd);
        assert_eq!(p.slots.times, [(40, 0), (48, 0)]);
        let mut r = [0u8; 48];
        r[..4].copy_from_slice(&[192, 0, 2, 1]);
        r[4] = 0x20;
        r[20..24].copy_from_slice(&[10, 0, 0, 1]);
        r[31] = 100;
        r[39] = 5;
        r[47] = 6;
        let (mut rec, mut aux) = (FlowRecord::default(), Aux::default());
        apply_slots(&mut rec, &mut aux, &r, &p.slots);
        assert_eq!(rec.src_addr, Addr::v4([192, 0, 2, 1]));
        assert_eq!(rec.dst_addr.as_slice()[0], 0x20);
        assert_eq!(rec.next_hop, Addr::v4([10, 0, 0, 1]));
        assert_eq!(
            (rec.etype, rec.bytes, aux.start, aux.end),
            (0x86dd, 100, 5, 6)
        );
    }

    #[test]
    fn window_reads_any_length() {
        let r = [9u8, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8];
        for off in 0..r.len() {
            for len in 1..=(r.len() - off).min(8) {
                let x = Val {
                    r: &r,
                    off,
                    len,
                    shift: window_shift(off + len, len),
                };
                assert_eq!(x.uint(), be_uint(&r[off..off + len]), "{off} {len}");
            }
        }
    }

    #[test]
    fn precedence_at_compile_time() {
        let p = Plan::build(&[f(23, 4), f(1, 4), f(24, 4)], false, 0, false, 256).unwrap();
        let kinds: Vec<_> = p.ops.iter().map(|o| (o.kind, o.off)).collect();
        assert_eq!(kinds, vec![(Kind::Bytes, 4), (Kind::Packets, 8)]);
        let p = Plan::build(&[f(18, 4)], false, 0, false, 256).unwrap();
        assert_eq!(p.ops[0].kind, Kind::BgpNextHopBoth);
        let p = Plan::build(&[f(18, 4), f(15, 4)], false, 0, false, 256).unwrap();
        assert_eq!(p.ops[0].kind, Kind::BgpNextHop);
        // the most precise time wins, the other is skipped
        let p = Plan::build(&[f(150, 4), f(152, 8), f(153, 8)], false, 0, false, 256).unwrap();
        assert_eq!(p.start, TimeSrc::Millis as u8);
        assert_eq!(p.ops.len(), 2);
    }

    #[test]
    fn rejects_empty_and_oversized() {
        assert!(Plan::build(&[], false, 0, false, 256).is_err());
        assert!(Plan::build(&[f(1, 0)], false, 0, false, 256).is_err());
        assert!(Plan::build(&[f(1, 65000), f(2, 1000)], false, 0, false, 256).is_err());
        let p = Plan::build(
            &[f(1, 4), f(82, VARLEN), f(3, 4), f(4, 1)],
            false,
            0,
            false,
            256,
        )
        .unwrap();
        assert!(!p.fixed);
        assert_eq!(p.min_len, 10);
        // skip(4 of 82's neighbours merged): bytes, var skip, skip 4, proto
        assert_eq!(p.ops.len(), 4);
    }

    #[test]
    fn sampling_rate_rules() {
        let mut s = Sampling::default();
        assert_eq!(s.rate(), None);
        let set = |s: &mut Sampling, i: u8, v: u64| {
            s.raw[i as usize] = v;
            s.present |= 1 << i;
        };
        set(&mut s, S310, 1000);
        set(&mut s, S309, 10);
        assert_eq!(s.rate(), Some(100));
        set(&mut s, S34, 7);
        assert_eq!(s.rate(), Some(7));
        set(&mut s, S50, 9);
        assert_eq!(s.rate(), Some(9));
        set(&mut s, S305, 1);
        assert_eq!(s.rate(), Some(1));
        set(&mut s, S306, 999);
        assert_eq!(s.rate(), Some(1000));
    }

    #[test]
    fn ntp() {
        // 2024-01-01T00:00:00.5Z
        let v = ((1_704_067_200u64 + NTP_UNIX_OFFSET) << 32) | 0x8000_0000;
        assert_eq!(ntp_to_unix_ns(v), 1_704_067_200_500_000_000);
        assert_eq!(ntp_to_unix_ns(0), 0);
    }
}
