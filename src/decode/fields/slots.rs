//! The two ways a fixed-length plan's record loop avoids per-field work: slots (the plain
//! integer, address and time fields read at fixed offsets with no dispatch, [`Slots`]) and
//! record reuse (each record starts from the previous one, with only the fields an op may
//! leave stale put back, `restore_volatile`). Tests can turn both off (`NO_REUSE`) to compare
//! with the plain path.

use super::apply::Aux;
use super::kind::Kind;
use super::op::{Op, NO_WINDOW};
use crate::flow::{Addr, FlowRecord};

/// The kinds a fixed-length record's element can fill through a slot (see [`Slots`]): each
/// writes one integer field of its own, which no other kind writes and no op reads while a
/// record's ops run (a repeated element reads its own kind's field, after it was written),
/// so they can be read before the other ops, in any order.
pub(super) const SLOT_KINDS: [Kind; 15] = [
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
    pub(super) end: [u16; SLOT_KINDS.len()],
    /// [`window_shift`](super::op::window_shift) of the field.
    pub(super) shift: [u8; SLOT_KINDS.len()],
    /// Source, destination and next-hop address elements: offset and length (4 or 16; 0:
    /// none, or read by `apply`). Taken only from templates without repeated elements,
    /// where each address op fills a field the base record leaves empty, so that it
    /// depends on nothing another op does.
    pub(super) addr: [(u16, u8); 3],
    /// The ether type the source and destination addresses set: the family of the last of
    /// them in template order (0: neither is slotted).
    pub(super) addr_etype: u16,
    /// Flow start and end times (the elements `Plan::start`/`end` chose): window end and
    /// shift as in `end`/`shift` (end 0: none).
    pub(super) times: [(u16, u8); 2],
}

impl Slots {
    /// Takes the ops that can be read through a slot out of `ops`.
    pub(super) fn split(ops: &[Op]) -> (Slots, Vec<Op>) {
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
pub(super) fn apply_slots(rec: &mut FlowRecord, aux: &mut Aux, r: &[u8], s: &Slots) {
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
/// across ops), repeated elements (which read what earlier ones wrote) and packet sections
/// (the frame fills fields no op of the template writes) do neither.
pub(super) fn reusable(ops: &[Op]) -> bool {
    ops.iter()
        .all(|o| !matches!(o.kind, Kind::Mpls | Kind::Dup | Kind::Section))
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
pub(super) fn restore_volatile(rec: &mut FlowRecord, base: &FlowRecord, addrs: bool) {
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
pub(super) fn plain_path() -> bool {
    #[cfg(test)]
    if NO_REUSE.with(|c| c.get()) {
        return true;
    }
    false
}
