# syntax=docker/dockerfile:1.7
#
# The weir binary in a small runtime image.
#
#   docker build -t weir:dev .                       # from the repo root (the build context
#                                                    # must hold the whole cargo workspace)
#   docker run --rm weir:dev describe --topology product-filter
#
# Kept at the repo root (not in deploy/) because the build context has to be the workspace
# root, and Docker reads `.dockerignore` from the root of the context.

ARG RUST_VERSION=1.89
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------- builder
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

# libclang-dev: bindgen for librocksdb-sys; cmake: native deps that build with it.
# (gcc/g++, make, perl, zlib1g-dev are already in the rust image for librdkafka's build.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev cmake \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The registry, git checkouts and target dir are BuildKit cache mounts, so RocksDB's C++ is
# compiled once per builder, not once per source change. The target dir is not part of the
# image layer, so the binary is copied out inside the same RUN. Its debug info (line tables of
# weir's crates, std's) goes to /out/weir.debug, linked by a debuglink, so the image carries a
# 32 MB binary that still names functions in backtraces (66 MB with debug info; 524 MB before
# dependencies were built without it).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p weir-cli --bin weir \
 && install -D -m 0755 target/release/weir /out/weir \
 && objcopy --only-keep-debug /out/weir /out/weir.debug \
 && objcopy --strip-debug --add-gnu-debuglink=/out/weir.debug /out/weir

# ---------------------------------------------------------------------------- runtime
# bookworm-slim rather than distroless: the compose healthcheck uses bash's /dev/tcp (no curl
# in the image), and a shell helps when debugging a worker. Same glibc as the builder.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# libstdc++6 / libgcc-s1: RocksDB is C++; zlib1g: librdkafka's compression; ca-certificates
# for TLS to a managed Kafka if the binary is built with TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 libgcc-s1 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 weir \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/weir --shell /usr/sbin/nologin weir \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/weir

COPY --from=builder /out/weir /usr/local/bin/weir
COPY topologies/definitions /etc/weir/definitions
COPY topologies/schemas /etc/weir/schemas

ENV WEIR_STATE_DIR=/var/lib/weir \
    RUST_LOG=info
VOLUME ["/var/lib/weir"]
WORKDIR /var/lib/weir
USER 10001:10001
EXPOSE 8080

ENTRYPOINT ["weir"]
CMD ["--help"]
