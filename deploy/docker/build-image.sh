#!/usr/bin/env bash
# Builds the `strata` container image locally, with no base image to pull: the binary and the
# shared libraries it links (as `ldd` lists them) copied at their own paths into `FROM scratch`,
# plus an empty /data and /tmp that the unprivileged user may write.
#
#   deploy/docker/build-image.sh [BINARY] [TAG]
#
# BINARY defaults to target/release/strata (built with `cargo build --release --bin strata`
# when missing); TAG defaults to strata:dev.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/strata}
TAG=${2:-strata:dev}

die() { echo "build-image: $*" >&2; exit 1; }
command -v docker >/dev/null || die "docker is required"
if [[ ! -x $BIN ]]; then
  (cd "$ROOT" && cargo build --release --locked --bin strata)
fi
[[ -x $BIN ]] || die "no binary at $BIN"

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
mkdir -p "$CTX/rootfs/data" "$CTX/rootfs/tmp"
cp "$BIN" "$CTX/rootfs/strata"
# Debug info stays in the build tree for profiling; the image does not need it.
command -v strip >/dev/null && strip --strip-debug "$CTX/rootfs/strata"
# Every library the binary loads, and the dynamic loader, at the same absolute paths.
while read -r lib; do
  [[ -n $lib && -e $lib ]] || continue
  mkdir -p "$CTX/rootfs$(dirname "$lib")"
  cp -L "$lib" "$CTX/rootfs$lib"
done < <(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
USER 65534:65534
VOLUME /data
EXPOSE 8080 9095
ENTRYPOINT ["/strata"]
CMD ["-data.dir=/data"]
DOCKERFILE
# The process runs as nobody; COPY keeps modes, and a named volume starts as a copy of /data.
chmod 1777 "$CTX/rootfs/tmp" "$CTX/rootfs/data"
# The legacy builder warns that it is deprecated; show its output only when it fails.
out=$(docker build -q -t "$TAG" "$CTX" 2>&1) || { echo "$out" >&2; die "docker build failed"; }
echo "built $TAG from $BIN ($(docker image inspect -f '{{.Size}}' "$TAG") bytes)"
