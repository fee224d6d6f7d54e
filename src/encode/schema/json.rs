//! The JSON side of each field kind the GoFlow layouts name in `schema!` (goflow2's JSON is
//! `super::g2json`): numbers as numbers, addresses as text, MACs as aa:bb:cc:dd:ee:ff, enums
//! as their names. Zero values are omitted (as protobuf omits them). One object per record,
//! written into the caller's `Vec`; the protobuf writer has the same kinds, so one field list
//! drives both encoders.
//! Every method is `#[inline(always)]`: the layouts that call them live in another module,
//! hence possibly another codegen unit, where LLVM would not inline them, and the keys are
//! constants only once inlined (a call copies each key with `memcpy`). Measured with
//! callgrind over `Schema::encode_json`: 10% more instructions without.

use crate::flow::Addr;
use std::io::Write;

pub(super) struct Json<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Json<'a> {
    #[inline(always)]
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Json { out, first: true }
    }

    #[inline(always)]
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(always)]
    pub(super) fn end(self) {
        self.out.push(b'}');
    }

    #[inline(always)]
    pub(super) fn u64(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let _ = write!(self.out, "{v}");
        }
    }
    #[inline(always)]
    pub(super) fn u32(&mut self, k: &str, v: u32) {
        self.u64(k, u64::from(v))
    }
    #[inline(always)]
    pub(super) fn big(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    #[inline(always)]
    pub(super) fn u64_memo(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    #[inline(always)]
    pub(super) fn u64_again(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    #[inline(always)]
    pub(super) fn recv_ns(&mut self, k: &str, v: u64) {
        self.u64(k, v)
    }
    #[inline(always)]
    pub(super) fn boolean(&mut self, k: &str, v: bool) {
        if v {
            self.key(k);
            self.out.extend_from_slice(b"true");
        }
    }
    #[inline(always)]
    pub(super) fn enumv(&mut self, k: &str, v: (i32, &str)) {
        self.key(k);
        self.out.push(b'"');
        self.out.extend_from_slice(v.1.as_bytes());
        self.out.push(b'"');
    }
    #[inline(always)]
    pub(super) fn mac(&mut self, k: &str, v: u64) {
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
    #[inline(always)]
    pub(super) fn addr(&mut self, k: &str, v: Addr) {
        if let Some(ip) = v.to_ip() {
            self.key(k);
            let _ = write!(self.out, "\"{ip}\"");
        }
    }
    #[inline(always)]
    pub(super) fn packed<T: Copy + Into<u64>>(&mut self, k: &str, v: &[T]) {
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
}
