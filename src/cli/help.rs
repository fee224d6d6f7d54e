//! `coreflow --help`: a manual page around the option list clap generates from the flag
//! table (`flags::FLAGS`), so that every flag, alias and TOML key is listed exactly once and
//! cannot drift from what the parser accepts.
//!
//! The prose sections (NAME, SYNOPSIS, DESCRIPTION before the options; COMMANDS, FILES,
//! ENVIRONMENT, SIGNALS, EXIT STATUS, EXAMPLES, SEE ALSO after) are written here; a test checks that each
//! section heading is on a line of its own and that every flag appears.

/// Where the generated parts go.
pub(super) const TEMPLATE: &str = "{before-help}OPTIONS\n{all-args}{after-help}";

pub(super) const BEFORE_OPTIONS: &str = "\
NAME
    coreflow - thread-per-core NetFlow v5/v9, IPFIX and sFlow v5 collector

SYNOPSIS
    coreflow [OPTIONS]
    coreflow --config FILE [OPTIONS]
    coreflow --check-config [--config FILE] [OPTIONS]
    coreflow --print-default-config
    coreflow replay [--config FILE] [--format json|pb] [--schema NAME] [--counters] FILE...
    coreflow -h | --help | -v | --version

DESCRIPTION
    coreflow receives flow datagrams from routers and switches, decodes them on worker
    threads pinned to cores (one per UDP socket, SO_REUSEPORT, exporters steered to a
    worker by source address) and writes every flow as GoFlow-compatible protobuf or JSON
    lines to stdout, a file or Kafka. Both listeners detect NetFlow v5/v9, IPFIX and sFlow
    v5 per datagram. Settings come from defaults, then the TOML file (--config), then the
    flags: a flag beats the file, the file beats the default. Every setting is validated
    before any socket is opened.

    Flags take one or two dashes, `-flag value` or `-flag=value`: GoFlow v2/v3 flag names
    and spellings work unchanged (`-fport 2055`, `-kafka.out.brokers HOST:PORT`), and so do
    goflow2's (`-listen URL,...`, `-transport kafka`, `-format bin`: docs/goflow2.md). A boolean
    is set with `-flag` and cleared with `-flag=false`; it never takes the next argument.
    The TOML key of each flag is in brackets; `coreflow --print-default-config` shows every
    key. Core lists, several addresses per listener, receive buffers, batching, decoder
    limits and the Kafka producer's tuning (compression, linger, acks, queue size, timeouts,
    librdkafka properties) are TOML-only: [netflow] cores, [[netflow.bind]], [receive],
    [batch], [limits], [kafka], [kafka.librdkafka].";

pub(super) const AFTER_OPTIONS: &str = "\
COMMANDS
    replay [--config FILE] [--format json|pb] [--schema NAME] [--counters] FILE...
                           decode the flow datagrams of pcap/pcapng captures and write
                           every flow to stdout (coreflow replay --help)

FILES
    /etc/coreflow/coreflow.toml           settings read by the systemd unit
    /lib/systemd/system/coreflow.service  the systemd unit (Type=notify)
    /usr/lib/sysctl.d/60-coreflow.conf    net.core.rmem_max, netdev_max_backlog
    /usr/share/doc/coreflow/              README, tuning guide, presets and a logrotate
                                          example (examples/)
    /usr/share/coreflow/proto/            the output schemas (.proto)
    /usr/share/coreflow/measure.sh        loss-free rate on loopback (tuning/README.md)

ENVIRONMENT
    KAFKA_SASL_USER, KAFKA_SASL_PASS      SASL credentials (-kafka.sasl), unless
                                          kafka.sasl_username / sasl_password_file
    COREFLOW_RESOLVER=IP:PORT             DNS server for -kafka.out.srv (default: the first
                                          nameserver of /etc/resolv.conf)
    NOTIFY_SOCKET                         set by systemd: READY=1 is sent once every
                                          listener is bound, STOPPING=1 on shutdown

SIGNALS
    SIGTERM, SIGINT        stop reading, drain what the sockets hold, flush every batch
                           (Kafka: wait up to kafka.shutdown_timeout_ms, then count what
                           is left as kafka_dropped_shutdown), exit
    second SIGTERM/SIGINT  exit at once, status 1
    SIGHUP                 reopen the output file (output.file) between two batches, after
                           logrotate or an archive job renamed it (systemctl reload); with
                           Kafka or stdout it is logged and ignored

EXIT STATUS
    0   stopped by SIGTERM/SIGINT with every flow received delivered or counted as lost
        (messages Kafka did not take before kafka.shutdown_timeout_ms, e.g. during a
        broker outage: logged at warn, in the exit summary and the metrics);
        --check-config, --help and --version succeeded
    1   runtime failure: could not start (a port in use), the output failed for good (a
        broken pipe, a failed last flush), a worker or the output thread stopped
        unexpectedly, a second signal
    2   invalid setting or command line: one line naming it, before any socket is opened

EXAMPLES
    coreflow                               NetFlow/IPFIX :2055, sFlow :6343, JSON lines
    coreflow -fworkers 4 --format pb --output /var/lib/coreflow/flows.pb
    coreflow -kafka.out.brokers 10.0.0.1:9092 -kafka.out.topic flow-messages
    coreflow --check-config --config /etc/coreflow/coreflow.toml
    coreflow --print-default-config > coreflow.toml
    coreflow replay capture.pcap | head

SEE ALSO
    README.md and tuning/README.md (installed under /usr/share/doc/coreflow/),
    coreflow-flowgen --help (flowgen, the load generator), systemctl(1), sysctl.d(5)";

/// `coreflow replay --help`: the usage line, what it does, then the generated arguments.
pub(super) const REPLAY_TEMPLATE: &str = "{usage}\n\n{about}\n\n{all-args}";

pub(super) const REPLAY_USAGE: &str =
    "coreflow replay [--config FILE] [--format json|pb] [--schema goflow-v2|goflow-v3|goflow2] [--counters] FILE...";

pub(super) const REPLAY_ABOUT: &str = "\
Decodes the NetFlow v5/v9, IPFIX and sFlow v5 datagrams of pcap/pcapng captures (protocol
detected from each UDP payload, template state per exporter IP, in file order) and writes
every flow to stdout: JSON lines (default) or varint-length-delimited protobuf.
Undecodable datagrams are counted by reason on stderr; they never stop the run.";

#[cfg(test)]
mod tests {
    use crate::cli::flags::{help, replay_help};
    use crate::cli::flags::{Target, FLAGS, REPLAY_FLAGS};

    #[test]
    fn help_lists_every_flag_and_section() {
        let text = help();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "FILES",
            "ENVIRONMENT",
            "SIGNALS",
            "EXIT STATUS",
            "COMMANDS",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(text.lines().any(|l| l == section), "{section}:\n{text}");
        }
        for f in FLAGS {
            for name in f.names {
                let shown = match name.len() {
                    1 => format!("-{name}"),
                    _ => format!("--{name}"),
                };
                assert!(text.contains(&shown), "{shown} is not in the help:\n{text}");
            }
            if let Target::Key(key) = f.target {
                assert!(text.contains(&format!("[{key}]")), "{key}");
            }
        }
        assert!(text.contains("replay"));
        let text = replay_help();
        for f in REPLAY_FLAGS {
            assert!(text.contains(&format!("--{}", f.names[0])), "{text}");
        }
        assert!(text.contains("FILE") && text.contains("pcapng"), "{text}");
    }
}
