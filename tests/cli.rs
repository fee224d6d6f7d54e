//! The command line as a user (or a GoFlow unit file) types it, run on the binary: GoFlow's
//! single-dash flags and `replay` parse, and an unknown flag or a bad value exits with status
//! 2 and exactly the one line coreflow has always printed, before any socket is opened.

use std::process::{Command, Output};

fn coreflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coreflow"))
        .args(args)
        .output()
        .expect("run the coreflow binary")
}

#[test]
fn goflow_unit_file_flags_check() {
    let out = coreflow(&[
        "-netflow=true",
        "-faddr",
        "127.0.0.1",
        "-fport",
        "0",
        "-fworkers=2",
        "-sflow=false",
        "-loglevel",
        "debug",
        "-logfmt=json",
        "-kafka.out.brokers",
        "127.0.0.1:9092",
        "-kafka.out.topic",
        "flows",
        "-kafka.hashing",
        "-proto.fixedlen=false",
        "-kafka.version",
        "2.1.1",
        "-metrics.addr",
        ":0",
        "-metrics.maxexporters",
        "10",
        "--output",
        "-",
        "-check-config",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "address = \"127.0.0.1\"",
        "port = 0",
        "sockets = 2",
        "level = \"debug\"",
        "topic = \"flows\"",
        "brokers = \"127.0.0.1:9092\"",
        "key = [\"SamplerAddress\", \"DstAS\"]",
        "max_exporters = 10",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
}

#[test]
fn usage_errors_exit_2_with_the_same_line() {
    for (args, line) in [
        (
            &["-nosuchflag"][..],
            "coreflow: -nosuchflag: unknown flag (see --help)",
        ),
        (
            &["--nosuchflag=1"],
            "coreflow: --nosuchflag: unknown flag (see --help)",
        ),
        (
            &["stray"],
            "coreflow: stray: unexpected argument (flags start with -; see --help)",
        ),
        (
            &["-netflow", "false"],
            "coreflow: false: unexpected argument (flags start with -; see --help)",
        ),
        (&["-fport"], "coreflow: -fport: needs a value"),
        (
            &["-fport=abc"],
            "coreflow: -fport: \"abc\" is not an integer",
        ),
        (
            &["-fport", "70000"],
            "coreflow: -fport (netflow.port): 70000 is out of range (0 to 65535)",
        ),
        (
            &["-netflow=maybe"],
            "coreflow: -netflow: \"maybe\" is not a boolean (true, false)",
        ),
        (
            &["--format", "xml"],
            "coreflow: --format (output.format): unknown format \"xml\" (json, pb)",
        ),
        (
            &["-kafka.brokers", "nohost"],
            "coreflow: -kafka.brokers (kafka.brokers): \"nohost\" is not host:port \
             (e.g. 127.0.0.1:9092,[::1]:9092)",
        ),
        (
            &["-bogus", "-help=maybe"],
            "coreflow: -bogus: unknown flag (see --help)",
        ),
        (
            &["replay"],
            "coreflow: replay: no capture files given (coreflow replay FILE...)",
        ),
        (&["replay", "--format"], "coreflow: --format needs a value"),
        (
            &["replay", "--schema", "goflow-v9", "x.pcap"],
            "coreflow: --schema: unknown schema \"goflow-v9\" (goflow-v2, goflow-v3, goflow2)",
        ),
        (
            &["replay", "--no-such-flag", "x.pcap"],
            "coreflow: replay: unknown option --no-such-flag",
        ),
    ] {
        let out = coreflow(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{line}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn replay_parses_goflow_style() {
    // flags before and after the file, one dash, `=`: the run gets as far as the file
    let out = coreflow(&[
        "replay",
        "-format=pb",
        "/nonexistent/a.pcap",
        "-schema",
        "goflow2",
        "-counters",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/a.pcap"), "{err}");
    let out = coreflow(&["replay", "-h"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.starts_with("coreflow replay [--config FILE] [--format json|pb]"),
        "{help}"
    );
    assert!(help.contains("--counters"), "{help}");
    assert!(help.contains("--config"), "{help}");
}

#[test]
fn help_lists_every_flag() {
    let out = coreflow(&["-help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--netflow",
        "--faddr",
        "--fport",
        "--fworkers",
        "--freuse",
        "--sflow",
        "--saddr",
        "--sport",
        "--sworkers",
        "--sreuse",
        "--loglevel",
        "--logfmt",
        "--kafka[",
        "--kafka.out.topic",
        "--kafka.out.brokers",
        "--kafka.out.srv",
        "--kafka.tls",
        "--kafka.sasl",
        "--kafka.brokers",
        "--kafka.topic",
        "--kafka.srv",
        "--kafka.hashing",
        "--kafka.key",
        "--proto.fixedlen",
        "--kafka.version",
        "--kafka.log.err",
        "--metrics.addr",
        "--metrics.path",
        "--templates.path",
        "--metrics.maxexporters",
        "--metrics.max_exporters",
        "-v, --version",
        "--config",
        "--format",
        "--schema",
        "--output",
        "--check-config",
        "--state-dir",
        "--print-default-config",
        "-h, --help",
    ] {
        assert!(help.contains(flag), "{flag} is not in --help");
    }
}

/// `--check-config` of these flags, or of `--config` with this TOML.
fn check_config(args: &[&str], toml: Option<&str>) -> String {
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let path = std::env::temp_dir().join(format!(
        "coreflow-cli-{}-{:x}.toml",
        std::process::id(),
        toml.map_or(0, |t| t.len() * 31
            + t.bytes().map(usize::from).sum::<usize>())
    ));
    if let Some(t) = toml {
        std::fs::write(&path, t).unwrap();
        args.extend(["--config".into(), path.to_str().unwrap().into()]);
    }
    args.push("--check-config".into());
    let out = Command::new(env!("CARGO_BIN_EXE_coreflow"))
        .args(&args)
        .output()
        .expect("run the coreflow binary");
    if toml.is_some() {
        let _ = std::fs::remove_file(&path);
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// goflow2's README command lines (Kafka, a file, several listeners) run with the same
/// settings as the TOML they mean.
#[test]
fn goflow2_command_lines_equal_their_toml() {
    let file = std::env::temp_dir().join("goflow2.log");
    let file = file.to_str().unwrap();
    let file_toml = format!(
        "[netflow]\nenabled = false\n[sflow]\naddress = \"127.0.0.1\"\nport = 6343\n\
         [output]\nfile = \"{file}\"\nformat = \"json\"\nschema = \"goflow2\"\n\
         [kafka]\nenabled = false\n[metrics]\naddress = \"127.0.0.1:8081\"\n"
    );
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "-transport=kafka",
                "-transport.kafka.brokers=localhost:9092",
                "-transport.kafka.topic=flows",
                "-format=bin",
            ],
            "[output]\nformat = \"pb\"\nschema = \"goflow2\"\n\
             [kafka]\nenabled = true\nbrokers = \"localhost:9092\"\ntopic = \"flows\"\n\
             framing = \"varint\"\n",
        ),
        (
            &["-listen", "sflow://:6343?count=4,netflow://:2055"],
            "[netflow]\nenabled = true\naddress = \"\"\nport = 2055\n\
             [sflow]\nenabled = true\naddress = \"\"\nport = 6343\nsockets = 4\n\
             [output]\nformat = \"json\"\nschema = \"goflow2\"\n",
        ),
        (
            &[
                "-listen",
                "sflow://127.0.0.1:6343",
                "-transport",
                "file",
                "-transport.file",
                file,
                "-format",
                "json",
                "-addr",
                "127.0.0.1:8081",
                "-loglevel",
                "info",
                "-logfmt",
                "normal",
            ],
            &file_toml,
        ),
    ];
    for (args, toml) in cases {
        let flags = check_config(args, None);
        assert_eq!(flags, check_config(&[], Some(toml)), "{args:?}");
    }
    // goflow2's Kafka line writes goflow2 protobuf, varint-framed
    let kafka = check_config(cases[0].0, None);
    for want in [
        "schema = \"goflow2\"",
        "framing = \"varint\"",
        "format = \"pb\"",
    ] {
        assert!(kafka.contains(want), "{want}:\n{kafka}");
    }
}

#[test]
fn goflow2_flags_coreflow_cannot_honour_exit_2_with_one_line() {
    for (args, line) in [
        (
            &["-transport.kafka.tls.insecure"][..],
            "coreflow: -transport.kafka.tls.insecure: not supported: coreflow always verifies \
             the brokers' certificates (give their CA with -kafka.tls.ca; \
             -kafka.tls.verify_hostname=false skips only the host name check)",
        ),
        (
            &["-transport.kafka.maxmsgbytes=2000000"],
            "coreflow: -transport.kafka.maxmsgbytes: not supported: set \
             kafka.librdkafka.\"message.max.bytes\" in the config file",
        ),
        (
            &["-transport", "kafka", "-transport.kafka.sasl", "gssapi"],
            "coreflow: -transport.kafka.sasl (kafka.sasl): unknown SASL mechanism \"gssapi\" \
             (none, plain, scram-sha256, scram-sha512)",
        ),
        (
            &["-listen", "netflow://:2055,netflow://:2056"],
            "coreflow: -listen: \"netflow://:2056\": a second netflow listener (after \
             \"netflow://:2055\"): coreflow binds one address per protocol",
        ),
        (
            &["-format", "text"],
            "coreflow: -format (output.format): goflow2's text format is not supported \
             (json, pb, bin)",
        ),
        (
            &["-mapping", "mapping.yaml"],
            "coreflow: -mapping: mapping files are not supported (coreflow's schemas are fixed)",
        ),
    ] {
        let out = coreflow(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{line}\n"),
            "{args:?}"
        );
    }
}
