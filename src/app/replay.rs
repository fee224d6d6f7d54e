//! `coreflow replay FILE...`: decode the flow datagrams of pcap/pcapng captures and write
//! every flow to stdout, as the collector would publish it.

use crate::cli::ReplayOptions;
use crate::decode::{DecodeError, Decoder, FlowSink, Limits, Protocol};
use crate::encode::Encoder;
use std::io::Write;

/// Summary of one replay run, printed on stderr.
#[derive(Clone, Debug, Default)]
pub struct ReplaySummary {
    pub datagrams: u64,
    pub skipped_frames: u64,
    pub flows: u64,
    pub counter_records: u64,
    /// Flows whose renormalized counters saturated (`--config` with renormalize).
    pub renormalize_saturated: u64,
    pub errors: Vec<(&'static str, u64)>,
}

/// Decodes every UDP datagram of `data` (a pcap/pcapng file) in order with one decoder and
/// calls `sink` per flow. Returns the decoder (its stats) and the pcap reader's stats.
pub fn decode_capture<S: FlowSink>(
    data: &[u8],
    dec: &mut Decoder,
    sink: &mut S,
) -> Result<crate::pcap::PcapStats, crate::pcap::PcapError> {
    let (dgrams, st) = crate::pcap::read_udp(data)?;
    for d in &dgrams {
        let _ = dec.decode(d.src, d.ts_ns, &d.payload, sink);
    }
    Ok(st)
}

pub fn run(opts: &ReplayOptions) -> anyhow::Result<ReplaySummary> {
    let mut dec = Decoder::new(Limits::default());
    let mut enc = Encoder::new(opts.format, opts.schema, opts.counters);
    if let Some(s) = &opts.settings {
        enc.extras = crate::encode::extras::Extras {
            renormalize: s.output.renormalize,
            instance: s
                .output
                .instance_field
                .then(|| crate::encode::extras::Instance::leak(&s.cluster.instance_name())),
        };
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut summary = ReplaySummary::default();
    for path in &opts.files {
        let data = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let (dgrams, st) =
            crate::pcap::read_udp(&data).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        summary.skipped_frames += st.skipped;
        for d in &dgrams {
            summary.datagrams += 1;
            // protocol detection is by content; datagrams that are not flow exports are
            // counted under unknown_protocol like any other undecodable payload
            let _: Result<Protocol, DecodeError> = dec.decode(d.src, d.ts_ns, &d.payload, &mut enc);
            if enc.buf.len() > 1 << 16 {
                out.write_all(&enc.buf)?;
                enc.buf.clear();
            }
        }
    }
    out.write_all(&enc.buf)?;
    out.flush()?;
    summary.flows = enc.flows;
    summary.counter_records = enc.counter_records;
    summary.renormalize_saturated = enc.saturated;
    summary.errors = DecodeError::REASONS
        .iter()
        .zip(dec.stats.errors.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| (*r, n))
        .collect();
    Ok(summary)
}
