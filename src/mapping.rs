//! Field mapping (`[[mapping]]`): extra values copied from the wire into extra protobuf
//! fields and JSON keys, as goflow2's mapping file does.
//!
//! A leaf: the compiled, validated [`Mapping`] (built by `cli` from the TOML entries), and
//! the [`Mapped`] view of one record's values that a decoder hands to its sink with the
//! record. `decode` compiles a mapping into its template plans and reads the values from the
//! datagram; `encode` writes them after a message's fields. Nothing here reads the wire.
//!
//! Every value is a byte range of a buffer the record borrows (the data set of a NetFlow v9 /
//! IPFIX record, or a per-sample copy of sFlow header bits): no allocation per record, and
//! every count is bounded ([`MAX_ENTRIES`], [`MAX_ALL`], [`MAX_VALUES`], [`MAX_VALUE_LEN`]).

/// Most `[[mapping]]` entries.
pub const MAX_ENTRIES: usize = 64;
/// Most values one `repeat = "all"` entry takes from one record (the first ones).
pub const MAX_ALL: usize = 16;
/// Most values one record carries, all entries together (the first entries' first).
pub const MAX_VALUES: usize = 128;
/// Bytes kept of one value (longer variable-length elements are cut to this).
pub const MAX_VALUE_LEN: usize = 1024;
/// Largest sFlow offset + length, in bits: the first 4 KiB of a sampled header.
pub const MAX_SFLOW_BITS: u32 = 4096 * 8;
/// Smallest protobuf field number a mapping may use (the schemas use fewer than 1000).
pub const MIN_NUMBER: u32 = 1000;
/// Largest protobuf field number (2^29 - 1, less the reserved 19000-19999 range).
pub const MAX_NUMBER: u32 = (1 << 29) - 1;

/// Which exports an element entry reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// NetFlow v9 templates only (field type `id`).
    Netflow9,
    /// IPFIX templates only (`pen`, `id`).
    Ipfix,
    /// Both: NetFlow v9 field type `id` (when `pen` is 0) and IPFIX (`pen`, `id`).
    Netflow,
}

/// Where sFlow header offsets start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The first byte of the sampled header (whatever its protocol).
    Header,
    /// The first IP header of the sample; `Some(4)` / `Some(6)`: only when it is that version.
    Network(Option<u8>),
    /// The header after the first IP header (its IPv6 extension headers skipped);
    /// `Some(proto)`: only when it is that IP protocol (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    Transport(Option<u8>),
}

/// Where an entry's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A NetFlow v9 field / IPFIX information element.
    Element {
        protocol: Protocol,
        pen: u32,
        id: u16,
    },
    /// Bits of an sFlow sampled header: `length` bits at `offset` bits from `layer`.
    Sflow {
        layer: Layer,
        offset: u32,
        length: u32,
    },
}

/// How a value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Big-endian unsigned integer of 1 to 8 bytes: protobuf `uint64`, a JSON number.
    Uint,
    /// Raw bytes: protobuf `bytes`, JSON lowercase hex text.
    Bytes,
    /// 4 or 16 bytes: protobuf `bytes` (network order), JSON address text.
    Ip,
    /// Text (trailing NULs dropped, invalid UTF-8 replaced): protobuf `string`, JSON string.
    String,
}

impl ValueType {
    pub const NAMES: [&'static str; 4] = ["uint", "bytes", "ip", "string"];

    pub fn parse(s: &str) -> Option<ValueType> {
        match s {
            "uint" | "varint" => Some(ValueType::Uint),
            "bytes" => Some(ValueType::Bytes),
            "ip" => Some(ValueType::Ip),
            "string" => Some(ValueType::String),
            _ => None,
        }
    }

    /// The `.proto` type of the field.
    pub fn proto(self) -> &'static str {
        match self {
            ValueType::Uint => "uint64",
            ValueType::Bytes | ValueType::Ip => "bytes",
            ValueType::String => "string",
        }
    }

    /// Whether `len` bytes can be a value of this type.
    #[inline]
    pub fn fits(self, len: usize) -> bool {
        match self {
            ValueType::Uint => (1..=8).contains(&len),
            ValueType::Ip => len == 4 || len == 16,
            ValueType::Bytes | ValueType::String => true,
        }
    }
}

/// Which occurrences of a repeated element (or header bits) a record gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    First,
    Last,
    /// Every one, in order (at most [`MAX_ALL`]): a repeated field, a JSON array.
    All,
}

impl Repeat {
    pub const NAMES: [&'static str; 3] = ["first", "last", "all"];

    pub fn parse(s: &str) -> Option<Repeat> {
        match s {
            "first" => Some(Repeat::First),
            "last" => Some(Repeat::Last),
            "all" => Some(Repeat::All),
            _ => None,
        }
    }
}

/// One validated `[[mapping]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub source: Source,
    /// Protobuf field number (>= [`MIN_NUMBER`], unique).
    pub number: u32,
    /// JSON key and `.proto` field name (unique, not a key of the JSON outputs).
    pub name: String,
    pub ty: ValueType,
    pub repeat: Repeat,
}

/// The validated mapping: entries in file order. Entry indices fit a `u16`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    pub entries: Vec<Entry>,
}

impl Mapping {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether any entry reads NetFlow v9 / IPFIX elements.
    pub fn has_elements(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.source, Source::Element { .. }))
    }

    /// Whether any entry reads sFlow header bits.
    pub fn has_sflow(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.source, Source::Sflow { .. }))
    }
}

/// One value of a record: `len` bytes at `off` of [`Mapped::data`], for entry `entry`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Value {
    pub entry: u16,
    pub len: u16,
    pub off: u32,
}

/// A `uint` value of a fixed-length record, ready for the protobuf writer: the 8 bytes of
/// the record that end at `end`, masked with `u64::MAX >> shift`, after the 2-byte field key
/// `key` (varint bytes, little-endian). Built when a template is learned, for templates whose
/// mapped values are all such (the usual case: counters, ids, ports), so that a record's
/// values cost a load, a mask and a store each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UintVal {
    pub end: u16,
    pub shift: u8,
    pub key: u16,
}

impl UintVal {
    /// The fast form of value `v` of entry `e`, when it has one: a `uint` of 1 to 8 bytes
    /// that ends at least 8 bytes into the record, at a field number below 2048.
    pub fn of(e: &Entry, v: &Value) -> Option<UintVal> {
        let end = v.off as usize + usize::from(v.len);
        let k = u64::from(e.number) << 3;
        let ok = e.ty == ValueType::Uint
            && (1..=8).contains(&v.len)
            && (8..=usize::from(u16::MAX)).contains(&end)
            && k < 1 << 14;
        ok.then(|| UintVal {
            end: end as u16,
            shift: (64 - 8 * v.len) as u8,
            key: ((k & 0x7f) | 0x80 | ((k >> 7) << 8)) as u16,
        })
    }
}

/// The mapped values of one record, handed to a sink with the record. Values of one entry
/// are adjacent and in order.
#[derive(Clone, Copy, Debug)]
pub struct Mapped<'a> {
    pub mapping: &'a Mapping,
    pub data: &'a [u8],
    pub vals: &'a [Value],
    /// Empty, or `vals` in their fast form ([`UintVal`], same order), which the protobuf
    /// writer then takes instead.
    pub uints: &'a [UintVal],
}

impl<'a> Mapped<'a> {
    /// A value's bytes (empty if its range is not in `data`: never a panic).
    #[inline]
    pub fn bytes(&self, v: &Value) -> &'a [u8] {
        let s = v.off as usize;
        self.data.get(s..s + v.len as usize).unwrap_or(&[])
    }

    /// The values grouped by entry: (entry, its values), in order.
    pub fn groups(&self) -> impl Iterator<Item = (&'a Entry, &'a [Value])> + '_ {
        let mut rest = self.vals;
        std::iter::from_fn(move || {
            let first = rest.first()?;
            let n = rest.iter().take_while(|v| v.entry == first.entry).count();
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let e = self.mapping.entries.get(first.entry as usize)?;
            Some((e, group))
        })
    }
}

/// Copies `length` bits at bit `offset` of `src` into `out`, right-aligned (the value as a
/// big-endian number of `ceil(length / 8)` bytes; byte-aligned ranges are a plain copy).
/// Returns the byte count, or `None` when the bits are not all in `src` or `out` is short.
pub fn copy_bits(src: &[u8], offset: u32, length: u32, out: &mut [u8]) -> Option<usize> {
    let end = offset.checked_add(length)?;
    if length == 0 || end as usize > src.len() * 8 {
        return None;
    }
    let n = length.div_ceil(8) as usize;
    let out = out.get_mut(..n)?;
    if offset % 8 == 0 && length % 8 == 0 {
        let s = offset as usize / 8;
        out.copy_from_slice(src.get(s..s + n)?);
        return Some(n);
    }
    // bit by bit from the last: simple, and only for unaligned ranges (a few bits)
    out.fill(0);
    for i in 0..length {
        let bit = end - 1 - i;
        let b = src[bit as usize / 8] >> (7 - bit % 8) & 1;
        out[n - 1 - i as usize / 8] |= b << (i % 8);
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_copied_right_aligned() {
        let src = [0xAB, 0xCD, 0xEF];
        let mut out = [0u8; 4];
        assert_eq!(copy_bits(&src, 8, 16, &mut out), Some(2));
        assert_eq!(out[..2], [0xCD, 0xEF]);
        assert_eq!(copy_bits(&src, 4, 8, &mut out), Some(1));
        assert_eq!(out[0], 0xBC);
        assert_eq!(copy_bits(&src, 0, 4, &mut out), Some(1));
        assert_eq!(out[0], 0x0A);
        assert_eq!(copy_bits(&src, 4, 12, &mut out), Some(2));
        assert_eq!(out[..2], [0x0B, 0xCD]);
        assert_eq!(copy_bits(&src, 1, 1, &mut out), Some(1));
        assert_eq!(out[0], 0);
        assert_eq!(copy_bits(&src, 0, 1, &mut out), Some(1));
        assert_eq!(out[0], 1);
        // past the end, empty, or a short output: nothing
        assert_eq!(copy_bits(&src, 20, 8, &mut out), None);
        assert_eq!(copy_bits(&src, 0, 0, &mut out), None);
        assert_eq!(copy_bits(&src, u32::MAX, 8, &mut out), None);
        assert_eq!(copy_bits(&src, 0, 24, &mut out[..2]), None);
    }
}
