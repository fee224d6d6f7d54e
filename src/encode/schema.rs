//! Output schemas: one `FlowRecord` written as each wire layout, in protobuf and as JSON.
//!
//! Each schema is declared once (field number, JSON key, kind, value) in `schema!`, which
//! generates both a protobuf encoder and a JSON writer from the same list, so the two can
//! never disagree. The encoders write straight into a caller's buffer: no intermediate
//! message struct, no allocation once the buffer has grown. The prost-generated types in
//! `crate::pb` describe the same layouts and are what the tests decode the output with.

use crate::flow::{layer, Addr, FieldGroups, Flow, FlowRecord, FlowType};
use std::io::Write;

/// The selectable output layouts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schema {
    /// GoFlow v2.1.0 `flowprotob.FlowMessage` (+ coreflow extensions >= 42).
    #[default]
    GoflowV2,
    /// cloudflare/goflow v3 final layout.
    GoflowV3,
    /// goflow2 `flowpb.FlowMessage` (nanosecond times).
    Goflow2,
}

impl Schema {
    pub const NAMES: [&'static str; 3] = ["goflow-v2", "goflow-v3", "goflow2"];

    pub fn parse(s: &str) -> Option<Schema> {
        match s {
            "goflow-v2" => Some(Schema::GoflowV2),
            "goflow-v3" => Some(Schema::GoflowV3),
            "goflow2" => Some(Schema::Goflow2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Schema::GoflowV2 => "goflow-v2",
            Schema::GoflowV3 => "goflow-v3",
            Schema::Goflow2 => "goflow2",
        }
    }

    /// Appends the record as one protobuf message (no length prefix).
    #[inline]
    pub fn encode_pb(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        with_scratch(|b, prefix| {
            let n = self.encode_pb_at(r, b, prefix);
            append_pieces(b, n, buf);
        })
    }

    /// Appends the record as a varint length prefix plus the message.
    #[inline]
    pub fn encode_pb_delimited(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        with_scratch(|b, prefix| {
            let n = self.encode_pb_at(r, b, prefix);
            // MAX_MESSAGE < 2^14: the length is a 1- or 2-byte varint
            if n < 0x80 {
                buf.push(n as u8);
            } else {
                buf.extend_from_slice(&[(n as u8) | 0x80, (n >> 7) as u8]);
            }
            append_pieces(b, n, buf);
        })
    }

    /// Writes the record as one protobuf message at the start of `out` and returns its
    /// length (at most [`MAX_MESSAGE`]); the bytes of `out` past it are scratch. What a batch
    /// buffer is encoded into directly, without a copy. `cache` holds the leading fields of
    /// the caller's last message (a batch keeps one: no thread-local lookup per message).
    #[inline]
    pub fn encode_pb_into<R: Flow>(
        self,
        r: &R,
        out: &mut [u8; PB_ROOM],
        cache: &mut PrefixCache,
    ) -> usize {
        self.encode_pb_at(r, out, &mut cache.0)
    }

    #[inline(always)]
    fn encode_pb_at<R: Flow>(self, r: &R, out: &mut [u8; PB_ROOM], prefix: &mut Prefix) -> usize {
        debug_assert!(
            r.groups_hold(),
            "a field outside the record's groups: {:?}",
            r.to_record()
        );
        let n = match self {
            Schema::GoflowV2 => goflow_v2_pb(r, out, prefix),
            Schema::GoflowV3 => goflow_v3_pb(r, out, prefix),
            Schema::Goflow2 => goflow2_pb(r, out, prefix),
        };
        n.min(MAX_MESSAGE)
    }

    /// Appends the record as one JSON object (no newline).
    pub fn encode_json(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        debug_assert!(
            r.groups_hold(),
            "a field outside the record's groups: {r:?}"
        );
        match self {
            Schema::GoflowV2 => goflow_v2_json(r, buf),
            Schema::GoflowV3 => goflow_v3_json(r, buf),
            Schema::Goflow2 => goflow2_json(r, buf),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// protobuf primitives

#[inline]
fn varint_into(mut v: u64, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Upper bound of one encoded message: every schema has < 80 scalar fields (<= 12 bytes
/// each), < 10 addresses (<= 19 bytes each) and bounded lists (`flow::MAX_*`): < 1.5 KiB.
/// A power of two, so a masked index needs no bounds check.
pub const MAX_MESSAGE: usize = 2048;

/// A message is written into a fixed array (a batch buffer's free room, or a per-thread
/// scratch array for callers with a `Vec`) with a local length. Byte writes through a `Vec`
/// make the compiler reload its length after every byte (a `u8` store may alias it) and
/// check capacity each time; a fixed array indexed with `len & (MAX_MESSAGE - 1)` needs
/// neither check nor panic path. (MAX_MESSAGE bounds every schema, so the mask never wraps
/// in practice; if it ever did, the message would come out garbled, never out of bounds.)
pub(crate) struct PbWriter<'a> {
    // PB_ROOM has slack past MAX_MESSAGE so that 8- and 16-byte stores at a masked offset,
    // and the 32-byte pieces `append_pieces` copies, are in bounds by construction.
    b: &'a mut [u8; PB_ROOM],
    len: usize,
    /// The leading fields of the last message (see `Prefix`), kept per thread.
    prefix: &'a mut Prefix,
    /// The last varint written by `pb::u64_memo`: value, offset and length of its bytes.
    memo: (u64, usize, usize),
}

/// Room one message may need: [`MAX_MESSAGE`] plus slack for the fixed-size stores.
pub const PB_ROOM: usize = MAX_MESSAGE + 32;

/// The first fields of every schema (type, receive time, sampling rate, sequence number)
/// are the same for every record of a datagram: their encoding is kept and copied while
/// they stay the same, instead of being encoded again for each record (the receive time
/// alone is a division and a 5-byte varint).
#[derive(Clone, Copy)]
struct Prefix {
    /// Which schema wrote `bytes` (`Schema as u8 + 1`; 0: nothing cached).
    schema: u8,
    key: PrefixKey,
    len: usize,
    bytes: [u8; PREFIX_MAX],
    /// `key.time_received_ns` as varint bytes (goflow2's and v2's nanosecond receive time,
    /// a 9-byte varint, is the same for the whole datagram too).
    recv_ns: ([u8; 16], usize),
}

/// The fields a prefix is made of.
#[derive(Clone, Copy, PartialEq, Eq)]
struct PrefixKey {
    flow_type: FlowType,
    sequence_num: u32,
    time_received_ns: u64,
    sampling_rate: u64,
}

impl PrefixKey {
    #[inline(always)]
    fn of<R: Flow>(r: &R) -> PrefixKey {
        PrefixKey {
            flow_type: r.flow_type(),
            sequence_num: r.sequence_num(),
            time_received_ns: r.time_received_ns(),
            sampling_rate: r.sampling_rate(),
        }
    }
}

/// Room for the prefix fields: key + enum (3), key + u64 (11) twice, key + u32 (6) = 31.
const PREFIX_MAX: usize = 32;

/// A field key (`field << 3 | wire`, field < 2048) as varint bytes in a little-endian u16,
/// with its length. `const` so that every key of a schema is folded at compile time.
const fn key_bytes(field: u32, wire: u32) -> (u16, usize) {
    let k = (field << 3) | wire;
    if k < 0x80 {
        (k as u16, 1)
    } else {
        (((k & 0x7f) | 0x80 | ((k >> 7) << 8)) as u16, 2)
    }
}

/// The low 56 bits of `v` as eight 7-bit groups, group k in byte k (little-endian): the
/// groups are split apart in three halving steps (28-, 14-, then 7-bit groups) instead of
/// one shift and mask per group.
#[inline(always)]
fn spread7(v: u64) -> u64 {
    // 28-bit halves into the two 32-bit lanes
    let x = (v & 0x0FFF_FFFF) | ((v << 4) & 0x0FFF_FFFF_0000_0000);
    // 14-bit quarters into the four 16-bit lanes
    let x = (x & 0x0000_3FFF_0000_3FFF) | ((x << 2) & 0x3FFF_0000_3FFF_0000);
    // 7-bit groups into the eight bytes
    (x & 0x007F_007F_007F_007F) | ((x << 1) & 0x7F00_7F00_7F00_7F00)
}

/// The encoding of the leading fields of a caller's last message, reused by the next one
/// when they are the same (see `Prefix`). Any cache gives the same bytes; one per batch (or
/// per thread) only saves encoding them again.
#[derive(Clone, Copy)]
pub struct PrefixCache(Prefix);

impl Default for PrefixCache {
    fn default() -> Self {
        PrefixCache(NO_PREFIX)
    }
}

impl std::fmt::Debug for PrefixCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrefixCache")
    }
}

const NO_PREFIX: Prefix = Prefix {
    schema: 0,
    key: PrefixKey {
        flow_type: FlowType::Unknown,
        sequence_num: 0,
        time_received_ns: 0,
        sampling_rate: 0,
    },
    len: 0,
    bytes: [0; PREFIX_MAX],
    recv_ns: ([0; 16], 0),
};

thread_local! {
    /// The prefix cache of this thread's messages (whichever buffer they go to).
    static PREFIX: std::cell::RefCell<Prefix> = const { std::cell::RefCell::new(NO_PREFIX) };
    // One scratch array per thread, zeroed once, for callers that encode into a `Vec`:
    // re-zeroing 2 KiB per message cost more than encoding it.
    static SCRATCH: std::cell::RefCell<[u8; PB_ROOM]> = const {
        std::cell::RefCell::new([0; PB_ROOM])
    };
}

#[inline(always)]
fn with_scratch<R>(f: impl FnOnce(&mut [u8; PB_ROOM], &mut Prefix) -> R) -> R {
    SCRATCH.with_borrow_mut(|b| PREFIX.with_borrow_mut(|p| f(b, p)))
}

/// Appends the first `n` bytes of `src` to `buf` in fixed 32-byte pieces, then cuts `buf`
/// back to their end: a variable-length copy is a memcpy call, which cost as much as
/// encoding half the fields of a record.
#[inline(always)]
fn append_pieces(src: &[u8; PB_ROOM], n: usize, buf: &mut Vec<u8>) {
    let n = n.min(MAX_MESSAGE);
    let end = buf.len() + n;
    buf.reserve(n + 32);
    for piece in src[..(n + 31) & !31].chunks_exact(32) {
        let piece: &[u8; 32] = piece.try_into().expect("32-byte pieces");
        buf.extend_from_slice(piece);
    }
    buf.truncate(end);
}

/// `PbWriter::field_varint` of a value of 4 bytes or more, out of line: rare for the fields
/// that take that path (ports, counters, interfaces, AS numbers), and inlining it into every
/// field made the encoders several times larger than the instruction cache holds beside the
/// kernel's receive path.
#[cold]
#[inline(never)]
fn field_varint_long(b: &mut [u8; PB_ROOM], len: usize, key: (u16, usize), v: u64) -> usize {
    let at = len & (MAX_MESSAGE - 1);
    b[at..at + 2].copy_from_slice(&key.0.to_le_bytes());
    let at = (len + key.1) & (MAX_MESSAGE - 1);
    let mut bytes = [0u8; 10];
    let n = varint_into(v, &mut bytes);
    b[at..at + 10].copy_from_slice(&bytes);
    len + key.1 + n
}

/// The body of `pb::packed`: the key, the byte length, then each value; returns the new
/// length.
#[inline(never)]
fn packed_list<T: Copy + Into<u64>>(
    b: &mut [u8; PB_ROOM],
    len: usize,
    key: (u16, usize),
    v: &[T],
) -> usize {
    let mut prefix = NO_PREFIX;
    let mut w = PbWriter {
        b,
        len,
        prefix: &mut prefix,
        memo: (0, 0, 0),
    };
    let mut tmp = [0u8; 10];
    let n: usize = v.iter().map(|&x| varint_into(x.into(), &mut tmp)).sum();
    w.key_const(key);
    w.varint(n as u64);
    for &x in v {
        w.varint(x.into());
    }
    w.len
}

impl PbWriter<'_> {
    #[inline(always)]
    fn byte(&mut self, v: u8) {
        self.b[self.len & (MAX_MESSAGE - 1)] = v;
        self.len += 1;
    }

    #[inline(always)]
    fn varint(&mut self, v: u64) {
        if v < 0x80 {
            self.byte(v as u8);
        } else {
            self.varint_multi(v);
        }
    }

    /// Varints of 2 bytes or more.
    #[inline(always)]
    fn varint_multi(&mut self, v: u64) {
        if v < 1 << 14 {
            // 2 bytes (ports, interfaces, most counters of one flow): one 2-byte store
            let x = (v & 0x7f) | 0x80 | ((v >> 7) << 8);
            let at = self.len & (MAX_MESSAGE - 1);
            self.b[at..at + 2].copy_from_slice(&(x as u16).to_le_bytes());
            self.len += 2;
        } else if v < 1 << 56 {
            self.varint_2_to_8(v);
        } else {
            // low 56 bits as 8 bytes, all with a continuation bit, then the top 8 bits
            let at = self.len & (MAX_MESSAGE - 1);
            self.b[at..at + 8].copy_from_slice(&(spread7(v) | 0x8080_8080_8080_8080).to_le_bytes());
            self.len += 8;
            let hi = v >> 56;
            if hi < 0x80 {
                self.byte(hi as u8);
            } else {
                self.byte((hi as u8) | 0x80);
                self.byte((hi >> 7) as u8);
            }
        }
    }

    /// A field key known at compile time: one 2-byte store, advanced by its real length.
    #[inline(always)]
    fn key_const(&mut self, key: (u16, usize)) {
        let at = self.len & (MAX_MESSAGE - 1);
        self.b[at..at + 2].copy_from_slice(&key.0.to_le_bytes());
        self.len += key.1;
    }

    /// A varint of 2..=8 bytes (v < 2^56) as one 8-byte store: each 7-bit group is spread
    /// to its own byte and the continuation bits are set on all but the last.
    #[inline(always)]
    fn varint_2_to_8(&mut self, v: u64) {
        let n = ((70 - v.leading_zeros()) / 7) as usize; // bytes needed, 2..=8
        let x = spread7(v) | (0x8080_8080_8080_8080 & ((1u64 << (8 * (n - 1))) - 1));
        let at = self.len & (MAX_MESSAGE - 1);
        self.b[at..at + 8].copy_from_slice(&x.to_le_bytes());
        self.len += n;
    }

    /// A varint field: the key and a value of up to 3 bytes (ports, counters of one flow,
    /// interfaces, AS numbers) in one store, longer values after the key. The 1-, 2- and
    /// 3-byte cases share one branch-free path: which of them a value takes varies from
    /// record to record (ports, byte and packet counts), and a branch per case cost a
    /// mispredicted jump for most records.
    #[inline(always)]
    fn field_varint(&mut self, key: (u16, usize), v: u64) {
        let at = self.len & (MAX_MESSAGE - 1);
        let shift = 8 * key.1 as u32;
        let k = u64::from(key.0);
        if v < 0x80 {
            self.b[at..at + 8].copy_from_slice(&(k | (v << shift)).to_le_bytes());
            self.len += key.1 + 1;
        } else if v < 1 << 21 {
            let three = u64::from(v >= 1 << 14);
            // continuation bit on the first byte, and on the second of a 3-byte value
            let x =
                (v & 0x7f) | ((v << 1) & 0x7f00) | ((v << 2) & 0x7f_0000) | 0x80 | (three << 15);
            self.b[at..at + 8].copy_from_slice(&(k | (x << shift)).to_le_bytes());
            self.len += key.1 + 2 + three as usize;
        } else {
            self.len = field_varint_long(self.b, self.len, key, v);
        }
    }

    /// A varint field whose value is usually 4 bytes or more (times, MAC addresses), not 0:
    /// the key, then the value's bytes in one store, without the small-value cases.
    #[inline(always)]
    fn field_varint_big(&mut self, key: (u16, usize), v: u64) {
        // key and value at offsets from one masked index (`PB_ROOM`'s slack holds them)
        let at = self.len & (MAX_MESSAGE - 1);
        self.b[at..at + 2].copy_from_slice(&key.0.to_le_bytes());
        let o = at + key.1;
        if v.wrapping_sub(1 << 28) < (1 << 35) - (1 << 28) {
            // 5 bytes, Unix seconds from 1978 to 3058: no length to work out
            self.b[o..o + 8].copy_from_slice(&(spread7(v) | 0x8080_8080).to_le_bytes());
            self.len += key.1 + 5;
        } else if v >= 1 << 56 {
            // 9 or 10 bytes, Unix nanoseconds: the low 56 bits with continuation bits, then
            // the top 8 bits (one byte until 2262)
            self.b[o..o + 8].copy_from_slice(&(spread7(v) | 0x8080_8080_8080_8080).to_le_bytes());
            let hi = v >> 56;
            let two = u64::from(hi >= 0x80);
            let tail = (hi & 0x7f) | (two << 7) | ((hi >> 7) << 8);
            self.b[o + 8..o + 10].copy_from_slice(&(tail as u16).to_le_bytes());
            self.len += key.1 + 9 + two as usize;
        } else {
            // 1..=8 bytes: `varint_2_to_8`'s arithmetic also holds for 1 byte (not for 0,
            // which callers never write)
            self.len += key.1;
            self.varint_2_to_8(v);
        }
    }

    /// Starts a message with the prefix fields written by `write` (1 to 4 of the schema's
    /// first fields, all taken from `PrefixKey`'s fields), from the cache when the record
    /// shares them with the previous one of the same schema.
    #[inline(always)]
    fn prefix<R: Flow>(&mut self, schema: Schema, r: &R, write: impl FnOnce(&mut PbWriter<'_>)) {
        let key = PrefixKey::of(r);
        let id = schema as u8 + 1;
        if self.prefix.schema == id && self.prefix.key == key {
            let p = &*self.prefix;
            self.b[..PREFIX_MAX].copy_from_slice(&p.bytes);
            self.len = p.len;
        } else {
            self.len = 0;
            write(self);
            let n = self.len.min(PREFIX_MAX);
            self.prefix.bytes.copy_from_slice(&self.b[..PREFIX_MAX]);
            self.prefix.len = n;
            self.prefix.key = key;
            let mut ns = [0u8; 10];
            let k = varint_into(key.time_received_ns, &mut ns);
            self.prefix.recv_ns.0[..10].copy_from_slice(&ns);
            self.prefix.recv_ns.1 = k;
            // an over-long prefix (impossible by PREFIX_MAX's sum) would not be cached
            self.prefix.schema = if self.len <= PREFIX_MAX { id } else { 0 };
        }
    }

    /// An address field: key, length and the address's bytes, at offsets from one masked
    /// index (the slack of `PB_ROOM` holds the 16-byte copy of a field that starts at the
    /// last masked offset).
    #[inline(always)]
    fn field_addr(&mut self, key: (u16, usize), a: &Addr) {
        let at = self.len & (MAX_MESSAGE - 1);
        let n = a.as_slice().len();
        let k = u32::from(key.0) | ((n as u32) << (8 * key.1));
        self.b[at..at + 4].copy_from_slice(&k.to_le_bytes());
        let o = at + key.1 + 1;
        self.b[o..o + 16].copy_from_slice(a.octets16());
        self.len += key.1 + 1 + n;
    }
}

mod pb {
    use super::*;

    #[inline(always)]
    pub fn u64(w: &mut PbWriter<'_>, f: u32, v: u64) {
        if v != 0 {
            w.field_varint(key_bytes(f, 0), v);
        }
    }
    /// `u64`, remembering where the value's bytes went for `u64_again`.
    #[inline(always)]
    pub fn u64_memo(w: &mut PbWriter<'_>, f: u32, v: u64) {
        if v != 0 {
            let k = key_bytes(f, 0);
            let at = w.len + k.1;
            w.field_varint_big(k, v);
            w.memo = (v, at & (MAX_MESSAGE - 1), w.len - at);
        } else {
            // nothing to copy from in this message
            w.memo.0 = 0;
        }
    }
    /// `u64` of a value that is often the one `u64_memo` wrote last (the flow end time is
    /// two fields of GoFlow's layouts): its bytes are copied rather than encoded again.
    #[inline(always)]
    pub fn u64_again(w: &mut PbWriter<'_>, f: u32, v: u64) {
        let (mv, at, n) = w.memo;
        if v != 0 && v == mv {
            let key = key_bytes(f, 0);
            let to = w.len & (MAX_MESSAGE - 1);
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&w.b[at..at + 16]);
            w.b[to..to + 2].copy_from_slice(&key.0.to_le_bytes());
            w.b[to + key.1..to + key.1 + 16].copy_from_slice(&bytes);
            w.len += key.1 + n;
        } else {
            big(w, f, v)
        }
    }
    /// The record's receive time in nanoseconds: from the prefix cache, which `prefix()`
    /// filled for this record's receive time before any field of the body.
    #[inline(always)]
    pub fn recv_ns(w: &mut PbWriter<'_>, f: u32, v: u64) {
        if v != 0 && v == w.prefix.key.time_received_ns {
            let key = key_bytes(f, 0);
            let to = w.len & (MAX_MESSAGE - 1);
            let (bytes, n) = w.prefix.recv_ns;
            w.b[to..to + 2].copy_from_slice(&key.0.to_le_bytes());
            w.b[to + key.1..to + key.1 + 16].copy_from_slice(&bytes);
            w.len += key.1 + n;
        } else {
            big(w, f, v)
        }
    }
    #[inline(always)]
    pub fn u32(w: &mut PbWriter<'_>, f: u32, v: u32) {
        u64(w, f, u64::from(v))
    }
    #[inline(always)]
    pub fn mac(w: &mut PbWriter<'_>, f: u32, v: u64) {
        big(w, f, v)
    }
    /// `u64` of a value that is usually 4 bytes or more (times in seconds or nanoseconds).
    #[inline(always)]
    pub fn big(w: &mut PbWriter<'_>, f: u32, v: u64) {
        if v != 0 {
            w.field_varint_big(key_bytes(f, 0), v);
        }
    }
    #[inline(always)]
    pub fn boolean(w: &mut PbWriter<'_>, f: u32, v: bool) {
        u64(w, f, u64::from(v))
    }
    #[inline(always)]
    pub fn enumv(w: &mut PbWriter<'_>, f: u32, v: (i32, &str)) {
        u64(w, f, v.0 as u64)
    }
    #[inline(always)]
    pub fn addr(w: &mut PbWriter<'_>, f: u32, v: Addr) {
        if !v.is_none() {
            w.field_addr(key_bytes(f, 2), &v);
        }
    }
    /// `repeated bytes` with at most one element.
    #[inline]
    pub fn addr_list(w: &mut PbWriter<'_>, f: u32, v: Addr) {
        addr(w, f, v)
    }
    /// Packed `repeated uint32` (proto3's default encoding). Lists are mostly empty: the
    /// test is inline, the encoding out of line, with the writer's length passed by value
    /// (a call that took the writer itself would keep its length in memory, stored after
    /// every field of the message).
    #[inline(always)]
    pub fn packed<T: Copy + Into<u64>>(w: &mut PbWriter<'_>, f: u32, v: &[T]) {
        if !v.is_empty() {
            w.len = packed_list(w.b, w.len, key_bytes(f, 2), v);
        }
    }
    #[inline]
    pub fn layers(w: &mut PbWriter<'_>, f: u32, v: &[u8]) {
        packed(w, f, v)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON primitives: numbers as numbers, addresses as text, MACs as aa:bb:cc:dd:ee:ff, enums as
// their names. Zero values are omitted (as protobuf omits them).

struct Json<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Json<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Json { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn end(self) {
        self.out.push(b'}');
    }

    fn u64(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let _ = write!(self.out, "{v}");
        }
    }
    fn u32(&mut self, k: &str, v: u32) {
        self.u64(k, u64::from(v))
    }
    fn big(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    fn u64_memo(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    fn u64_again(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    fn recv_ns(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    fn boolean(&mut self, k: &str, v: bool) {
        if v {
            self.key(k);
            self.out.extend_from_slice(b"true");
        }
    }
    fn enumv(&mut self, k: &str, v: (i32, &str)) {
        self.key(k);
        self.out.push(b'"');
        self.out.extend_from_slice(v.1.as_bytes());
        self.out.push(b'"');
    }
    fn mac(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let b = v.to_be_bytes();
            let _ = write!(
                self.out,
                "\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"",
                b[2], b[3], b[4], b[5], b[6], b[7]
            );
        }
    }
    fn addr(&mut self, k: &str, v: Addr) {
        if let Some(ip) = v.to_ip() {
            self.key(k);
            let _ = write!(self.out, "\"{ip}\"");
        }
    }
    fn addr_list(&mut self, k: &str, v: Addr) {
        if let Some(ip) = v.to_ip() {
            self.key(k);
            let _ = write!(self.out, "[\"{ip}\"]");
        }
    }
    fn packed<T: Copy + Into<u64>>(&mut self, k: &str, v: &[T]) {
        if v.is_empty() {
            return;
        }
        self.key(k);
        self.out.push(b'[');
        for (i, &x) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let _ = write!(self.out, "{}", x.into());
        }
        self.out.push(b']');
    }
    fn layers(&mut self, k: &str, v: &[u8]) {
        if v.is_empty() {
            return;
        }
        self.key(k);
        self.out.push(b'[');
        for (i, &x) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let _ = write!(self.out, "\"{}\"", layer::name(x));
        }
        self.out.push(b']');
    }
}

/// Writes the protobuf fields of a schema's list (see `schema!`).
macro_rules! pb_fields {
    ($w:ident;) => {};
    ($w:ident; if ($g:expr) { $($inner:tt)* } $($rest:tt)*) => {
        if $g {
            pb_fields!($w; $($inner)*);
        }
        pb_fields!($w; $($rest)*);
    };
    ($w:ident; $num:literal $name:literal $kind:ident ($e:expr); $($rest:tt)*) => {
        pb::$kind($w, $num, $e);
        pb_fields!($w; $($rest)*);
    };
}

/// Writes the JSON members of a schema's list (see `schema!`).
macro_rules! json_fields {
    ($j:ident;) => {};
    ($j:ident; if ($g:expr) { $($inner:tt)* } $($rest:tt)*) => {
        if $g {
            json_fields!($j; $($inner)*);
        }
        json_fields!($j; $($rest)*);
    };
    ($j:ident; $num:literal $name:literal $kind:ident ($e:expr); $($rest:tt)*) => {
        $j.$kind($name, $e);
        json_fields!($j; $($rest)*);
    };
}

/// One schema: `prefix { .. }` holds its leading fields, which must come from `PrefixKey`'s
/// fields only (they are cached per datagram); then the other fields in order.
/// `if (guard) { .. }` skips a group of fields at once; the guard must be false only when
/// every field of the group is zero (so the output is the same with or without it).
macro_rules! schema {
    ($pb_fn:ident, $json_fn:ident, $schema:ident, |$r:ident| {
        prefix { $($pre:tt)* }
        $($body:tt)*
    }) => {
        /// Writes the message at the start of `b`; returns its length. The writer is a
        /// local of this function, so its length and buffer stay in registers.
        #[inline]
        fn $pb_fn<R: Flow>($r: &R, b: &mut [u8; PB_ROOM], prefix: &mut Prefix) -> usize {
            let mut writer = PbWriter {
                b,
                len: 0,
                prefix,
                memo: (0, 0, 0),
            };
            let w = &mut writer;
            w.prefix(Schema::$schema, $r, |w| {
                pb_fields!(w; $($pre)*);
            });
            pb_fields!(w; $($body)*);
            writer.len
        }

        fn $json_fn($r: &FlowRecord, out: &mut Vec<u8>) {
            let mut j = Json::new(out);
            json_fields!(j; $($pre)*);
            json_fields!(j; $($body)*);
            j.end();
        }
    };
}

/// Guard of ICMP, VLAN, fragment, flow label and VRF fields (31-39 of goflow-v2; 31-37
/// of goflow2, whose 38 is not among them and is written regardless): mostly zero in
/// NetFlow records.
#[inline(always)]
fn any_l2_misc<R: Flow>(r: &R) -> bool {
    (r.icmp_type()
        | r.icmp_code()
        | r.src_vlan()
        | r.dst_vlan()
        | r.fragment_id()
        | r.fragment_offset()
        | r.ipv6_flow_label()
        | r.ingress_vrf_id()
        | r.egress_vrf_id())
        != 0
}

/// Guard of the tunnel (encapsulated packet) fields.
#[inline(always)]
fn any_encap<R: Flow>(r: &R) -> bool {
    r.has_encap()
        || !r.src_addr_encap().is_none()
        || !r.dst_addr_encap().is_none()
        || (r.proto_encap()
            | r.etype_encap()
            | r.ip_tos_encap()
            | r.ip_ttl_encap()
            | r.ipv6_flow_label_encap()
            | r.fragment_id_encap()
            | r.fragment_offset_encap())
            != 0
}

const NS: u64 = 1_000_000_000;

fn v2_type(t: FlowType) -> (i32, &'static str) {
    match t {
        FlowType::Unknown => (0, "FLOWUNKNOWN"),
        FlowType::NetflowV5 => (2, "NFV5"),
        FlowType::SFlow5 => (5, "SFLOW"),
        FlowType::NetflowV9 => (9, "NFV9"),
        FlowType::Ipfix => (10, "IPFIX"),
    }
}

fn v3_type(t: FlowType) -> (i32, &'static str) {
    match t {
        FlowType::Unknown => (0, "FLOWUNKNOWN"),
        FlowType::SFlow5 => (1, "SFLOW_5"),
        FlowType::NetflowV5 => (2, "NETFLOW_V5"),
        FlowType::NetflowV9 => (3, "NETFLOW_V9"),
        FlowType::Ipfix => (4, "IPFIX"),
    }
}

/// GoFlow v2's deprecated `IPversion`, from the source address family.
fn v2_ipversion<R: Flow>(r: &R) -> (i32, &'static str) {
    if r.src_addr().is_v4() {
        (4, "IPv4")
    } else if r.src_addr().is_v6() {
        (6, "IPv6")
    } else {
        (0, "IPUNKNOWN")
    }
}

/// The n-th MPLS label/TTL (0-based), or 0.
fn mpls_at<R: Flow>(r: &R, i: usize) -> (u32, u32) {
    match (r.mpls_labels().get(i), r.mpls_ttls().get(i)) {
        (Some(&label), Some(&ttl)) => (label, u32::from(ttl)),
        _ => (0, 0),
    }
}

fn mpls_last<R: Flow>(r: &R) -> (u32, u32) {
    match r.mpls_count() {
        0 => (0, 0),
        n => mpls_at(r, n as usize - 1),
    }
}

schema!(goflow_v2_pb, goflow_v2_json, GoflowV2, |r| {
    prefix {
        1 "Type" enumv(v2_type(r.flow_type()));
        2 "TimeRecvd" u64(r.time_received_ns() / NS);
        3 "SamplingRate" u64(r.sampling_rate());
        4 "SequenceNum" u32(r.sequence_num());
    }
    5 "TimeFlow" u64_memo(r.time_flow_end_ns() / NS);
    6 "SrcIP" addr(r.src_addr());
    7 "DstIP" addr(r.dst_addr());
    8 "IPversion" enumv(v2_ipversion(r));
    9 "Bytes" u64(r.bytes());
    10 "Packets" u64(r.packets());
    11 "RouterAddr" addr(r.sampler_address());
    12 "NextHop" addr(r.next_hop());
    if (r.may_hold(FieldGroups::BGP)) {
        13 "NextHopAS" u32(r.next_hop_as());
    }
    14 "SrcAS" u32(r.src_as());
    15 "DstAS" u32(r.dst_as());
    16 "SrcNet" u32(r.src_net());
    17 "DstNet" u32(r.dst_net());
    18 "SrcIf" u32(r.in_if());
    19 "DstIf" u32(r.out_if());
    20 "Proto" u32(r.proto());
    21 "SrcPort" u32(r.src_port());
    22 "DstPort" u32(r.dst_port());
    23 "IPTos" u32(r.ip_tos());
    if (r.may_hold(FieldGroups::MISC)) {
        24 "ForwardingStatus" u32(r.forwarding_status());
        25 "IPTTL" u32(r.ip_ttl());
    }
    26 "TCPFlags" u32(r.tcp_flags());
    if (r.may_hold(FieldGroups::L2)) {
        27 "SrcMac" mac(r.src_mac());
        28 "DstMac" mac(r.dst_mac());
        29 "VlanId" u32(r.vlan_id());
    }
    30 "Etype" u32(r.etype());
    if (r.may_hold(FieldGroups::L2 | FieldGroups::MISC) && any_l2_misc(r)) {
        31 "IcmpType" u32(r.icmp_type());
        32 "IcmpCode" u32(r.icmp_code());
        33 "SrcVlan" u32(r.src_vlan());
        34 "DstVlan" u32(r.dst_vlan());
        35 "FragmentId" u32(r.fragment_id());
        36 "FragmentOffset" u32(r.fragment_offset());
        37 "IPv6FlowLabel" u32(r.ipv6_flow_label());
        38 "IngressVrfId" u32(r.ingress_vrf_id());
        39 "EgressVrfId" u32(r.egress_vrf_id());
    }
    40 "TimeFlowStart" big(r.time_flow_start_ns() / NS);
    41 "TimeFlowEnd" u64_again(r.time_flow_end_ns() / NS);
    if (r.may_hold(FieldGroups::MISC)) {
        42 "FlowDirection" u32(r.flow_direction());
    }
    if (r.may_hold(FieldGroups::ENCAP) && any_encap(r)) {
        43 "HasEncap" boolean(r.has_encap());
        44 "SrcAddrEncap" addr(r.src_addr_encap());
        45 "DstAddrEncap" addr(r.dst_addr_encap());
        46 "ProtoEncap" u32(r.proto_encap());
        47 "EtypeEncap" u32(r.etype_encap());
        48 "IPTosEncap" u32(r.ip_tos_encap());
        49 "IPTTLEncap" u32(r.ip_ttl_encap());
        50 "IPv6FlowLabelEncap" u32(r.ipv6_flow_label_encap());
        51 "FragmentIdEncap" u32(r.fragment_id_encap());
        52 "FragmentOffsetEncap" u32(r.fragment_offset_encap());
    }
    if (r.mpls_count() > 0) {
        53 "HasMPLS" boolean(r.mpls_count() > 0);
        54 "MPLSCount" u32(u32::from(r.mpls_count()));
        55 "MPLS1TTL" u32(mpls_at(r, 0).1);
        56 "MPLS1Label" u32(mpls_at(r, 0).0);
        57 "MPLS2TTL" u32(mpls_at(r, 1).1);
        58 "MPLS2Label" u32(mpls_at(r, 1).0);
        59 "MPLS3TTL" u32(mpls_at(r, 2).1);
        60 "MPLS3Label" u32(mpls_at(r, 2).0);
        61 "MPLSLastTTL" u32(mpls_last(r).1);
        62 "MPLSLastLabel" u32(mpls_last(r).0);
    }
    70 "ObservationDomainId" u32(r.observation_domain_id());
    if (r.may_hold(FieldGroups::MISC)) {
        71 "ObservationPointId" u32(r.observation_point_id());
    }
    if (r.may_hold(FieldGroups::BGP)) {
        100 "BgpNextHop" addr(r.bgp_next_hop());
        101 "BgpCommunities" packed(r.communities());
        102 "AsPath" packed(r.as_path());
    }
    110 "TimeReceivedNs" recv_ns(r.time_received_ns());
    111 "TimeFlowStartNs" big(r.time_flow_start_ns());
    112 "TimeFlowEndNs" big(r.time_flow_end_ns());
    if (r.may_hold(FieldGroups::MISC)) {
        120 "BiFlowDirection" u32(r.bi_flow_direction());
        121 "IPFlags" u32(r.ip_flags());
    }
});

schema!(goflow_v3_pb, goflow_v3_json, GoflowV3, |r| {
    prefix {
        1 "Type" enumv(v3_type(r.flow_type()));
        2 "TimeReceived" u64(r.time_received_ns() / NS);
        3 "SamplingRate" u64(r.sampling_rate());
        4 "SequenceNum" u32(r.sequence_num());
    }
    5 "TimeFlowEnd" big(r.time_flow_end_ns() / NS);
    6 "SrcAddr" addr(r.src_addr());
    7 "DstAddr" addr(r.dst_addr());
    9 "Bytes" u64(r.bytes());
    10 "Packets" u64(r.packets());
    11 "SamplerAddress" addr(r.sampler_address());
    12 "NextHop" addr(r.next_hop());
    if (r.may_hold(FieldGroups::BGP)) {
        13 "NextHopAS" u32(r.next_hop_as());
    }
    14 "SrcAS" u32(r.src_as());
    15 "DstAS" u32(r.dst_as());
    16 "SrcNet" u32(r.src_net());
    17 "DstNet" u32(r.dst_net());
    18 "InIf" u32(r.in_if());
    19 "OutIf" u32(r.out_if());
    20 "Proto" u32(r.proto());
    21 "SrcPort" u32(r.src_port());
    22 "DstPort" u32(r.dst_port());
    23 "IPTos" u32(r.ip_tos());
    if (r.may_hold(FieldGroups::MISC)) {
        24 "ForwardingStatus" u32(r.forwarding_status());
        25 "IPTTL" u32(r.ip_ttl());
    }
    26 "TCPFlags" u32(r.tcp_flags());
    if (r.may_hold(FieldGroups::L2)) {
        27 "SrcMac" mac(r.src_mac());
        28 "DstMac" mac(r.dst_mac());
        29 "VlanId" u32(r.vlan_id());
    }
    30 "Etype" u32(r.etype());
    if (r.may_hold(FieldGroups::L2 | FieldGroups::MISC)) {
        31 "IcmpType" u32(r.icmp_type());
        32 "IcmpCode" u32(r.icmp_code());
        33 "SrcVlan" u32(r.src_vlan());
        34 "DstVlan" u32(r.dst_vlan());
        35 "FragmentId" u32(r.fragment_id());
        36 "FragmentOffset" u32(r.fragment_offset());
        37 "IPv6FlowLabel" u32(r.ipv6_flow_label());
    }
    38 "TimeFlowStart" big(r.time_flow_start_ns() / NS);
    if (r.may_hold(FieldGroups::MISC)) {
        39 "IngressVrfID" u32(r.ingress_vrf_id());
        40 "EgressVrfID" u32(r.egress_vrf_id());
        41 "BiFlowDirection" u32(r.bi_flow_direction());
        42 "FlowDirection" u32(r.flow_direction());
    }
    if (r.may_hold(FieldGroups::ENCAP) && any_encap(r)) {
        43 "HasEncap" boolean(r.has_encap());
        44 "SrcAddrEncap" addr(r.src_addr_encap());
        45 "DstAddrEncap" addr(r.dst_addr_encap());
        46 "ProtoEncap" u32(r.proto_encap());
        47 "EtypeEncap" u32(r.etype_encap());
        48 "IPTosEncap" u32(r.ip_tos_encap());
        49 "IPTTLEncap" u32(r.ip_ttl_encap());
        50 "IPv6FlowLabelEncap" u32(r.ipv6_flow_label_encap());
        51 "FragmentIdEncap" u32(r.fragment_id_encap());
        52 "FragmentOffsetEncap" u32(r.fragment_offset_encap());
    }
    if (r.mpls_count() > 0) {
        53 "HasMPLS" boolean(r.mpls_count() > 0);
        54 "MPLSCount" u32(u32::from(r.mpls_count()));
        55 "MPLS1TTL" u32(mpls_at(r, 0).1);
        56 "MPLS1Label" u32(mpls_at(r, 0).0);
        57 "MPLS2TTL" u32(mpls_at(r, 1).1);
        58 "MPLS2Label" u32(mpls_at(r, 1).0);
        59 "MPLS3TTL" u32(mpls_at(r, 2).1);
        60 "MPLS3Label" u32(mpls_at(r, 2).0);
        61 "MPLSLastTTL" u32(mpls_last(r).1);
        62 "MPLSLastLabel" u32(mpls_last(r).0);
    }
    if (r.may_hold(FieldGroups::L2)) {
        63 "HasPPP" boolean(r.has_ppp());
        64 "PPPAddressControl" u32(r.ppp_address_control());
    }
});

schema!(goflow2_pb, goflow2_json, Goflow2, |r| {
    prefix {
        1 "type" enumv(v3_type(r.flow_type()));
        3 "sampling_rate" u64(r.sampling_rate());
        4 "sequence_num" u32(r.sequence_num());
    }
    6 "src_addr" addr(r.src_addr());
    7 "dst_addr" addr(r.dst_addr());
    9 "bytes" u64(r.bytes());
    10 "packets" u64(r.packets());
    11 "sampler_address" addr(r.sampler_address());
    12 "next_hop" addr(r.next_hop());
    if (r.may_hold(FieldGroups::BGP)) {
        13 "next_hop_as" u32(r.next_hop_as());
    }
    14 "src_as" u32(r.src_as());
    15 "dst_as" u32(r.dst_as());
    16 "src_net" u32(r.src_net());
    17 "dst_net" u32(r.dst_net());
    18 "in_if" u32(r.in_if());
    19 "out_if" u32(r.out_if());
    20 "proto" u32(r.proto());
    21 "src_port" u32(r.src_port());
    22 "dst_port" u32(r.dst_port());
    23 "ip_tos" u32(r.ip_tos());
    if (r.may_hold(FieldGroups::MISC)) {
        24 "forwarding_status" u32(r.forwarding_status());
        25 "ip_ttl" u32(r.ip_ttl());
    }
    26 "tcp_flags" u32(r.tcp_flags());
    if (r.may_hold(FieldGroups::L2)) {
        27 "src_mac" mac(r.src_mac());
        28 "dst_mac" mac(r.dst_mac());
        29 "vlan_id" u32(r.vlan_id());
    }
    30 "etype" u32(r.etype());
    if (r.may_hold(FieldGroups::L2 | FieldGroups::MISC) && any_l2_misc(r)) {
        31 "icmp_type" u32(r.icmp_type());
        32 "icmp_code" u32(r.icmp_code());
        33 "src_vlan" u32(r.src_vlan());
        34 "dst_vlan" u32(r.dst_vlan());
        35 "fragment_id" u32(r.fragment_id());
        36 "fragment_offset" u32(r.fragment_offset());
        37 "ipv6_flow_label" u32(r.ipv6_flow_label());
    }
    if (r.may_hold(FieldGroups::MISC)) {
        38 "ip_flags" u32(r.ip_flags());
    }
    70 "observation_domain_id" u32(r.observation_domain_id());
    if (r.may_hold(FieldGroups::MISC)) {
        71 "observation_point_id" u32(r.observation_point_id());
    }
    if (r.may_hold(FieldGroups::MPLS)) {
        80 "mpls_ttl" packed(r.mpls_ttls());
        81 "mpls_label" packed(r.mpls_labels());
        82 "mpls_ip" addr_list(r.mpls_ip());
    }
    if (r.may_hold(FieldGroups::BGP)) {
        100 "bgp_next_hop" addr(r.bgp_next_hop());
        101 "bgp_communities" packed(r.communities());
        102 "as_path" packed(r.as_path());
    }
    if (r.may_hold(FieldGroups::L2)) {
        103 "layer_stack" layers(r.layers().0);
        104 "layer_size" packed(r.layers().1);
    }
    110 "time_received_ns" recv_ns(r.time_received_ns());
    111 "time_flow_start_ns" big(r.time_flow_start_ns());
    112 "time_flow_end_ns" big(r.time_flow_end_ns());
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use prost::Message;

    fn sample() -> FlowRecord {
        let mut r = FlowRecord {
            flow_type: FlowType::NetflowV9,
            time_received_ns: 1_700_000_000_123_456_789,
            time_flow_start_ns: 1_699_999_990_000_000_000,
            time_flow_end_ns: 1_699_999_999_000_000_000,
            sequence_num: 42,
            sampling_rate: 1000,
            sampler_address: Addr::v4([192, 0, 2, 1]),
            src_addr: Addr::v4([10, 0, 0, 1]),
            dst_addr: Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            bytes: 1500,
            packets: 3,
            proto: 6,
            src_port: 443,
            dst_port: 51000,
            src_mac: 0x0011_2233_4455,
            etype: 0x86dd,
            ip_flags: 2,
            bi_flow_direction: 1,
            flow_direction: 1,
            ingress_vrf_id: 7,
            ..Default::default()
        };
        r.push_mpls(16001, 64);
        r.push_mpls(24000, 63);
        r.push_as(65001);
        r.push_as(65002);
        r.push_layer(layer::ETHERNET, 14);
        r.push_layer(layer::IPV6, 40);
        r
    }

    #[test]
    fn v2_round_trips_through_prost() {
        let r = sample();
        let mut buf = Vec::new();
        Schema::GoflowV2.encode_pb(&r, &mut buf);
        let m = pb::goflow_v2::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!(m.r#type, 9);
        assert_eq!(m.time_recvd, 1_700_000_000);
        assert_eq!(m.time_received_ns, r.time_received_ns);
        assert_eq!(m.time_flow, 1_699_999_999);
        assert_eq!(m.time_flow_start, 1_699_999_990);
        assert_eq!(m.src_ip, vec![10, 0, 0, 1]);
        assert_eq!(m.dst_ip.len(), 16);
        assert_eq!(m.i_pversion, 4);
        assert_eq!(m.router_addr, vec![192, 0, 2, 1]);
        assert_eq!((m.bytes, m.packets, m.proto), (1500, 3, 6));
        assert_eq!((m.src_port, m.dst_port), (443, 51000));
        assert_eq!(m.src_mac, 0x0011_2233_4455);
        assert_eq!(m.ingress_vrf_id, 7);
        assert!(m.has_mpls);
        assert_eq!((m.mpls_count, m.mpls1_label, m.mpls1ttl), (2, 16001, 64));
        assert_eq!((m.mpls_last_label, m.mpls_last_ttl), (24000, 63));
        assert_eq!(m.as_path, vec![65001, 65002]);
        assert_eq!(
            (m.bi_flow_direction, m.ip_flags, m.flow_direction),
            (1, 2, 1)
        );
    }

    #[test]
    fn v3_and_goflow2_round_trip() {
        let r = sample();
        let mut buf = Vec::new();
        Schema::GoflowV3.encode_pb(&r, &mut buf);
        let m = pb::goflow_v3::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!(m.r#type, 3);
        assert_eq!(m.time_flow_start, 1_699_999_990);
        assert_eq!(m.time_flow_end, 1_699_999_999);
        assert_eq!(m.ingress_vrf_id, 7);
        assert_eq!(m.bi_flow_direction, 1);
        assert_eq!(m.sampler_address, vec![192, 0, 2, 1]);

        buf.clear();
        Schema::Goflow2.encode_pb(&r, &mut buf);
        let m = pb::goflow2::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!(m.r#type, 3);
        assert_eq!(m.time_flow_start_ns, r.time_flow_start_ns);
        assert_eq!(m.mpls_label, vec![16001, 24000]);
        assert_eq!(m.mpls_ttl, vec![64, 63]);
        assert_eq!(m.ip_flags, 2);
        assert_eq!(m.layer_stack, vec![0, 2]);
        assert_eq!(m.layer_size, vec![14, 40]);
    }

    #[test]
    fn varints_match_prost() {
        let mut vals = vec![
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u64::from(u32::MAX),
            u64::MAX,
            // bit patterns that catch a group moved to the wrong byte
            0x5555_5555_5555_5555,
            0xAAAA_AAAA_AAAA_AAAA,
            0x0123_4567_89AB_CDEF,
            0xFEDC_BA98_7654_3210,
            0x00F0_F0F0_F0F0_F0F0,
            1_700_000_000_123_456_789,
        ];
        for shift in 0..64 {
            vals.push(1u64 << shift);
            vals.push((1u64 << shift) - 1);
            vals.push((1u64 << shift) + 1);
        }
        for v in vals {
            let r = FlowRecord {
                bytes: v,
                packets: v,
                ..Default::default()
            };
            let mut buf = Vec::new();
            Schema::GoflowV2.encode_pb(&r, &mut buf);
            let m = pb::goflow_v2::FlowMessage::decode(&buf[..]).unwrap();
            assert_eq!((m.bytes, m.packets), (v, v), "{v:#x}");
            let expect = pb::goflow_v2::FlowMessage {
                bytes: v,
                packets: v,
                ..Default::default()
            }
            .encode_to_vec();
            assert_eq!(buf, expect, "{v:#x}");
        }
    }

    /// The cached leading fields come out as if encoded afresh, whichever prefix field
    /// changes between records and whichever schema wrote the cache last.
    #[test]
    fn prefix_cache_matches_fresh_encoding() {
        fn fresh(schema: Schema, r: &FlowRecord) -> Vec<u8> {
            PREFIX.with_borrow_mut(|p| p.schema = 0);
            let mut b = Vec::new();
            schema.encode_pb(r, &mut b);
            b
        }
        let base = sample();
        let mut records = vec![base, base];
        let mut r = base;
        r.sequence_num += 1;
        records.push(r);
        r.time_received_ns += 1_000_000_000;
        records.push(r);
        r.sampling_rate = 0;
        records.push(r);
        r.flow_type = FlowType::Ipfix;
        records.push(r);
        r.sampling_rate = u64::MAX;
        r.sequence_num = u32::MAX;
        r.time_received_ns = u64::MAX;
        records.push(r);
        records.push(FlowRecord::default());
        records.push(base);
        for schemas in [
            [Schema::GoflowV2, Schema::GoflowV2, Schema::GoflowV3],
            [Schema::Goflow2, Schema::GoflowV3, Schema::GoflowV2],
        ] {
            for r in &records {
                for schema in schemas {
                    let mut b = Vec::new();
                    schema.encode_pb(r, &mut b);
                    assert_eq!(b, fresh(schema, r), "{schema:?}");
                    let m = pb::goflow_v2::FlowMessage::decode(&b[..]).unwrap();
                    assert_eq!(m.sequence_num, r.sequence_num);
                    assert_eq!(m.sampling_rate, r.sampling_rate);
                }
            }
        }
    }

    /// Random records (each field zero or not, small or large), encoded back to back so the
    /// prefix cache and the end-time copy are in play: each message is what prost writes for
    /// the same values (canonical field order and varints), in every schema.
    #[test]
    fn random_records_encode_canonically() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut pick = move || {
            let x = next();
            match x % 4 {
                0 => 0,
                1 => x >> 57,
                2 => x >> 40,
                _ => x >> (x % 64),
            }
        };
        let base = sample();
        for i in 0..2000 {
            let mut r = base;
            r.time_received_ns = if i % 3 == 0 {
                pick()
            } else {
                base.time_received_ns
            };
            r.time_flow_end_ns = pick();
            r.time_flow_start_ns = pick();
            r.sampling_rate = if i % 5 == 0 {
                pick()
            } else {
                base.sampling_rate
            };
            r.sequence_num = (i / 7) as u32;
            r.bytes = pick();
            r.packets = pick();
            r.src_port = pick() as u32;
            r.icmp_type = pick() as u32;
            r.egress_vrf_id = pick() as u32;
            r.ipv6_flow_label_encap = pick() as u32;
            r.has_encap = pick() % 2 == 1;
            r.mpls_count = (pick() % 3) as u8;
            r.observation_domain_id = pick() as u32;
            for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
                let mut b = Vec::new();
                schema.encode_pb(&r, &mut b);
                let again = match schema {
                    Schema::GoflowV2 => {
                        let m = pb::goflow_v2::FlowMessage::decode(&b[..]).unwrap();
                        assert_eq!(m.time_flow, r.time_flow_end_ns / NS);
                        assert_eq!(m.time_flow_end, r.time_flow_end_ns / NS);
                        assert_eq!(m.time_received_ns, r.time_received_ns);
                        assert_eq!(m.egress_vrf_id, r.egress_vrf_id);
                        m.encode_to_vec()
                    }
                    Schema::GoflowV3 => pb::goflow_v3::FlowMessage::decode(&b[..])
                        .unwrap()
                        .encode_to_vec(),
                    Schema::Goflow2 => {
                        let m = pb::goflow2::FlowMessage::decode(&b[..]).unwrap();
                        assert_eq!(m.time_received_ns, r.time_received_ns);
                        m.encode_to_vec()
                    }
                };
                assert_eq!(b, again, "{schema:?} record {i}");
            }
        }
    }

    #[test]
    fn delimited_prefix() {
        let r = sample();
        let mut buf = vec![0xAA];
        Schema::GoflowV2.encode_pb_delimited(&r, &mut buf);
        let m = pb::goflow_v2::FlowMessage::decode_length_delimited(&buf[1..]).unwrap();
        assert_eq!(m.bytes, 1500);
    }

    #[test]
    fn json_keys_and_values() {
        let r = sample();
        let mut buf = Vec::new();
        Schema::GoflowV2.encode_json(&r, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["Type"], "NFV9");
        assert_eq!(v["SrcIP"], "10.0.0.1");
        assert_eq!(v["DstIP"], "2001:db8::1");
        assert_eq!(v["SrcMac"], "00:11:22:33:44:55");
        assert_eq!(v["Bytes"], 1500);
        assert_eq!(v["AsPath"], serde_json::json!([65001, 65002]));
        assert!(v.get("DstMac").is_none());

        buf.clear();
        Schema::Goflow2.encode_json(&r, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["type"], "NETFLOW_V9");
        assert_eq!(v["layer_stack"], serde_json::json!(["Ethernet", "IPv6"]));
    }
}
