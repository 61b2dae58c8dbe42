"""`inferwatch controller run`: its way into Prometheus is checked like every other command's (the URL's
scheme, no password in it, the files the settings name) and before the API server is asked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from inferwatch.app.cli import cli


def _run(tmp_path: Path, *args: str, prometheus: Mapping[str, object] | None = None) -> Result:
    """`controller run` with a kubeconfig that does not exist: reaching the API server would fail (exit 1)."""
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": dict(prometheus or {})}))
    argv = ["-c", str(config), "controller", "run", "--kubeconfig", str(tmp_path / "missing"), "--health-port", "0"]
    return CliRunner().invoke(cli, [*argv, *args])


def test_prometheus_url_of_another_scheme_exits_2_naming_the_flag(tmp_path: Path) -> None:
    res = _run(tmp_path, "--prometheus-url", "ftp://prometheus.monitoring.svc:9090")
    assert res.exit_code == 2, res.output
    assert "--prometheus-url" in res.output and "must start with http:// or https://" in res.output


def test_a_password_in_the_prometheus_url_is_refused_and_not_echoed(tmp_path: Path) -> None:
    res = _run(tmp_path, "--prometheus-url", "https://reader:hunter2@prometheus.monitoring.svc")
    assert res.exit_code == 2, res.output
    assert "use basic_auth" in res.output and "reader:xxxxx@" in res.output
    assert "hunter2" not in res.output


def test_a_missing_token_file_of_the_settings_exits_2_before_the_api_server_is_asked(tmp_path: Path) -> None:
    """The chart mounts the token; without it the controller says which setting names it, at any URL."""
    token = tmp_path / "no-token"
    prometheus = {"authorization": {"credentials_file": str(token)}}
    res = _run(tmp_path, "--prometheus-url", "https://thanos.example:9091", prometheus=prometheus)
    assert res.exit_code == 2, res.output
    assert "prometheus.authorization.credentials_file" in res.output and str(token) in res.output


def test_good_settings_get_as_far_as_the_api_server(tmp_path: Path) -> None:
    """The checks above are not what stops every run: valid settings reach the (missing) kubeconfig."""
    token = tmp_path / "token"
    token.write_text("a-token\n")
    prometheus = {"authorization": {"credentials_file": str(token)}}
    res = _run(tmp_path, "--prometheus-url", "https://thanos.example:9091", prometheus=prometheus)
    assert res.exit_code == 1, res.output
    assert "no Kubernetes credentials" in res.output
