//! The endpoint over TLS: rustls directly, with a small accept loop of its own.
//!
//! Why not tiny_http's `ssl-rustls` feature: it builds its rustls configuration itself with
//! no client authentication, so it cannot ask for or verify client certificates
//! (`client_auth_type: RequireAndVerifyClientCert`). Here the rustls `ServerConfig` comes
//! from the web config ([`crate::webconfig`]) as built, verifier included.
//!
//! One connection at a time, one request per connection (`Connection: close`): a scrape
//! endpoint has one or two clients. Each connection has 5 s read and write timeouts, so a
//! client that stalls holds the endpoint for at most that long. A failed handshake (no
//! client certificate when one is required, an untrusted one, a client that does not trust
//! ours) closes the connection and is logged at debug, at most once a minute.

use super::{answer, Paths, Sources, CHALLENGE};
use crate::logging::RateLimit;
use crate::webconfig::BasicAuth;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request head read (request line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// The first of `addrs` that binds.
pub(super) fn bind(addrs: &[String]) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in addrs {
        match TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "no address")))
}

pub(super) fn serve(
    listener: TcpListener,
    cfg: Arc<ServerConfig>,
    auth: Option<Arc<BasicAuth>>,
    paths: Paths,
    src: Sources,
    stop: Arc<AtomicBool>,
) {
    let mut renderer = super::render::Renderer::default();
    let mut log = RateLimit::new(Duration::from_secs(60));
    if let Err(e) = listener.set_nonblocking(true) {
        crate::log_error!("metrics: {e}");
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => {
                if let Some(s) = log.allow(Instant::now()) {
                    crate::log_error!("metrics: accept: {e} ({s} more suppressed)");
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let mut handle = |stream| -> std::io::Result<()> {
            let mut tls = open(stream, &cfg)?;
            let Some(head) = read_head(&mut tls)? else {
                return Ok(());
            };
            let (path, authorization) = parse_head(&head);
            let authorized = auth.as_ref().is_none_or(|a| a.check(authorization));
            let a = answer(&mut renderer, &src, &paths, path, authorized);
            let challenge = if a.status == 401 {
                format!("WWW-Authenticate: {CHALLENGE}\r\n")
            } else {
                String::new()
            };
            let reply = format!(
                "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{challenge}\
                 Connection: close\r\n\r\n",
                a.status,
                reason(a.status),
                a.content_type,
                a.body.len()
            );
            tls.write_all(reply.as_bytes())?;
            tls.write_all(a.body.as_bytes())?;
            tls.conn.send_close_notify();
            tls.flush()
        };
        if let Err(e) = handle(stream) {
            if let Some(s) = log.allow(Instant::now()) {
                crate::log_debug!("metrics: TLS connection: {e} ({s} more suppressed)");
            }
        }
    }
}

fn open(
    stream: TcpStream,
    cfg: &Arc<ServerConfig>,
) -> std::io::Result<StreamOwned<ServerConnection, TcpStream>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let conn = ServerConnection::new(cfg.clone()).map_err(std::io::Error::other)?;
    Ok(StreamOwned::new(conn, stream))
}

/// Reads up to the blank line that ends the request head (the handshake happens on the
/// first read). `None` when the client closed first.
fn read_head(s: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "request head too large",
            ));
        }
    }
}

/// The path (query removed) and the `Authorization` header value of a request head.
fn parse_head(head: &[u8]) -> (&str, Option<&str>) {
    let text = std::str::from_utf8(head).unwrap_or("");
    let mut lines = text.split("\r\n");
    let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let authorization = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim());
    (path, authorization)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head() {
        let h = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nauthorization: Basic YQ==\r\n\r\n";
        assert_eq!(parse_head(h), ("/metrics", Some("Basic YQ==")));
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\n\r\n"), ("/", None));
        assert_eq!(parse_head(b"\xff\r\n\r\n"), ("", None));
    }
}
