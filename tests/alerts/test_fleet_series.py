"""The fleet benchmark's synthetic fleet is what the rules read: every normalization family records on it.

bench/fleet_bench.py measures the rule set over a fleet written by `bench.fleet_model`. If that
generator drifted from what the exporter serves (`inferwatch.contract`) or from vLLM's label sets
the normalization rules read, the benchmark would measure rules evaluating over nothing. A tiny
fleet (4 nodes: exclusive, time-sliced and MIG GPUs; 10 vLLM pods, data-parallel ranks among
them) is written by the real script, imported with promtool into a real Prometheus 3, and the
normalization groups are backfilled over it with promtool; every recorded family must hold series
at the end, but those the fleet has no input for (named below, with why). The test imports nothing
of bench/: it runs the script as the benchmark does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inferwatch import contract
from inferwatch.alerts.normalize import normalization_groups
from inferwatch.config import PrometheusSettings
from inferwatch.localstack.backfill import create_blocks, install_blocks
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.prom import PrometheusReader
from inferwatch.rules import RecordingRule
from inferwatch.tools import Toolbox

REPO = Path(__file__).resolve().parents[2]
MINUTES = 20
# Records the synthetic fleet has no input for, on purpose.
NO_INPUT = {
    # no llm-d router or Gateway API inference extension in the fleet
    *(
        r.record
        for g in normalization_groups()
        if g.name.endswith("-router")
        for r in g.rules
        if isinstance(r, RecordingRule)
    ),
    "inferwatch:vllm_http_requests:rate5m",  # vLLM's own /metrics (http_requests_total) is not scraped, its sidecar is
    "inferwatch:gpu_xid_errors:increase5m",  # an Xid series appears with the first Xid; the fleet has none
    "inferwatch:slo_alert:state",  # reads ALERTS and the SLO rules' records, not the fleet
}
# Labels the scrape adds (the chart's PodMonitor / ServiceMonitor), not the exporter.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint", "service", "node"}
LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\} ")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')


@pytest.fixture(scope="module")
def fleet_history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The tiny fleet's history as the script writes it, and its last sample's time."""
    work = tmp_path_factory.mktemp("fleet")
    end = int(datetime.now(UTC).timestamp()) // 60 * 60 - 3600
    om = work / "fleet.om"
    argv = [sys.executable, "-m", "bench.fleet_model", "--scale", "0.02", "--end", str(end),
            "--minutes", str(MINUTES), "--out", str(om)]  # fmt: skip
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return om, end


def test_the_exporter_series_of_the_fleet_carry_the_contract_labels(fleet_history: tuple[Path, int]) -> None:
    om, _ = fleet_history
    seen: dict[str, set[str]] = {}
    with om.open() as f:
        for line in f:
            m = LINE.match(line)
            if m and m["name"].startswith(contract.PREFIX):
                seen.setdefault(m["name"], set()).update(LABEL.findall(m["labels"]))
    # every series the exporter always serves is there (Xid and NVML errors appear with their first event)
    assert set(contract.BY_NAME) - set(seen) == {contract.GPU_XID_ERRORS.name, contract.GPU_NVML_ERRORS.name}
    for name, labels in seen.items():
        assert labels - TARGET_LABELS == set(contract.BY_NAME[name].labels) - TARGET_LABELS, name


@pytest.mark.timeout(600)
def test_every_normalization_family_records_on_the_generated_fleet(
    tools: Toolbox, fleet_history: tuple[Path, int], tmp_path: Path
) -> None:
    om, end = fleet_history
    hist = BackfilledPrometheus(tools, tmp_path)
    create_blocks(tools, om, tmp_path / "blocks")
    install_blocks(tmp_path / "blocks", hist.data_dir)
    start_dt = datetime.fromtimestamp(end - (MINUTES - 1) * 60, UTC)
    end_dt = datetime.fromtimestamp(end, UTC)
    groups = normalization_groups()
    hist.backfill_groups(groups, start_dt, end_dt)
    try:
        hist.start()
        reader = PrometheusReader(PrometheusSettings(url=hist.url))
        records = {r.record for g in groups for r in g.rules if isinstance(r, RecordingRule)}
        empty = {r for r in records if not reader.query(f"last_over_time({r}[5m])", end_dt)}
        assert empty == records & NO_INPUT, sorted(empty ^ (records & NO_INPUT))
        # vLLM's label sets: one series per pod and model, data-parallel ranks (`engine`) summed
        for record in ("inferwatch:vllm_ttft_seconds_count:rate5m", "inferwatch:vllm_requests_running:sum",
                       "inferwatch:vllm_kv_cache_usage:max", "inferwatch:vllm_prompt_tokens:rate5m"):  # fmt: skip
            got = reader.query(record, end_dt)
            assert all(s.labels.get(k) for s in got for k in ("namespace", "pod", "model_name")), record
            assert all("engine" not in s.labels for s in got), record
            assert len({s.labels["pod"] for s in got}) == len(got), record
        finished = {
            s.labels.get("finished_reason") for s in reader.query("inferwatch:vllm_requests_finished:rate5m", end_dt)
        }
        assert finished == {"stop", "length", "abort"}
        # MIG and time-sliced GPUs are shared: some GPU has allocations below 1
        shares = reader.query("inferwatch:gpu_allocation:ratio < 1", end_dt)
        assert shares, "no shared GPU in the fleet"
    finally:
        hist.stop()
