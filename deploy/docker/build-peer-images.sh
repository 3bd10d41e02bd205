#!/usr/bin/env bash
# Builds the images of Strata's peers in docker-compose.yml, like the strata image: `FROM
# scratch` with the executables Debian's packages installed on this machine and the shared
# libraries they load (Debian's Go builds link libc). No base image, no registry.
#
#   deploy/docker/build-peer-images.sh [PREFIX]
#
# Builds PREFIX-prometheus:dev (Prometheus 2.42, package `prometheus`, with
# deploy/prometheus/prometheus.yml baked in at /etc/prometheus/prometheus.yml) and
# PREFIX-node-exporter:dev (package `prometheus-node-exporter`). PREFIX defaults to strata.
# Install the packages first: apt-get install prometheus prometheus-node-exporter.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scratch.sh
. "$HERE/scratch.sh"
PREFIX=${1:-strata}

command -v docker >/dev/null || die "docker is required"
PROM=$(command -v prometheus) || die "prometheus not found: apt-get install prometheus"
NODE=$(command -v prometheus-node-exporter || command -v node_exporter) ||
  die "node_exporter not found: apt-get install prometheus-node-exporter"

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT

# Prometheus: its config from the repository, a TSDB directory nobody may write.
mkdir -p "$CTX/prometheus"
scratch_rootfs "$CTX/prometheus" "$PROM" /bin/prometheus
mkdir -p "$CTX/prometheus/rootfs/etc/prometheus" "$CTX/prometheus/rootfs/prometheus"
cp "$ROOT/deploy/prometheus/prometheus.yml" "$CTX/prometheus/rootfs/etc/prometheus/prometheus.yml"
chmod 1777 "$CTX/prometheus/rootfs/prometheus"
cat >"$CTX/prometheus/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
USER 65534:65534
VOLUME /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090"]
DOCKERFILE
scratch_build "$CTX/prometheus" "$PREFIX-prometheus:dev"
echo "  from $PROM ($("$PROM" --version 2>&1 | head -1))"

# node_exporter: reads the container's /proc and /sys.
mkdir -p "$CTX/node"
scratch_rootfs "$CTX/node" "$NODE" /bin/node_exporter
cat >"$CTX/node/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
USER 65534:65534
EXPOSE 9100
ENTRYPOINT ["/bin/node_exporter"]
CMD ["--web.listen-address=:9100", "--no-collector.textfile"]
DOCKERFILE
scratch_build "$CTX/node" "$PREFIX-node-exporter:dev"
echo "  from $NODE"
