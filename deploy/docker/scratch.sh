# Shared by build-image.sh and build-peer-images.sh (sourced, not run): builds a `FROM
# scratch` image from one executable and the shared libraries it loads, with no base image
# to pull and no registry.
#
#   scratch_rootfs CTX BIN DEST    copy BIN to CTX/rootfs/DEST and every library `ldd BIN`
#                                  lists (and the dynamic loader) at its own absolute path
#   scratch_build CTX TAG          docker build CTX (its Dockerfile) as TAG, quietly

die() { echo "${0##*/}: $*" >&2; exit 1; }

scratch_rootfs() {
  local ctx=$1 bin=$2 dest=$3 lib
  mkdir -p "$ctx/rootfs$(dirname "$dest")" "$ctx/rootfs/tmp"
  cp "$bin" "$ctx/rootfs$dest"
  # Debug info stays in the build tree for profiling; the image does not need it.
  command -v strip >/dev/null && strip --strip-debug "$ctx/rootfs$dest" 2>/dev/null || true
  # A static binary has no libraries (`ldd` says so and fails): nothing to copy then.
  while read -r lib; do
    [[ -n $lib && -e $lib ]] || continue
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
  done < <(ldd "$bin" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  chmod 1777 "$ctx/rootfs/tmp"
}

scratch_build() {
  local ctx=$1 tag=$2 out
  # The legacy builder warns that it is deprecated; show its output only when it fails.
  out=$(docker build -q -t "$tag" "$ctx" 2>&1) || { echo "$out" >&2; die "docker build of $tag failed"; }
  echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
}
