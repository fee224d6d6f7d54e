//! Sequence-gap accounting: loss between an exporter and the collector, from the sequence
//! numbers exporters put in every datagram.
//!
//! A stream is one (protocol, exporter address, sFlow agent address, domain): the domain is
//! the NetFlow v9 source id, the IPFIX observation domain, the sFlow sub-agent id or the v5
//! engine type and id. Each protocol counts its own unit ([`SeqNote::units`]): NetFlow v5 and
//! IPFIX number data records (flows), NetFlow v9 and sFlow number datagrams. A stream
//! remembers the sequence number it expects next; a datagram that carries it costs one
//! compare. Otherwise, with `d = seq - expected` (mod 2^32, so a wrap is no event):
//! - `0 < d <= MAX_GAP`: a gap, `d` units missing;
//! - `-window <= d < 0` (window: [`REORDER_DATAGRAMS`] datagrams' worth of units): a late
//!   (reordered or duplicated) datagram, counted, the expectation kept. [`RESTART_STREAK`]
//!   such datagrams in sequence with each other are an exporter that restarted just after
//!   a previous run: the stream resyncs to them and they are no longer counted late;
//! - anything else (a restart after a long run, a jump): the stream resyncs, no gap counted.
//!
//! A datagram whose units are unknown (an IPFIX data set without its template) leaves the
//! stream unsynced: the next datagram sets the expectation again. The table holds at most
//! `max` streams; when it is full the least recently seen sixteenth is dropped in one pass,
//! so hostile input (spoofed addresses, random domains) cannot grow it.

use super::error::Protocol;
use super::template::FxHasher;
use crate::flow::Addr;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// Forward jumps up to this many units are gaps; larger ones resync.
pub const MAX_GAP: u32 = 1 << 24;
/// How many datagrams back a late datagram may be (in units: this times its own units).
pub const REORDER_DATAGRAMS: u32 = 1024;
/// Consecutive late datagrams in sequence with each other that mean a restart.
pub const RESTART_STREAK: u32 = 4;

/// The unit each protocol's sequence counts, by [`Protocol::index`]: the `unit` label of
/// `coreflow_sequence_missing_total`.
pub const UNITS: [&str; Protocol::COUNT] = ["flows", "datagrams", "records", "datagrams"];

/// What a datagram header says about its place in its stream: set by the protocol decoders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqNote {
    /// v9 source id, IPFIX observation domain, sFlow sub-agent id, v5 engine type and id.
    pub domain: u32,
    pub seq: u32,
    /// Units this datagram advances the sequence by (IPFIX: filled in after decoding).
    pub units: u32,
}

/// Sequence accounting of one worker, by protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqStats {
    /// Gap events: a datagram arrived ahead of the expected sequence.
    pub gaps: [u64; Protocol::COUNT],
    /// Units (v5/IPFIX flows, v9/sFlow datagrams) missing in those gaps.
    pub missing: [u64; Protocol::COUNT],
    /// Datagrams that arrived behind the expected sequence (reordered or duplicated).
    pub late: [u64; Protocol::COUNT],
    /// Streams resynced without counting a gap (exporter restart, a jump).
    pub resyncs: [u64; Protocol::COUNT],
}

/// What one datagram did to its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqEvent {
    /// First datagram of a stream, or the stream was unsynced.
    New,
    InOrder,
    /// Units missing before this datagram.
    Gap(u32),
    Late,
    Resync,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Key {
    exporter: Addr,
    agent: Addr,
    domain: u32,
    proto: u8,
}

/// Five words instead of the derived byte-by-byte hash of two addresses: the lookup runs once
/// per datagram, and hashing 40 bytes one at a time made it cost several percent of an sFlow
/// worker's CPU (`tuning/pair.sh --proto sflow`).
impl Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        for a in [&self.exporter, &self.agent] {
            let o = a.octets16();
            h.write_u64(u64::from_ne_bytes([
                o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7],
            ]));
            h.write_u64(u64::from_ne_bytes([
                o[8], o[9], o[10], o[11], o[12], o[13], o[14], o[15],
            ]));
        }
        let lens = (a_len(&self.exporter) << 8) | a_len(&self.agent);
        h.write_u64((u64::from(self.domain) << 32) | (lens << 8) | u64::from(self.proto));
    }
}

#[inline]
fn a_len(a: &Addr) -> u64 {
    a.as_slice().len() as u64
}

#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    /// The sequence expected next (meaningless when `!synced`).
    next: u32,
    synced: bool,
    /// Late datagrams in sequence with each other, and where that run goes next.
    streak: u32,
    alt_next: u32,
    last_seen: u64,
}

type Fx = BuildHasherDefault<FxHasher>;

/// One worker's streams (at most `max`).
#[derive(Debug)]
pub struct SeqTracker {
    streams: HashMap<Key, Stream, Fx>,
    max: usize,
    clock: u64,
    pub stats: SeqStats,
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker::new(super::Limits::default().max_exporters * 4)
    }
}

impl SeqTracker {
    pub fn new(max: usize) -> SeqTracker {
        SeqTracker {
            streams: HashMap::default(),
            max: max.max(1),
            clock: 0,
            stats: SeqStats::default(),
        }
    }

    /// Streams held.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Accounts one datagram of `proto` from `exporter` (sFlow: `agent`, else `Addr::NONE`).
    /// `units: None`: how far the datagram advances the sequence is not known.
    #[inline]
    pub fn observe(
        &mut self,
        proto: Protocol,
        exporter: Addr,
        agent: Addr,
        note: SeqNote,
        units: Option<u32>,
    ) -> SeqEvent {
        self.clock += 1;
        let key = Key {
            exporter,
            agent,
            domain: note.domain,
            proto: proto as u8,
        };
        let seq = note.seq;
        let u = units.unwrap_or(0);
        let Some(s) = self.streams.get_mut(&key) else {
            if self.streams.len() >= self.max {
                self.evict();
            }
            let s = Stream {
                next: seq.wrapping_add(u),
                synced: units.is_some(),
                last_seen: self.clock,
                ..Stream::default()
            };
            self.streams.insert(key, s);
            return SeqEvent::New;
        };
        s.last_seen = self.clock;
        let p = proto.index();
        let st = &mut self.stats;
        let event = if !s.synced {
            s.next = seq.wrapping_add(u);
            SeqEvent::New
        } else if seq == s.next {
            s.next = seq.wrapping_add(u);
            SeqEvent::InOrder
        } else {
            Self::slow(s, st, p, seq, u)
        };
        s.synced = units.is_some();
        if event != SeqEvent::Late {
            s.streak = 0;
        }
        event
    }

    #[cold]
    fn slow(s: &mut Stream, st: &mut SeqStats, p: usize, seq: u32, u: u32) -> SeqEvent {
        let d = seq.wrapping_sub(s.next);
        if d <= MAX_GAP {
            st.gaps[p] += 1;
            st.missing[p] += u64::from(d);
            s.next = seq.wrapping_add(u);
            return SeqEvent::Gap(d);
        }
        let back = s.next.wrapping_sub(seq);
        if back <= u.max(1).saturating_mul(REORDER_DATAGRAMS) {
            s.streak = if s.streak > 0 && seq == s.alt_next {
                s.streak + 1
            } else {
                1
            };
            s.alt_next = seq.wrapping_add(u);
            if s.streak >= RESTART_STREAK {
                // a restarted exporter, not reordering: its datagrams were not late
                st.late[p] -= u64::from(s.streak - 1);
                st.resyncs[p] += 1;
                s.next = s.alt_next;
                return SeqEvent::Resync;
            }
            st.late[p] += 1;
            return SeqEvent::Late;
        }
        st.resyncs[p] += 1;
        s.next = seq.wrapping_add(u);
        SeqEvent::Resync
    }

    /// Drops the least recently seen sixteenth of the streams (at least one).
    #[cold]
    fn evict(&mut self) {
        let mut seen: Vec<u64> = self.streams.values().map(|s| s.last_seen).collect();
        let k = (seen.len() / 16).max(1) - 1;
        let (_, &mut cut, _) = seen.select_nth_unstable(k);
        self.streams.retain(|_, s| s.last_seen > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V9: Protocol = Protocol::NetflowV9;

    fn ex(n: u8) -> Addr {
        Addr::v4([10, 0, 0, n])
    }

    fn obs(t: &mut SeqTracker, p: Protocol, seq: u32, units: u32) -> SeqEvent {
        let note = SeqNote {
            domain: 1,
            seq,
            units,
        };
        t.observe(p, ex(1), Addr::NONE, note, Some(units))
    }

    #[test]
    fn in_order_and_gaps_in_the_protocols_unit() {
        let mut t = SeqTracker::new(16);
        // v5: the sequence counts flows, 30 a datagram; the datagram at 60 is lost
        let p = Protocol::NetflowV5;
        assert_eq!(obs(&mut t, p, 0, 30), SeqEvent::New);
        assert_eq!(obs(&mut t, p, 30, 30), SeqEvent::InOrder);
        assert_eq!(obs(&mut t, p, 90, 30), SeqEvent::Gap(30));
        assert_eq!(obs(&mut t, p, 120, 30), SeqEvent::InOrder);
        // v9 from the same exporter is another stream: datagrams
        assert_eq!(obs(&mut t, V9, 7, 1), SeqEvent::New);
        assert_eq!(obs(&mut t, V9, 10, 1), SeqEvent::Gap(2));
        let s = t.stats;
        assert_eq!((s.gaps[0], s.missing[0]), (1, 30));
        assert_eq!((s.gaps[1], s.missing[1]), (1, 2));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn wrap_is_no_gap() {
        let mut t = SeqTracker::new(16);
        obs(&mut t, V9, u32::MAX - 1, 1);
        assert_eq!(obs(&mut t, V9, u32::MAX, 1), SeqEvent::InOrder);
        assert_eq!(obs(&mut t, V9, 0, 1), SeqEvent::InOrder);
        assert_eq!(obs(&mut t, V9, 2, 1), SeqEvent::Gap(1));
        let p = Protocol::Ipfix;
        obs(&mut t, p, u32::MAX - 9, 20);
        assert_eq!(obs(&mut t, p, 10, 20), SeqEvent::InOrder);
        assert_eq!(t.stats.missing, [0, 1, 0, 0]);
    }

    #[test]
    fn reordering_is_late_not_a_gap() {
        let mut t = SeqTracker::new(16);
        obs(&mut t, V9, 100, 1);
        assert_eq!(obs(&mut t, V9, 102, 1), SeqEvent::Gap(1));
        assert_eq!(obs(&mut t, V9, 101, 1), SeqEvent::Late);
        assert_eq!(obs(&mut t, V9, 103, 1), SeqEvent::InOrder);
        // two late in sequence with each other: still reordering
        obs(&mut t, V9, 106, 1);
        assert_eq!(obs(&mut t, V9, 104, 1), SeqEvent::Late);
        assert_eq!(obs(&mut t, V9, 105, 1), SeqEvent::Late);
        assert_eq!(obs(&mut t, V9, 107, 1), SeqEvent::InOrder);
        assert_eq!(t.stats.late[1], 3);
        assert_eq!(t.stats.resyncs[1], 0);
    }

    #[test]
    fn restarts_resync_without_a_gap() {
        let mut t = SeqTracker::new(16);
        // a long run, then back to 0: far behind, resync at once
        obs(&mut t, V9, 50_000, 1);
        assert_eq!(obs(&mut t, V9, 0, 1), SeqEvent::Resync);
        assert_eq!(obs(&mut t, V9, 1, 1), SeqEvent::InOrder);
        // a short run (10 datagrams), then back to 0: late until the streak says restart
        let mut t = SeqTracker::new(16);
        for s in 0..10 {
            obs(&mut t, V9, s, 1);
        }
        for s in 0..RESTART_STREAK - 1 {
            assert_eq!(obs(&mut t, V9, s, 1), SeqEvent::Late);
        }
        assert_eq!(obs(&mut t, V9, RESTART_STREAK - 1, 1), SeqEvent::Resync);
        assert_eq!(obs(&mut t, V9, RESTART_STREAK, 1), SeqEvent::InOrder);
        assert_eq!(t.stats.gaps[1], 0);
        assert_eq!(t.stats.late[1], 0);
        assert_eq!(t.stats.resyncs[1], 1);
        // a jump forward beyond MAX_GAP resyncs too
        assert_eq!(
            obs(&mut t, V9, RESTART_STREAK + 1 + MAX_GAP + 1, 1),
            SeqEvent::Resync
        );
        assert_eq!(t.stats.gaps[1], 0);
    }

    #[test]
    fn unknown_units_unsync_the_stream() {
        let mut t = SeqTracker::new(16);
        let p = Protocol::Ipfix;
        let note = |seq| SeqNote {
            domain: 1,
            seq,
            units: 0,
        };
        t.observe(p, ex(1), Addr::NONE, note(0), Some(10));
        // its records could not be counted: no expectation for the next one
        assert_eq!(
            t.observe(p, ex(1), Addr::NONE, note(10), None),
            SeqEvent::InOrder
        );
        assert_eq!(
            t.observe(p, ex(1), Addr::NONE, note(57), Some(10)),
            SeqEvent::New
        );
        assert_eq!(
            t.observe(p, ex(1), Addr::NONE, note(67), Some(10)),
            SeqEvent::InOrder
        );
        assert_eq!(t.stats.gaps, [0; 4]);
    }

    #[test]
    fn streams_are_per_domain_and_agent() {
        let mut t = SeqTracker::new(16);
        let p = Protocol::SflowV5;
        let n = |domain, seq| SeqNote {
            domain,
            seq,
            units: 1,
        };
        let (a1, a2) = (Addr::v4([192, 0, 2, 1]), Addr::v4([192, 0, 2, 2]));
        t.observe(p, ex(1), a1, n(0, 5), Some(1));
        t.observe(p, ex(1), a1, n(1, 500), Some(1));
        t.observe(p, ex(1), a2, n(0, 9000), Some(1));
        assert_eq!(t.observe(p, ex(1), a1, n(0, 6), Some(1)), SeqEvent::InOrder);
        assert_eq!(
            t.observe(p, ex(1), a1, n(1, 501), Some(1)),
            SeqEvent::InOrder
        );
        assert_eq!(
            t.observe(p, ex(1), a2, n(0, 9001), Some(1)),
            SeqEvent::InOrder
        );
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn hostile_streams_stay_bounded() {
        let mut t = SeqTracker::new(64);
        for i in 0..100_000u32 {
            let note = SeqNote {
                domain: i,
                seq: i,
                units: 1,
            };
            t.observe(V9, ex(1), Addr::NONE, note, Some(1));
            assert!(t.len() <= 64);
        }
        // the most recent streams are kept
        let note = SeqNote {
            domain: 99_999,
            seq: 100_000,
            units: 1,
        };
        assert_eq!(
            t.observe(V9, ex(1), Addr::NONE, note, Some(1)),
            SeqEvent::InOrder
        );
    }
}
