#!/usr/bin/env bash
# Builds the `strata` container image locally, with no base image to pull: the binary and the
# shared libraries it links (as `ldd` lists them) copied at their own paths into `FROM scratch`,
# plus an empty /data and /tmp that the unprivileged user may write.
#
#   deploy/docker/build-image.sh [BINARY] [TAG]
#
# BINARY defaults to target/release/strata (built with `cargo build --release --bin strata`
# when missing); TAG defaults to strata:dev. Tests pass target/debug/strata, the binary they
# run themselves. The peers' images come from deploy/docker/build-peer-images.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scratch.sh
. "$HERE/scratch.sh"
BIN=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/strata}
TAG=${2:-strata:dev}

command -v docker >/dev/null || die "docker is required"
if [[ ! -x $BIN ]]; then
  (cd "$ROOT" && cargo build --release --locked --bin strata)
fi
[[ -x $BIN ]] || die "no binary at $BIN"

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
scratch_rootfs "$CTX" "$BIN" /strata
mkdir -p "$CTX/rootfs/data"
# The process runs as nobody; COPY keeps modes, and a named volume starts as a copy of /data.
chmod 1777 "$CTX/rootfs/data"
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
USER 65534:65534
VOLUME /data
EXPOSE 8080 9095
ENTRYPOINT ["/strata"]
CMD ["-data.dir=/data"]
DOCKERFILE
scratch_build "$CTX" "$TAG"
echo "  from $BIN"
