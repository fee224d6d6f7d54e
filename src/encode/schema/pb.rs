//! The protobuf side of each field kind a layout names in `schema!` (`u64`, `big`, `addr`,
//! `packed`, ...): zero values are omitted, as proto3 does, and each kind picks the
//! `PbWriter` store suited to the values it usually holds. The JSON writer has the same kinds
//! for JSON, so one field list drives both encoders.

use super::writer::{key_bytes, packed_list, PbWriter, MAX_MESSAGE};
use crate::flow::Addr;

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
