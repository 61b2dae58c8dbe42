#!/usr/bin/env bash
# Builds the inferwatch image with buildah (no daemon; vfs storage, chroot isolation) on a base made
# by mmdebstrap from Debian's packages, from wheels built on this machine.
#
#   deploy/build-image.sh prepare             network: the Debian base image and the dependency wheelhouse
#   deploy/build-image.sh build [TAG]         offline: inferwatch's wheel from this checkout, then the
#                                             exporter image (inferwatch without extras: what every
#                                             sidecar and the DaemonSet run)
#   deploy/build-image.sh build-full [TAG]    offline: the fuller image, inferwatch[report,controller]
#                                             (the cost report's CronJob and the SLO controller)
#   deploy/build-image.sh [TAG]               prepare, then both (TAG and TAG-full; what `make image` runs)
#
# `prepare` is cached (the base is remade only when its package list changes, the wheelhouse holds
# the pinned versions of constraints.txt), so the tests run `build` alone, with no network.
# Environment: BUILDAH_ROOT (storage; default build/image/storage), PYTHON (default .venv/bin/python).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/build/image"
storage="${BUILDAH_ROOT:-$work/storage}"
python="${PYTHON:-$root/.venv/bin/python}"
wheelhouse="$work/wheelhouse"
suite=bookworm
base_tag="localhost/inferwatch-base:$suite"
base_packages="python3,python3-venv,ca-certificates,usr-is-merged"
# Purged once the base is made: the essential set's init-system-helpers pulls in usrmerge, and with it
# Perl (~45 MB of every image), to convert a /usr that mmdebstrap has merged already; usr-is-merged
# (above) then satisfies init-system-helpers. perl-base, essential, stays.
base_purge="usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36"

say() { echo "build-image: $*" >&2; }
die() { echo "build-image: ERROR: $*" >&2; exit 1; }
bh() { buildah --root "$storage" --runroot "$storage/run" --storage-driver vfs "$@"; }

# The extras of the fuller image (pyproject.toml's optional-dependencies; inferwatch/extras.py).
full_extras="report,controller"

# requirements: the runtime dependencies pyproject.toml declares and those of the fuller image's extras, one per line.
requirements() {
  "$python" - "$root/pyproject.toml" "$full_extras" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = [req for extra in sys.argv[2].split(",") for req in project["optional-dependencies"][extra]]
print("\n".join([*project["dependencies"], *extras]))
PY
}

prepare() {
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (scripts/install-tools.sh installs it)"
  mkdir -p "$work" "$storage" "$wheelhouse"
  # The base: Debian's python3 from Debian's archive, so no container registry is needed.
  local stamp="$suite $base_packages -$base_purge" ctr
  if [ "$(cat "$work/base.stamp" 2>/dev/null)" != "$stamp" ] || ! bh inspect --type image "$base_tag" >/dev/null 2>&1; then
    say "making the $suite base with mmdebstrap ($base_packages)"
    mmdebstrap --variant=minbase --include="$base_packages" --aptopt='Apt::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook="chroot \"\$1\" dpkg --purge $base_purge" "$suite" "$work/base.tar" >&2
    ctr=$(bh from scratch)
    bh add "$ctr" "$work/base.tar" / >/dev/null
    bh commit --rm "$ctr" "$base_tag" >/dev/null
    rm -f "$work/base.tar"
    echo "$stamp" >"$work/base.stamp"
  fi
  # Every runtime dependency as a wheel, at the versions constraints.txt pins, and pip itself
  # (the image installs with pip run from its wheel, so the image keeps no installer).
  say "collecting dependency wheels into $wheelhouse"
  requirements >"$work/requirements.txt"
  "$python" -m pip wheel -q --wheel-dir "$wheelhouse" -c "$root/constraints.txt" -r "$work/requirements.txt"
  "$python" -m pip download -q --only-binary=:all: --no-deps --dest "$wheelhouse" "pip>=24"
}

# wheel DEST: inferwatch's wheel from this checkout, built offline (no build isolation).
wheel() {
  "$python" -m build --wheel --no-isolation --skip-dependency-check --outdir "$1" "$root" >/dev/null
}

# build TAG [EXTRAS]: the image of inferwatch (with EXTRAS, e.g. "[report,controller]", the fuller one).
build() {
  local tag=$1 extras=${2:-} ctx="$work/context"
  command -v buildah >/dev/null || die "buildah is not installed (scripts/install-tools.sh installs it)"
  bh inspect --type image "$base_tag" >/dev/null 2>&1 || die "no base image: run deploy/build-image.sh prepare"
  [ -n "$(ls "$wheelhouse"/pip-*.whl 2>/dev/null)" ] || die "no wheelhouse: run deploy/build-image.sh prepare"
  [ "$(requirements)" = "$(cat "$work/requirements.txt")" ] \
    || die "pyproject.toml's dependencies changed since the wheelhouse was made: run deploy/build-image.sh prepare"
  rm -rf "$ctx" && mkdir -p "$ctx/wheels"
  wheel "$ctx/wheels"
  cp "$wheelhouse"/*.whl "$ctx/wheels/"
  say "buildah bud $tag (inferwatch$extras)"
  # No --layers: on vfs every cached layer is a full copy of the root filesystem, and the slow
  # part (the base) is cached by `prepare` already.
  bh bud --isolation chroot --build-arg "BASE=$base_tag" --build-arg "EXTRAS=$extras" \
    -f "$root/deploy/Containerfile" -t "$tag" "$ctx" >&2
  # vfs keeps whole copies: drop the previous build's now-untagged image.
  bh rmi --prune >/dev/null 2>&1 || true
  echo "$tag"
}

case "${1:-}" in
  prepare) prepare ;;
  build) build "${2:-localhost/inferwatch:dev}" ;;
  build-full) build "${2:-localhost/inferwatch:dev-full}" "[$full_extras]" ;;
  *) prepare && build "${1:-localhost/inferwatch:dev}" && build "${1:-localhost/inferwatch:dev}-full" "[$full_extras]" ;;
esac
