//! The template compiler: a template's field list becomes a [`Plan`] once, when it is
//! learned. Precedence between elements, the choice of time sources, repetitions, skips and
//! the slot/op split are all settled here, so the record loop (`record`) never looks at what
//! else a template holds.

use super::kind::{accepts, data_kind, options_kind, Kind};
use super::mapped::MapPlan;
use super::op::{window_shift, Op};
use super::section::carried_by;
use super::slots::{reusable, Slots};
use super::time::TimeSrc;
use crate::decode::spec::{FieldSpec, VARLEN};
use crate::decode::{DecodeError, Section};

/// Post-processing a plan needs after its ops ran.
pub(crate) mod flag {
    /// Record carries sampling IEs or a sampler id.
    pub const SAMPLING: u8 = 1;
    /// ICMP type/code from the destination port (Cisco puts type*256+code there).
    pub const ICMP_FROM_PORT: u8 = 2;
    /// Record carries systemInitTimeMilliseconds.
    pub const SYS_INIT: u8 = 4;
    /// Record carries a sampled packet section (IE 315/104, 313, 316).
    pub const SECTION: u8 = 8;
    /// Record carries a counter used when its main one is zero (`Kind::AltCounter`).
    pub const ALT_COUNTERS: u8 = 16;
    /// The template has no main octet (resp. packet) counter: the alternative one is the
    /// record's whatever the field holds (a reused record's is the previous record's).
    pub const ALT_BYTES_ONLY: u8 = 32;
    pub const ALT_PACKETS_ONLY: u8 = 64;
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
    /// The [`FieldGroups`](crate::flow::FieldGroups) the template's records may hold
    /// (`Kind::groups` of every op).
    pub groups: u8,
    /// With a packet section: the fields the template itself carries, which the frame
    /// does not overwrite ([`section::Carried`](super::section::Carried) bits).
    pub carried: u32,
    /// The fields `[[mapping]]` entries read (set by the template cache when a mapping is
    /// configured and maps one of them; `None` keeps the records on the unmapped loop).
    pub map: Option<Box<MapPlan>>,
}

/// Largest record a set can hold (set length is 16 bits, 4 of them the set header).
const MAX_RECORD: usize = 65535 - 4;

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
            if (f.len == VARLEN && kind != Kind::Section) || !accepts(kind, f.len) {
                (kind, arg) = (Kind::Skip, 0);
            }
            match kind {
                Kind::Sampling | Kind::SamplerId => flags |= flag::SAMPLING,
                Kind::SysInit => flags |= flag::SYS_INIT,
                Kind::Section => flags |= flag::SECTION,
                Kind::AltCounter => flags |= flag::ALT_COUNTERS,
                _ => {}
            }
            // a kind (with its arg) already filled by an earlier field: a repetition
            let slot = &mut seen[kind as usize];
            if kind != Kind::Skip && *slot & (1 << (arg & 15)) != 0 {
                (kind, arg) = match kind {
                    // initiator and responder counts add up
                    Kind::AltCounter => (kind, arg),
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
        if flags & flag::ALT_COUNTERS != 0 {
            let main = |k: Kind| ops.iter().any(|o| o.kind == k);
            let alt = |a: u8| ops.iter().any(|o| o.kind == Kind::AltCounter && o.arg == a);
            if alt(0) && !main(Kind::Bytes) {
                flags |= flag::ALT_BYTES_ONLY;
            }
            if alt(1) && !main(Kind::Packets) {
                flags |= flag::ALT_PACKETS_ONLY;
            }
        }
        let groups = ops.iter().fold(0, |g, o| g | o.kind.groups());
        let carried = if flags & flag::SECTION != 0 {
            ops.iter().fold(0, |c, o| c | carried_by(o))
        } else {
            0
        };
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
            map: None,
            carried,
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
