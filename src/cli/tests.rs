//! The command line as a whole: GoFlow's spellings, precedence, the errors and their order,
//! `replay`. The helpers are shared with the other files' tests.

use super::*;
use crate::encode::schema::Schema;
use crate::encode::Format;
use crate::logging::{Level, LogFormat};
use crate::net::socket::BindAddr;

pub(super) fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// The settings a command line runs (or checks) with.
pub(super) fn run(s: &str) -> Settings {
    match parse_args(&args(s)).unwrap() {
        Command::Run(s) | Command::CheckConfig(s) => *s,
        c => panic!("{c:?}"),
    }
}

fn err(s: &str) -> ConfigError {
    match parse_args(&args(s)).unwrap_err() {
        CliError::Config(e) => e,
        e => panic!("{s}: {e:?}"),
    }
}

/// The line `main` prints after `coreflow: `.
fn line(a: &[&str]) -> String {
    let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
    parse_args(&a).unwrap_err().to_string()
}

#[test]
fn defaults_are_goflows() {
    let s = run("");
    assert!(s.netflow.enabled && s.sflow.enabled);
    assert_eq!((s.netflow.port, s.sflow.port), (2055, 6343));
    assert_eq!(
        (s.netflow.binds[0].sockets, s.sflow.binds[0].sockets),
        (1, 1)
    );
    assert_eq!(s.netflow.binds[0].address, BindAddr::Any);
    assert!(!s.netflow.reuseport);
    assert_eq!(s.output.sink, SinkSettings::Stdout);
    assert_eq!(s.output.format, Format::Json);
    assert_eq!(s.kafka.topic, "flow-messages");
    assert_eq!(s.kafka.brokers, vec!["127.0.0.1:9092", "[::1]:9092"]);
    assert!(s.kafka.enabled && !s.kafka.configured);
    assert_eq!(s.metrics.address, ":8080");
    assert_eq!(s.metrics.templates_path, "/templates");
    assert_eq!(s.receive.batch, 64);
    assert_eq!(s.log.level, Level::Info);
}

#[test]
fn goflow_spellings() {
    let s = run(
        "-netflow=false -sport 7000 --saddr=127.0.0.1 -sworkers=3 -sreuse \
                 -loglevel debug --logfmt json -kafka=false -kafka.out.topic t \
                 -metrics.addr 127.0.0.1:9100 -templates.path /t --format=pb \
                 --schema goflow2 --output /tmp/x",
    );
    assert!(!s.netflow.enabled);
    assert_eq!(s.sflow.port, 7000);
    assert_eq!(
        s.sflow.binds[0].address,
        BindAddr::Ip("127.0.0.1".parse().unwrap())
    );
    assert_eq!(s.sflow.binds[0].sockets, 3);
    assert!(s.sflow.reuseport);
    assert_eq!(s.log.level, Level::Debug);
    assert_eq!(s.log.format, LogFormat::Json);
    assert!(!s.kafka.enabled);
    assert_eq!(s.kafka.topic, "t");
    assert_eq!(s.metrics.address, "127.0.0.1:9100");
    assert_eq!(s.output.format, Format::Pb);
    assert_eq!(s.output.schema, Schema::Goflow2);
    assert_eq!(s.output.sink, SinkSettings::File("/tmp/x".into()));
    assert!(matches!(parse_args(&args("-v")), Ok(Command::Version)));
    assert!(matches!(parse_args(&args("--help")), Ok(Command::Help)));
    assert!(matches!(
        parse_args(&args("--check-config")),
        Ok(Command::CheckConfig(_))
    ));
}

#[test]
fn every_goflow_flag_and_alias_parses() {
    // GoFlow v2.1.0 and v3 unit-file lines, one and two dashes, both value forms
    let s = run(
        "-faddr 10.0.0.1 --fport=9995 -fworkers 2 -freuse=true -saddr=[::1] --sport 6344 \
         -kafka.brokers h:1 -kafka.topic t3 -kafka.srv _k._tcp.example -kafka.tls=1 \
         -kafka.sasl=F -kafka.hashing -kafka.key SrcAS,DstAS -proto.fixedlen \
         -kafka.version 2.1.1 -kafka.log.err=false -metrics.path /m \
         -metrics.max_exporters 7 --state-dir /tmp/sd",
    );
    assert_eq!(
        s.netflow.binds[0].address,
        BindAddr::Ip("10.0.0.1".parse().unwrap())
    );
    assert_eq!((s.netflow.port, s.netflow.binds[0].sockets), (9995, 2));
    assert!(s.netflow.reuseport);
    assert_eq!(
        s.sflow.binds[0].address,
        BindAddr::Ip("::1".parse().unwrap())
    );
    assert_eq!(s.sflow.port, 6344);
    assert_eq!(s.kafka.brokers, vec!["h:1"]);
    assert_eq!(
        (s.kafka.topic.as_str(), s.kafka.srv.as_str()),
        ("t3", "_k._tcp.example")
    );
    assert!(s.kafka.tls && !s.kafka.sasl && s.kafka.varint);
    assert_eq!(s.output.sink, SinkSettings::Kafka);
    assert_eq!(s.output.format, Format::Pb);
    assert_eq!(s.metrics.path, "/m");
    assert_eq!(s.metrics.max_exporters, 7);
    assert_eq!(s.state_dir, Some("/tmp/sd".into()));
    let s = run("-kafka.out.brokers h:2 -kafka.out.srv x -kafka.out.topic t2");
    assert_eq!(
        (s.kafka.brokers[0].as_str(), s.kafka.topic.as_str()),
        ("h:2", "t2")
    );
    // values that look like flags are values
    let e = err("-faddr -fport");
    assert_eq!(e.setting, "-faddr (netflow.address)");
    let s = run("-faddr= -metrics.addr=off");
    assert_eq!(s.netflow.binds[0].address, BindAddr::Any);
    assert!(!s.metrics.enabled());
    assert_eq!(err("-fport -1").setting, "-fport (netflow.port)");
    assert_eq!(
        run("-kafka.out.brokers h:1 -kafka.key=SrcAS").kafka.brokers,
        ["h:1"]
    );
    for (a, want) in [
        ("--version", Command::Version),
        ("-version", Command::Version),
        ("--v", Command::Version),
        ("-h", Command::Help),
        ("-help", Command::Help),
        ("--h=true", Command::Help),
        ("--print-default-config", Command::PrintDefaultConfig),
        ("-print-default-config=t", Command::PrintDefaultConfig),
    ] {
        let got = parse_args(&args(a)).unwrap();
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "{a}");
    }
    assert!(matches!(
        parse_args(&args("-v=false -check-config=1")),
        Ok(Command::CheckConfig(_))
    ));
}

#[test]
fn later_flags_win_and_errors_name_what_was_typed() {
    assert_eq!(run("-fport 1 -fport 2").netflow.port, 2);
    assert_eq!(
        run("-kafka.out.brokers a:1 -kafka.brokers b:2")
            .kafka
            .brokers,
        ["b:2"]
    );
    let e = err("-kafka.out.brokers a:1 -kafka.brokers nohost");
    assert_eq!(e.setting, "-kafka.brokers (kafka.brokers)");
    let e = err("-kafka.brokers nohost -kafka.out.brokers a:1 --kafka.out.topic=");
    assert_eq!(e.setting, "--kafka.out.topic (kafka.topic)");
    assert!(matches!(
        parse_args(&args("--check-config --check-config=false")),
        Ok(Command::Run(_))
    ));
}

#[test]
fn kafka_brokers_select_kafka() {
    let s = run("-kafka.out.brokers 10.0.0.1:9092");
    assert_eq!(s.output.sink, SinkSettings::Kafka);
    let s = run("-kafka.out.brokers 10.0.0.1:9092 -kafka=false");
    assert_eq!(s.output.sink, SinkSettings::Stdout);
    let s = run("-kafka.out.brokers 10.0.0.1:9092 --output f");
    assert_eq!(s.output.sink, SinkSettings::File("f".into()));
}

#[test]
fn invalid_values_name_the_setting() {
    let e = err("-fport 70000");
    assert!(e.setting.contains("-fport"), "{e}");
    let e = err("-fport abc");
    assert_eq!(e.setting, "-fport");
    assert!(err("--schema nope").to_string().contains("output.schema"));
    assert!(err("--format xml").to_string().contains("output.format"));
    assert!(err("-netflow=maybe").to_string().contains("-netflow"));
    assert!(err("-faddr not-an-ip").to_string().contains("-faddr"));
    assert!(err("-loglevel loud").to_string().contains("-loglevel"));
    assert!(err("-bogus").to_string().contains("-bogus"));
    assert!(err("stray").to_string().contains("stray"));
    assert!(err("-fport").to_string().contains("needs a value"));
    assert!(err("-netflow=false -sflow=false")
        .to_string()
        .contains("disabled"));
    assert!(err("-sport 2055").to_string().contains("sflow.port"));
    assert!(err("--config /nonexistent/x.toml")
        .to_string()
        .starts_with("--config"));
    assert!(err("-kafka.out.brokers nohost")
        .to_string()
        .contains("kafka.brokers"));
}

#[test]
fn error_lines_are_the_ones_printed_before_clap() {
    // exactly the lines the hand-written parser printed (main adds `coreflow: `, exit 2)
    for (a, want) in [
        (&["-bogus"][..], "-bogus: unknown flag (see --help)"),
        (
            &["--nosuchflag=3"],
            "--nosuchflag: unknown flag (see --help)",
        ),
        (
            &["stray"],
            "stray: unexpected argument (flags start with -; see --help)",
        ),
        (
            &["-"],
            "-: unexpected argument (flags start with -; see --help)",
        ),
        (
            &["--"],
            "--: unexpected argument (flags start with -; see --help)",
        ),
        (
            &["---x"],
            "---x: unexpected argument (flags start with -; see --help)",
        ),
        (&["-=x"], "-: unknown flag (see --help)"),
        (
            &["-netflow", "false"],
            "false: unexpected argument (flags start with -; see --help)",
        ),
        (&["-fport"], "-fport: needs a value"),
        (&["--faddr"], "--faddr: needs a value"),
        (&["-fport="], "-fport: \"\" is not an integer"),
        (&["-fport=abc"], "-fport: \"abc\" is not an integer"),
        (
            &["-netflow="],
            "-netflow: \"\" is not a boolean (true, false)",
        ),
        (
            &["-netflow=maybe"],
            "-netflow: \"maybe\" is not a boolean (true, false)",
        ),
        (
            &["-v=maybe"],
            "-v: \"maybe\" is not a boolean (true, false)",
        ),
        (
            &["-fport", "70000"],
            "-fport (netflow.port): 70000 is out of range (0 to 65535)",
        ),
        (
            &["-loglevel", "chatty"],
            "-loglevel (log.level): unknown level \"chatty\" (error, warn, info, debug, trace)",
        ),
        (
            &["replay"],
            "replay: no capture files given (coreflow replay FILE...)",
        ),
        (&["replay", "--format"], "--format needs a value"),
        (&["replay", "--schema"], "--schema needs a value"),
        (
            &["replay", "--format", "xml", "f"],
            "--format: unknown format \"xml\" (json, pb)",
        ),
        (
            &["replay", "--schema=nope", "f"],
            "--schema: unknown schema \"nope\" (goflow-v2, goflow-v3, goflow2)",
        ),
        (
            &["replay", "--no-such-flag=1", "f"],
            "replay: unknown option --no-such-flag=1",
        ),
        (&["replay", "--"], "replay: unknown option --"),
        (
            &["-fport", "0", "replay", "f"],
            "replay: unexpected argument (flags start with -; see --help)",
        ),
    ] {
        assert_eq!(line(a), want, "{a:?}");
    }
}

#[test]
fn the_first_error_in_argv_order_wins() {
    assert_eq!(
        line(&["-help=maybe", "-bogus"]),
        "-help: \"maybe\" is not a boolean (true, false)"
    );
    assert_eq!(
        line(&["-bogus", "-help=maybe"]),
        "-bogus: unknown flag (see --help)"
    );
    assert_eq!(
        line(&["--help", "-bogus"]),
        "-bogus: unknown flag (see --help)"
    );
    assert_eq!(
        line(&["-fport", "abc", "-sport", "xyz"]),
        "-fport: \"abc\" is not an integer"
    );
    // values are read after help, version and the file
    assert!(matches!(
        parse_args(&args("-fport abc --help")),
        Ok(Command::Help)
    ));
    assert!(matches!(
        parse_args(&args("-netflow=maybe -v")),
        Ok(Command::Version)
    ));
    assert!(line(&["-netflow=maybe", "--config", "/nonexistent/x.toml"]).starts_with("--config: "));
    assert_eq!(
        line(&["replay", "--format", "xml", "--help"]),
        "--format: unknown format \"xml\" (json, pb)"
    );
    assert_eq!(
        line(&["replay", "--bogus", "--help"]),
        "replay: unknown option --bogus"
    );
    assert!(matches!(
        parse_args(&args("replay --help --format xml --bogus")),
        Ok(Command::ReplayHelp)
    ));
}

#[test]
fn replay_parses() {
    let Command::Replay(o) = parse_args(&args("replay a.pcap")).unwrap() else {
        panic!()
    };
    assert_eq!(
        (o.format, o.schema, o.counters),
        (Format::Json, Schema::GoflowV2, false)
    );
    assert_eq!(o.files, vec![std::path::PathBuf::from("a.pcap")]);
    let a = "replay -format=pb a.pcap ---schema goflow2 --counters -";
    let Ok(Command::Replay(o)) = parse_args(&args(a)) else {
        panic!("{:?}", parse_args(&args(a)))
    };
    assert_eq!(
        (o.format, o.schema, o.counters),
        (Format::Pb, Schema::Goflow2, true)
    );
    let files: Vec<_> = o.files.iter().map(|f| f.display().to_string()).collect();
    assert_eq!(files, ["a.pcap", "-"]);
    assert_eq!(
        line(&["replay", "-b.pcap"]),
        "replay: unknown option -b.pcap"
    );
    // a value is the next argument, whatever it looks like
    assert_eq!(
        line(&["replay", "--format", "-x", "f"]),
        "--format: unknown format \"-x\" (json, pb)"
    );
    for h in ["-h", "--help", "-help", "--h"] {
        assert!(matches!(
            parse_args(&args(&format!("replay {h}"))),
            Ok(Command::ReplayHelp)
        ));
    }
}

#[test]
fn cluster_settings() {
    let s = run("");
    assert_eq!(s.cluster.templates_topic, None);
    assert_eq!(
        s.cluster.load_timeout,
        std::time::Duration::from_millis(5000)
    );
    assert!(valid_instance(&s.cluster.instance_name()));
    let s = run("-cluster.instance edge-1 -cluster.templates_topic flow-templates");
    assert_eq!(s.cluster.instance_name(), "edge-1");
    assert_eq!(s.cluster.templates_topic.as_deref(), Some("flow-templates"));
    assert_eq!(
        err("-cluster.instance a/b").setting,
        "-cluster.instance (cluster.instance)"
    );
    assert_eq!(
        err("-cluster.templates_topic a:b").setting,
        "-cluster.templates_topic (cluster.templates_topic)"
    );
    assert_eq!(
        err("-cluster.load_timeout_ms -1").setting,
        "-cluster.load_timeout_ms (cluster.load_timeout_ms)"
    );
}
