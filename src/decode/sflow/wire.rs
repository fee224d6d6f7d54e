//! The sFlow v5 wire vocabulary and its XDR framing: the version, the sample and record
//! format numbers, the datagram header, and the bounds-checked readers every other file of
//! this decoder builds on (runs of words, `address` unions, `format, length, body` frames,
//! record counts). A leaf: it knows nothing of flows or counters.

use crate::cursor::{Cursor, Short};
use crate::decode::{DecodeError, LimitKind, Section};
use crate::flow::Addr;

pub const VERSION: u32 = 5;

/// Sample and record formats (enterprise 0).
pub mod format {
    pub const FLOW_SAMPLE: u32 = 1;
    pub const COUNTER_SAMPLE: u32 = 2;
    pub const EXPANDED_FLOW_SAMPLE: u32 = 3;
    pub const EXPANDED_COUNTER_SAMPLE: u32 = 4;
    pub const DISCARDED_PACKET: u32 = 5;

    pub const SAMPLED_HEADER: u32 = 1;
    pub const SAMPLED_ETHERNET: u32 = 2;
    pub const SAMPLED_IPV4: u32 = 3;
    pub const SAMPLED_IPV6: u32 = 4;
    pub const EXTENDED_SWITCH: u32 = 1001;
    pub const EXTENDED_ROUTER: u32 = 1002;
    pub const EXTENDED_GATEWAY: u32 = 1003;
    pub const EXTENDED_MPLS: u32 = 1006;

    pub const IF_COUNTERS: u32 = 1;
    pub const ETHERNET_COUNTERS: u32 = 2;
    pub const VLAN_COUNTERS: u32 = 5;
    pub const PROCESSOR_COUNTERS: u32 = 1001;
}

/// The fixed part of a datagram, before the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramHeader {
    /// Agent address; `Addr::NONE` for address type 0 (unknown).
    pub agent: Addr,
    pub sub_agent_id: u32,
    pub sequence: u32,
    pub uptime_ms: u32,
    pub num_samples: u32,
}

impl DatagramHeader {
    /// Reads the header; the cursor is left at the first sample.
    pub fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let e = |s| DecodeError::short(Section::Header, s);
        let version = c.u32().map_err(e)?;
        if version != VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let agent = read_address(c, Section::Header)?;
        let [sub_agent_id, sequence, uptime_ms, num_samples] = words(c).map_err(e)?;
        Ok(DatagramHeader {
            agent,
            sub_agent_id,
            sequence,
            uptime_ms,
            num_samples,
        })
    }
}

/// The next `N` XDR words, with one bounds check for all of them.
#[inline(always)]
pub(super) fn words<const N: usize>(c: &mut Cursor<'_>) -> Result<[u32; N], Short> {
    let b = c.bytes(4 * N)?;
    let mut w = [0u32; N];
    for (w, b) in w.iter_mut().zip(b.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(w)
}

/// An XDR `address` union: type 0 (unknown, no bytes), 1 (IPv4), 2 (IPv6). Any other type
/// cannot be skipped (its length is unknown) and is reported as `BadSetId(type)`.
pub(super) fn read_address(c: &mut Cursor<'_>, section: Section) -> Result<Addr, DecodeError> {
    let e = |s| DecodeError::short(section, s);
    match c.u32().map_err(e)? {
        0 => Ok(Addr::NONE),
        1 => Ok(Addr::v4(c.array().map_err(e)?)),
        2 => Ok(Addr::v6(c.array().map_err(e)?)),
        t => Err(DecodeError::BadSetId(t.min(0xffff) as u16)),
    }
}

/// The next `format, length, body` of a sample or record list; the body is a sub-cursor of
/// exactly `length` bytes and XDR padding after a length that is not a multiple of 4 is
/// skipped.
#[inline]
pub(super) fn next_framed<'a>(
    c: &mut Cursor<'a>,
    section: Section,
) -> Result<(u32, Cursor<'a>), DecodeError> {
    let e = |s| DecodeError::short(section, s);
    let [fmt, len] = words(c).map_err(e)?;
    let len = len as usize;
    let body = c.sub(len).map_err(e)?;
    let pad = len.wrapping_neg() & 3;
    if pad != 0 {
        let _ = c.skip(pad.min(c.remaining()));
    }
    Ok((fmt, body))
}

/// A record count: each record needs at least its 8-byte framing, so a count the bytes
/// cannot hold is rejected before any loop; the per-datagram record budget bounds the rest.
#[inline]
pub(super) fn record_count(
    c: &mut Cursor<'_>,
    section: Section,
    budget: &mut usize,
) -> Result<usize, DecodeError> {
    let n = c.u32().map_err(|s| DecodeError::short(section, s))?;
    if (n as usize).saturating_mul(8) > c.remaining() {
        return Err(DecodeError::BadCount { section, value: n });
    }
    if n as usize > *budget {
        return Err(DecodeError::Limit(LimitKind::RecordsPerDatagram));
    }
    *budget -= n as usize;
    Ok(n as usize)
}
