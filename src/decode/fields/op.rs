//! One compiled field ([`Op`]) and how its bytes are read ([`Val`]): an integer of 1 to 8
//! bytes is one 8-byte big-endian load and a mask when 8 bytes of the record end at the
//! field (`window_shift`), else a byte loop.

use super::kind::Kind;
use crate::cursor::be_uint;

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
pub(super) const NO_WINDOW: u8 = 0xFF;

/// How an integer field ending at `end` (bytes into its buffer) and `len` long is read: as
/// the 8 bytes ending at the field, shifted mask `u64::MAX >> (64 - 8 * len)`, when there are
/// 8 bytes before its end; else byte by byte.
#[inline(always)]
pub(super) fn window_shift(end: usize, len: usize) -> u8 {
    if end >= 8 && (1..=8).contains(&len) {
        (64 - 8 * len) as u8
    } else {
        NO_WINDOW
    }
}

/// One field's bytes: `len` bytes at `off` of `r`.
#[derive(Clone, Copy)]
pub(super) struct Val<'a> {
    pub(super) r: &'a [u8],
    pub(super) off: usize,
    pub(super) len: usize,
    pub(super) shift: u8,
}

impl<'a> Val<'a> {
    #[inline(always)]
    pub(super) fn bytes(&self) -> &'a [u8] {
        &self.r[self.off..self.off + self.len]
    }

    /// Unsigned big-endian value (reduced-size encoding: any length 1..=8).
    #[inline(always)]
    pub(super) fn uint(&self) -> u64 {
        if self.shift != NO_WINDOW {
            let e = self.off + self.len;
            let w: [u8; 8] = self.r[e - 8..e].try_into().expect("an 8-byte window");
            u64::from_be_bytes(w) & (u64::MAX >> self.shift)
        } else {
            be_uint(self.bytes())
        }
    }
}
