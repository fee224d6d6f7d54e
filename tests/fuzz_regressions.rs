//! Replays the committed fuzz seeds (`fuzz/seeds/<target>/`) and every input that once
//! crashed a fuzz target (`fuzz/regressions/<target>/`) through the decoders, as the target
//! does: stateless targets decode each file with a fresh decoder; `stateful` files are
//! `[flags u8][length u16 BE][bytes]` sequences fed to one decoder (bit 0: which exporter).

use coreflow::decode::Decoder;
use coreflow::flow::FlowRecord;
use std::net::IpAddr;
use std::path::Path;

fn decode(dec: &mut Decoder, exporter: IpAddr, payload: &[u8]) -> usize {
    let mut n = 0;
    let _ = dec.decode(
        exporter,
        1_700_000_000_000_000_000,
        payload,
        &mut |_: &FlowRecord| n += 1,
    );
    n
}

fn replay(target: &str, data: &[u8]) {
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "192.0.2.2".parse().unwrap();
    let mut dec = Decoder::default();
    if target != "stateful" {
        decode(&mut dec, a, data);
        return;
    }
    let mut rest = data;
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let body = &rest[3..];
        let take = len.min(body.len());
        decode(&mut dec, if flags & 1 == 0 { a } else { b }, &body[..take]);
        rest = &body[take..];
    }
}

#[test]
fn fuzz_seeds_and_regressions_decode_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(targets) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for t in targets.flatten().filter(|t| t.path().is_dir()) {
            let target = t.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(t.path()).unwrap().flatten() {
                let data = std::fs::read(f.path()).unwrap();
                replay(&target, &data);
                files += 1;
            }
        }
    }
    assert!(files > 0, "no committed seeds under fuzz/seeds");
}
