#!/usr/bin/env bash
# Builds the inferwatch image with buildah (no daemon; vfs storage, chroot isolation), on a base
# made by mmdebstrap from Debian's packages, from wheels built on this machine. Each step is
# cached: the base tarball and image, and pip's wheel cache. Usage:
#   deploy/build-image.sh [TAG]          (default localhost/inferwatch:dev)
# Environment: BUILDAH_ROOT (storage, default build/image/storage), PYTHON (default .venv/bin/python).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-localhost/inferwatch:dev}"
work="$root/build/image"
storage="${BUILDAH_ROOT:-$work/storage}"
python="${PYTHON:-$root/.venv/bin/python}"
suite=bookworm
base_tag="localhost/inferwatch-base:$suite"
base_packages="python3,python3-venv,ca-certificates"

say() { echo "build-image: $*" >&2; }
die() { echo "build-image: ERROR: $*" >&2; exit 1; }
command -v buildah >/dev/null || die "buildah is not installed (apt-get install -y buildah mmdebstrap)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install -y buildah mmdebstrap)"
bh() { buildah --root "$storage" --runroot "$storage/run" --storage-driver vfs "$@"; }

mkdir -p "$work" "$storage"
# 1. The base: Debian's python3 from Debian's archive (no registry needed), made once.
stamp="$suite $base_packages"
if [ "$(cat "$work/base.stamp" 2>/dev/null)" != "$stamp" ] || ! bh inspect --type image "$base_tag" >/dev/null 2>&1; then
  say "making the $suite base with mmdebstrap ($base_packages)"
  mmdebstrap --variant=minbase --include="$base_packages" --aptopt='Apt::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' "$suite" "$work/base.tar" >&2
  ctr=$(bh from scratch)
  bh add "$ctr" "$work/base.tar" / >/dev/null
  bh commit --rm "$ctr" "$base_tag" >/dev/null
  rm -f "$work/base.tar"
  echo "$stamp" >"$work/base.stamp"
fi

# 2. The wheels: inferwatch's (python -m build) and its pinned dependencies, for the base's Python.
ctx="$work/context"
rm -rf "$ctx" && mkdir -p "$ctx/wheels"
say "building the inferwatch wheel and collecting dependency wheels"
"$python" -m build --wheel --outdir "$ctx/wheels" "$root" >/dev/null
"$python" -m pip wheel -q --wheel-dir "$ctx/wheels" -c "$root/constraints.txt" "$ctx"/wheels/inferwatch-*.whl
"$python" -m pip download -q --only-binary=:all: --no-deps --dest "$ctx/wheels" "pip>=24"

# 3. The image.
say "buildah bud $tag"
bh bud --isolation chroot --layers --build-arg "BASE=$base_tag" -f "$root/deploy/Containerfile" -t "$tag" "$ctx" >&2
echo "$tag"
