"""`inferwatch dashboards preview`: bad arguments exit 2 naming the option, an unreachable Prometheus exits 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.cli import cli
from tests.support.processes import free_port


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
