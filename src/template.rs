//! Shard-local NetFlow v9 / IPFIX template and sampling-rate caches (one per worker, no locks).
//!
//! Filled in by the NetFlow v9 / IPFIX work; see `decode::netflow9` and `decode::ipfix`.

#[derive(Default)]
pub struct TemplateCache {}
