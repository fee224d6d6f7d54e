//! The flags: one table per command (every spelling, boolean or valued, what it sets, its
//! help line) and the clap definitions built from it, help text included.
//!
//! The tables are the single list of what the command line accepts: `lex` reads argv against
//! them, clap parses against [`command`], and the generated `--help` lists them, so a flag
//! cannot be accepted without being documented or the other way round. The collector's flags
//! keep GoFlow v2/v3's names (`-fport`, `-kafka.out.brokers`, `-proto.fixedlen`, ...); each
//! valued or boolean flag of the collector sets one TOML key ([`Target::Key`]) or is one of
//! the informational switches.

use super::goflow2::G2;
use super::help as text;
use clap::{Arg, ArgAction};

/// A boolean (`-netflow`, `-netflow=false`) or a flag that takes a value (`-fport 2055`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Value,
}

/// What a flag of the collector sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// A TOML key: the flag beats the file.
    Key(&'static str),
    Config,
    CheckConfig,
    PrintDefaultConfig,
    PrintMappingProto,
    Help,
    Version,
    /// Accepted so that GoFlow unit files keep working; no effect.
    Ignored,
    /// A goflow2 flag, read by `goflow2` (it may set several keys).
    Goflow2(G2),
}

/// What a flag of `coreflow replay` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReplayTarget {
    Config,
    Format,
    Schema,
    Counters,
    Help,
}

/// One flag and every spelling of it.
#[derive(Debug)]
pub(super) struct Flag<T> {
    /// Names without dashes. The first is clap's id and `--long` name; a one-letter name is
    /// also `-x`; the others are aliases (listed in the help text as "also --name").
    pub names: &'static [&'static str],
    pub kind: Kind,
    pub target: T,
    /// The value's placeholder in the help (`BOOL` for booleans).
    pub value: &'static str,
    pub heading: Option<&'static str>,
    pub help: &'static str,
}

const LISTEN: Option<&str> = Some("Listeners (GoFlow)");
const OUTPUT: Option<&str> = Some("Output");
const KAFKA: Option<&str> = Some("Kafka (GoFlow)");
const TELEMETRY: Option<&str> = Some("Metrics and logging");
const GENERAL: Option<&str> = Some("Configuration and information");
const CLUSTER: Option<&str> = Some("Cluster (several collectors)");
const GOFLOW2: Option<&str> = Some("goflow2 (docs/goflow2.md)");

const fn bool_flag<T>(
    names: &'static [&'static str],
    target: T,
    heading: Option<&'static str>,
    help: &'static str,
) -> Flag<T> {
    Flag {
        names,
        kind: Kind::Bool,
        target,
        value: "BOOL",
        heading,
        help,
    }
}

const fn value_flag<T>(
    names: &'static [&'static str],
    target: T,
    value: &'static str,
    heading: Option<&'static str>,
    help: &'static str,
) -> Flag<T> {
    Flag {
        names,
        kind: Kind::Value,
        target,
        value,
        heading,
        help,
    }
}

use Target::Key;

/// The collector's flags: GoFlow v2.1.0's, GoFlow v3's, then coreflow's own.
pub(super) const FLAGS: &[Flag<Target>] = &[
    bool_flag(
        &["netflow"],
        Key("netflow.enabled"),
        LISTEN,
        "enable the NetFlow v5/v9 and IPFIX listener (true)",
    ),
    value_flag(
        &["faddr"],
        Key("netflow.address"),
        "ADDR",
        LISTEN,
        "its address; \"\" or \":\" = every IPv4 and IPv6\naddress (\"\")",
    ),
    value_flag(
        &["fport"],
        Key("netflow.port"),
        "PORT",
        LISTEN,
        "its port, 0 picks a free one, logged (2055)",
    ),
    value_flag(
        &["fworkers"],
        Key("netflow.sockets"),
        "N",
        LISTEN,
        "its sockets, one pinned worker thread each (1)",
    ),
    bool_flag(
        &["freuse"],
        Key("netflow.reuseport"),
        LISTEN,
        "SO_REUSEPORT even with one socket, to share the\nport (false)",
    ),
    bool_flag(
        &["sflow"],
        Key("sflow.enabled"),
        LISTEN,
        "enable the sFlow v5 listener (true)",
    ),
    value_flag(
        &["saddr"],
        Key("sflow.address"),
        "ADDR",
        LISTEN,
        "its address (\"\")",
    ),
    value_flag(
        &["sport"],
        Key("sflow.port"),
        "PORT",
        LISTEN,
        "its port (6343)",
    ),
    value_flag(
        &["sworkers"],
        Key("sflow.sockets"),
        "N",
        LISTEN,
        "its sockets (1)",
    ),
    bool_flag(
        &["sreuse"],
        Key("sflow.reuseport"),
        LISTEN,
        "SO_REUSEPORT even with one socket (false)",
    ),
    value_flag(
        &["format"],
        Target::Goflow2(G2::Format),
        "json|pb|bin",
        OUTPUT,
        "JSON lines, or protobuf (json; pb with Kafka);\n\
         bin is goflow2's: pb, goflow2 schema, varint\n\
         framing, unless --schema or -proto.fixedlen\n\
         say otherwise [output.format]",
    ),
    value_flag(
        &["schema"],
        Key("output.schema"),
        "NAME",
        OUTPUT,
        "goflow-v2 (GoFlow v2 FlowMessage), goflow-v3,\ngoflow2 (goflow-v2)",
    ),
    value_flag(
        &["output"],
        Key("output.file"),
        "FILE",
        OUTPUT,
        "append to FILE instead of writing to stdout",
    ),
    bool_flag(
        &["output.renormalize"],
        Key("output.renormalize"),
        OUTPUT,
        "bytes and packets times the flow's sampling rate,\n\
         which then reads 1 (pmacct's renormalize) (false)",
    ),
    bool_flag(
        &["output.instance_field"],
        Key("output.instance_field"),
        OUTPUT,
        "the instance name (-cluster.instance) in every\n\
         message: field 1999, JSON CollectorInstance (false)",
    ),
    value_flag(
        &["output.rotate_bytes"],
        Key("output.rotate_bytes"),
        "BYTES",
        OUTPUT,
        "rotate the output file before it passes BYTES\n(0 = no size limit) (0)",
    ),
    value_flag(
        &["output.rotate_interval_s"],
        Key("output.rotate_interval_s"),
        "S",
        OUTPUT,
        "rotate the output file every S seconds (0 = no\ntime limit) (0)",
    ),
    value_flag(
        &["output.rotate_pattern"],
        Key("output.rotate_pattern"),
        "PATTERN",
        OUTPUT,
        "rotated file name: {path} {time} {unix} {seq}\n({path}.{time})",
    ),
    bool_flag(
        &["kafka"],
        Key("kafka.enabled"),
        KAFKA,
        "publish to Kafka when brokers or an SRV record are\ngiven, unless --output is set (true)",
    ),
    value_flag(
        &["kafka.out.brokers", "kafka.brokers"],
        Key("kafka.brokers"),
        "LIST",
        KAFKA,
        "brokers, comma-separated host:port",
    ),
    value_flag(
        &["kafka.out.srv", "kafka.srv"],
        Key("kafka.srv"),
        "NAME",
        KAFKA,
        "brokers from this DNS SRV record",
    ),
    value_flag(
        &["kafka.out.topic", "kafka.topic"],
        Key("kafka.topic"),
        "TOPIC",
        KAFKA,
        "topic (flow-messages)",
    ),
    bool_flag(
        &["kafka.tls"],
        Key("kafka.tls"),
        KAFKA,
        "TLS to the brokers (false)",
    ),
    bool_flag(
        &["kafka.sasl"],
        Key("kafka.sasl"),
        KAFKA,
        "SASL/PLAIN, credentials from KAFKA_SASL_USER and\nKAFKA_SASL_PASS (false)",
    ),
    value_flag(
        &["kafka.tls.ca"],
        Key("kafka.tls_ca"),
        "FILE",
        KAFKA,
        "CA of the brokers' certificates (PEM); turns\nTLS on (the system's CAs)",
    ),
    value_flag(
        &["kafka.tls.cert"],
        Key("kafka.tls_cert"),
        "FILE",
        KAFKA,
        "client certificate (PEM) for mTLS, with\n--kafka.tls.key",
    ),
    value_flag(
        &["kafka.tls.key"],
        Key("kafka.tls_key"),
        "FILE",
        KAFKA,
        "the client certificate's private key (PEM)",
    ),
    bool_flag(
        &["kafka.tls.verify_hostname"],
        Key("kafka.tls_verify_hostname"),
        KAFKA,
        "check the broker's name against its certificate\n(true; false is logged at warn)",
    ),
    value_flag(
        &["kafka.sasl.mechanism"],
        Key("kafka.sasl_mechanism"),
        "MECH",
        KAFKA,
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; turns\nSASL on (PLAIN)",
    ),
    value_flag(
        &["kafka.sasl.username"],
        Key("kafka.sasl_username"),
        "USER",
        KAFKA,
        "SASL user (KAFKA_SASL_USER)",
    ),
    value_flag(
        &["kafka.sasl.password_file"],
        Key("kafka.sasl_password_file"),
        "FILE",
        KAFKA,
        "file holding the SASL password, readable only by\ncoreflow (KAFKA_SASL_PASS)",
    ),
    bool_flag(
        &["kafka.hashing"],
        Key("kafka.hashing"),
        KAFKA,
        "key each message by the --kafka.key fields (false)",
    ),
    value_flag(
        &["kafka.key"],
        Key("kafka.key"),
        "FIELD,...",
        KAFKA,
        "key fields, GoFlow names (SamplerAddress,DstAS);\nTOML also takes \"by-exporter\"",
    ),
    value_flag(
        &["kafka.messages"],
        Key("kafka.messages"),
        "MODE",
        KAFKA,
        "per-flow (one flow per Kafka message, GoFlow's) or\nbatched (many varint-delimited flows per message,\nfor ClickHouse's Protobuf format) (per-flow)",
    ),
    value_flag(
        &["kafka.producers"],
        Key("kafka.producers"),
        "N",
        KAFKA,
        "output threads, each with its own Kafka producer (1)",
    ),
    bool_flag(
        &["kafka.instance_header"],
        Key("kafka.instance_header"),
        KAFKA,
        "the header coreflow-instance (-cluster.instance)\non every Kafka record (false; true when batched)",
    ),
    value_flag(
        &["cluster.instance"],
        Key("cluster.instance"),
        "NAME",
        CLUSTER,
        "this collector's name, on its flows and shared\ntemplates (the host name)",
    ),
    value_flag(
        &["cluster.templates_topic"],
        Key("cluster.templates_topic"),
        "TOPIC",
        CLUSTER,
        "compacted Kafka topic templates and sampling rates\nare shared through (unset: not shared)",
    ),
    value_flag(
        &["cluster.load_timeout_ms"],
        Key("cluster.load_timeout_ms"),
        "MS",
        CLUSTER,
        "at start, read the templates topic for at most this\nlong before reporting ready (5000)",
    ),
    bool_flag(
        &["proto.fixedlen"],
        Key("kafka.framing"),
        KAFKA,
        "varint length prefix before each message (false)",
    ),
    value_flag(
        &["kafka.version"],
        Target::Ignored,
        "V",
        KAFKA,
        "accepted and ignored (GoFlow v3 unit files)",
    ),
    bool_flag(
        &["kafka.log.err"],
        Target::Ignored,
        KAFKA,
        "accepted and ignored (GoFlow v3 unit files)",
    ),
    value_flag(
        &["metrics.addr"],
        Key("metrics.address"),
        "ADDR",
        TELEMETRY,
        "HTTP endpoint for metrics, templates and /healthz\n\
         (:8080); \"\" or off disables it; the bound address\n\
         is logged",
    ),
    value_flag(
        &["metrics.path"],
        Key("metrics.path"),
        "PATH",
        TELEMETRY,
        "Prometheus text format (/metrics)",
    ),
    value_flag(
        &["templates.path"],
        Key("metrics.templates_path"),
        "PATH",
        TELEMETRY,
        "templates and sampling rates as JSON\n(/templates)",
    ),
    value_flag(
        &["metrics.maxexporters", "metrics.max_exporters"],
        Key("metrics.max_exporters"),
        "N",
        TELEMETRY,
        "exporters with their own label values, the rest\nare router=\"other\" (1000)",
    ),
    value_flag(
        &["metrics.web_config", "web.config.file"],
        Key("metrics.web_config"),
        "FILE",
        TELEMETRY,
        "TLS, client CA and basic-auth users for the\nendpoint (exporter-toolkit format)",
    ),
    value_flag(
        &["loglevel"],
        Key("log.level"),
        "LEVEL",
        TELEMETRY,
        "error, warn, info, debug, trace (info)",
    ),
    value_flag(
        &["logfmt"],
        Key("log.format"),
        "normal|json",
        TELEMETRY,
        "log line format on stderr (normal)",
    ),
    value_flag(
        &["listen"],
        Target::Goflow2(G2::Listen),
        "URL,...",
        GOFLOW2,
        "netflow://HOST:PORT?count=N,sflow://...: the\n\
         listeners (nfl, flow = netflow); count or\n\
         workers = sockets; one not named is off\n\
         [netflow.*, sflow.*]",
    ),
    value_flag(
        &["transport"],
        Target::Goflow2(G2::Transport),
        "kafka|file",
        GOFLOW2,
        "where flows go; kafka with goflow2's default\n\
         brokers [kafka.enabled, output.file]",
    ),
    value_flag(
        &["transport.file"],
        Target::Goflow2(G2::File),
        "FILE",
        GOFLOW2,
        "append to FILE (\"\" = stdout) [output.file]",
    ),
    value_flag(
        &["transport.kafka.brokers"],
        Target::Goflow2(G2::Kafka("kafka.brokers")),
        "LIST",
        GOFLOW2,
        "brokers, host:port,... [kafka.brokers]",
    ),
    value_flag(
        &["transport.kafka.topic"],
        Target::Goflow2(G2::Kafka("kafka.topic")),
        "TOPIC",
        GOFLOW2,
        "topic [kafka.topic]",
    ),
    value_flag(
        &["transport.kafka.srv"],
        Target::Goflow2(G2::Kafka("kafka.srv")),
        "NAME",
        GOFLOW2,
        "brokers from this DNS SRV record [kafka.srv]",
    ),
    bool_flag(
        &["transport.kafka.tls"],
        Target::Goflow2(G2::Kafka("kafka.tls")),
        GOFLOW2,
        "TLS to the brokers [kafka.tls]",
    ),
    value_flag(
        &["transport.kafka.tls.ca"],
        Target::Goflow2(G2::Kafka("kafka.tls_ca")),
        "FILE",
        GOFLOW2,
        "CA of the brokers' certificates [kafka.tls_ca]",
    ),
    value_flag(
        &["transport.kafka.tls.client"],
        Target::Goflow2(G2::Kafka("kafka.tls_cert")),
        "FILE",
        GOFLOW2,
        "client certificate [kafka.tls_cert]",
    ),
    value_flag(
        &["transport.kafka.tls.key"],
        Target::Goflow2(G2::Kafka("kafka.tls_key")),
        "FILE",
        GOFLOW2,
        "client key [kafka.tls_key]",
    ),
    value_flag(
        &["transport.kafka.sasl"],
        Target::Goflow2(G2::Sasl),
        "MECH",
        GOFLOW2,
        "none, plain, scram-sha256 or scram-sha512, with\n\
         KAFKA_SASL_USER and KAFKA_SASL_PASS [kafka.sasl,\n\
         kafka.sasl_mechanism]",
    ),
    bool_flag(
        &["transport.kafka.hashing"],
        Target::Goflow2(G2::Hashing),
        GOFLOW2,
        "key each message by its exporter, unless\n\
         kafka.key says otherwise [kafka.hashing,\n\
         kafka.key]",
    ),
    value_flag(
        &["transport.kafka.compression"],
        Target::Goflow2(G2::Compression),
        "CODEC",
        GOFLOW2,
        "none, gzip, snappy, lz4, zstd\n\
         [kafka.compression]",
    ),
    value_flag(
        &["transport.kafka.version"],
        Target::Ignored,
        "V",
        GOFLOW2,
        "accepted and ignored (librdkafka negotiates)",
    ),
    value_flag(
        &["addr"],
        Target::Goflow2(G2::Key("metrics.address")),
        "ADDR",
        GOFLOW2,
        "the HTTP endpoint, as --metrics.addr\n\
         [metrics.address]",
    ),
    value_flag(
        &["produce"],
        Target::Goflow2(G2::Produce),
        "sample",
        GOFLOW2,
        "sample only: one message per flow",
    ),
    value_flag(
        &["mapping"],
        Target::Goflow2(G2::Mapping),
        "\"\"",
        GOFLOW2,
        "only empty: goflow2 mapping files are not read\n(use [[mapping]] in the TOML file)",
    ),
    value_flag(
        &["config"],
        Target::Config,
        "FILE",
        GENERAL,
        "read settings from this TOML file",
    ),
    value_flag(
        &["state-dir"],
        Key("state_dir"),
        "DIR",
        GENERAL,
        "keep NetFlow v9/IPFIX templates and sampling rates\n\
         in DIR across restarts and crashes (none)",
    ),
    bool_flag(
        &["check-config"],
        Target::CheckConfig,
        GENERAL,
        "validate everything (the core lists against this\n\
         machine too), print the effective settings as\n\
         TOML, exit 0",
    ),
    bool_flag(
        &["print-default-config"],
        Target::PrintDefaultConfig,
        GENERAL,
        "print every TOML key with its default and a\ncomment, exit 0",
    ),
    bool_flag(
        &["print-mapping-proto"],
        Target::PrintMappingProto,
        GENERAL,
        "print the .proto lines of the [[mapping]] fields\n\
         for the selected schema's FlowMessage, exit 0",
    ),
    bool_flag(&["help", "h"], Target::Help, GENERAL, "this text"),
    bool_flag(
        &["version", "v"],
        Target::Version,
        GENERAL,
        "print the version (`coreflow X.Y.Z`), exit 0",
    ),
];

/// `coreflow replay`'s flags.
pub(super) const REPLAY_FLAGS: &[Flag<ReplayTarget>] = &[
    value_flag(
        &["config"],
        ReplayTarget::Config,
        "FILE",
        None,
        "apply the collector config's [[mapping]] entries,\n[output] renormalize and instance_field",
    ),
    value_flag(
        &["format"],
        ReplayTarget::Format,
        "json|pb",
        None,
        "JSON lines (json), or varint-length-delimited\nprotobuf (json)",
    ),
    value_flag(
        &["schema"],
        ReplayTarget::Schema,
        "NAME",
        None,
        "goflow-v2, goflow-v3, goflow2 (goflow-v2)",
    ),
    bool_flag(
        &["counters"],
        ReplayTarget::Counters,
        None,
        "also write sFlow counter records (false)",
    ),
    bool_flag(&["help", "h"], ReplayTarget::Help, None, "this text"),
];

/// The id of `replay`'s file arguments.
pub(super) const FILES: &str = "FILE";

impl Flag<Target> {
    /// The help text, with the TOML key the flag sets and its other spellings.
    fn help_text(&self) -> String {
        let mut text = match self.target {
            Key(key) => format!("{} [{key}]", self.help),
            _ => self.help.to_string(),
        };
        let aliases: Vec<String> = self.names[1..]
            .iter()
            .filter(|n| n.len() > 1)
            .map(|n| format!("--{n}"))
            .collect();
        if !aliases.is_empty() {
            text.push_str(&format!("\nalso {}", aliases.join(", ")));
        }
        text
    }
}

fn arg<T>(f: &Flag<T>, help: String) -> Arg {
    let mut a = Arg::new(f.names[0])
        .long(f.names[0])
        .action(ArgAction::Append)
        .value_name(f.value)
        .help(help);
    if let Some(h) = f.heading {
        a = a.help_heading(h);
    }
    for name in &f.names[1..] {
        let mut chars = name.chars();
        a = match (chars.next(), chars.next()) {
            (Some(c), None) => a.short(c),
            _ => a.alias(*name),
        };
    }
    match f.kind {
        Kind::Value => a.num_args(1).allow_hyphen_values(true),
        Kind::Bool => a
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true"),
    }
}

/// The whole command line as clap sees it, help text included.
pub(super) fn command() -> clap::Command {
    let replay = clap::Command::new("replay")
        .about(text::REPLAY_ABOUT)
        .override_usage(text::REPLAY_USAGE)
        .help_template(text::REPLAY_TEMPLATE)
        .term_width(0)
        .disable_help_flag(true)
        .hide(true)
        .args(REPLAY_FLAGS.iter().map(|f| arg(f, f.help.to_string())))
        .arg(
            Arg::new(FILES)
                .help("pcap or pcapng capture files, read in order")
                .num_args(0..)
                .action(ArgAction::Append),
        );
    clap::Command::new("coreflow")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .help_template(text::TEMPLATE)
        // the help texts carry their own line breaks; clap would otherwise move a whole
        // group's help below its flags as soon as one line is long
        .term_width(0)
        .before_help(text::BEFORE_OPTIONS)
        .after_help(text::AFTER_OPTIONS)
        .args(FLAGS.iter().map(|f| arg(f, f.help_text())))
        .subcommand(replay)
}

/// `coreflow --help` (and `-h`).
pub fn help() -> String {
    let text = command().render_help().to_string();
    text.trim_end().to_string()
}

/// `coreflow replay --help` (and `-h`).
pub fn replay_help() -> String {
    let mut cmd = command();
    let text = match cmd.find_subcommand_mut("replay") {
        Some(replay) => replay.render_help().to_string(),
        None => String::new(),
    };
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::raw::RawConfig;

    #[test]
    fn clap_accepts_the_tables() {
        command().debug_assert();
        let mut names: Vec<&str> = FLAGS.iter().flat_map(|f| f.names.iter().copied()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a spelling names two flags");
        // every key a flag names is one `RawConfig::set` knows
        for f in FLAGS {
            if let Key(key) = f.target {
                RawConfig::default().set(key, f.names[0], "1").unwrap();
            }
        }
    }
}
