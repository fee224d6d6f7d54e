//! The Kafka output: its counters ([`KafkaStats`], always compiled so the metrics and the
//! exit summary need no feature checks) and, with the `kafka` feature (default), the
//! producer itself ([`producer`]).
//!
//! The producer thread owns one rdkafka `BaseProducer`: for every batch it produces one
//! Kafka record per message, or batched records cut by [`chunks`], and polls for delivery
//! reports every loop; see [`producer`].

#[cfg(feature = "kafka")]
pub mod chunks;
#[cfg(feature = "kafka")]
pub mod producer;
#[cfg(feature = "kafka")]
pub mod security;

pub use crate::telemetry::kafka::{FailKind, KafkaStats};

/// The Kafka header that names the collector instance (`[cluster] instance`, else the host
/// name) on every record, flows and counter records alike, with `kafka.instance_header`:
/// consumers of a topic several collectors feed can tell them apart without a field in the
/// message.
pub const INSTANCE_HEADER: &str = "coreflow-instance";

/// librdkafka properties coreflow sets from its own settings (and their aliases); the
/// `[kafka.librdkafka]` passthrough refuses them.
pub const OWNED_PROPERTIES: &[(&str, &str)] = &[
    ("bootstrap.servers", "kafka.brokers"),
    ("metadata.broker.list", "kafka.brokers"),
    ("compression.codec", "kafka.compression"),
    ("compression.type", "kafka.compression"),
    ("linger.ms", "kafka.linger_ms"),
    ("queue.buffering.max.ms", "kafka.linger_ms"),
    ("batch.size", "kafka.batch_size"),
    ("acks", "kafka.acks"),
    ("request.required.acks", "kafka.acks"),
    ("enable.idempotence", "kafka.idempotence"),
    ("queue.buffering.max.messages", "kafka.queue_size"),
    ("message.timeout.ms", "kafka.message_timeout_ms"),
    ("delivery.timeout.ms", "kafka.message_timeout_ms"),
    ("security.protocol", "kafka.tls / kafka.sasl"),
    ("sasl.mechanism", "kafka.sasl_mechanism"),
    ("sasl.mechanisms", "kafka.sasl_mechanism"),
    ("sasl.username", "kafka.sasl_username (KAFKA_SASL_USER)"),
    (
        "sasl.password",
        "kafka.sasl_password_file (KAFKA_SASL_PASS)",
    ),
    ("ssl.ca.location", "kafka.tls_ca"),
    ("ssl.certificate.location", "kafka.tls_cert"),
    ("ssl.key.location", "kafka.tls_key"),
    (
        "ssl.endpoint.identification.algorithm",
        "kafka.tls_verify_hostname",
    ),
];
