#!/usr/bin/env bash
# mypy over the installed package shape, the tests and the benches: the area folders are
# `inferwatch.<area>` only through setuptools package-dir, which mypy cannot follow, so lay out a
# symlink tree that looks like the installed package (tests/ and bench/ beside it, as they import
# it) and check that.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tree="$root/build/typecheck"
rm -rf "$tree" && mkdir -p "$tree/inferwatch"
for f in "$root"/inferwatch/*; do ln -s "$f" "$tree/inferwatch/$(basename "$f")"; done
for area in exporters dashboards alerts slo workloads; do ln -s "$root/$area" "$tree/inferwatch/$area"; done
ln -s "$root/tests" "$tree/tests"
ln -s "$root/bench" "$tree/bench"
cd "$tree"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" -p inferwatch -p tests -p bench
