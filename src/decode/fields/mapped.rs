//! A template's mapped elements ([`MapPlan`]): which fields of a record give the values of
//! the configured `[[mapping]]` entries, compiled once when the template is learned, and
//! read per record into [`Value`]s (offsets into the data set, no copy). A template none of
//! whose fields is mapped gets no `MapPlan`, and its records take the unmapped loop.

use crate::decode::spec::{FieldSpec, VARLEN};
use crate::mapping::{
    Mapping, Protocol, Repeat, Source, UintVal, Value, MAX_ALL, MAX_VALUES, MAX_VALUE_LEN,
};
use std::sync::Arc;

/// One mapped field of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapOp {
    /// Index of the field in the template.
    pub field: u16,
    /// Offset in the record (fixed-length templates).
    pub off: u16,
    /// Template length (`VARLEN`: read from the record).
    pub len: u16,
    /// Mapping entry.
    pub entry: u16,
}

/// The mapped fields of one data template, by entry, at most [`MAX_VALUES`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MapPlan {
    pub ops: Box<[MapOp]>,
    /// Variable-length templates: every field's template length, to find the mapped fields
    /// of a record by walking it; empty for fixed-length ones.
    pub lens: Box<[u16]>,
    /// Fixed-length templates: the values of every record, offsets from the record's start
    /// (a record's values are these over its bytes: nothing to work out per record).
    pub fixed: Box<[Value]>,
    /// `fixed` in the protobuf writer's fast form, when every value has one (else empty).
    pub uints: Box<[UintVal]>,
    /// The mapping the entries index (the sink reads their destinations from it).
    pub mapping: Arc<Mapping>,
}

impl MapPlan {
    /// The mapped fields of a data template (`v9`: a NetFlow v9 one), `None` when no entry
    /// maps any of them. Entries whose type cannot hold the field's fixed length are left out.
    pub fn build(fields: &[FieldSpec], v9: bool, mapping: &Arc<Mapping>) -> Option<MapPlan> {
        let mut ops = Vec::new();
        let mut offs = Vec::with_capacity(fields.len());
        let mut off = 0usize;
        for f in fields {
            offs.push(off);
            if f.len != VARLEN {
                off += f.len as usize;
            }
        }
        for (i, e) in mapping.entries.iter().enumerate() {
            let Source::Element { protocol, pen, id } = e.source else {
                continue;
            };
            let wanted = match protocol {
                Protocol::Netflow9 => v9,
                Protocol::Ipfix => !v9,
                Protocol::Netflow => !v9 || pen == 0,
            };
            if !wanted {
                continue;
            }
            let hits = fields.iter().enumerate().filter(|(_, f)| {
                f.id == id && (v9 || f.pen == pen) && (f.len == VARLEN || e.ty.fits(f.len as usize))
            });
            let picked: Vec<usize> = match e.repeat {
                Repeat::First => hits.map(|(j, _)| j).take(1).collect(),
                Repeat::Last => hits.map(|(j, _)| j).next_back().into_iter().collect(),
                Repeat::All => hits.map(|(j, _)| j).take(MAX_ALL).collect(),
            };
            for j in picked {
                if ops.len() == MAX_VALUES {
                    break;
                }
                ops.push(MapOp {
                    field: j as u16,
                    // fixed-length templates are under 64 KiB (a set length is 16 bits)
                    off: offs[j] as u16,
                    len: fields[j].len,
                    entry: i as u16,
                });
            }
        }
        if ops.is_empty() {
            return None;
        }
        let fixed = fields.iter().all(|f| f.len != VARLEN);
        let values: Box<[Value]> = if fixed {
            ops.iter()
                .map(|op| Value {
                    entry: op.entry,
                    len: op.len.min(MAX_VALUE_LEN as u16),
                    off: u32::from(op.off),
                })
                .collect()
        } else {
            Box::default()
        };
        let uints: Option<Box<[UintVal]>> = values
            .iter()
            .map(|v| UintVal::of(&mapping.entries[usize::from(v.entry)], v))
            .collect();
        Some(MapPlan {
            uints: uints.unwrap_or_default(),
            fixed: values,
            ops: ops.into_boxed_slice(),
            lens: if fixed {
                Box::default()
            } else {
                fields.iter().map(|f| f.len).collect()
            },
            mapping: Arc::clone(mapping),
        })
    }

    /// Heap bytes the plan holds.
    pub fn heap(&self) -> usize {
        std::mem::size_of::<MapOp>() * self.ops.len()
            + std::mem::size_of::<Value>() * self.fixed.len()
            + std::mem::size_of::<UintVal>() * self.uints.len()
            + 2 * self.lens.len()
    }

    /// The values of the variable-length record at `at` of `data` (which the record loop
    /// has read whole: its field lengths are in bounds; a short one ends the walk anyway).
    pub fn var_values(&self, data: &[u8], at: usize, vals: &mut [Value; MAX_VALUES]) -> usize {
        // walk the fields up to the last mapped one
        let last = self.ops.iter().map(|o| o.field).max().unwrap_or(0) as usize;
        let mut p = at;
        let mut n = 0;
        for (j, &len) in self.lens.iter().enumerate().take(last + 1) {
            let l = if len == VARLEN {
                let Some(&b) = data.get(p) else { break };
                p += 1;
                if b < 255 {
                    b as usize
                } else {
                    let Some(w) = data.get(p..p + 2) else { break };
                    p += 2;
                    u16::from_be_bytes([w[0], w[1]]) as usize
                }
            } else {
                len as usize
            };
            if data.len() < p + l {
                break;
            }
            // the mapped fields of this position
            for op in self.ops.iter().filter(|o| o.field as usize == j) {
                if n < MAX_VALUES {
                    vals[n] = Value {
                        entry: op.entry,
                        len: l.min(MAX_VALUE_LEN) as u16,
                        off: p as u32,
                    };
                    n += 1;
                }
            }
            p += l;
        }
        // back in entry order (the walk found them in field order)
        vals[..n].sort_by_key(|v| v.entry);
        n
    }
}
