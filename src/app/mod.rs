//! The composition root: [`collector`] builds every thread from validated settings, runs them
//! and shuts them down; [`replay`] is `coreflow replay`, the same decoders and encoders over
//! capture files.

pub mod cluster;
pub mod collector;
pub mod replay;
