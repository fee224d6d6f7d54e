//! Sockets and the kernel interface: the only module of the crate that holds `unsafe` code.
//!
//! - [`socket`](crate::net::socket): one SO_REUSEPORT group per listener, steered by a classic BPF program that
//!   hashes the exporter's source address (so one exporter always reaches one worker), plus the
//!   receive options (SO_RCVBUF/SO_RCVBUFFORCE, SO_RXQ_OVFL, SO_TIMESTAMPNS, SO_RCVTIMEO).
//! - [`recv`](crate::net::recv): `recvmmsg` into buffers allocated once, with per-datagram truncation, kernel
//!   receive timestamps and the socket's drop counter parsed from the control messages.
//! - [`signal`](crate::net::signal): SIGTERM/SIGINT blocked in every thread and waited for synchronously.
//!
//! Every `unsafe` block carries a `// SAFETY:` line. EINTR is retried in one place
//! (`retry_eintr`). A socket option the kernel lacks degrades to a logged `false`.

#![warn(clippy::undocumented_unsafe_blocks)]

pub mod recv;
pub mod signal;
pub mod socket;

use std::io;
use std::os::fd::RawFd;

/// Runs a libc call returning `-1`/errno until it does not fail with EINTR.
pub(crate) fn retry_eintr<T: Copy + PartialEq + From<i8>>(
    mut f: impl FnMut() -> T,
) -> io::Result<T> {
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

// Linux socket option numbers (asm-generic: x86, x86_64, arm, aarch64, riscv). Defined here so
// the code does not depend on which of them a given libc release exports.
pub(crate) const SO_RCVBUFFORCE: libc::c_int = 33;
pub(crate) const SO_TIMESTAMPNS: libc::c_int = 35;
pub(crate) const SO_RXQ_OVFL: libc::c_int = 40;
pub(crate) const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
pub(crate) const SO_MEMINFO: libc::c_int = 55;
/// Index of the drop counter in the SO_MEMINFO array (`SK_MEMINFO_DROPS`).
const SK_MEMINFO_DROPS: usize = 8;
const SK_MEMINFO_VARS: usize = 9;

/// `setsockopt(fd, SOL_SOCKET, opt, &value)` for an `int` option.
pub(crate) fn set_int_opt(fd: RawFd, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` lives across the call and the length passed is its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The socket's drop counter (`sk_drops`: datagrams the kernel discarded because the receive
/// queue was full), read with SO_MEMINFO. `None` where the kernel lacks the option.
pub fn socket_drops(fd: RawFd) -> Option<u32> {
    meminfo(fd).map(|m| m[SK_MEMINFO_DROPS])
}

/// How full the socket's receive queue is: (bytes queued, the queue's limit), both as the
/// kernel accounts them (buffer sizes, not payload). `None` where SO_MEMINFO is missing.
pub fn socket_queue(fd: RawFd) -> Option<(u32, u32)> {
    meminfo(fd).map(|m| (m[SK_MEMINFO_RMEM_ALLOC], m[SK_MEMINFO_RCVBUF]))
}

/// Index of the queued bytes and of the queue limit in the SO_MEMINFO array.
const SK_MEMINFO_RMEM_ALLOC: usize = 0;
const SK_MEMINFO_RCVBUF: usize = 1;

fn meminfo(fd: RawFd) -> Option<[u32; SK_MEMINFO_VARS]> {
    let mut info = [0u32; SK_MEMINFO_VARS];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes and `len` is a valid in/out length.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r == 0 && len as usize > SK_MEMINFO_DROPS * 4 {
        Some(info)
    } else {
        None
    }
}

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`), unless
/// `MIMALLOC_ALLOW_THP` is set (then the allocator's own setting rules). mimalloc advises its
/// arenas `MADV_HUGEPAGE`, so with THP on, one byte touched in a 2 MiB region makes all of it
/// resident and the heap grows in 2 MiB steps: under a template flood about 1 MiB of state
/// cost 11 MiB of RSS, and no limit on the state bounded memory. Pages touched before the
/// call keep their size. Returns whether THP is off now.
pub fn disable_transparent_huge_pages() -> bool {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return false;
    }
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
}
