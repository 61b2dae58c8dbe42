#!/usr/bin/env bash
# Installs the Kubernetes test tier's control plane into .tools/bin (git-ignored), for
# `make test-k8s` only (`make test` never runs this: a cold build takes tens of minutes):
# kube-apiserver and kube-controller-manager (k8s.io/kubernetes), kine (the etcd API on SQLite),
# prometheus-operator and its CRDs (.tools/share/prometheus-operator-crds). Prometheus with
# Kubernetes service discovery is the project's one Prometheus, built by scripts/install-tools.sh.
# Everything is built from the Go module proxy; no Docker, no kubelet. Idempotent and stamped by
# version like install-tools.sh: a binary whose pinned version is already there is kept, and the
# Go build cache (.tools/gocache) is kept, so a rebuild after a version bump mostly links.
set -euo pipefail

KUBERNETES_VERSION="v1.37.2"           # kube-apiserver + kube-controller-manager (one go build, shared cache)
KINE_VERSION="v0.17.5"                 # built without cgo: its pure-Go SQLite (modernc.org/sqlite)
PROMETHEUS_OPERATOR_VERSION="v0.85.0"  # the only root-module version the module proxy serves

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${INFERWATCH_TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools"
# The physical path: worktrees that link .tools to one checkout's share its module and build cache.
tools="$(cd "$tools" && pwd -P)"
bin="$tools/bin"
stamps="$tools/stamps"
mkdir -p "$bin" "$stamps" "$tools/gopath" "$tools/build" "$tools/share"
# -trimpath: the build cache's keys then do not name the module copy's or the module cache's
# directory, so a second checkout (or a worktree) reuses the cache instead of recompiling.
export GOPATH="$tools/gopath" GOBIN="$bin" GOWORK=off CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export GOCACHE="${GOCACHE:-$tools/gocache}"

die() { echo "install-k8s-tools: ERROR: $*" >&2; exit 1; }
say() { echo "install-k8s-tools: $*"; }

command -v go >/dev/null || die "Go is required (https://go.dev/dl); none found on PATH"

have() { [ -x "$bin/$1" ] && [ "$(cat "$stamps/$1" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$stamps/$1"; }
# Each build's time in the log (CI's budget is tight): wall and CPU seconds.
timed() { # label command...
  local label=$1; shift
  local TIMEFORMAT="install-k8s-tools: $label: %R s wall, %U s user + %S s sys"
  time "$@"
}

# module_copy MODULE VERSION NAME: a writable copy of the module (from the module proxy) under
# .tools/build/NAME-VERSION; prints its path.
module_copy() {
  local module=$1 version=$2 name=$3 dir src
  dir=$(go mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || return 1
  src="$tools/build/$name-$version"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src" || return 1
  echo "$src"
}

# drop_replace_block GO_MOD: delete the `replace ( ... )` block (it points at folders the module
# zip does not carry), so the published modules are used instead.
drop_replace_block() {
  python3 - "$1" <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path).read()
text, n = re.subn(r"^replace \($.*?^\)$\n?", "", text, flags=re.M | re.S)
if n != 1:
    sys.exit(f"{path}: expected one replace block, found {n}")
open(path, "w").write(text)
EOF
}

# kube-apiserver and kube-controller-manager from one module copy in ONE go build: the two share
# most packages, and one invocation compiles each once and links both side by side.
build_kubernetes() {
  local v=$KUBERNETES_VERSION src minor ldflags
  if have kube-apiserver "$v" && have kube-controller-manager "$v"; then return 0; fi
  say "building kube-apiserver + kube-controller-manager $v (module proxy; ~16 CPU-minutes cold, the longest build here)"
  src=$(module_copy k8s.io/kubernetes "$v" kubernetes) || return 1
  # The module zip has no staging/ (its folders are modules of their own) and its go.mod replaces
  # the 31 staging modules with those folders at v0.0.0: build against the published ones
  # instead (k8s.io/api etc. at v0.MINOR.PATCH, all on the module proxy). The workspace and the
  # vendor folder would point at what is missing too.
  rm -rf "$src/go.work" "$src/go.work.sum" "$src/vendor"
  drop_replace_block "$src/go.mod" || return 1
  minor=${v#v1.}
  sed -i -E "s#^(\s+k8s\.io/[a-z0-9-]+) v0\.0\.0\$#\1 v0.${minor}#" "$src/go.mod"
  ! grep -qE '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$src/go.mod" || die "kubernetes go.mod still requires v0.0.0 modules"
  # Without the version stamps /version says v0.0.0 and helm refuses charts' kubeVersion.
  # -s -w: no symbol table or DWARF (smaller binaries, shorter links).
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1"
  ldflags="$ldflags -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitMinor=${minor%%.*}"
  mkdir -p "$src/_out"
  timed "kube-apiserver + kube-controller-manager $v" \
    bash -c 'cd "$1" && go build -ldflags "$2" -o _out/ ./cmd/kube-apiserver ./cmd/kube-controller-manager' _ "$src" "$ldflags" \
    || return 1
  mv -f "$src/_out/kube-apiserver" "$src/_out/kube-controller-manager" "$bin/"
  rm -rf "$src"
  stamp kube-apiserver "$v"; stamp kube-controller-manager "$v"
}

# kine, the etcd API on SQLite, without cgo: kine's own "nocgo" variant, on modernc.org/sqlite (a
# pure-Go SQLite), ~20% less CPU to build than the cgo one (mattn/go-sqlite3 and DataDog/zstd in
# C: 348 against 281 CPU-seconds from an empty cache), no C compiler needed, and the same
# sqlite:// endpoint. No nats tag: the embedded NATS server is not needed for sqlite:// endpoints.
build_kine() {
  local v=$KINE_VERSION
  if have kine "$v"; then return 0; fi
  say "building kine $v"
  rm -rf "$tools/build/kine-out"
  GOBIN="$tools/build/kine-out" GOFLAGS="-buildvcs=false -trimpath" timed "kine $v" \
    go install -ldflags "-s -w -X github.com/k3s-io/kine/pkg/version.Version=$v -X github.com/k3s-io/kine/pkg/version.GitCommit=$v" \
    "github.com/k3s-io/kine@$v" || return 1
  mv -f "$tools/build/kine-out/kine" "$bin/kine" && rm -rf "$tools/build/kine-out"
  stamp kine "$v"
}

# prometheus-operator: its go.mod replaces two of its own submodules with folders; the published
# submodules at the same version are used instead. Its CRDs are kept for the tests to load.
build_prometheus_operator() {
  local v=$PROMETHEUS_OPERATOR_VERSION src ldflags crds="$tools/share/prometheus-operator-crds"
  if have prometheus-operator "$v" && [ "$(cat "$crds/VERSION" 2>/dev/null)" = "$v" ]; then return 0; fi
  say "building prometheus-operator $v"
  src=$(module_copy github.com/prometheus-operator/prometheus-operator "$v" prometheus-operator) || return 1
  drop_replace_block "$src/go.mod" || return 1
  ldflags="-s -w -X github.com/prometheus/common/version.Version=${v#v} -X github.com/prometheus/common/version.Revision=$v"
  ldflags="$ldflags -X github.com/prometheus/common/version.Branch=module-proxy"
  timed "prometheus-operator $v" \
    bash -c 'cd "$1" && go build -ldflags "$2" -o _out/prometheus-operator ./cmd/operator' _ "$src" "$ldflags" || return 1
  mv -f "$src/_out/prometheus-operator" "$bin/"
  rm -rf "$crds" && mkdir -p "$crds" && cp "$src"/example/prometheus-operator-crd/*.yaml "$crds/" && echo "$v" >"$crds/VERSION"
  rm -rf "$src"
  stamp prometheus-operator "$v"
}

build_kubernetes || die "kube-apiserver/kube-controller-manager $KUBERNETES_VERSION failed to build"
build_kine || die "kine $KINE_VERSION failed to build"
build_prometheus_operator || die "prometheus-operator $PROMETHEUS_OPERATOR_VERSION failed to build"

# The one Prometheus (scripts/install-tools.sh) must have Kubernetes service discovery. Its build
# tags tell (promtool cannot: it links Kubernetes SD whatever the tags, so `promtool check config`
# accepts kubernetes_sd_configs that this prometheus would refuse).
[ -x "$bin/prometheus" ] || die "prometheus is missing: run scripts/install-tools.sh first"
case "$(go version -m "$bin/prometheus")" in
  *-tags=*enable_kubernetes_sd*) ;;
  *) die "$bin/prometheus has no Kubernetes service discovery: rerun scripts/install-tools.sh (it builds Prometheus with enable_kubernetes_sd)" ;;
esac

say "tools in $bin:"
for t in kube-apiserver kube-controller-manager kine prometheus-operator prometheus; do
  [ -x "$bin/$t" ] || die "$t is missing from $bin"
  printf '  %-24s %s\n' "$t" "$("$bin/$t" --version 2>&1 | head -1)"
done
