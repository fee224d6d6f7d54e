//! flowgen, coreflow's load generator, and the export datagrams of coreflow's tests.
//!
//! - [`exporter`]: simulated exporters that build valid, reproducible NetFlow v5/v9, IPFIX and
//!   sFlow v5 datagrams with protocol-correct sequence numbers and report what they carried
//!   (records, byte and packet sums), so a collector's output can be checked against them.
//! - [`builders`]: fixed, hand-built datagrams (one "typical" template, sFlow samples and
//!   records, pcap files, the stateful fuzz input) for tests, benches, examples and fuzz seeds.
//! - [`cli`] and [`run`]: the `flowgen` command line and its send loop, callable in-process
//!   (coreflow's end-to-end tests run flowgen this way).
//! - [`send`]: `sendmmsg`, the only `unsafe` code of the crate.
//!
//! The crate depends on nothing of coreflow: it only builds bytes, so coreflow's tests can
//! depend on it without a cycle, and a decoder bug cannot hide in a shared helper.

#![deny(unsafe_code)]

pub mod builders;
pub mod cli;
pub mod exporter;
pub mod run;
// `sendmmsg`: the only module allowed `unsafe`
#[allow(unsafe_code)]
pub mod send;

pub use exporter::{Exporter, GenOptions, GenProtocol, Sent};
