//! goflow2 (v2) command lines: `-listen "netflow://:2055,sflow://:6343?count=4"`,
//! `-transport kafka|file`, the `-transport.kafka.*` and `-transport.file` flags, `-format
//! bin|json`, `-addr`, read into the TOML keys they mean.
//!
//! A goflow2 flag may set several keys (`-listen`, `-format bin`), so the flags table gives
//! them to this module ([`G2`]) instead of naming one key. Three layers, each beating the one
//! before: the file, then what the goflow2 flags imply ([`Goflow2::implied`]), then every flag
//! that names its key (`--schema`, `-proto.fixedlen`, `-fport`, ...): so `-format bin --schema
//! goflow-v3` writes goflow-v3 with varint framing. Like Go's `flag` package, the last
//! `-listen`, `-transport` or `-format` is the one that counts. Once the flags are set, goflow2's
//! own defaults fill what neither the file nor a flag set ([`Goflow2::fill_defaults`]):
//! JSON with the goflow2 schema, and with `-transport kafka` goflow2's default brokers.
//!
//! The goflow2 flags coreflow cannot honour are in [`REFUSED`]: each is one error line naming
//! it, exit status 2, never silently ignored.

use super::raw::RawConfig;
use super::settings::{Origins, DEFAULT_BROKERS};
use crate::error::ConfigError;

/// What a goflow2 flag of the collector's table does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum G2 {
    /// `-listen URL,...`: the NetFlow and sFlow listeners.
    Listen,
    /// `-transport kafka|file`.
    Transport,
    /// `-format bin|json|pb`.
    Format,
    /// `-transport.file PATH` (`output.file`; only with `-transport file`).
    File,
    /// A flag that sets one key (`-addr`).
    Key(&'static str),
    /// A `-transport.kafka.*` flag that sets one key; only with `-transport kafka`.
    Kafka(&'static str),
    /// `-transport.kafka.sasl none|plain|scram-sha256|scram-sha512`.
    Sasl,
    /// `-transport.kafka.hashing`: a key per exporter.
    Hashing,
    /// `-transport.kafka.compression` (`""` is none).
    Compression,
    /// `-produce sample` (what coreflow does; `raw` is refused).
    Produce,
    /// `-mapping ""` (a mapping file is refused).
    Mapping,
}

/// goflow2 flags coreflow refuses: (name, why). `lex` stops at them.
pub(super) const REFUSED: &[(&str, &str)] = &[
    (
        "transport.kafka.tls.insecure",
        "not supported: coreflow always verifies the brokers' certificates (give their CA with \
         -kafka.tls.ca; -kafka.tls.verify_hostname=false skips only the host name check)",
    ),
    (
        "transport.kafka.maxmsgbytes",
        "not supported: set kafka.librdkafka.\"message.max.bytes\" in the config file",
    ),
    (
        "transport.kafka.flushbytes",
        "not supported: coreflow batches with kafka.batch_size (bytes) in the config file",
    ),
    (
        "transport.kafka.flushfreq",
        "not supported: coreflow batches with kafka.linger_ms in the config file",
    ),
    (
        "transport.file.sep",
        "not supported: coreflow writes one JSON object per line, or varint-prefixed protobuf",
    ),
    (
        "err.cnt",
        "not supported: coreflow rate-limits its own error logs",
    ),
    (
        "err.int",
        "not supported: coreflow rate-limits its own error logs",
    ),
    (
        "templates.ttl",
        "not supported: use limits.template_idle_timeout_s in the config file",
    ),
    (
        "templates.sweep-interval",
        "not supported: use limits.template_idle_timeout_s in the config file",
    ),
    (
        "templates.ttl.extend-on-access",
        "not supported: use limits.template_idle_timeout_s in the config file",
    ),
    (
        "templates.json.path",
        "not supported: use --state-dir (coreflow's own format)",
    ),
    (
        "templates.json.interval",
        "not supported: use --state-dir (written as templates change)",
    ),
];

/// The goflow2 flags of one command line, in argv order.
#[derive(Debug, Default)]
pub(super) struct Goflow2 {
    flags: Vec<(G2, String, String)>,
}

/// A key set by a goflow2 flag: (key, the flag as typed, the value as `RawConfig::set` takes it).
pub(super) type Set = (&'static str, String, String);

fn named(spelled: &str, key: &str) -> String {
    format!("{spelled} ({key})")
}

impl Goflow2 {
    pub(super) fn push(&mut self, g: G2, spelled: String, value: String) {
        self.flags.push((g, spelled, value));
    }

    /// Whether the command line is a goflow2 one (any goflow2 flag, `-format bin` included).
    fn context(&self) -> bool {
        self.flags
            .iter()
            .any(|(g, _, v)| *g != G2::Format || v == "bin")
    }

    /// The last of a flag that counts once (Go's `flag`: the last value wins).
    fn last(&self, which: G2) -> Option<(&str, &str)> {
        self.flags
            .iter()
            .rev()
            .find(|(g, _, _)| *g == which)
            .map(|(_, s, v)| (s.as_str(), v.as_str()))
    }

    fn transport(&self) -> Result<Option<(&str, bool)>, ConfigError> {
        match self.last(G2::Transport) {
            None => Ok(None),
            Some((s, "kafka")) => Ok(Some((s, true))),
            Some((s, "file")) => Ok(Some((s, false))),
            Some((s, v)) => Err(ConfigError::new(
                s,
                format!("unknown transport {v:?} (kafka, file)"),
            )),
        }
    }

    /// The keys the goflow2 flags set, in the order to set them (after the file, before the
    /// flags that name their key).
    pub(super) fn implied(&self) -> Result<Vec<Set>, ConfigError> {
        let mut out: Vec<Set> = Vec::new();
        let transport = self.transport()?;
        let kafka = transport.map(|(_, k)| k);
        let mut set = |key: &'static str, s: &str, v: &str| out.push((key, s.into(), v.into()));
        if let Some((s, v)) = self.last(G2::Listen) {
            for (key, value) in listen(s, v)? {
                set(key, s, &value);
            }
        }
        if let Some((s, v)) = self.last(G2::Format) {
            match v {
                "bin" => {
                    set("output.format", s, "pb");
                    set("output.schema", s, "goflow2");
                    set("kafka.framing", s, "true");
                }
                "text" => {
                    return Err(ConfigError::new(
                        named(s, "output.format"),
                        "goflow2's text format is not supported (json, pb, bin)",
                    ))
                }
                v => set("output.format", s, v),
            }
        }
        if let Some((s, k)) = transport {
            set("kafka.enabled", s, if k { "true" } else { "false" });
            if k {
                // goflow2 writes nowhere else with -transport kafka
                set("output.file", s, "");
            } else if self.last(G2::File).is_none() {
                set("output.file", s, "");
            }
        }
        for (g, s, v) in &self.flags {
            match *g {
                G2::Listen | G2::Transport | G2::Format => {}
                G2::File => {
                    if kafka == Some(true) && !v.is_empty() {
                        return Err(ConfigError::new(
                            named(s, "output.file"),
                            "goflow2 ignores it with -transport kafka: drop one of them",
                        ));
                    }
                    set("output.file", s, v);
                }
                G2::Key(key) => set(key, s, v),
                G2::Kafka(_) | G2::Sasl | G2::Hashing | G2::Compression if kafka != Some(true) => {
                    return Err(ConfigError::new(
                        s.as_str(),
                        "goflow2 only uses it with -transport kafka: add -transport kafka",
                    ));
                }
                G2::Kafka(key) => set(key, s, v),
                G2::Sasl => match v.to_ascii_lowercase().as_str() {
                    "none" | "" | "false" => set("kafka.sasl", s, "false"),
                    "plain" | "true" => set("kafka.sasl", s, "true"),
                    "scram-sha256" | "scram-sha512" => {
                        set("kafka.sasl", s, "true");
                        set("kafka.sasl_mechanism", s, v);
                    }
                    _ => {
                        return Err(ConfigError::new(
                            named(s, "kafka.sasl"),
                            format!(
                                "unknown SASL mechanism {v:?} (none, plain, scram-sha256, \
                                 scram-sha512)"
                            ),
                        ))
                    }
                },
                G2::Hashing => set("kafka.hashing", s, v),
                G2::Compression => match v.as_str() {
                    "" => set("kafka.compression", s, "none"),
                    v => set("kafka.compression", s, v),
                },
                G2::Produce if v == "sample" => {}
                G2::Produce => {
                    return Err(ConfigError::new(
                        s.as_str(),
                        format!("{v:?} is not supported (sample: one message per flow)"),
                    ))
                }
                G2::Mapping if v.is_empty() => {}
                G2::Mapping => {
                    return Err(ConfigError::new(
                        s.as_str(),
                        "goflow2 mapping files are not read: write the entries as [[mapping]] in the TOML \
                         file (docs/configuration.md, Field mapping)",
                    ))
                }
            }
        }
        Ok(out)
    }

    /// goflow2's defaults where neither the file nor a flag set the key: JSON with the
    /// goflow2 schema; with `-transport kafka`, a key per exporter for `-transport.kafka.hashing`
    /// and goflow2's default brokers.
    pub(super) fn fill_defaults(
        &self,
        raw: &mut RawConfig,
        origins: &mut Origins,
    ) -> Result<(), ConfigError> {
        if !self.context() {
            return Ok(());
        }
        let out = &mut raw.output;
        out.format.get_or_insert_with(|| "json".into());
        out.schema.get_or_insert_with(|| "goflow2".into());
        if let Some((s, true)) = self.transport()? {
            let k = &mut raw.kafka;
            if k.brokers.is_none() && k.srv.as_deref().unwrap_or("").is_empty() {
                k.brokers = Some(DEFAULT_BROKERS.into());
                origins.set("kafka.brokers", s);
            }
        }
        if let Some((_, s, _)) = self.flags.iter().rev().find(|(g, _, _)| *g == G2::Hashing) {
            if raw.kafka.hashing == Some(true) && raw.kafka.key.is_none() {
                raw.set("kafka.key", s, "by-exporter")?;
                origins.set("kafka.key", s.clone());
            }
        }
        Ok(())
    }
}

/// `-listen`: `scheme://host:port?count=N&workers=M`, comma-separated, into listener keys.
fn listen(spelled: &str, v: &str) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let mut seen: [Option<&str>; 2] = [None, None];
    let mut out = Vec::new();
    for url in v.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let bad = |m: String| ConfigError::new(spelled, format!("{url:?}: {m}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(
                "not scheme://host:port (netflow, sflow, nfl, flow)".into()
            ));
        };
        let (i, l) = match scheme {
            // both listeners detect the protocol per datagram: flow:// is the NetFlow one
            "netflow" | "nfl" | "flow" => (0, "netflow"),
            "sflow" => (1, "sflow"),
            _ => {
                return Err(bad(format!(
                    "unknown scheme {scheme:?} (netflow, sflow, nfl, flow)"
                )))
            }
        };
        if let Some(other) = seen[i] {
            return Err(bad(format!(
                "a second {l} listener (after {other:?}): coreflow binds one address per \
                 protocol"
            )));
        }
        seen[i] = Some(url);
        let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((host, port)) = hostport.rsplit_once(':') else {
            return Err(bad("no port (host:port, :port)".into()));
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let key = |k: &'static str| match l {
            "netflow" => match k {
                "address" => "netflow.address",
                "port" => "netflow.port",
                "sockets" => "netflow.sockets",
                _ => "netflow.enabled",
            },
            _ => match k {
                "address" => "sflow.address",
                "port" => "sflow.port",
                "sockets" => "sflow.sockets",
                _ => "sflow.enabled",
            },
        };
        out.push((key("enabled"), "true".to_string()));
        out.push((key("address"), host.to_string()));
        out.push((key("port"), port.to_string()));
        let (mut count, mut workers) = (None, None);
        for kv in query.split('&').filter(|q| !q.is_empty()) {
            let (k, val) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "count" => count = Some(val),
                "workers" => workers = Some(val),
                "blocking" if val == "false" => {}
                _ => {
                    return Err(bad(format!(
                        "{kv:?} is not supported (count and workers: coreflow's sockets, one \
                         worker each)"
                    )))
                }
            }
        }
        // one worker thread per socket: goflow2's decode workers become sockets
        if let Some(n) = workers.or(count) {
            out.push((key("sockets"), n.to_string()));
        }
    }
    if seen == [None, None] {
        return Err(ConfigError::new(
            spelled,
            "no listener (netflow://:2055,sflow://:6343)",
        ));
    }
    for (i, l) in [(0, "netflow.enabled"), (1, "sflow.enabled")] {
        if seen[i].is_none() {
            out.push((l, "false".to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::cli::tests::run;
    use crate::cli::{parse_args, SinkSettings};
    use crate::encode::key::KeyMode;
    use crate::encode::schema::Schema;
    use crate::encode::Format;
    use crate::net::socket::BindAddr;

    fn line(s: &str) -> String {
        let a: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse_args(&a).unwrap_err().to_string()
    }

    #[test]
    fn listen_urls() {
        let s = run("-listen netflow://127.0.0.1:9995?count=3,sflow://[::1]:6344");
        assert!(s.netflow.enabled && s.sflow.enabled);
        assert_eq!(
            s.netflow.binds[0].address,
            BindAddr::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!((s.netflow.port, s.netflow.binds[0].sockets), (9995, 3));
        assert_eq!(
            s.sflow.binds[0].address,
            BindAddr::Ip("::1".parse().unwrap())
        );
        assert_eq!((s.sflow.port, s.sflow.binds[0].sockets), (6344, 1));
        // a listener not named is off; nfl is NetFlow; workers become sockets
        let s = run("-listen nfl://:2056?count=2&workers=4");
        assert!(s.netflow.enabled && !s.sflow.enabled);
        assert_eq!((s.netflow.port, s.netflow.binds[0].sockets), (2056, 4));
        assert_eq!(s.netflow.binds[0].address, BindAddr::Any);
        let s = run("-listen sflow://:6343");
        assert!(!s.netflow.enabled && s.sflow.enabled);
        let s = run("-listen flow://:2057");
        assert!(s.netflow.enabled && !s.sflow.enabled && s.netflow.port == 2057);
        // a flag naming its key beats -listen, whatever the order
        let s = run("-fport 9000 -listen netflow://:2055");
        assert_eq!(s.netflow.port, 9000);
    }

    #[test]
    fn listen_errors_are_one_line() {
        for (args, want) in [
            (
                "-listen netflow://:2055,nfl://:2056",
                "-listen: \"nfl://:2056\": a second netflow listener",
            ),
            (
                "-listen udp://:2055",
                "-listen: \"udp://:2055\": unknown scheme",
            ),
            (
                "-listen flow://:2055,nfl://:2056",
                "\"nfl://:2056\": a second netflow listener",
            ),
            ("-listen netflow://host", "no port"),
            (
                "-listen sflow://:6343?queue_size=10",
                "\"queue_size=10\" is not supported",
            ),
            (
                "-listen netflow://:x",
                "-listen (netflow.port): \"x\" is not an integer",
            ),
            (
                "-listen netflow://:2055?count=0",
                "-listen (netflow.sockets): 0 is out of range",
            ),
            ("-listen netflow://bogus:2055", "-listen (netflow.address)"),
        ] {
            let l = line(args);
            assert!(l.contains(want), "{args}: {l}");
        }
    }

    #[test]
    fn transports() {
        let s = run("-transport kafka -transport.kafka.brokers k1:9092,k2:9092 \
             -transport.kafka.topic flows -transport.kafka.tls \
             -transport.kafka.sasl plain -transport.kafka.compression zstd \
             -transport.kafka.hashing -transport.kafka.version 3.0.0 -format bin");
        assert_eq!(s.output.sink, SinkSettings::Kafka);
        assert_eq!(s.kafka.brokers, ["k1:9092", "k2:9092"]);
        assert_eq!(s.kafka.topic, "flows");
        assert!(s.kafka.tls && s.kafka.sasl && s.kafka.varint);
        assert_eq!(s.kafka.compression, "zstd");
        assert_eq!(s.kafka.key, KeyMode::Exporter);
        assert_eq!(
            (s.output.format, s.output.schema),
            (Format::Pb, Schema::Goflow2)
        );
        // goflow2's TLS files and SCRAM
        let s = run(
            "-transport kafka -transport.kafka.tls -transport.kafka.tls.ca /ca.pem \
             -transport.kafka.tls.client /c.pem -transport.kafka.tls.key /k.pem \
             -transport.kafka.sasl scram-sha512",
        );
        assert_eq!(s.kafka.tls_files.ca, Some("/ca.pem".into()));
        assert_eq!(s.kafka.tls_files.cert, Some("/c.pem".into()));
        assert_eq!(s.kafka.tls_files.key, Some("/k.pem".into()));
        assert!(s.kafka.sasl);
        assert_eq!(
            s.kafka.sasl_auth.mechanism,
            crate::sink::settings::SaslMechanism::ScramSha512
        );
        // goflow2's default brokers; its default format is JSON, goflow2 schema
        let s = run("-transport kafka -transport.kafka.srv _k._tcp.x");
        assert_eq!(s.kafka.srv, "_k._tcp.x");
        let s = run("-transport kafka");
        assert_eq!(s.output.sink, SinkSettings::Kafka);
        assert_eq!(s.kafka.brokers, ["127.0.0.1:9092", "[::1]:9092"]);
        assert_eq!(
            (s.output.format, s.output.schema),
            (Format::Json, Schema::Goflow2)
        );
        assert!(!s.kafka.varint);
        let s = run("-transport file -transport.file /tmp/f -addr :9999");
        assert_eq!(s.output.sink, SinkSettings::File("/tmp/f".into()));
        assert!(!s.kafka.enabled);
        assert_eq!(s.metrics.address, ":9999");
        let s = run("-transport.file /tmp/f -kafka.out.brokers k:1");
        assert_eq!(s.output.sink, SinkSettings::File("/tmp/f".into()));
        let s = run("-transport file -format json");
        assert_eq!(s.output.sink, SinkSettings::Stdout);
        assert_eq!(s.output.schema, Schema::Goflow2);
    }

    #[test]
    fn format_bin_and_what_beats_it() {
        let s = run("-format bin -kafka.out.brokers k:1");
        assert_eq!(
            (s.output.format, s.output.schema),
            (Format::Pb, Schema::Goflow2)
        );
        assert!(s.kafka.varint);
        let s = run("--schema goflow-v3 -format bin -proto.fixedlen=false -kafka.out.brokers k:1");
        assert_eq!(
            (s.output.format, s.output.schema),
            (Format::Pb, Schema::GoflowV3)
        );
        assert!(!s.kafka.varint);
        // the last -format counts
        let s = run("-format bin -format json");
        assert_eq!(
            (s.output.format, s.output.schema),
            (Format::Json, Schema::Goflow2)
        );
        // without goflow2 flags, pb and json keep their GoFlow meaning
        let s = run("-format pb -kafka.out.brokers k:1");
        assert_eq!(
            (s.output.format, s.output.schema),
            (Format::Pb, Schema::GoflowV2)
        );
        assert!(!s.kafka.varint);
        assert_eq!(run("-format json").output.schema, Schema::GoflowV2);
        assert!(line("-format text").starts_with("-format (output.format): goflow2's text"));
    }

    #[test]
    fn refused_flags_are_one_line() {
        for (args, want) in [
            (
                "-transport.kafka.tls.insecure",
                "-transport.kafka.tls.insecure: not",
            ),
            (
                "-transport.kafka.maxmsgbytes=5",
                "-transport.kafka.maxmsgbytes: not",
            ),
            (
                "-transport.kafka.flushfreq 1s",
                "-transport.kafka.flushfreq: not",
            ),
            ("-err.int 10s", "-err.int: not supported"),
            ("-produce raw", "-produce: \"raw\" is not supported"),
            (
                "-mapping m.yaml",
                "-mapping: goflow2 mapping files are not read",
            ),
            (
                "-transport kinesis",
                "-transport: unknown transport \"kinesis\"",
            ),
            (
                "-transport.kafka.brokers k:1",
                "-transport.kafka.brokers: goflow2 only uses it with -transport kafka",
            ),
            (
                "-transport kafka -transport.kafka.sasl gssapi",
                "-transport.kafka.sasl (kafka.sasl): unknown SASL mechanism",
            ),
            (
                "-transport kafka -transport.file /x",
                "-transport.file (output.file): goflow2 ignores it",
            ),
            (
                "-transport kafka -transport.kafka.compression br",
                "-transport.kafka.compression (kafka.compression): unknown codec",
            ),
        ] {
            let l = line(args);
            assert!(l.starts_with(want), "{args}: {l}");
            assert!(!l.contains('\n'));
        }
    }
}
