//! `sendmmsg` of several datagrams on a connected UDP socket: flowgen's send path, and the
//! only module of the crate that holds `unsafe` code.
//!
//! [`SendBatch`] keeps its header arrays between calls, so a send loop allocates nothing per
//! batch. Every `unsafe` block carries a `// SAFETY:` line; EINTR is retried in
//! one helper (`retry_eintr`).

#![warn(clippy::undocumented_unsafe_blocks)]

use std::io;
use std::os::fd::RawFd;

/// Runs a libc call returning `-1`/errno until it does not fail with EINTR.
fn retry_eintr<T: Copy + PartialEq + From<i8>>(mut f: impl FnMut() -> T) -> io::Result<T> {
    loop {
        let r = f();
        if r != T::from(-1) {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reusable header arrays for [`SendBatch::send`].
#[derive(Default)]
pub struct SendBatch {
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl SendBatch {
    pub fn new() -> SendBatch {
        SendBatch::default()
    }

    /// Sends the datagrams `buf[ends[i-1]..ends[i]]` (the first starts at 0) on the connected
    /// socket `fd`, in order. Returns how many the kernel took (it may take fewer than all).
    pub fn send(&mut self, fd: RawFd, buf: &[u8], ends: &[usize]) -> io::Result<usize> {
        if ends.is_empty() {
            return Ok(0);
        }
        self.iovs.clear();
        self.hdrs.clear();
        let mut start = 0;
        for &end in ends {
            let d = &buf[start..end];
            self.iovs.push(libc::iovec {
                iov_base: d.as_ptr() as *mut libc::c_void,
                iov_len: d.len(),
            });
            start = end;
        }
        for iov in &mut self.iovs {
            // SAFETY: mmsghdr is a plain C struct for which all-zero bytes are valid.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            self.hdrs.push(h);
        }
        let hdrs = self.hdrs.as_mut_ptr();
        let n = self.hdrs.len() as libc::c_uint;
        // SAFETY: the headers point at `self.iovs`, which point into `buf`; both outlive the
        // call and are not touched during it. The kernel only reads the iovec memory.
        let sent = retry_eintr(|| unsafe { libc::sendmmsg(fd, hdrs, n, 0) })?;
        Ok(sent as usize)
    }
}
