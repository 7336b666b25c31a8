# Coffer: one image with every binary (coffer-identity, coffer-vault, coffer-devbroker, coffer).
# The command picks the binary:
#   docker run IMAGE coffer-identity            (the default command)
#   docker run IMAGE coffer-vault --shard-id shard-a ...
#   docker run IMAGE coffer --vault-addr host:7100 ls
# Configuration is by COFFER_* environment variables (docs/configuration.md); secrets come from
# files (COFFER_KEK_FILE, TLS files) mounted at run time, never from build arguments.
#
# Build (Docker or, on our machines, podman; see deployments/README.md):
#   docker build -t localhost/coffer:dev --build-arg VERSION=0.1.0 --build-arg GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
#   podman build --format docker -t localhost/coffer:dev --build-arg VERSION=0.1.0 --build-arg GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
# podman needs --format docker: its default OCI image format has no HEALTHCHECK and drops it.
# The binaries' debug info is not in the image; the `debug` stage holds it:
#   docker build --target debug -o type=local,dest=build/image-debug .   (same arguments; podman too)

ARG DEBIAN_IMAGE=debian:12
ARG RUNTIME_IMAGE=debian:12-slim

# ---------------------------------------------------------------------------------------------
# Builder: Debian 12 -dev packages (the build subset of scripts/deps), RelWithDebInfo, no tests.
# Layers from the least to the most often changed: packages, then only the sources the build
# reads (a change to docs/, helm/, deployments/, tests/ or any *.md rebuilds nothing; see also
# .dockerignore), then configure + build.
# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
# Parallel compile jobs.
ARG BUILD_JOBS=2
# libgtest-dev/libgmock-dev are needed even without tests: cmake/CofferDependencies.cmake runs
# find_package(GTest REQUIRED) unconditionally and coffer-devbroker links coffer::testing
# (static gtest archives, nothing of them reaches the runtime image).
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates \
      protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libabsl-dev \
      libpqxx-dev libpq-dev librdkafka-dev prometheus-cpp-dev libspdlog-dev libfmt-dev \
      nlohmann-json3-dev libcpp-httplib-dev libmicrohttpd-dev libcli11-dev libssl-dev libsodium-dev zlib1g-dev \
      libgtest-dev libgmock-dev golang-github-gogo-googleapis-dev; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
# What CMake reads to build the four binaries; tests/ and bench/ are left out (no tests are built,
# and the top-level CMakeLists.txt skips a missing bench/).
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY third_party/grpc/ third_party/grpc/
COPY proto/ proto/
COPY pkg/ pkg/
COPY services/ services/
COPY cli/ cli/
# Only the four shipped binaries are built (not "all").
# .git is not in the build context (.dockerignore), so the commit comes from the GIT_COMMIT build
# argument and is baked into the binaries (`--version`, coffer_build_info) and the image labels.
# Debug info (about 190 MB of RelWithDebInfo) goes to /debug/<binary>.debug (the `debug` stage);
# the shipped binaries keep their symbol table (function names in stack traces) and a
# .gnu_debuglink, so `gdb` finds the debug file when it sits beside them or in /usr/lib/debug.
ARG GIT_COMMIT=unknown
RUN set -eux; \
    cmake -S . -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOFFER_GIT_COMMIT="${GIT_COMMIT}" \
      -DCOFFER_BUILD_TESTS=OFF; \
    cmake --build /build -j "${BUILD_JOBS}" \
      --target coffer-identity coffer-vault coffer-devbroker coffer; \
    mkdir -p /out /debug; \
    install -m 0755 \
      /build/services/identity/coffer-identity \
      /build/services/vault/coffer-vault \
      /build/services/devbroker/coffer-devbroker \
      /build/cli/coffer \
      /out/; \
    cd /debug; \
    for bin in /out/*; do \
      name=$(basename "$bin"); \
      objcopy --only-keep-debug "$bin" "$name.debug"; \
      objcopy --strip-debug --add-gnu-debuglink="$name.debug" "$bin"; \
    done; \
    ls -l /out /debug; \
    /out/coffer-identity --version; \
    /out/coffer-vault --version

# ---------------------------------------------------------------------------------------------
# Debug info of the shipped binaries, not part of the image:
#   docker build --target debug -o type=local,dest=build/image-debug .
# ---------------------------------------------------------------------------------------------
FROM scratch AS debug
COPY --from=build /debug/ /

# ---------------------------------------------------------------------------------------------
# Runtime: only the shared libraries the binaries load (checked with objdump -p / dpkg -S on
# Debian 12), tini as PID 1, a non-root user.
# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="coffer" \
      org.opencontainers.image.description="Coffer: private records kept in sync across shards (identity, vault, dev broker, CLI)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}" \
      org.opencontainers.image.documentation="README.md, docs/configuration.md"

# /run/coffer is owned by the runtime user so a named volume mounted there (the dev broker's port
# file shared with the vaults in deployments/docker-compose.yml) starts out writable.
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
      ca-certificates tini \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
      libpqxx-6.4 libpq5 librdkafka1 libprometheus-cpp-core1.0 libcpp-httplib0.11 libmicrohttpd12 \
      libspdlog1.10 libfmt9 libssl3 libsodium23; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 coffer; \
    useradd --system --uid 10001 --gid coffer --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin coffer; \
    install -d -o 10001 -g 10001 -m 0755 /run/coffer

COPY --from=build /out/ /usr/local/bin/

# Listen on every interface inside the container. Identity uses gRPC, admin and public HTTP; a
# vault uses gRPC and admin (set other ports per shard when several share a network namespace).
# The REST gateway is off unless COFFER_REST_ADDR is set (0.0.0.0:7003 by convention, as the
# Helm chart does; deployments/docker-compose.yml uses 7003 for identity, 7102/7202 for shards).
ENV COFFER_GRPC_ADDR=0.0.0.0:7000 \
    COFFER_ADMIN_ADDR=0.0.0.0:7001 \
    COFFER_HTTP_ADDR=0.0.0.0:7002 \
    COFFER_LOG_LEVEL=info
# 7000 gRPC (+ grpc.health.v1, reflection), 7001 admin HTTP (/metrics /healthz /readyz
# /replicationz), 7002 identity public HTTP (JWKS, discovery, introspection), 7003 REST/JSON
# gateway (with COFFER_REST_ADDR=0.0.0.0:7003).
EXPOSE 7000 7001 7002 7003

USER 10001:10001
WORKDIR /

# grpc.health.v1 on this container's own gRPC port (taken from COFFER_GRPC_ADDR). Exit 0 only
# when SERVING. With TLS on gRPC set COFFER_CA_FILE for the CLI, or override the health check
# (mTLS: probe the admin port's /readyz instead, as the Helm chart does). coffer-devbroker and
# one-off CLI runs have no gRPC server: their compose/orchestrator config overrides this.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/bin/sh", "-c", "exec coffer health --addr \"127.0.0.1:${COFFER_GRPC_ADDR##*:}\" --timeout-ms 3000 >/dev/null"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["coffer-identity"]
