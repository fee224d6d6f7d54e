//! Template and sampling-rate state that survives restarts (`--state-dir`).
//!
//! Each NetFlow worker's templates (their definitions: ids, field specifiers, scope counts,
//! version, domain, exporter) and sampling rates are written to `DIR/netflow-<worker>.json`
//! within about a second of a change and at shutdown. A write goes to a temporary file that
//! is fsynced and renamed over the old one, so a crash leaves either the old or the new file.
//! The writing happens on a background thread: a worker only builds the snapshot.
//!
//! At start every file is read once; each exporter goes to the worker its address steers to
//! (or to every worker when the kernel does not steer by address), so a changed number of
//! workers loses nothing. Templates are re-learned through the normal path, limits included.
//! A file with the wrong magic or version, or that does not parse, is logged and ignored.
//!
//! A listener with several addresses (`[[netflow.bind]]`) numbers its workers across them,
//! bind 0's first, so `<worker>` stays unique within the listener and a single address keeps
//! the names it always had. Which address an exporter sent to is not recorded, so each bind
//! loads every exporter into the worker it steers to within that bind's group (one worker per
//! bind); a worker that never hears from an exporter holds its templates until they expire
//! (`limits.template_idle_timeout_s`).

pub use crate::decode::template::{DomainRate, ExporterState, SamplerRate, SavedTemplate};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MAGIC: &str = "coreflow-state";
pub const VERSION: u32 = 1;

/// One worker's state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    pub magic: String,
    pub version: u32,
    pub listener: String,
    pub worker: usize,
    pub written_ns: u64,
    pub exporters: Vec<ExporterState>,
}

impl StateFile {
    pub fn new(listener: &str, worker: usize, exporters: Vec<ExporterState>) -> StateFile {
        StateFile {
            magic: MAGIC.into(),
            version: VERSION,
            listener: listener.into(),
            worker,
            written_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            exporters,
        }
    }

    /// Parses and checks a file's contents; the error says why it is not usable.
    pub fn parse(bytes: &[u8]) -> Result<StateFile, String> {
        #[derive(Deserialize)]
        struct Head {
            magic: String,
            version: u32,
        }
        let h: Head =
            serde_json::from_slice(bytes).map_err(|e| format!("not a state file: {e}"))?;
        if h.magic != MAGIC {
            return Err(format!("magic {:?} is not {MAGIC:?}", h.magic));
        }
        if h.version != VERSION {
            return Err(format!(
                "format version {} (this build reads {VERSION})",
                h.version
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("malformed: {e}"))
    }
}

/// The file of one worker.
pub fn file_name(listener: &str, worker: usize) -> String {
    format!("{listener}-{worker}.json")
}

/// Writes `bytes` to `dir/name` atomically: temporary file, fsync, rename, fsync the dir.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads every `<listener>-<n>.json` in `dir`. Unusable files are logged and skipped.
pub fn load_dir(dir: &Path, listener: &str) -> Vec<(PathBuf, StateFile)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let prefix = format!("{listener}-");
    let mut paths: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|n| n.strip_suffix(".json"))
                .is_some_and(|n| n.parse::<usize>().is_ok())
        })
        .collect();
    paths.sort();
    for p in paths {
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| StateFile::parse(&b))
        {
            Ok(f) if f.listener == listener => out.push((p, f)),
            Ok(f) => crate::log_warn!(
                "state file {}: for listener {:?}, not {listener:?}: ignored",
                p.display(),
                f.listener
            ),
            Err(e) => crate::log_warn!("state file {}: {e}: ignored", p.display()),
        }
    }
    out
}

/// What one worker should load: exporters whose address steers to it (all of them when
/// `steered` is false, i.e. any socket may receive any exporter).
pub fn for_worker(
    files: &[(PathBuf, StateFile)],
    index: usize,
    workers: usize,
    steered: bool,
) -> Vec<ExporterState> {
    files
        .iter()
        .flat_map(|(_, f)| f.exporters.iter())
        .filter(|e| {
            !steered
                || crate::net::socket::steer_index(e.exporter, workers as u32) as usize == index
        })
        .cloned()
        .collect()
}

/// A background thread that serializes and writes the snapshots workers send it.
pub struct Writer {
    pub tx: crossbeam_channel::Sender<(String, StateFile)>,
    handle: std::thread::JoinHandle<()>,
}

impl Writer {
    pub fn start(dir: PathBuf) -> std::io::Result<Writer> {
        let (tx, rx) = crossbeam_channel::bounded::<(String, StateFile)>(64);
        let handle = std::thread::Builder::new()
            .name("cf-state".into())
            .spawn(move || {
                let mut log = crate::logging::RateLimit::new(std::time::Duration::from_secs(60));
                for (name, file) in rx {
                    let res = serde_json::to_vec(&file)
                        .map_err(std::io::Error::other)
                        .and_then(|bytes| write_atomic(&dir, &name, &bytes));
                    if let Err(e) = res {
                        if let Some(s) = log.allow(std::time::Instant::now()) {
                            crate::log_error!(
                                "state: cannot write {}: {e} ({s} more suppressed)",
                                dir.join(&name).display()
                            );
                        }
                    }
                }
            })?;
        Ok(Writer { tx, handle })
    }

    /// Waits for every queued write (call after every sender is gone).
    pub fn finish(self) {
        drop(self.tx);
        let _ = self.handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::spec::FieldSpec;

    #[test]
    fn round_trip_and_rejects() {
        let f = StateFile::new(
            "netflow",
            1,
            vec![ExporterState {
                exporter: "10.0.0.1".parse().unwrap(),
                templates: vec![SavedTemplate {
                    version: 10,
                    domain: 7,
                    id: 256,
                    options: false,
                    scope_count: 0,
                    fields: vec![FieldSpec {
                        id: 8,
                        len: 4,
                        pen: 0,
                    }],
                    learned_ns: 5,
                    used_ns: 6,
                }],
                domains: vec![],
                samplers: vec![],
            }],
        );
        let b = serde_json::to_vec(&f).unwrap();
        assert_eq!(StateFile::parse(&b).unwrap(), f);
        assert!(StateFile::parse(b"{").is_err());
        assert!(StateFile::parse(&b[..b.len() / 2]).is_err());
        let mut g = f.clone();
        g.version = 99;
        let e = StateFile::parse(&serde_json::to_vec(&g).unwrap()).unwrap_err();
        assert!(e.contains("99"), "{e}");
        g.version = VERSION;
        g.magic = "other".into();
        assert!(StateFile::parse(&serde_json::to_vec(&g).unwrap()).is_err());
    }
}
