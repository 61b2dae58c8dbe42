"""bench/fleet_bench.py runs end to end on a tiny fleet, as its users run it: `python -m bench.fleet_bench`.

The benchmark itself (about 40 minutes for a quarter and a whole fleet) is not part of any test
tier; this run keeps it runnable and its figures meaningful: the fleet's history imports, a real
Prometheus 3 scrapes its present and evaluates every generated group (normalization, alerts,
SLOs, cost, autoscaling) and the real Sloth's rules, vmalert over VictoriaMetrics evaluates the
same set, a `--compare` set loads beside it, and the series the rules add are counted from the
head, each set's over the imported history alone. The test imports nothing of bench/: it is run as the script it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferwatch.tools import Toolbox

REPO = Path(__file__).resolve().parents[1]
AREAS = ("inferwatch-normalize-", "inferwatch-alerts-", "inferwatch-slo-", "inferwatch-cost-", "inferwatch-autoscaling")


@pytest.mark.scale
@pytest.mark.timeout(900)
def test_the_fleet_bench_runs_on_a_tiny_fleet(tools: Toolbox, tmp_path: Path) -> None:
    for tool in ("sloth", "victoria-metrics", "vmalert"):
        assert tools.find(tool), f"{tool} missing: run scripts/install-tools.sh"
    figures = tmp_path / "figures.json"
    compare = tmp_path / "normalize.yaml"
    compare.write_text((REPO / "alerts" / "generated" / "normalize.yaml").read_text())
    argv = [
        sys.executable, "-m", "bench.fleet_bench", "--scale", "0.02", "--span", "20m", "--future", "15m",
        "--interval", "5s", "--settle", "25", "--warmup", "0", "--compare", str(compare), "--compare-name", "again",
        "--no-write", "--json", str(figures),
    ]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    started = time.time()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=840, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "## The whole rule set at fleet size" in proc.stdout
    [result] = json.loads(figures.read_text())
    # the docs are stamped with the run's end, also when rendered from this file later
    assert started < result["finished"] <= time.time(), result["finished"]
    assert result["gpus"] == 32 and result["pods"] == 10 and result["engines"] > result["pods"], result
    assert set(result["raw_by_source"]) == {"vllm", "sidecar", "daemonset", "kube"}
    runs = {(r["backend"], r["rule_set"]): r for r in result["runs"]}
    assert set(runs) == {
        ("Prometheus 3", "no rules"),
        ("Prometheus 3", "inferwatch"),
        ("Prometheus 3", "again"),
        ("Prometheus 3", "sloth"),
        ("VictoriaMetrics + vmalert", "inferwatch"),
    }
    none, ours = runs[("Prometheus 3", "no rules")], runs[("Prometheus 3", "inferwatch")]
    # the baseline's head is the scraped fleet; the rules add their records to it
    assert none["head_series"] >= result["raw_series"] and ours["head_series"] > none["head_series"]
    # each set starts from the imported blocks alone: Sloth's run, after inferwatch's, does not hold
    # inferwatch's records too (it adds a few series per SLO where inferwatch adds thousands)
    sloth = runs[("Prometheus 3", "sloth")]
    assert sloth["head_series"] - none["head_series"] < (ours["head_series"] - none["head_series"]) / 2, (sloth, ours)
    for key in [("Prometheus 3", "inferwatch"), ("VictoriaMetrics + vmalert", "inferwatch")]:
        groups = runs[key]["groups"]
        for prefix in AREAS:
            assert any(g["name"].startswith(prefix) for g in groups), (key, prefix)
        assert all(g["evaluations"] > 0 and g["eval_ms"] > 0 for g in groups), key
        normalize = [g for g in groups if g["name"].startswith("inferwatch-normalize-vllm")]
        assert normalize and normalize[0]["series"] > 0, key
    assert sum(g["series"] for g in runs[("Prometheus 3", "sloth")]["groups"]) > 0
