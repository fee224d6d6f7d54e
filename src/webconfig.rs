//! The metrics endpoint's web config file (`metrics.web_config`), in the format of the
//! Prometheus exporter-toolkit's `--web.config.file`: a TLS certificate and key, a client CA
//! (and whether client certificates are required), and basic-auth users with bcrypt hashes.
//!
//! A leaf: the command line validates the file with [`WebConfig::load`] (a bad file is one
//! line naming it, exit status 2) and the metrics endpoint serves with what it returns.
//!
//! Crates: `rustls` (with the `ring` provider: no cmake, no OpenSSL) for the server side and
//! its `WebPkiClientVerifier` for client certificates; `bcrypt` for the hashes;
//! `serde_norway` (the maintained fork of serde_yaml) for the YAML. Relative paths are
//! resolved against the file's folder, as exporter-toolkit does.

use crate::error::ConfigError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file as written (exporter-toolkit's keys; unknown keys are an error).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    /// Accepted for compatibility with exporter-toolkit files; coreflow serves HTTP/1.1.
    #[allow(dead_code)]
    http_server_config: Option<serde_norway::Value>,
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// Whether the endpoint asks for client certificates (exporter-toolkit's `client_auth_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert` (the default without `client_ca_file`).
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional, but checked when sent.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert` (the default with `client_ca_file`).
    Require,
}

/// The loaded web config: what the metrics endpoint serves with.
#[derive(Clone)]
pub struct WebConfig {
    pub path: PathBuf,
    /// TLS, when `tls_server_config` is given.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub client_auth: ClientAuth,
    pub auth: Option<Arc<BasicAuth>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .field("client_auth", &self.client_auth)
            .field("users", &self.auth.as_ref().map_or(0, |a| a.users.len()))
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file: YAML, certificate, key and CA files, bcrypt hashes.
    /// `setting` names the setting in errors (e.g. `metrics.web_config`).
    pub fn load(path: &Path, setting: &str) -> Result<WebConfig, ConfigError> {
        let err = |msg: String| ConfigError::new(setting, format!("{}: {msg}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_norway::from_str(&text).map_err(|e| err(format!("not a web config: {e}")))?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &str| dir.join(p);
        let mut client_auth = ClientAuth::None;
        let tls = match raw.tls_server_config {
            None => None,
            Some(t) => {
                let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) else {
                    return Err(err(
                        "tls_server_config needs cert_file and key_file".to_string()
                    ));
                };
                client_auth = match (t.client_auth_type.as_deref(), &t.client_ca_file) {
                    (None, None) | (Some("NoClientCert"), _) => ClientAuth::None,
                    (None, Some(_)) | (Some("RequireAndVerifyClientCert"), _) => {
                        ClientAuth::Require
                    }
                    (Some("VerifyClientCertIfGiven"), _) => ClientAuth::VerifyIfGiven,
                    (Some(other), _) => {
                        return Err(err(format!(
                            "client_auth_type {other:?} is not supported (NoClientCert, \
                             VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
                        )))
                    }
                };
                if client_auth != ClientAuth::None && t.client_ca_file.is_none() {
                    return Err(err(format!(
                        "client_auth_type {:?} needs client_ca_file",
                        t.client_auth_type.as_deref().unwrap_or_default()
                    )));
                }
                let versions =
                    versions(t.min_version.as_deref(), t.max_version.as_deref()).map_err(err)?;
                let ca = t.client_ca_file.as_deref().map(resolve);
                Some(
                    server_config(
                        &resolve(cert),
                        &resolve(key),
                        ca.as_deref(),
                        client_auth,
                        &versions,
                    )
                    .map_err(err)?,
                )
            }
        };
        let auth = if raw.basic_auth_users.is_empty() {
            None
        } else {
            for (user, hash) in &raw.basic_auth_users {
                if user.contains(':') {
                    return Err(err(format!("basic_auth_users: user {user:?} contains ':'")));
                }
                hash.parse::<bcrypt::HashParts>().map_err(|e| {
                    err(format!("basic_auth_users: {user}: not a bcrypt hash ({e})"))
                })?;
            }
            Some(Arc::new(BasicAuth {
                users: raw.basic_auth_users,
                verified: Mutex::new(BTreeMap::new()),
            }))
        };
        Ok(WebConfig {
            path: path.to_path_buf(),
            tls,
            client_auth,
            auth,
        })
    }
}

/// The protocol versions between `min` and `max` (`TLS12`, `TLS13`).
fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |v: Option<&str>, default: u8, key: &str| match v {
        None => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(o) => Err(format!(
            "{key} {o:?} is not supported (TLS12, TLS13; older versions are refused)"
        )),
    };
    let lo = rank(min, 12, "min_version")?;
    let hi = rank(max, 13, "max_version")?;
    let mut out = Vec::new();
    if lo <= 12 && hi >= 12 {
        out.push(&rustls::version::TLS12);
    }
    if hi >= 13 {
        out.push(&rustls::version::TLS13);
    }
    if out.is_empty() {
        return Err("min_version is above max_version".into());
    }
    Ok(out)
}

fn server_config(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    client_auth: ClientAuth,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = read_certs(cert, "cert_file")?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("key_file {}: {}", key.display(), pem_error(e)))?;
    // ring, not aws-lc-rs: no long C build; rustls 0.23.48 deprecates ring's provider only
    // because it lacks post-quantum key exchange, which a scrape endpoint can do without
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match (client_auth, ca) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(ca, "client_ca_file")? {
                roots
                    .add(c)
                    .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let v = if mode == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| format!("client_ca_file {}: {e}", ca.display()))?,
            )
        }
    };
    let cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file/key_file: {e}"))?;
    Ok(Arc::new(cfg))
}

fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{key} {}: {}", path.display(), pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!("{key} {}: no certificate in it", path.display()));
    }
    Ok(certs)
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot read: {e}"),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item in it".into(),
        e => format!("not PEM: {e:?}"),
    }
}

/// Basic-auth users and their bcrypt hashes. A verified password is remembered per user
/// (exporter-toolkit caches the same way), so a scrape costs one bcrypt only when the
/// password changes; an unknown user costs a bcrypt too (against another user's hash).
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl BasicAuth {
    /// Whether an `Authorization` header value carries a known user and its password.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some((user, pass)) = header.and_then(parse_basic) else {
            return false;
        };
        let Some(hash) = self.users.get(&user) else {
            // the same work as for a known user: checked against some user's hash
            if let Some(h) = self.users.values().next() {
                let _ = bcrypt::verify(&pass, h);
            }
            return false;
        };
        if let Ok(v) = self.verified.lock() {
            if v.get(&user).is_some_and(|p| same(p, &pass)) {
                return true;
            }
        }
        let ok = bcrypt::verify(&pass, hash).unwrap_or(false);
        if ok {
            if let Ok(mut v) = self.verified.lock() {
                v.insert(user, pass);
            }
        }
        ok
    }
}

/// Constant-time equality (over the length of `a`).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Basic base64(user:password)` -> (user, password).
fn parse_basic(h: &str) -> Option<(String, Vec<u8>)> {
    let (scheme, b64) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(b64.trim())?;
    let i = raw.iter().position(|&c| c == b':')?;
    let user = String::from_utf8(raw[..i].to_vec()).ok()?;
    Some((user, raw[i + 1..].to_vec()))
}

/// Standard base64 with padding (RFC 4648), as HTTP basic auth sends it.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.as_bytes();
    if s.len() % 4 != 0 || s.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (n, chunk) in s.chunks(4).enumerate() {
        let last = n == s.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | val(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_basic_header() {
        assert_eq!(base64_decode("YWxpY2U6czNjcmV0").unwrap(), b"alice:s3cret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("YQ=").is_none() && base64_decode("Y=Q=").is_none());
        let (u, p) = parse_basic("Basic YWxpY2U6czNjcmV0").unwrap();
        assert_eq!((u.as_str(), &p[..]), ("alice", &b"s3cret"[..]));
        assert!(parse_basic("Bearer YWxpY2U6czNjcmV0").is_none());
    }

    #[test]
    fn users_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("cf-webconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let p = dir.join("web.yml");
        std::fs::write(&p, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let w = WebConfig::load(&p, "metrics.web_config").unwrap();
        let a = w.auth.unwrap();
        assert!(a.check(Some("Basic YWxpY2U6czNjcmV0")));
        assert!(a.check(Some("Basic YWxpY2U6czNjcmV0")), "from the cache");
        assert!(!a.check(Some("Basic YWxpY2U6d3Jvbmc="))); // alice:wrong
        assert!(!a.check(Some("Basic Ym9iOnMzY3JldA=="))); // bob:s3cret
        assert!(!a.check(None));
        for (text, want) in [
            ("basic_auth_users:\n  alice: nothash\n", "not a bcrypt hash"),
            ("tls_server_config: [1\n", "not a web config"),
            (
                "tls_server_config:\n  cert_file: x\n",
                "needs cert_file and key_file",
            ),
            (
                "tls_server_config:\n  cert_file: x\n  key_file: y\n",
                "cert_file",
            ),
            ("tls_server_confg: {}\n", "unknown field"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = WebConfig::load(&p, "metrics.web_config").unwrap_err();
            assert_eq!(e.setting, "metrics.web_config");
            assert!(e.msg.contains(want), "{text}: {e}");
            assert!(e.msg.contains("web.yml"), "{e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        let e = WebConfig::load(&dir.join("absent.yml"), "metrics.web_config").unwrap_err();
        assert!(e.msg.contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
