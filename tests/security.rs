//! Security without a broker: the metrics endpoint behind a web config (TLS with a required
//! client certificate, basic auth with bcrypt hashes) on every path, the same Prometheus text
//! as the plain endpoint, bad web configs as one line and exit status 2, and `--check-config`
//! never showing a secret. The Kafka side (TLS, SCRAM against nisshi) is tests/kafka_security.rs.

mod common;

use common::harness::{Collector, TempDir, COREFLOW};
use common::pki::{get, Client, Pki};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const PATHS: [&str; 3] = ["/metrics", "/templates", "/healthz"];

fn web_config(dir: &TempDir, text: &str) -> String {
    let p = dir.path("web.yml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn hash(password: &str) -> String {
    // cost 4: the tests run a debug build, where bcrypt is slow
    bcrypt::hash(password, 4).unwrap()
}

fn collector(extra: &[&str]) -> Collector {
    Collector::builder()
        .listeners(&["-fport", "0", "-sflow=false", "-fworkers", "1"])
        .metrics_endpoint()
        .start(extra)
}

/// The names and label sets of every sample, and the HELP/TYPE lines: the page without its
/// values.
fn shape(page: &str) -> BTreeSet<String> {
    page.lines()
        .map(|l| {
            if l.starts_with('#') {
                l.to_string()
            } else {
                l.rsplit_once(' ').map_or(l, |(k, _)| k).to_string()
            }
        })
        .filter(|l| !l.contains("_seconds") || l.starts_with('#'))
        .collect()
}

#[test]
fn metrics_over_tls_with_client_certificate_and_password() {
    let pki = Pki::new();
    let dir = TempDir::new("web");
    let cfg = web_config(
        &dir,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_ca_file: {}\n  \
             client_auth_type: RequireAndVerifyClientCert\nbasic_auth_users:\n  \
             prometheus: '{}'\n",
            pki.server_cert.display(),
            pki.server_key.display(),
            pki.ca.display(),
            hash("scrape-me")
        ),
    );
    let c = collector(&["-metrics.web_config", &cfg]);
    assert!(
        c.log.iter().any(|l| l.contains("metrics listening on")
            && l.contains("https://")
            && l.contains("client certificate required")
            && l.contains("password required")),
        "{:?}",
        c.log
    );
    let addr = c.metrics_addr();
    let cert = (pki.client_cert.as_path(), pki.client_key.as_path());
    let good = Client {
        ca: Some(&pki.ca),
        cert: Some(cert),
        auth: Some(("prometheus", "scrape-me")),
    };
    for path in PATHS {
        let (code, body) = get(addr, path, good).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        for auth in [
            None,
            Some(("prometheus", "wrong")),
            Some(("nobody", "scrape-me")),
        ] {
            let (code, _) = get(addr, path, Client { auth, ..good }).unwrap();
            assert_eq!(code, 401, "{path} with {auth:?}");
        }
        // no client certificate, or one from another CA: the handshake fails
        for cert in [
            None,
            Some((
                pki.other_client_cert.as_path(),
                pki.other_client_key.as_path(),
            )),
        ] {
            let r = get(addr, path, Client { cert, ..good });
            assert!(
                r.is_err(),
                "{path}: answered without a valid client certificate: {r:?}"
            );
        }
        // a client that does not trust the server's CA
        let r = get(
            addr,
            path,
            Client {
                ca: Some(&pki.other_ca),
                ..good
            },
        );
        assert!(r.is_err(), "{path}: {r:?}");
        // plain HTTP on the TLS port gets no answer
        let r = get(addr, path, Client { ca: None, ..good });
        assert!(!matches!(r, Ok((200, _))), "{path}: {r:?}");
    }
    let (_, tls_page) = get(addr, "/metrics", good).unwrap();
    // the Prometheus text is the plain endpoint's: same families, same series
    let plain = collector(&[]);
    let page = get(plain.metrics_addr(), "/metrics", Client::default())
        .unwrap()
        .1;
    assert_eq!(shape(&tls_page), shape(&page));
    assert!(tls_page.contains("coreflow_output_connection_errors_total"));
    // still serving after all the refusals
    assert_eq!(get(addr, "/healthz", good).unwrap().0, 200);
}

#[test]
fn basic_auth_over_plain_http() {
    let dir = TempDir::new("web");
    let cfg = web_config(
        &dir,
        &format!("basic_auth_users:\n  alice: '{}'\n", hash("s3cret")),
    );
    let c = collector(&["-metrics.web_config", &cfg]);
    let addr = c.metrics_addr();
    for path in PATHS {
        let ok = Client {
            auth: Some(("alice", "s3cret")),
            ..Client::default()
        };
        assert_eq!(get(addr, path, ok).unwrap().0, 200, "{path}");
        assert_eq!(get(addr, path, Client::default()).unwrap().0, 401, "{path}");
        let bad = Client {
            auth: Some(("alice", "s3cre")),
            ..Client::default()
        };
        assert_eq!(get(addr, path, bad).unwrap().0, 401, "{path}");
    }
}

fn check_config(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = Command::new(COREFLOW)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_web_config_is_one_line_and_exit_2() {
    let pki = Pki::new();
    let dir = TempDir::new("web");
    let missing = dir.path("absent.yml").display().to_string();
    let cases = [
        ("tls_server_config: [1\n", "not a web config"),
        (
            "basic_auth_users:\n  alice: plaintext\n",
            "not a bcrypt hash",
        ),
        (
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
            "cert_file",
        ),
        (
            &format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: \
                 RequireAnyClientCert\n",
                pki.server_cert.display(),
                pki.server_key.display()
            ),
            "client_auth_type",
        ),
    ];
    for (text, want) in cases
        .iter()
        .map(|(t, w)| (t.to_string(), *w))
        .chain([(String::new(), "cannot read")])
    {
        let path = if text.is_empty() {
            missing.clone()
        } else {
            web_config(&dir, &text)
        };
        for mode in [
            &["--check-config"][..],
            &["-fport", "0", "-sflow=false"][..],
        ] {
            let mut args = vec!["-metrics.web_config", path.as_str()];
            args.extend_from_slice(mode);
            let (code, _, err) = check_config(&args, &[]);
            assert_eq!(code, Some(2), "{text}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(
                err.contains("-metrics.web_config") && err.contains(want),
                "{want}: {err}"
            );
            assert!(err.contains(path.as_str()), "{err}");
        }
    }
    // the TOML key is named as such
    let toml = dir.path("c.toml");
    std::fs::write(&toml, format!("[metrics]\nweb_config = \"{missing}\"\n")).unwrap();
    let (code, _, err) = check_config(&["--config", toml.to_str().unwrap(), "--check-config"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with("coreflow: metrics.web_config:"), "{err}");
}

#[test]
fn check_config_never_shows_a_secret() {
    let pki = Pki::new();
    let dir = TempDir::new("secret");
    let pass = dir.path("kafka.pass");
    std::fs::write(&pass, "file-s3cret-9271\n").unwrap();
    let tls = |p: &Path| p.display().to_string();
    let toml = dir.path("c.toml");
    std::fs::write(
        &toml,
        "[kafka.librdkafka]\n\"ssl.key.password\" = \"key-s3cret-5521\"\n",
    )
    .unwrap();
    let env = [
        ("KAFKA_SASL_PASS", "env-s3cret-1234"),
        ("KAFKA_SASL_USER", "flows"),
    ];
    let (ca, cert, key) = (tls(&pki.ca), tls(&pki.client_cert), tls(&pki.client_key));
    let base = [
        "--config",
        toml.to_str().unwrap(),
        "-kafka.out.brokers",
        "127.0.0.1:9093",
        "-kafka.tls.ca",
        &ca,
        "-kafka.tls.cert",
        &cert,
        "-kafka.tls.key",
        &key,
        "-kafka.sasl.mechanism",
        "SCRAM-SHA-512",
        "--check-config",
    ];
    let mut with_file = base.to_vec();
    with_file.extend(["-kafka.sasl.password_file", pass.to_str().unwrap()]);
    for (args, source) in [
        (&base[..], "KAFKA_SASL_PASS"),
        (&with_file[..], "kafka.pass"),
    ] {
        let (code, out, err) = check_config(args, &env);
        assert_eq!(code, Some(0), "{err}");
        for secret in ["env-s3cret-1234", "file-s3cret-9271", "key-s3cret-5521"] {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{secret} shown:\n{out}{err}"
            );
        }
        assert!(out.contains("sasl_mechanism = \"SCRAM-SHA-512\""), "{out}");
        assert!(out.contains(&format!("tls_ca = \"{ca}\"")), "{out}");
        assert!(
            out.contains("\"ssl.key.password\" = \"<redacted>\""),
            "{out}"
        );
        let line = out
            .lines()
            .find(|l| l.starts_with("# kafka SASL password"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            line.contains(source) && line.contains("not shown"),
            "{line}"
        );
    }
}

/// Bad Kafka security settings: one line naming the setting, exit status 2, before any socket
/// (the files are opened when the producer is created; the mechanism is checked with the
/// other settings, `--check-config` included).
#[cfg(feature = "kafka")]
#[test]
fn bad_kafka_security_settings_exit_2() {
    let brokers = [
        "-kafka.out.brokers",
        "127.0.0.1:9",
        "-fport",
        "0",
        "-sflow=false",
    ];
    for (extra, env, want) in [
        (
            &["-kafka.sasl.mechanism", "GSSAPI", "--check-config"][..],
            &[][..],
            "-kafka.sasl.mechanism (kafka.sasl_mechanism): unknown SASL mechanism",
        ),
        (
            &["-kafka.tls.ca", "/nonexistent/ca.pem"][..],
            &[][..],
            "kafka.tls_ca: cannot read /nonexistent/ca.pem",
        ),
        (
            &[
                "-kafka.tls.cert",
                "/nonexistent/c.pem",
                "-kafka.tls.key",
                "/nonexistent/k.pem",
            ][..],
            &[][..],
            "kafka.tls_cert: cannot read /nonexistent/c.pem",
        ),
        (
            &["-kafka.sasl.password_file", "/nonexistent/pass"][..],
            &[("KAFKA_SASL_USER", "u")][..],
            "kafka.sasl_password_file: cannot read /nonexistent/pass",
        ),
        (
            &["-kafka.sasl.mechanism", "SCRAM-SHA-256"][..],
            &[][..],
            "KAFKA_SASL_USER",
        ),
    ] {
        let mut args = brokers.to_vec();
        args.extend_from_slice(extra);
        let (code, _, err) = check_config(&args, env);
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
}
