//! The workers: one pinned thread per socket that receives a batch of datagrams, drops the
//! ones from exporters outside the allowlist, decodes the rest and ships the encoded flows to
//! the output thread ([`worker::run`]).

pub mod allow;
pub mod worker;
