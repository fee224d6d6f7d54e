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
        help.starts_with("coreflow replay [--format json|pb]"),
        "{help}"
    );
    assert!(help.contains("--counters"), "{help}");
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
