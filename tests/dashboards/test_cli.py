"""`inferwatch dashboards preview`: bad arguments exit 2 naming the option, an unreachable Prometheus exits 3."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config import load_config
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.localstack.ports import free_port
from inferwatch.tools import Toolbox
from tests.conftest import REPO_ROOT
from tests.dashboards.history import cost_series


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "--from 'yesterday'"),
        (["--from", "now", "--to", "now-1h"], "must be after --from"),
        (["--var", "namespace"], "--var 'namespace'"),
        (["--dashboard", "nope"], "unknown dashboard(s): nope"),
        (["--scrape-interval", "0"], "--scrape-interval must be positive"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["dashboards", "preview", "--prometheus", url, "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreachable_prometheus_exits_3(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {"INFERWATCH_PROMETHEUS__RETRIES": "0", "INFERWATCH_PROMETHEUS__TIMEOUT_S": "2"}
    result = CliRunner(env=env).invoke(cli, ["dashboards", "preview", "--prometheus", url, "--out", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert url in result.output


def test_not_an_http_url_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dashboards", "preview", "--prometheus", "ftp://x", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--prometheus 'ftp://x'" in result.output, result.output


def test_preview_against_a_backfilled_prometheus(tools: Toolbox, tmp_path: Path) -> None:
    """The command draws what has data, lists what has none, and --fail-on-empty exits 4 for it."""
    config = load_config(REPO_ROOT / "examples" / "inferwatch.yaml")
    hist = BackfilledPrometheus(tools, tmp_path / "hist")
    end = datetime.now(UTC)
    hist.add_raw(cost_series(config, end.timestamp() - 3600, end.timestamp() - 60))
    hist.start()
    try:
        base = ["-c", str(REPO_ROOT / "examples" / "inferwatch.yaml"), "dashboards", "preview"]
        base += ["--prometheus", hist.url, "--from", "now-1h", "--scrape-interval", "60"]
        cost = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "cost"), "--dashboard", "inferwatch-cost",
                                        "--fail-on-empty"])  # fmt: skip
        assert cost.exit_code == 0, cost.output
        assert (tmp_path / "cost" / "inferwatch-cost.png").stat().st_size > 20_000
        assert "inferwatch / Cost" in (tmp_path / "cost" / "index.html").read_text()
        # No vLLM series at all: every Inference panel is empty, and says so.
        inference = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "inf"), "--dashboard",
                                             "inferwatch-inference", "--fail-on-empty"])  # fmt: skip
        assert inference.exit_code == 4, inference.output
        assert "no data: Time to first token" in inference.output
        assert "empty by design: Prefix-cache hit ratio" in inference.output
        assert (tmp_path / "inf" / "inferwatch-inference.png").is_file()
    finally:
        hist.stop()
