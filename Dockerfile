# coreflow container image: build in rust:1-bookworm, run in debian:bookworm-slim as a
# non-root user.
#
#   docker build -t coreflow .
#   docker run --rm --network host coreflow                       # the default config
#   docker run --rm --network host -v $PWD/my.toml:/etc/coreflow/coreflow.toml:ro coreflow
#
# --network host keeps the exporters' source addresses (coreflow steers and keys by them);
# with -p 2055:2055/udp Docker's NAT may rewrite them. Not built in CI (see docs/deployment.md).

FROM rust:1-bookworm AS build
# librdkafka (bundled, built by rdkafka-sys with configure + make) needs OpenSSL headers
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY src src
# flowgen, a workspace member: --bins builds target/release/coreflow and target/release/flowgen
COPY crates crates
COPY benches benches
COPY examples examples
COPY tests tests
COPY tuning tuning
RUN cargo build --release --locked --bins \
    && install -D -m 0755 target/release/coreflow /out/usr/bin/coreflow \
    && install -D -m 0755 target/release/flowgen /out/usr/bin/coreflow-flowgen \
    && install -D -m 0644 tuning/default.toml /out/etc/coreflow/coreflow.toml

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system coreflow \
    && useradd --system --gid coreflow --home-dir /var/lib/coreflow --create-home \
       --shell /usr/sbin/nologin coreflow
COPY --from=build /out/ /
USER coreflow
# as in systemd/coreflow.service: freed pages go back to the OS at once, not after mimalloc's
# 1 s delay, so that the heap stays under [limits] max_template_bytes through a template flood
ENV MIMALLOC_PURGE_DELAY=0
WORKDIR /var/lib/coreflow
# NetFlow/IPFIX, sFlow, metrics (/metrics, /templates, /healthz)
EXPOSE 2055/udp 6343/udp 8080/tcp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["/usr/bin/coreflow"]
CMD ["--config", "/etc/coreflow/coreflow.toml"]
