//! systemd readiness notification (`sd_notify(3)`), with the `sd-notify` crate.
//!
//! When systemd starts coreflow with `Type=notify` it sets `NOTIFY_SOCKET` to a Unix datagram
//! socket. [`notify`] sends it one state (`READY=1` once every listener is bound, `STOPPING=1`
//! when the shutdown starts). Without `NOTIFY_SOCKET` it does nothing; a failure to send is
//! returned, never fatal (the caller logs it).
//!
//! `sd-notify` (pure Rust, no libsystemd, maintained) formats and sends the state. Own code
//! remains for the one case it lacks: a socket in the Linux abstract namespace, which
//! `NOTIFY_SOCKET` names with a leading `@` (sd_notify(3)); the crate would take `@name` for a
//! file name.

use sd_notify::NotifyState;
use std::io;
use std::os::unix::ffi::OsStrExt;

/// Sends `state` (e.g. `"READY=1"`) to `$NOTIFY_SOCKET`. `Ok(false)` when the variable is
/// unset or empty (not started by systemd), `Ok(true)` when the datagram was sent.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => send_abstract(name, state)?,
        None => sd_notify::notify(&[NotifyState::Custom(state)])?,
    }
    Ok(true)
}

/// Sends `state` to the abstract-namespace socket `name`, as `sd_notify::notify` would.
fn send_abstract(name: &[u8], state: &str) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let msg = format!("{}\n", NotifyState::Custom(state));
    let addr = SocketAddr::from_abstract_name(name)?;
    if UnixDatagram::unbound()?.send_to_addr(msg.as_bytes(), &addr)? != msg.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short write to NOTIFY_SOCKET",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    // `notify` itself (NOTIFY_SOCKET, a socket path) is tested on the binary: tests/systemd.rs
    #[test]
    fn abstract_socket_receives_the_state() {
        let name = format!("coreflow-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        send_abstract(name.as_bytes(), "STOPPING=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\n");
    }
}
