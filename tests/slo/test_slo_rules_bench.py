"""bench/slo_rules_bench.py runs end to end at a tiny N, as its users run it: `python -m bench.slo_rules_bench`.

The benchmark itself (minutes per N) is not part of `make test`; this run keeps it runnable and its
figures meaningful: its history (written one OpenMetrics file per TSDB block) imports, the real
Sloth turns the equivalent spec into rules that Prometheus 3 loads, Pyrra's shape and the rules
before issue 27 (the baseline) load too, every group of every set evaluates, and inferwatch's
budgets — read from the hourly checkpoints the bench backfills for its rules, and the baseline's
from its hourly sums — agree with the exact counts of the generated traffic. The tests import
nothing of bench/: it is run as the script it is.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferwatch.tools import Toolbox

REPO = Path(__file__).resolve().parents[2]
N = 3
DAYS = 8  # more than one 162 h block: the history is written and imported as several files


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_bench_runs_at_a_tiny_n_and_its_budgets_match_the_counts(tools: Toolbox, tmp_path: Path) -> None:
    assert tools.find("sloth"), "sloth missing: run scripts/install-tools.sh"
    figures = tmp_path / "figures.json"
    argv = [
        sys.executable, "-m", "bench.slo_rules_bench", "--series", str(N), "--days", str(DAYS), "--interval", "5s",
        "--settle", "20", "--jobs", "2", "--no-write", "--json", str(figures),
    ]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    started = time.time()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=840, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "## SLO rules at fleet scale" in proc.stdout
    result = json.loads(figures.read_text())[str(N)]
    # the docs are stamped with the run's end, also when rendered from this file later
    assert started < result["finished"] <= time.time(), result["finished"]
    sets = {s["name"]: s for s in result["sets"]}
    assert list(sets) == ["inferwatch", "inferwatch before issue 27", "Sloth v0.16.0", "Pyrra shape"]
    for s in sets.values():
        assert s["groups"] and sum(g["series_recorded"] for g in s["groups"]) > 0, s
        for g in s["groups"]:
            assert math.isfinite(g["eval_ms"]) and g["eval_ms"] > 0 and g["samples_scanned"] > 0, (s["name"], g)
            assert math.isfinite(g["query_ms"]) and g["query_ms"] > 0, (s["name"], g)
    # Issue 15's bound on inferwatch's budgets: within 0.1 pp of the exact count, a figure for every namespace.
    for name in ("inferwatch", "inferwatch before issue 27"):
        ours = sets[name]
        assert ours["no_figure"] == 0 and ours["budget_err_max_pp"] < 0.1, ours
    assert "Against the rules before issue 27" in proc.stdout
    assert result["backfill"]["samples"] > 2 * N * DAYS * 1440, result["backfill"]
