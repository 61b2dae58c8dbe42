"""`slo check --prometheus` on a Prometheus whose data is older than a day: `--at` and `--lookback`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.app.cli import cli
from inferwatch.conventions import normalized as norm
from inferwatch.localstack.backfill import Series
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup, to_prometheus_yaml
from inferwatch.tools import Toolbox
from tests.support.series import counter_points

SPEC = {"name": "chat-ttft", "objective": 99, "sli": {"kind": "ttft", "threshold_seconds": 1.0}}


@pytest.fixture(scope="module")
def old_history(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, datetime]]:
    """A Prometheus holding two hours of TTFT histogram, ending three days ago."""
    work = tmp_path_factory.mktemp("old-history")
    end_dt = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=3)
    end = end_dt.timestamp()
    start = end - 2 * 3600
    labels = {"namespace": "ns", "model_name": "m", "pod": "p"}
    count = counter_points(lambda _t: 1.0, start, end, 60)
    raw = [
        Series("vllm:time_to_first_token_seconds_bucket", {**labels, "le": le}, count) for le in ("1.0", "2.5", "+Inf")
    ] + [Series("vllm:time_to_first_token_seconds_count", labels, count)]
    hist = BackfilledPrometheus(tools, work)
    hist.add_raw(raw)
    hist.start()
    wanted = {norm.histogram_series("ttft", "bucket")}
    rules = tuple(
        r for g in normalization_groups() for r in g.rules if isinstance(r, RecordingRule) and r.record in wanted
    )
    rule_file = work / "normalize.yaml"
    rule_file.write_text(to_prometheus_yaml(RuleFile((RuleGroup("normalize", rules),))))
    hist.backfill_rules(rule_file, datetime.fromtimestamp(start, UTC), end_dt)
    try:
        yield hist.url, end_dt
    finally:
        hist.stop()


def test_check_reads_buckets_as_of_at_or_over_a_lookback(old_history: tuple[str, datetime], tmp_path: Path) -> None:
    url, end = old_history
    spec = tmp_path / "slo.yaml"
    spec.write_text(yaml.safe_dump({"slos": [SPEC]}))
    runner = CliRunner()
    base = ["slo", "check", str(spec), "--prometheus", url]
    # Now, over the default day: nothing is there.
    res = runner.invoke(cli, base)
    assert res.exit_code == 2
    assert "Prometheus holds no ttft histogram buckets" in res.output
    # As of the end of the data: 1.0 is a scraped boundary.
    res = runner.invoke(cli, [*base, "--at", end.isoformat()])
    assert res.exit_code == 0, res.output
    # Or now, looking back a week.
    res = runner.invoke(cli, [*base, "--lookback", "7d"])
    assert res.exit_code == 0, res.output
    # 0.5 is a vLLM default boundary, but not one this histogram has.
    spec.write_text(yaml.safe_dump({"slos": [{**SPEC, "sli": {"kind": "ttft", "threshold_seconds": 0.5}}]}))
    res = runner.invoke(cli, [*base, "--at", str(int(end.timestamp()))])
    assert res.exit_code == 2
    assert "0.5 is not a bucket boundary scraped by Prometheus for ttft (1, 2.5)" in res.output


@pytest.mark.parametrize("lookback", ["0d", "1 day", "99999999999d"])
def test_check_refuses_a_bad_lookback(tmp_path: Path, lookback: str) -> None:
    spec = tmp_path / "slo.yaml"
    spec.write_text(yaml.safe_dump({"slos": [SPEC]}))
    res = CliRunner().invoke(
        cli, ["slo", "check", str(spec), "--prometheus", "http://127.0.0.1:9", "--lookback", lookback]
    )
    assert res.exit_code == 2
    assert "--lookback" in res.output


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: OpenSLO/v1\nkind: SLO\nmetadata: {name: x}\nspec: {}\n",  # apiVersion typo
        "prometheus: {url: http://x:9090}\n",  # an inferwatch.yaml without slos:
        "slos: []\n",
    ],
)
def test_check_of_a_file_without_slos_exits_2(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "none.yaml"
    spec.write_text(text)
    res = CliRunner().invoke(cli, ["slo", "check", str(spec)])
    assert res.exit_code == 2, res.output
    assert str(spec) in res.stderr and "no SLO definitions found" in res.stderr
