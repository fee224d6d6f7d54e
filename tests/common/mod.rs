//! Helpers shared by the integration tests: where the captures are, how to list and read them;
//! hand-built datagrams ([`builders`], from the flowgen crate); a running coreflow and
//! flowgen ([`harness`]).
//!
//! The captures live in `../shared/captures` relative to the repository root (see the captures
//! README). They are not part of the repository, so every test that needs them calls
//! [`captures_root`] and skips with a clear message when they are absent.

#![allow(dead_code)]

pub mod harness;
pub mod kafka;
pub mod pki;

#[allow(unused_imports)]
pub use coreflow_flowgen::builders;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The four protocol folders of the capture set.
pub const ALL_PROTOCOLS: [&str; 4] = ["netflow5", "netflow9", "ipfix", "sflow5"];

/// `../shared/captures` relative to the repository root, or `None` (with a message on stderr
/// naming the test) when the folder is absent.
pub fn captures_root(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if root.is_dir() {
        Some(root)
    } else {
        eprintln!(
            "SKIP {test}: capture folder {} is absent (a clone outside the project setup); \
             nothing to check",
            root.display()
        );
        None
    }
}

/// One capture case: `<root>/<protocol>/<case>/<case>.pcap` and its tshark decode.
#[derive(Clone, Debug)]
pub struct Case {
    pub protocol: String,
    pub name: String,
    pub dir: PathBuf,
    pub pcap: PathBuf,
    /// `<case>.pcap.tshark.json` or `<case>.pcap.tshark.json.gz`, when present.
    pub oracle: Option<PathBuf>,
}

impl Case {
    /// `protocol/name`, the way the captures README and the manifest name a case.
    pub fn id(&self) -> String {
        format!("{}/{}", self.protocol, self.name)
    }
}

/// Every case of one protocol folder, sorted by name. Folders without a `<case>.pcap` are
/// ignored (with a note on stderr), a missing protocol folder gives an empty list.
pub fn list_cases(root: &Path, protocol: &str) -> Vec<Case> {
    let dir = root.join(protocol);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("note: no {} folder under {}", protocol, root.display());
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let pcap = path.join(format!("{name}.pcap"));
        if !pcap.is_file() {
            eprintln!("note: {} has no {name}.pcap, ignored", path.display());
            continue;
        }
        let json = path.join(format!("{name}.pcap.tshark.json"));
        let gz = path.join(format!("{name}.pcap.tshark.json.gz"));
        let oracle = if json.is_file() {
            Some(json)
        } else if gz.is_file() {
            Some(gz)
        } else {
            None
        };
        out.push(Case {
            protocol: protocol.to_string(),
            name,
            dir: path,
            pcap,
            oracle,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Reads a file, gunzipping it when its name ends in `.gz`.
pub fn read_maybe_gz(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let mut out = Vec::with_capacity(raw.len() * 8);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("gunzip {}: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// One UDP datagram of a capture, as the collector would receive it.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub src: IpAddr,
    pub ts_ns: u64,
    pub payload: Vec<u8>,
}

/// The UDP datagrams of a capture file, in file order (coreflow's own pcap reader).
pub fn datagrams(pcap: &Path) -> Vec<Datagram> {
    let data = std::fs::read(pcap).unwrap_or_else(|e| panic!("read {}: {e}", pcap.display()));
    let (dgrams, _) = coreflow::pcap::read_udp(&data)
        .unwrap_or_else(|e| panic!("{}: not a readable capture: {e}", pcap.display()));
    dgrams
        .into_iter()
        .map(|d| Datagram {
            src: d.src,
            ts_ns: d.ts_ns,
            payload: d.payload,
        })
        .collect()
}

/// Splits a classic pcap file into its 24-byte file header and its records (record header
/// included), so that each frame can be fed on its own as a one-record pcap. `None` for
/// pcapng or a damaged file.
pub fn split_classic_pcap(data: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    let magic = data.get(..4)?;
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let header = data.get(..24)?;
    let mut records = Vec::new();
    let mut pos = 24;
    while pos < data.len() {
        let h = data.get(pos..pos + 16)?;
        let b = [h[8], h[9], h[10], h[11]];
        let incl = if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        } as usize;
        let end = pos.checked_add(16)?.checked_add(incl)?;
        records.push(data.get(pos..end)?);
        pos = end;
    }
    Some((header, records))
}
