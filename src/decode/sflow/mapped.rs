//! The `[[mapping]]` entries that read sFlow sampled-header bits: each entry's bits copied
//! out of the sample's header (offsets from the header's start, its first IP header or the
//! header after it, as a second walk of the header finds them) into a per-sample buffer the
//! values point into. A leaf of `sflow`: it reads the header bytes, never the wire framing.

use crate::decode::packet::{offsets, Offsets};
use crate::decode::FlowSink;
use crate::flow::FlowRecord;
use crate::mapping::{copy_bits, Layer, Mapped, Mapping, Source, Value, MAX_VALUES};

/// Bytes of header bits one sample may carry, all entries together (more are dropped).
const ARENA: usize = 2048;

/// Hands the sample's record to `sink` with the values of the entries its header gives
/// (without any: as a plain flow).
#[inline(never)]
pub(super) fn emit<S: FlowSink>(
    m: Option<&Mapping>,
    header: &[u8],
    header_proto: u32,
    rec: &FlowRecord,
    sink: &mut S,
) {
    let Some(m) = m else {
        return sink.flow(rec);
    };
    let mut arena = [0u8; ARENA];
    let mut vals = [Value::default(); MAX_VALUES];
    let offs = offsets(header_proto, header);
    let n = header_values(m, header, &offs, &mut arena, &mut vals);
    if n == 0 {
        sink.flow(rec);
    } else {
        let values = Mapped {
            mapping: m,
            data: &arena,
            vals: &vals[..n],
            uints: &[],
        };
        sink.flow_mapped(rec, &values);
    }
}

/// The values of the sample whose sampled header is `header` (its layers at `offs`), copied
/// into `arena`; returns how many went into `vals`. An entry whose layer the header lacks,
/// or whose bits run past it, gives no value.
fn header_values(
    m: &Mapping,
    header: &[u8],
    offs: &Offsets,
    arena: &mut [u8; ARENA],
    vals: &mut [Value; MAX_VALUES],
) -> usize {
    let (mut n, mut used) = (0, 0usize);
    for (i, e) in m.entries.iter().enumerate() {
        let Source::Sflow {
            layer,
            offset,
            length,
        } = e.source
        else {
            continue;
        };
        let base = match (layer, offs.net, offs.transport) {
            (Layer::Header, _, _) => 0,
            (Layer::Network(v), Some((off, ver)), _) if v.is_none_or(|v| v == ver) => off,
            (Layer::Transport(p), _, Some((off, proto))) if p.is_none_or(|p| p == proto) => off,
            _ => continue,
        };
        let Some(bit) = base.checked_mul(8).and_then(|b| b.checked_add(offset)) else {
            continue;
        };
        let Some(len) = copy_bits(header, bit, length, &mut arena[used..]) else {
            continue;
        };
        if n == MAX_VALUES {
            break;
        }
        vals[n] = Value {
            entry: i as u16,
            len: len as u16,
            off: used as u32,
        };
        n += 1;
        used += len;
    }
    n
}
