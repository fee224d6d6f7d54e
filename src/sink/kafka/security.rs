//! The librdkafka properties of `kafka.tls*` and `kafka.sasl*`: `security.protocol`, the CA,
//! client certificate and key, host name verification, the SASL mechanism and credentials.
//!
//! The SASL password is read here, when the producer is created, from
//! `kafka.sasl_password_file` (one line; a trailing newline is ignored) or `KAFKA_SASL_PASS`,
//! and goes only into librdkafka's configuration: it is never a setting, never logged.

use crate::error::ConfigError;
use crate::sink::settings::KafkaSettings;
use rdkafka::config::ClientConfig;

/// Sets the security properties of `k` on `c`. `env` reads an environment variable.
pub fn apply(
    c: &mut ClientConfig,
    k: &KafkaSettings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let protocol = match (k.tls, k.sasl) {
        (false, false) => "plaintext",
        (true, false) => "ssl",
        (false, true) => "sasl_plaintext",
        (true, true) => "sasl_ssl",
    };
    c.set("security.protocol", protocol);
    if k.tls {
        let t = &k.tls_files;
        for (key, p) in [
            ("kafka.tls_ca", &t.ca),
            ("kafka.tls_cert", &t.cert),
            ("kafka.tls_key", &t.key),
        ] {
            if let Some(p) = p {
                std::fs::File::open(p).map_err(|e| {
                    ConfigError::new(key, format!("cannot read {}: {e}", p.display()))
                })?;
            }
        }
        let loc = |p: &std::path::PathBuf| p.display().to_string();
        if let Some(ca) = &t.ca {
            c.set("ssl.ca.location", loc(ca));
        }
        if let (Some(cert), Some(key)) = (&t.cert, &t.key) {
            c.set("ssl.certificate.location", loc(cert))
                .set("ssl.key.location", loc(key));
        }
        if t.verify_hostname {
            c.set("ssl.endpoint.identification.algorithm", "https");
        } else {
            c.set("ssl.endpoint.identification.algorithm", "none");
            crate::log_warn!(
                "kafka: TLS without host name verification (kafka.tls_verify_hostname = false): \
                 any certificate the CA signed is accepted for every broker"
            );
        }
    }
    if k.sasl {
        let s = &k.sasl_auth;
        let user = match &s.username {
            Some(u) => u.clone(),
            None => env("KAFKA_SASL_USER")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ConfigError::new(
                    "KAFKA_SASL_USER (-kafka.sasl)",
                    "SASL is on but the variable is unset or empty (or set kafka.sasl_username)",
                )
                })?,
        };
        let pass = match &s.password_file {
            Some(p) => read_password(p)?,
            None => env("KAFKA_SASL_PASS")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ConfigError::new(
                        "KAFKA_SASL_PASS (-kafka.sasl)",
                        "SASL is on but the variable is unset or empty (or set \
                     kafka.sasl_password_file)",
                    )
                })?,
        };
        c.set("sasl.mechanism", s.mechanism.name())
            .set("sasl.username", user)
            .set("sasl.password", pass);
    }
    Ok(())
}

/// The first line of the password file; a file others can read is logged at warn.
fn read_password(p: &std::path::Path) -> Result<String, ConfigError> {
    let setting = "kafka.sasl_password_file";
    let text = std::fs::read_to_string(p)
        .map_err(|e| ConfigError::new(setting, format!("cannot read {}: {e}", p.display())))?;
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(p) {
            if m.permissions().mode() & 0o077 != 0 {
                crate::log_warn!(
                    "kafka: {} ({setting}) can be read by others than its owner (chmod 600, or \
                     a systemd credential)",
                    p.display()
                );
            }
        }
    }
    let pass = text.lines().next().unwrap_or("").to_string();
    if pass.is_empty() {
        return Err(ConfigError::new(
            setting,
            format!("{}: empty password", p.display()),
        ));
    }
    Ok(pass)
}

#[cfg(test)]
mod tests {
    use super::super::producer::client_config;
    use crate::sink::settings::SaslMechanism;

    fn settings(extra: &[&str]) -> crate::sink::settings::KafkaSettings {
        let mut args = vec!["-kafka.out.brokers".to_string(), "127.0.0.1:1".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        match crate::cli::parse_args(&args).unwrap() {
            crate::cli::Command::Run(s) => s.kafka.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn tls_files_and_scram_from_a_password_file() {
        let dir = std::env::temp_dir().join(format!("cf-ksec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = |n: &str, text: &str| {
            let p = dir.join(n);
            std::fs::write(&p, text).unwrap();
            p.display().to_string()
        };
        let (ca, cert, key) = (f("ca.pem", "x"), f("c.pem", "x"), f("k.pem", "x"));
        let pass = f("pass", "s3cret\n");
        let k = settings(&[
            "-kafka.tls.ca",
            &ca,
            "-kafka.tls.cert",
            &cert,
            "-kafka.tls.key",
            &key,
            "-kafka.sasl.mechanism",
            "scram-sha-512",
            "-kafka.sasl.username",
            "flows",
            "-kafka.sasl.password_file",
            &pass,
        ]);
        assert!(
            k.tls && k.sasl,
            "files and a mechanism turn TLS and SASL on"
        );
        assert_eq!(k.sasl_auth.mechanism, SaslMechanism::ScramSha512);
        let c = client_config(&k, "h:1", |_| Some("from-env".into())).unwrap();
        assert_eq!(c.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(c.get("ssl.ca.location"), Some(ca.as_str()));
        assert_eq!(c.get("ssl.certificate.location"), Some(cert.as_str()));
        assert_eq!(c.get("ssl.key.location"), Some(key.as_str()));
        assert_eq!(
            c.get("ssl.endpoint.identification.algorithm"),
            Some("https")
        );
        assert_eq!(c.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(c.get("sasl.username"), Some("flows"));
        assert_eq!(
            c.get("sasl.password"),
            Some("s3cret"),
            "the file beats the variable"
        );
        // the password is not in the settings, whatever prints them
        assert!(!format!("{k:?}").contains("s3cret"));
        let k = settings(&["-kafka.tls.ca", &ca, "-kafka.tls.verify_hostname=false"]);
        let c = client_config(&k, "h:1", |_| None).unwrap();
        assert_eq!(c.get("security.protocol"), Some("ssl"));
        assert_eq!(c.get("ssl.endpoint.identification.algorithm"), Some("none"));
        // GoFlow's -kafka.sasl: PLAIN with the variables
        let k = settings(&["-kafka.sasl"]);
        let c = client_config(&k, "h:1", |v| Some(format!("{v}-x"))).unwrap();
        assert_eq!(c.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(c.get("sasl.password"), Some("KAFKA_SASL_PASS-x"));
        let empty = f("empty", "\n");
        let k = settings(&["-kafka.sasl.password_file", &empty]);
        let e = client_config(&k, "h:1", |v| Some(format!("{v}-x"))).unwrap_err();
        assert_eq!(e.setting, "kafka.sasl_password_file", "{e}");
        // files that cannot be read are named when the producer is created
        for (flag, key) in [
            ("-kafka.tls.ca", "kafka.tls_ca"),
            ("-kafka.sasl.password_file", "kafka.sasl_password_file"),
        ] {
            let k = settings(&[flag, "/nonexistent/f"]);
            let e = client_config(&k, "h:1", |v| Some(format!("{v}-x"))).unwrap_err();
            assert_eq!(e.setting, key, "{e}");
            assert!(e.msg.contains("cannot read /nonexistent/f"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_security_settings_are_named() {
        for (args, setting, want) in [
            (
                &["-kafka.sasl.mechanism", "GSSAPI"][..],
                "-kafka.sasl.mechanism",
                "unknown SASL mechanism",
            ),
            (
                &["-kafka.tls.cert", "/etc/hostname"][..],
                "-kafka.tls.cert",
                "needs kafka.tls_key",
            ),
            (
                &["-kafka.sasl=false", "-kafka.sasl.mechanism", "PLAIN"][..],
                "-kafka.sasl.mechanism",
                "kafka.sasl = false",
            ),
        ] {
            let mut a = vec!["-kafka.out.brokers".to_string(), "127.0.0.1:1".into()];
            a.extend(args.iter().map(|s| s.to_string()));
            let e = match crate::cli::parse_args(&a) {
                Err(e) => e,
                Ok(_) => panic!("{args:?} accepted"),
            };
            let text = e.to_string();
            assert!(
                text.contains(setting) && text.contains(want),
                "{args:?}: {text}"
            );
        }
    }
}
