//! sFlow v5 decoder (in progress).

use super::{DecodeError, Decoder, FlowSink};
use std::net::IpAddr;

/// One sFlow counter record (filled in by the sFlow work).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterRecord {}

pub fn decode<S: FlowSink>(
    _dec: &mut Decoder,
    _exporter: IpAddr,
    _recv_ns: u64,
    _payload: &[u8],
    _sink: &mut S,
) -> Result<(), DecodeError> {
    Err(DecodeError::BadVersion(0))
}

/// Writes one counter record in the replay/file output format (filled in by the sFlow work).
pub fn encode_counters(_rec: &CounterRecord, _format: crate::replay::Format, _buf: &mut Vec<u8>) {}
