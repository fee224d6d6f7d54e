//! ipfix decoder (in progress).

use super::{DecodeError, Decoder, FlowSink};
use std::net::IpAddr;

pub fn decode<S: FlowSink>(
    _dec: &mut Decoder,
    _exporter: IpAddr,
    _recv_ns: u64,
    _payload: &[u8],
    _sink: &mut S,
) -> Result<(), DecodeError> {
    Err(DecodeError::BadVersion(0))
}
