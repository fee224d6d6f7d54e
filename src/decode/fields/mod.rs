//! The information-element -> `FlowRecord` mapping NetFlow v9 and IPFIX share, and the
//! per-record decoding loop built on it.
//!
//! A template is compiled once, when it is learned, into a [`Plan`]: a compact list of
//! [`Op`]s (offset, length, what to do with the bytes). For fixed-length templates the plan
//! keeps only the mapped fields with their offsets in the record, so decoding one record is a
//! copy of a prefilled base record plus one small `match` per mapped field. Variable-length
//! templates keep every field (runs of unmapped fixed-length fields merged into one skip).
//! Precedence between IEs that fill the same `FlowRecord` field (1 over 23, 10 over 252, the
//! most precise flow time, ...) is resolved at compile time, so the record loop never looks
//! at what else the template holds.
//!
//! Variable-length fields (template length 65535, RFC 7011 §7) carry a 1-byte length, or 255
//! followed by a 2-byte length. NetFlow v9 (RFC 3954) has no variable-length fields, but H3C
//! sends 65535 in v9 templates with the same encoding, and Wireshark and goflow2 accept it, so
//! both decoders accept it.
//!
//! One job per file, each using only the files listed before it: `sampling` and `time`
//! (the values a record carries besides its flow fields), `kind` (IE -> [`Kind`](kind::Kind)),
//! `op` (one compiled field and how its bytes are read), `section` (a sampled packet section
//! parsed into the record by `decode::packet`), `apply` (a value into the record),
//! `slots` (fixed offsets and record reuse), `mapped` (the fields `[[mapping]]` entries
//! read), `plan` (the compiler), `record` (the record loops).

mod apply;
mod kind;
mod mapped;
mod op;
mod plan;
mod record;
#[cfg(test)]
mod rule_tests;
mod sampling;
mod section;
mod slots;
#[cfg(test)]
mod tests;
mod time;

pub(crate) use mapped::MapPlan;
pub(crate) use op::Op;
pub(crate) use plan::Plan;
pub(crate) use record::{decode_data, decode_options};
pub(crate) use sampling::SamplerRates;
pub(crate) use time::{uptime_to_ns, RecCtx};

// for the decoders' tests
#[cfg(test)]
pub(crate) use slots::NO_REUSE;
#[cfg(test)]
pub(crate) use time::ntp_to_unix_ns;
