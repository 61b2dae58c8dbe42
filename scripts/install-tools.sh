#!/usr/bin/env bash
# Installs the pinned toolchain inferwatch's tests and demo need into .tools/bin (git-ignored):
# Prometheus 3.x + promtool, Alertmanager + amtool, helm, kubeconform, llm-d-inference-sim, Sloth
# (the SLO benchmark's anchor) and VictoriaMetrics + vmalert (the scale-out backend test).
# Everything is built from the Go module proxy; Debian's prometheus / prometheus-alertmanager
# packages are the fallback (announced loudly) and Debian's promtool 2.x is installed as the
# rule-compatibility check. Idempotent: a tool whose pinned version is already there is kept.
set -euo pipefail

PROMETHEUS_MODULE_VERSION="v0.316.0"   # Prometheus 3.16.0 (the Go module uses v0.3xx.y)
# Built without the cloud service-discovery plugins but WITH Kubernetes SD: the suite uses static
# targets, the Kubernetes tier (make test-k8s) discovers pods; one Prometheus serves both. The
# tags are part of the stamp, so an install built without Kubernetes SD is rebuilt once.
PROMETHEUS_TAGS="remove_all_sd,enable_kubernetes_sd"
ALERTMANAGER_VERSION="v0.31.1"         # >= 0.32 embeds a UI that is not built in the module
HELM_VERSION="v3.22.0"
KUBECONFORM_VERSION="v0.7.0"
INFERENCE_SIM_VERSION="v0.10.2"
SLOTH_VERSION="v0.16.0"                # the SLO benchmark's anchor (bench/slo_rules_bench.py)
VICTORIAMETRICS_VERSION="v1.151.0"     # single-node + vmalert: the scale-out backend test
CHECKOV_VERSION="3.3.30"               # policy scan of the rendered Helm chart; pins: deploy/helm/checkov-requirements.txt

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${INFERWATCH_TOOLS_DIR:-$root/.tools}"
bin="$tools/bin"
stamps="$tools/stamps"
mkdir -p "$bin" "$stamps" "$tools/gopath" "$tools/build"
export GOPATH="$tools/gopath" GOBIN="$bin" GOFLAGS="" GOWORK=off CGO_ENABLED=0
export GOCACHE="${GOCACHE:-$tools/gocache}"

die() { echo "install-tools: ERROR: $*" >&2; exit 1; }
say() { echo "install-tools: $*"; }

command -v go >/dev/null || die "Go is required (https://go.dev/dl); none found on PATH"

# have NAME VERSION: true when NAME was already installed at VERSION by this script.
have() { [ -x "$bin/$1" ] && [ "$(cat "$stamps/$1" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$stamps/$1"; }

go_install() { # name module version [ldflags]
  local name=$1 module=$2 version=$3 ldflags=${4:-}
  if have "$name" "$version"; then return; fi
  say "building $name $version from $module"
  go install -ldflags "$ldflags" "$module@$version" || return 1
  stamp "$name" "$version"
}

build_prometheus() {
  local v=$PROMETHEUS_MODULE_VERSION
  local build="$v tags=$PROMETHEUS_TAGS"
  if have prometheus "$build" && have promtool "$build"; then return 0; fi
  say "building prometheus + promtool $v (module proxy; a few minutes the first time)"
  local dir src
  # The module's go.mod carries replace/exclude directives, so `go install ...@v` refuses it:
  # download the module and build inside a writable copy instead.
  dir=$(go mod download -json "github.com/prometheus/prometheus@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || return 1
  src="$tools/build/prometheus-$v"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  # remove_all_sd leaves out the cloud service-discovery plugins: the tests and the demo use
  # static targets, and some plugins' pinned modules (e.g. nomad's) are not on the module proxy.
  # enable_kubernetes_sd puts Kubernetes SD back for the Kubernetes tier (and promtool then checks
  # kubernetes_sd_configs, as in docs/deploy.md).
  local ver ldflags
  ver=$(cat "$src/VERSION")
  ldflags="-X github.com/prometheus/common/version.Version=$ver -X github.com/prometheus/common/version.Revision=$v"
  ldflags="$ldflags -X github.com/prometheus/common/version.Branch=module-proxy"
  # Built beside the copy, then renamed into place: worktrees share .tools, and a test elsewhere may
  # be starting the old binary right now.
  (cd "$src" && go build -tags "$PROMETHEUS_TAGS" -ldflags "$ldflags" -o _out/prometheus ./cmd/prometheus \
    && go build -tags "$PROMETHEUS_TAGS" -ldflags "$ldflags" -o _out/promtool ./cmd/promtool) || return 1
  mv -f "$src/_out/prometheus" "$src/_out/promtool" "$bin/"
  rm -rf "$src"
  stamp prometheus "$build"; stamp promtool "$build"
}

# build_in_module_copy NAME MODULE VERSION PACKAGE: download the module and build PACKAGE inside a
# writable copy. Used where `go install MODULE/...@VERSION` fails: the proxy refuses the module's
# version list, which `go install` reads for deprecation notices.
build_in_module_copy() {
  local name=$1 module=$2 version=$3 pkg=$4 dir src
  if have "$name" "$version"; then return 0; fi
  say "building $name $version from $module"
  dir=$(go mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || return 1
  src="$tools/build/$name-$version"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  (cd "$src" && go build -o "$bin/$name" "$pkg") || return 1
  rm -rf "$src"
  stamp "$name" "$version"
}

# build_victoriametrics: victoria-metrics (single node) and vmalert from one copy of the module, with
# the version stamped the way VictoriaMetrics' own builds do (lib/buildinfo).
build_victoriametrics() {
  local v=$VICTORIAMETRICS_VERSION dir src ldflags
  if have victoria-metrics "$v" && have vmalert "$v"; then return 0; fi
  say "building victoria-metrics + vmalert $v (module proxy; a few minutes the first time)"
  dir=$(go mod download -json "github.com/VictoriaMetrics/VictoriaMetrics@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || return 1
  src="$tools/build/victoriametrics-$v"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  ldflags="-X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-metrics-$v-module-proxy"
  (cd "$src" && go build -ldflags "$ldflags" -o "$bin/victoria-metrics" ./app/victoria-metrics \
    && go build -ldflags "${ldflags/victoria-metrics-/vmalert-}" -o "$bin/vmalert" ./app/vmalert) || return 1
  rm -rf "$src"
  stamp victoria-metrics "$v"; stamp vmalert "$v"
}

debian_fallback() { # tool-name debian-package binary...
  local pkg=$1; shift
  echo "install-tools: WARNING: falling back to Debian's $pkg package for: $*" >&2
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
      || die "could not install Debian package $pkg"
  fi
  for b in "$@"; do ln -sf "$(command -v "$b")" "$bin/$b"; stamp "$b" "debian"; done
}

# Debian's promtool (Prometheus 2.42) checks that generated rules still load on Prometheus 2.
install_promtool2() {
  if [ -x "$bin/promtool2" ]; then return 0; fi
  if ! [ -x /usr/bin/promtool ]; then
    say "installing Debian's prometheus package for promtool 2.x (rule compatibility check)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
      || die "could not install Debian package prometheus (needed for promtool 2.x)"
    # The package starts a system Prometheus on :9090; the tests start their own.
    (systemctl stop prometheus 2>/dev/null || service prometheus stop 2>/dev/null || pkill -x prometheus) >/dev/null 2>&1 || true
  fi
  ln -sf /usr/bin/promtool "$bin/promtool2"
}

build_prometheus || debian_fallback prometheus prometheus promtool
# Stamp the version the way Prometheus's own release builds (promu) do, so --version tells it.
am_ldflags="-X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}"
am_ldflags="$am_ldflags -X github.com/prometheus/common/version.Revision=$ALERTMANAGER_VERSION"
am_ldflags="$am_ldflags -X github.com/prometheus/common/version.Branch=module-proxy"
go_install alertmanager github.com/prometheus/alertmanager/cmd/alertmanager "$ALERTMANAGER_VERSION" "$am_ldflags" \
  || debian_fallback prometheus-alertmanager prometheus-alertmanager
[ -x "$bin/alertmanager" ] || ln -sf "$bin/prometheus-alertmanager" "$bin/alertmanager" 2>/dev/null || true
go_install amtool github.com/prometheus/alertmanager/cmd/amtool "$ALERTMANAGER_VERSION" "$am_ldflags" \
  || die "amtool $ALERTMANAGER_VERSION failed to build"
go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" || die "helm $HELM_VERSION failed to build"
go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" "-X main.version=$KUBECONFORM_VERSION" \
  || die "kubeconform $KUBECONFORM_VERSION failed to build"
build_in_module_copy llm-d-inference-sim github.com/llm-d/llm-d-inference-sim "$INFERENCE_SIM_VERSION" ./cmd/llm-d-inference-sim \
  || die "llm-d-inference-sim $INFERENCE_SIM_VERSION failed to build"
install_promtool2
go_install sloth github.com/slok/sloth/cmd/sloth "$SLOTH_VERSION" "-X github.com/slok/sloth/internal/info.Version=$SLOTH_VERSION" \
  || build_in_module_copy sloth github.com/slok/sloth "$SLOTH_VERSION" ./cmd/sloth \
  || die "sloth $SLOTH_VERSION failed to build"
build_victoriametrics || die "victoria-metrics/vmalert $VICTORIAMETRICS_VERSION failed to build"

# checkov (PyPI) in a venv of its own: its dependency pins conflict with inferwatch's.
install_checkov() {
  if have checkov "$CHECKOV_VERSION"; then return 0; fi
  say "installing checkov $CHECKOV_VERSION into $tools/checkov-venv"
  rm -rf "$tools/checkov-venv" && python3 -m venv "$tools/checkov-venv" \
    && "$tools/checkov-venv/bin/pip" install -q --upgrade 'pip>=24' \
    && "$tools/checkov-venv/bin/pip" install -q -r "$root/deploy/helm/checkov-requirements.txt" || return 1
  ln -sf "$tools/checkov-venv/bin/checkov" "$bin/checkov"
  stamp checkov "$CHECKOV_VERSION"
}
install_checkov || die "checkov $CHECKOV_VERSION failed to install"
# buildah + mmdebstrap (Debian) build and run the container image without a daemon (make image).
if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null; then
  say "installing Debian's buildah and mmdebstrap (container image build)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah mmdebstrap >/dev/null \
    || die "could not install Debian packages buildah and mmdebstrap"
fi

say "tools in $bin:"
for t in prometheus promtool promtool2 alertmanager amtool helm kubeconform llm-d-inference-sim sloth victoria-metrics vmalert checkov; do
  [ -x "$bin/$t" ] || die "$t is missing from $bin"
  case $t in
    helm) v=$("$bin/$t" version --short 2>&1 | head -1) ;;
    kubeconform) v=$("$bin/$t" -v 2>&1 | head -1) ;;
    llm-d-inference-sim) v="$(cat "$stamps/$t")" ;;
    sloth) v=$("$bin/$t" version 2>/dev/null | tail -1) ;;
    victoria-metrics | vmalert) v=$("$bin/$t" -version 2>/dev/null | tail -1) ;;
    *) v=$("$bin/$t" --version 2>&1 | head -1) ;;
  esac
  printf '  %-20s %s\n' "$t" "$v"
done
