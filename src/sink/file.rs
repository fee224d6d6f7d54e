//! The stdout/file sink: each batch is already framed (JSON lines or varint-delimited
//! protobuf), so it is written as one `write_all`, with no copy.

use crate::encode::batch::Batch;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

pub struct FileSink {
    file: File,
    path: Option<PathBuf>,
}

impl FileSink {
    /// Writes to the process's stdout (a duplicate of fd 1, so Rust's stdout lock and line
    /// buffering are out of the way).
    pub fn stdout() -> io::Result<FileSink> {
        let fd = io::stdout().as_fd().try_clone_to_owned()?;
        Ok(FileSink {
            file: File::from(fd),
            path: None,
        })
    }

    /// Appends to `path`, creating it if needed.
    pub fn append(path: &Path) -> io::Result<FileSink> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileSink {
            file,
            path: Some(path.to_path_buf()),
        })
    }

    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("file {}", p.display()),
            None => "stdout".into(),
        }
    }

    pub fn write(&mut self, b: &Batch) -> io::Result<()> {
        self.file.write_all(b.bytes())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
