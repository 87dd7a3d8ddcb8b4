# OtaVerify gateway image: built with the project's own scripts, run as a non-root user on
# Debian 12 slim with only the shared libraries the binary loads.
#
#   docker build -t otaverify-gateway:0.1.0 .
#
# Both stages use the same Debian point release (12.11, the release the project's CI builds
# and tests on): a fixed tag rebuilds the same base layer, unlike `12` or `latest`, which move
# under you, and the runtime stage gets exactly the library versions (sonames) the build stage
# linked against. Security updates still arrive: apt installs the current bookworm packages.
# Override with --build-arg DEBIAN_RELEASE=12.x to move both stages together.
ARG DEBIAN_RELEASE=12.11

FROM debian:${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The same steps as a developer machine and CI: scripts/install-deps.sh installs the Debian
# packages (make among them), then `make build` configures and builds (Release) into the given
# folder (its own call of install-deps.sh finds everything present).
RUN bash scripts/install-deps.sh \
 && make build BUILD_DIR=build-image \
 && strip --strip-unneeded -o /otaverify-gateway build-image/service/otaverify-gateway

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# The runtime libraries, listed once in scripts/runtime-packages.txt; a ctest
# (k8s.runtime_packages) checks the list covers every library the gateway links.
COPY scripts/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && grep -v '^#' /tmp/runtime-packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /otaverify-gateway /usr/local/bin/otaverify-gateway
# A numeric user and group, so Kubernetes can verify runAsNonRoot without a passwd entry.
USER 65532:65532
# gRPC (with the health service the probes use) and Prometheus metrics.
EXPOSE 50051 9090
# Exec form: the gateway is PID 1 and receives SIGTERM itself; no shell is involved.
ENTRYPOINT ["/usr/local/bin/otaverify-gateway"]
