//! The stdout/file sink: each batch is already framed (JSON lines or varint-delimited
//! protobuf), so it is written as one `write_all`, with no copy and no user-space buffer.
//!
//! A file can be reopened (SIGHUP, after logrotate or an archive job renamed it) and rotated
//! (`output.rotate_*`: renamed, then a new one opened). Both happen on the output thread
//! between two batches: every batch written before was handed to the kernel whole by
//! `write_all`, so a renamed file ends with a whole message, and every batch after goes to
//! the new file; nothing is written twice or lost. A reopen or rename that fails leaves the
//! sink writing the file it has.

use super::settings::Rotation;
use crate::encode::batch::Batch;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// After a failed rotation, the sink waits this long before trying again (not once per
/// batch while the size stays over the limit).
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub struct FileSink {
    file: File,
    path: Option<PathBuf>,
    rotation: Option<Rotation>,
    /// Bytes in the current file (its size when opened, plus what was written since).
    written: u64,
    /// When the current file was opened (or last rotated).
    opened: Instant,
    /// Rotations since start (`{seq}`).
    seq: u64,
    /// No rotation before this (after a failure).
    retry_at: Option<Instant>,
}

/// What a reopen or a rotation did, for the caller's counters and log.
#[derive(Debug)]
pub enum Reopened {
    /// The file at the path is open again (SIGHUP).
    Reopened,
    /// The file was renamed to this name and a new one opened.
    Rotated(PathBuf),
}

/// Why a reopen or a rotation failed (the sink keeps writing the file it had).
#[derive(Debug)]
pub enum ReopenError {
    /// The output is stdout: nothing to reopen.
    NoFile,
    Open(io::Error),
    Rename(PathBuf, io::Error),
}

impl std::fmt::Display for ReopenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReopenError::NoFile => f.write_str("the output is stdout, not a file"),
            ReopenError::Open(e) => write!(f, "cannot open: {e}"),
            ReopenError::Rename(to, e) => write!(f, "cannot rename to {}: {e}", to.display()),
        }
    }
}

impl FileSink {
    /// Writes to the process's stdout (a duplicate of fd 1, so Rust's stdout lock and line
    /// buffering are out of the way).
    pub fn stdout() -> io::Result<FileSink> {
        let fd = io::stdout().as_fd().try_clone_to_owned()?;
        Ok(FileSink::new(File::from(fd), None, None, 0))
    }

    /// Appends to `path`, creating it if needed; rotates it as `rotation` says.
    pub fn append(path: &Path, rotation: Option<Rotation>) -> io::Result<FileSink> {
        let file = open(path)?;
        if rotation.is_some() && !file.metadata()?.is_file() {
            // renaming /dev/null or a FIFO away would break more than this collector
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file: rotation (output.rotate_*) renames the file",
            ));
        }
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileSink::new(
            file,
            Some(path.to_path_buf()),
            rotation,
            size,
        ))
    }

    fn new(file: File, path: Option<PathBuf>, rotation: Option<Rotation>, size: u64) -> FileSink {
        FileSink {
            file,
            path,
            rotation,
            written: size,
            opened: Instant::now(),
            seq: 0,
            retry_at: None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("file {}", p.display()),
            None => "stdout".into(),
        }
    }

    /// Whether the sink writes a file (stdout cannot be reopened or rotated).
    pub fn is_file(&self) -> bool {
        self.path.is_some()
    }

    pub fn write(&mut self, b: &Batch) -> io::Result<()> {
        self.file.write_all(b.bytes())?;
        self.written += b.byte_len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// Opens the file at the path again (after something renamed or removed the one the
    /// sink had). On failure the sink keeps the file it had.
    pub fn reopen(&mut self) -> Result<Reopened, ReopenError> {
        let path = self.path.as_ref().ok_or(ReopenError::NoFile)?;
        let file = open(path).map_err(ReopenError::Open)?;
        self.written = file.metadata().map(|m| m.len()).unwrap_or(0);
        self.file = file;
        self.opened = Instant::now();
        Ok(Reopened::Reopened)
    }

    /// Whether a built-in rotation is configured.
    pub fn rotates(&self) -> bool {
        self.rotation.is_some()
    }

    /// Whether the built-in rotation is due before writing `next` more bytes (0: between
    /// batches, for the time limit alone). An empty file is never rotated.
    pub fn rotation_due(&self, next: usize, now: Instant) -> bool {
        let Some(r) = &self.rotation else {
            return false;
        };
        if self.written == 0 || self.retry_at.is_some_and(|t| now < t) {
            return false;
        }
        (r.bytes > 0 && self.written + next as u64 > r.bytes)
            || r.interval
                .is_some_and(|i| now.duration_since(self.opened) >= i)
    }

    /// Renames the file to the rotation pattern's name (a free one: `.1`, `.2`, ... are
    /// appended when it exists) and opens a new one at the path. Every batch written so far
    /// is in the renamed file, whole.
    pub fn rotate(&mut self, now: Instant) -> Result<Reopened, ReopenError> {
        let (Some(path), Some(r)) = (&self.path, &self.rotation) else {
            return Err(ReopenError::NoFile);
        };
        let to = free_name(&expand(&r.pattern, path, SystemTime::now(), self.seq + 1));
        let done = std::fs::rename(path, &to)
            .map_err(|e| ReopenError::Rename(to.clone(), e))
            .and_then(|()| self.reopen());
        match done {
            Ok(_) => {
                self.seq += 1;
                self.retry_at = None;
                Ok(Reopened::Rotated(to))
            }
            Err(e) => {
                self.retry_at = Some(now + RETRY_AFTER);
                Err(e)
            }
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The rotation pattern with its placeholders replaced.
pub fn expand(pattern: &str, path: &Path, t: SystemTime, seq: u64) -> PathBuf {
    let time: String = crate::logging::rfc3339(t)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let unix = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from(
        pattern
            .replace("{path}", &path.to_string_lossy())
            .replace("{time}", &time)
            .replace("{unix}", &unix.to_string())
            .replace("{seq}", &seq.to_string()),
    )
}

/// `name`, or `name.1`, `name.2`, ... : the first that does not exist (two rotations in the
/// same second must not overwrite each other).
fn free_name(name: &Path) -> PathBuf {
    if !name.exists() {
        return name.to_path_buf();
    }
    let mut i = 1u64;
    loop {
        let mut s = name.as_os_str().to_owned();
        s.push(format!(".{i}"));
        let p = PathBuf::from(s);
        if !p.exists() {
            return p;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::batch::Batch;

    fn batch(text: &str) -> Batch {
        let mut b = Batch::new(0, 1024, 4);
        b.push_with(|buf| buf.extend_from_slice(text.as_bytes()));
        b
    }

    #[test]
    fn pattern_expands() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        let p = expand("{path}.{time}.{seq}-{unix}", Path::new("/x/f.json"), t, 7);
        assert_eq!(p, PathBuf::from("/x/f.json.20240501T120000Z.7-1714564800"));
    }

    /// Reopen after an outside rename, rotation by size with a fixed pattern (names made
    /// free with suffixes), and by time: every line in exactly one file, whole.
    #[test]
    fn reopen_and_rotate() {
        let dir = std::env::temp_dir().join(format!("coreflow-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.json");
        let rotation = Rotation {
            bytes: 10,
            interval: None,
            pattern: format!("{}/old", dir.display()),
        };
        let mut s = FileSink::append(&path, Some(rotation)).unwrap();
        let now = Instant::now();
        let mut lines = Vec::new();
        for i in 0..6 {
            let line = format!("line{i}\n");
            let b = batch(&line);
            if s.rotation_due(b.byte_len(), now) {
                assert!(matches!(s.rotate(now), Ok(Reopened::Rotated(_))));
            }
            s.write(&b).unwrap();
            lines.push(line);
            if i == 3 {
                // logrotate: rename, then SIGHUP
                std::fs::rename(&path, dir.join("by-logrotate")).unwrap();
                s.write(&batch("after-rename\n")).unwrap();
                lines.push("after-rename\n".into());
                assert!(matches!(s.reopen(), Ok(Reopened::Reopened)));
            }
        }
        let mut all = String::new();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for n in &names {
            let t = std::fs::read_to_string(n).unwrap();
            assert!(t.ends_with('\n'), "{n:?}: {t:?}");
            assert!(t.len() <= 20, "{n:?}: {t:?}");
            all.push_str(&t);
        }
        let mut got: Vec<&str> = all.lines().collect();
        got.sort_unstable();
        let mut want: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
        want.sort_unstable();
        assert_eq!(got, want);
        assert!(names.iter().any(|n| n.ends_with("old.1")), "{names:?}");
        // time: due once the interval has passed, never for an empty file
        let r = Rotation {
            bytes: 0,
            interval: Some(Duration::from_secs(5)),
            pattern: format!("{}/t-{{seq}}", dir.display()),
        };
        let tpath = dir.join("t.json");
        let mut s = FileSink::append(&tpath, Some(r)).unwrap();
        let later = Instant::now() + Duration::from_secs(6);
        assert!(!s.rotation_due(0, later));
        s.write(&batch("x\n")).unwrap();
        assert!(!s.rotation_due(0, Instant::now()));
        assert!(s.rotation_due(0, later));
        s.rotate(later).unwrap();
        assert!(dir.join("t-1").exists());
        // a rename that fails keeps the file and waits before trying again
        s.write(&batch("y\n")).unwrap();
        s.rotation = Some(Rotation {
            bytes: 1,
            interval: None,
            pattern: format!("{}/no/such/dir/x", dir.display()),
        });
        assert!(s.rotation_due(0, later));
        assert!(matches!(s.rotate(later), Err(ReopenError::Rename(..))));
        assert!(!s.rotation_due(0, later));
        s.write(&batch("z\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&tpath).unwrap(), "y\nz\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_rotation_of_what_is_not_a_file() {
        let r = Rotation {
            bytes: 4096,
            interval: None,
            pattern: "{path}.{seq}".into(),
        };
        let e = FileSink::append(Path::new("/dev/null"), Some(r))
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(FileSink::append(Path::new("/dev/null"), None).is_ok());
    }
}
