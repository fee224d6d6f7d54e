//! Replays the committed fuzz seeds (`fuzz/seeds/<target>/`) and every input that once
//! crashed a fuzz target (`fuzz/regressions/<target>/`) through the decoders, as the target
//! does: stateless targets decode each file with a fresh decoder; `stateful` files are
//! `[flags u8][length u16 BE][bytes]` sequences fed to one decoder (bit 0: which exporter).
//! Each file is decoded twice: as the target does, and with `[[mapping]]` entries of every
//! kind, every flow encoded as JSON and protobuf (the mapped paths on hostile bytes).

use coreflow::decode::Decoder;
use coreflow::encode::schema::Schema;
use coreflow::encode::{Encoder, Format};
use coreflow::flow::FlowRecord;
use coreflow::mapping::{Entry, Layer, Mapping, Protocol, Repeat, Source, ValueType};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

fn decode(dec: &mut Decoder, exporter: IpAddr, payload: &[u8], enc: Option<&mut Encoder>) {
    let t = 1_700_000_000_000_000_000;
    match enc {
        Some(enc) => {
            let _ = dec.decode(exporter, t, payload, enc);
            enc.buf.clear();
        }
        None => {
            let _ = dec.decode(exporter, t, payload, &mut |_: &FlowRecord| {});
        }
    }
}

/// Entries of every source, type and repeat mode, over elements and bits hostile input may
/// carry.
fn mapping() -> Arc<Mapping> {
    let element =
        |protocol, pen, id, ty, repeat| (Source::Element { protocol, pen, id }, ty, repeat);
    let bits = |layer, offset, length, ty| {
        (
            Source::Sflow {
                layer,
                offset,
                length,
            },
            ty,
            Repeat::All,
        )
    };
    let sources = [
        element(Protocol::Netflow, 0, 8, ValueType::Ip, Repeat::All),
        element(Protocol::Netflow, 0, 1, ValueType::Uint, Repeat::Last),
        element(Protocol::Ipfix, 0, 315, ValueType::Bytes, Repeat::First),
        element(Protocol::Ipfix, 9, 95, ValueType::String, Repeat::All),
        element(Protocol::Netflow9, 0, 96, ValueType::String, Repeat::First),
        element(Protocol::Netflow, 0, 7, ValueType::Uint, Repeat::All),
        bits(Layer::Header, 0, 8192, ValueType::Bytes),
        bits(Layer::Network(None), 4, 4, ValueType::Uint),
        bits(Layer::Transport(None), 0, 32, ValueType::Uint),
        bits(Layer::Network(Some(6)), 64, 128, ValueType::Ip),
    ];
    let entries = sources
        .into_iter()
        .enumerate()
        .map(|(i, (source, ty, repeat))| Entry {
            source,
            number: 1000 + i as u32,
            name: format!("m{i}"),
            ty,
            repeat,
        })
        .collect();
    Arc::new(Mapping { entries })
}

fn replay(target: &str, data: &[u8], mapped: Option<(&Arc<Mapping>, &mut Encoder)>) {
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "192.0.2.2".parse().unwrap();
    let mut dec = Decoder::default();
    let mut enc = mapped.map(|(m, enc)| {
        dec.set_mapping(Some(m.clone()));
        enc
    });
    if target != "stateful" {
        decode(&mut dec, a, data, enc.as_deref_mut());
        return;
    }
    let mut rest = data;
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        let take = len.min(body.len());
        let from = if flags & 1 == 0 { a } else { b };
        decode(&mut dec, from, &body[..take], enc.as_deref_mut());
        rest = &body[take..];
    }
}

#[test]
fn fuzz_seeds_and_regressions_decode_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = 0;
    let m = mapping();
    let mut json = Encoder::new(Format::Json, Schema::Goflow2, true);
    let mut pb = Encoder::new(Format::Pb, Schema::GoflowV2, true);
    for dir in ["seeds", "regressions"] {
        let Ok(targets) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for t in targets.flatten().filter(|t| t.path().is_dir()) {
            let target = t.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(t.path()).unwrap().flatten() {
                let data = std::fs::read(f.path()).unwrap();
                replay(&target, &data, None);
                for enc in [&mut json, &mut pb] {
                    replay(&target, &data, Some((&m, enc)));
                }
                files += 1;
            }
        }
    }
    assert!(files > 0, "no committed seeds under fuzz/seeds");
}
