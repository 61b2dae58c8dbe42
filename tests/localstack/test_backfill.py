"""Backfilling with promtool: what is written as OpenMetrics is what the TSDB holds, and a failed import says so."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from inferwatch.localstack.backfill import BackfillError, Series, backfill_series
from inferwatch.tools import Toolbox

T0 = 1_700_000_000


def _dump(tools: Toolbox, data_dir: Path) -> list[str]:
    (data_dir / "wal").mkdir(exist_ok=True)  # `promtool tsdb dump` reads the WAL a running Prometheus would have
    proc = subprocess.run(
        [str(tools.path("promtool")), "tsdb", "dump", str(data_dir)], capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def test_series_land_in_the_data_dir_with_escaped_labels_and_special_values(tools: Toolbox, tmp_path: Path) -> None:
    hostile = 'a"b\\c\nd'
    series = [
        Series("inferwatch_gpu_busy_seconds_total", {"gpu_uuid": hostile}, [(T0, 1.0), (T0 + 60, 61.5)]),
        Series("vllm:time_to_first_token_seconds_bucket", {"le": "+Inf"}, [(T0, math.inf)]),
        Series("inferwatch_gpu_info", {}, [(T0 + 0.25, 1.0)]),
    ]
    work, data = tmp_path / "work", tmp_path / "data"
    assert backfill_series(tools, series, work, data, max_block_duration="2h") == 4
    assert sorted(_dump(tools, data)) == sorted([
        f'{{__name__="inferwatch_gpu_busy_seconds_total", gpu_uuid="a\\"b\\\\c\\nd"}} 1 {T0}000',
        f'{{__name__="inferwatch_gpu_busy_seconds_total", gpu_uuid="a\\"b\\\\c\\nd"}} 61.5 {T0 + 60}000',
        f'{{__name__="vllm:time_to_first_token_seconds_bucket", le="+Inf"}} +Inf {T0}000',
        f'{{__name__="inferwatch_gpu_info"}} 1 {T0}250',
    ])  # fmt: skip
    assert list(work.iterdir()) == [], "the OpenMetrics file and promtool's output folder are removed"


def test_a_failed_import_names_the_file_and_installs_nothing(tools: Toolbox, tmp_path: Path) -> None:
    # A metric name OpenMetrics cannot carry unquoted: promtool refuses the file.
    series = [Series("inferwatch gpu info", {}, [(T0, 1.0)])]
    with pytest.raises(BackfillError, match=r"create-blocks-from openmetrics pass-3\.om failed"):
        backfill_series(tools, series, tmp_path / "work", tmp_path / "data", name="pass-3")
    assert not list((tmp_path / "data").glob("*/meta.json"))
