//! A sampled packet header (Ethernet first) as an sFlow v5 flow sample would carry it.
//!
//! TODO(sflow): call the header parser directly once `coreflow::decode::packet` exists; for
//! now the input is wrapped as the header of one sampled-header flow record of an sFlow
//! datagram and goes through `Decoder::decode`.

#![no_main]

#[path = "../../tests/common/builders.rs"]
mod builders;
mod common;

use coreflow::decode::Decoder;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let datagram = builders::sflow_flow_samples(1, data);
    let mut dec = Decoder::default();
    common::decode_checked(&mut dec, IpAddr::from(common::EXPORTER), &datagram);
});
