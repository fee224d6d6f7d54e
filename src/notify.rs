//! systemd readiness notification (`sd_notify(3)`), without libsystemd.
//!
//! When systemd starts coreflow with `Type=notify` it sets `NOTIFY_SOCKET` to a Unix datagram
//! socket: a path, or an abstract name written with a leading `@`. [`notify`] sends one
//! datagram of `KEY=VALUE` lines there (`READY=1` once every listener is bound, `STOPPING=1`
//! when the shutdown starts). Without `NOTIFY_SOCKET` it does nothing; a failure to send is
//! returned, never fatal (the caller logs it).

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `"READY=1"`) to `$NOTIFY_SOCKET`. `Ok(false)` when the variable is
/// unset or empty (not started by systemd), `Ok(true)` when the datagram was sent.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(path) if !path.is_empty() => {
            send_to(&path.to_string_lossy(), state)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Sends `state` to the notification socket `path` (`@name`: Linux abstract namespace).
pub fn send_to(path: &str, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let sent = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(state.as_bytes(), &addr)?
        }
        None => sock.send_to(state.as_bytes(), path)?,
    };
    if sent != state.len() {
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

    #[test]
    fn path_and_abstract_sockets_receive_the_state() {
        let dir = std::env::temp_dir().join(format!("coreflow-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("notify.sock");
        let _ = std::fs::remove_file(&p);
        let rx = UnixDatagram::bind(&p).unwrap();
        send_to(p.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        std::fs::remove_dir_all(&dir).unwrap();

        use std::os::linux::net::SocketAddrExt;
        let name = format!("coreflow-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        send_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
