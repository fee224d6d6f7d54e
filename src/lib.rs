//! coreflow: a thread-per-core NetFlow v5/v9, IPFIX and sFlow v5 collector.
//!
//! The library holds everything the binary runs; `main.rs` only parses, starts and waits.
//! docs/architecture.md is the map: the path of one datagram, the threads, and the module
//! layers with the one direction their imports point (checked by scripts/check-layout).

#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod cluster;
pub mod cursor;
pub mod decode;
pub mod encode;
pub mod error;
pub mod flow;
pub mod labels;
pub mod logging;
pub mod mapping;
pub mod metrics;
/// Sockets, recvmmsg, steering and signals: the only module allowed `unsafe`.
#[allow(unsafe_code)]
pub mod net;
pub mod notify;
pub mod pcap;
pub mod pipeline;
pub mod sink;
pub mod state;
pub mod telemetry;
pub mod webconfig;

/// The prost-generated types of the wire schemas in `proto/`. coreflow's hot path writes the
/// same layouts directly (`schema`); these types are for consumers and tests.
pub mod pb {
    #[allow(clippy::all, missing_docs)]
    pub mod goflow_v2 {
        include!(concat!(env!("OUT_DIR"), "/goflow_v2/flowprotob.rs"));
    }
    #[allow(clippy::all, missing_docs)]
    pub mod goflow_v3 {
        include!(concat!(env!("OUT_DIR"), "/goflow_v3/flowprotob.rs"));
    }
    #[allow(clippy::all, missing_docs)]
    pub mod goflow2 {
        include!(concat!(env!("OUT_DIR"), "/goflow2/flowpb.rs"));
    }
    #[allow(clippy::all, missing_docs)]
    pub mod counters {
        include!(concat!(env!("OUT_DIR"), "/counters/coreflow.counters.rs"));
    }
    #[allow(clippy::all, missing_docs)]
    pub mod cluster {
        include!(concat!(env!("OUT_DIR"), "/cluster/coreflow.cluster.rs"));
    }
}
