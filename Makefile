# inferwatch: `make build` (the main job) and `make test` each do all set-up themselves.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= examples/inferwatch.yaml

.PHONY: build test setup lint typecheck check-generated pytest gpu-test bench test-scale

$(BIN)/inferwatch: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade 'pip>=24'
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

.tools/.installed: scripts/install-tools.sh
	bash scripts/install-tools.sh
	touch $@

setup: $(BIN)/inferwatch .tools/.installed

# The main job: generate every artifact from the example config, validate it with the real
# tools (promtool 3 and 2, amtool, …) and write it.
build: setup
	$(BIN)/inferwatch --config $(CONFIG) build

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	bash scripts/typecheck.sh

check-generated: setup
	$(BIN)/inferwatch --config $(CONFIG) build --check

# Most of `make test`'s time waits on real processes (a Prometheus stopped for minutes, the demo's
# story): three workers (pytest-xdist), each taking a whole file, run it in about 20 minutes on 2
# cores instead of 50. The longest files start first (tests/conftest.py, STARTED_FIRST).
PYTEST_WORKERS ?= 3
pytest: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint typecheck check-generated pytest

gpu-test: setup
	$(BIN)/pytest -m gpu

# The generated rules on VictoriaMetrics + vmalert over a 30-day history (minutes; CI runs it after `test`).
test-scale: setup
	$(BIN)/pytest -m scale

# The Kubernetes tier: a real kube-apiserver (+ kube-controller-manager) on kine, prometheus-operator
# and Prometheus with Kubernetes SD, all built from the Go module proxy by scripts/install-k8s-tools.sh
# (~24 CPU-minutes: about 15 minutes the first time on an idle 2-core machine, seconds once built;
# never part of `make test`).
# CI runs it after `test-scale`.
.PHONY: test-k8s k8s-tools
.tools/.k8s-installed: scripts/install-k8s-tools.sh .tools/.installed
	bash scripts/install-k8s-tools.sh
	touch $@
k8s-tools: .tools/.k8s-installed
test-k8s: setup .tools/.k8s-installed
	$(BIN)/pytest -m k8s

# The container image (deploy/Containerfile) with buildah, no daemon: `prepare` fetches the Debian
# base (mmdebstrap) and the dependency wheels once; the image test builds from them offline.
.PHONY: image image-prepare
image-prepare: setup
	bash deploy/build-image.sh prepare
image: image-prepare
	bash deploy/build-image.sh build localhost/inferwatch:dev
	bash deploy/build-image.sh build-full localhost/inferwatch:dev-full
pytest: image-prepare

# The product's main job on this machine, no Docker, Kubernetes or GPU needed: simulated vLLM
# servers and GPUs, Prometheus, Alertmanager, a backfilled week and an incident that pages
# (about 12 minutes; `make demo DEMO_ARGS="--duration 900"` for longer, see `inferwatch demo up --help`).
.PHONY: demo
DEMO_ARGS ?=
demo: setup
	$(BIN)/inferwatch demo up $(DEMO_ARGS)
