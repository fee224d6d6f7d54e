//! systemd integration: `Type=notify` readiness. coreflow started with `NOTIFY_SOCKET` sends
//! `READY=1` once its listeners are bound (they answer at that point) and `STOPPING=1` on
//! SIGTERM, then exits 0. (`systemd-analyze verify` of the unit runs in scripts/test.)

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COREFLOW: &str = env!("CARGO_BIN_EXE_coreflow");

/// One notification: `KEY=VALUE` lines, each ended by a newline (as `sd-notify` sends them).
fn recv_state(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = sock
        .recv(&mut buf)
        .expect("a notification within the timeout");
    let state = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(state.ends_with('\n'), "{state:?}");
    state.trim_end().to_string()
}

#[test]
fn notify_socket_gets_ready_then_stopping() {
    let dir = std::env::temp_dir().join(format!("coreflow-systemd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock_path = dir.join("notify");
    let _ = std::fs::remove_file(&sock_path);
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    ready_then_stopping(&sock, sock_path.as_os_str(), &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `NOTIFY_SOCKET=@name`: a socket in the Linux abstract namespace.
#[test]
fn abstract_notify_socket_gets_ready_then_stopping() {
    use std::os::linux::net::SocketAddrExt;
    let dir = std::env::temp_dir().join(format!("coreflow-systemd-abs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("coreflow-systemd-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    ready_then_stopping(&sock, format!("@{name}").as_ref(), &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

fn ready_then_stopping(sock: &UnixDatagram, notify_socket: &std::ffi::OsStr, dir: &Path) {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    // a fixed free port for NetFlow so that readiness can be checked against it
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.join("flows.json");
    let mut child = Command::new(COREFLOW)
        .args(["-faddr", "127.0.0.1", "-fport", &port.to_string()])
        .args(["-sport", "0", "-metrics.addr", "127.0.0.1:0", "--output"])
        .arg(&out)
        .env("NOTIFY_SOCKET", notify_socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    assert_eq!(recv_state(sock), "READY=1");
    // ready means bound: the port is taken by coreflow now
    assert!(
        UdpSocket::bind(("127.0.0.1", port)).is_err(),
        "READY=1 before port {port} was bound"
    );

    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(recv_state(sock), "STOPPING=1");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("coreflow did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}
