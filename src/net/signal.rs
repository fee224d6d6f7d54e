//! SIGTERM and SIGINT (shutdown) and SIGHUP (reopen the output file), handled without a
//! signal handler.
//!
//! [`Signals::block`] blocks the three signals in the calling thread before any other thread
//! is started, so every thread inherits the mask and the signals stay pending until the main
//! thread takes them with [`Signals::wait`] (`sigtimedwait`). No code runs in signal context:
//! the main thread tells the output thread about a SIGHUP through an atomic it reads once per
//! batch (see [`is_reload`]).

use super::retry_eintr;
use std::io;
use std::time::Duration;

/// The set of shutdown and reload signals, blocked in this process.
pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it starts
    /// later). SIGHUP's default action would end the process: blocked, it waits for
    /// [`Signals::wait`] like the others.
    pub fn block() -> io::Result<Signals> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, initialised sigset_t; the signal numbers are valid.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGHUP);
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(Signals { set })
    }

    /// Waits up to `timeout` for SIGTERM, SIGINT or SIGHUP; returns the signal number, or
    /// `None` on timeout.
    pub fn wait(&self, timeout: Duration) -> io::Result<Option<i32>> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        // SAFETY: `self.set` is an initialised sigset_t, `ts` a valid timespec; a null
        // siginfo pointer is allowed.
        match retry_eintr(|| unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) }) {
            Ok(sig) => Ok(Some(sig)),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Whether `sig` asks for a reload (SIGHUP: reopen the output file, as logrotate's
/// `postrotate` and systemd's `ExecReload` send it) rather than a shutdown.
pub fn is_reload(sig: i32) -> bool {
    sig == libc::SIGHUP
}

/// The name of a signal [`Signals`] takes, for the log.
pub fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}
