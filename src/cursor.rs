//! A bounds-checked read cursor over a borrowed byte slice.
//!
//! Every read returns `Result`; offsets advance only after the bounds check, so no input can
//! make a read panic or go past the slice. Sub-sections are returned as sub-cursors or
//! borrowed slices, never copies.

/// A read that needed more bytes than the slice holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Short {
    /// Offset (within this cursor's slice) at which the read started.
    pub offset: usize,
    /// Bytes the read needed.
    pub need: usize,
    /// Bytes that were left.
    pub have: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Offset of the next read from the start of the slice.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread rest of the slice.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    #[inline]
    fn short(&self, need: usize) -> Short {
        Short {
            offset: self.pos,
            need,
            have: self.remaining(),
        }
    }

    /// Borrows the next `n` bytes and advances past them.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if n > self.remaining() {
            return Err(self.short(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `n` bytes as a cursor of their own.
    #[inline]
    pub fn sub(&mut self, n: usize) -> Result<Cursor<'a>, Short> {
        self.bytes(n).map(Cursor::new)
    }

    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), Short> {
        self.bytes(n).map(|_| ())
    }

    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    pub fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    pub fn u16(&mut self) -> Result<u16, Short> {
        self.array().map(u16::from_be_bytes)
    }

    #[inline]
    pub fn u32(&mut self) -> Result<u32, Short> {
        self.array().map(u32::from_be_bytes)
    }

    #[inline]
    pub fn u64(&mut self) -> Result<u64, Short> {
        self.array().map(u64::from_be_bytes)
    }
}

/// Unsigned big-endian integer of any length 0..=8 (IPFIX reduced-size encoding,
/// NetFlow v9 fields of non-default length). Longer slices keep their last 8 bytes.
#[inline]
pub fn be_uint(b: &[u8]) -> u64 {
    let b = if b.len() > 8 { &b[b.len() - 8..] } else { b };
    let mut v = 0u64;
    for &x in b {
        v = (v << 8) | u64::from(x);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let data = [0u8, 5, 0, 0, 0, 7, 1, 2, 3];
        let mut c = Cursor::new(&data);
        assert_eq!(c.u16().unwrap(), 5);
        assert_eq!(c.u32().unwrap(), 7);
        assert_eq!(c.remaining(), 3);
        assert_eq!(
            c.u32(),
            Err(Short {
                offset: 6,
                need: 4,
                have: 3
            })
        );
        // a failed read does not advance
        assert_eq!(c.position(), 6);
        let mut s = c.sub(2).unwrap();
        assert_eq!(s.u8().unwrap(), 1);
        assert_eq!(c.rest(), &[3]);
        assert!(c.bytes(usize::MAX).is_err());
    }

    #[test]
    fn be_uint_any_length() {
        assert_eq!(be_uint(&[]), 0);
        assert_eq!(be_uint(&[1, 2]), 0x0102);
        assert_eq!(be_uint(&[0, 0, 0, 0, 0, 0, 0, 1, 2]), 0x0102);
    }
}
