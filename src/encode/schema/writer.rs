//! The protobuf byte writer every layout encodes through: varints and field keys stored into
//! a fixed array at masked offsets (no bounds check, no panic path), the cache of a message's
//! leading fields, and the per-thread scratch array for callers that encode into a `Vec`.
//!
//! Contract: a message is at most [`MAX_MESSAGE`] bytes and is written into [`PB_ROOM`]
//! bytes, whose slack past `MAX_MESSAGE` takes the fixed-size stores; the bytes past a
//! message's length are scratch. The writer knows field numbers and wire types, not schemas:
//! which fields a message has is the layouts' business.

use super::Schema;
use crate::flow::{Addr, Flow, FlowType};

/// Writes `v` as a varint at the start of `out` (which has room for it: 10 bytes hold any
/// u64); returns its length.
#[inline(always)]
pub(in crate::encode) fn put_varint(mut v: u64, out: &mut [u8]) -> usize {
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
    pub(super) b: &'a mut [u8; PB_ROOM],
    pub(super) len: usize,
    /// The leading fields of the last message (see `Prefix`), kept per thread.
    pub(super) prefix: &'a mut Prefix,
    /// The last varint written by `pb::u64_memo`: value, offset and length of its bytes.
    pub(super) memo: (u64, usize, usize),
}

/// Room one message may need: [`MAX_MESSAGE`] plus slack for the fixed-size stores.
pub const PB_ROOM: usize = MAX_MESSAGE + 32;

/// The first fields of every schema (type, receive time, sampling rate, sequence number)
/// are the same for every record of a datagram: their encoding is kept and copied while
/// they stay the same, instead of being encoded again for each record (the receive time
/// alone is a division and a 5-byte varint).
#[derive(Clone, Copy)]
pub(super) struct Prefix {
    /// Which schema wrote `bytes` (`Schema as u8 + 1`; 0: nothing cached).
    pub(super) schema: u8,
    pub(super) key: PrefixKey,
    len: usize,
    bytes: [u8; PREFIX_MAX],
    /// `key.time_received_ns` as varint bytes (goflow2's and v2's nanosecond receive time,
    /// a 9-byte varint, is the same for the whole datagram too).
    pub(super) recv_ns: ([u8; 16], usize),
}

/// The fields a prefix is made of.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct PrefixKey {
    flow_type: FlowType,
    sequence_num: u32,
    pub(super) time_received_ns: u64,
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
pub(super) const fn key_bytes(field: u32, wire: u32) -> (u16, usize) {
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
pub struct PrefixCache(pub(super) Prefix);

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
    pub(super) static PREFIX: std::cell::RefCell<Prefix> = const {
        std::cell::RefCell::new(NO_PREFIX)
    };
    // One scratch array per thread, zeroed once, for callers that encode into a `Vec`:
    // re-zeroing 2 KiB per message cost more than encoding it.
    static SCRATCH: std::cell::RefCell<[u8; PB_ROOM]> = const {
        std::cell::RefCell::new([0; PB_ROOM])
    };
}

#[inline(always)]
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut [u8; PB_ROOM], &mut Prefix) -> R) -> R {
    SCRATCH.with_borrow_mut(|b| PREFIX.with_borrow_mut(|p| f(b, p)))
}

/// Appends the first `n` bytes of `src` to `buf` in fixed 32-byte pieces, then cuts `buf`
/// back to their end: a variable-length copy is a memcpy call, which cost as much as
/// encoding half the fields of a record.
#[inline(always)]
pub(super) fn append_pieces(src: &[u8; PB_ROOM], n: usize, buf: &mut Vec<u8>) {
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
    let n = put_varint(v, &mut bytes);
    b[at..at + 10].copy_from_slice(&bytes);
    len + key.1 + n
}

/// The body of `pb::packed`: the key, the byte length, then each value; returns the new
/// length.
#[inline(never)]
pub(super) fn packed_list<T: Copy + Into<u64>>(
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
    let n: usize = v.iter().map(|&x| put_varint(x.into(), &mut tmp)).sum();
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
    pub(super) fn field_varint(&mut self, key: (u16, usize), v: u64) {
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
    pub(super) fn field_varint_big(&mut self, key: (u16, usize), v: u64) {
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
    pub(super) fn prefix<R: Flow>(
        &mut self,
        schema: Schema,
        r: &R,
        write: impl FnOnce(&mut PbWriter<'_>),
    ) {
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
            let k = put_varint(key.time_received_ns, &mut ns);
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
    pub(super) fn field_addr(&mut self, key: (u16, usize), a: &Addr) {
        let at = self.len & (MAX_MESSAGE - 1);
        let n = a.as_slice().len();
        let k = u32::from(key.0) | ((n as u32) << (8 * key.1));
        self.b[at..at + 4].copy_from_slice(&k.to_le_bytes());
        let o = at + key.1 + 1;
        self.b[o..o + 16].copy_from_slice(a.octets16());
        self.len += key.1 + 1 + n;
    }
}
