"""Real Prometheus deployments behind authentication, started on loopback by the local stack.

- A Prometheus 3 with its own ``--web.config.file`` requiring TLS and basic auth, holding a small
  backfilled history of recorded SLO and cost series; it scrapes a real exporter that itself
  requires TLS and basic auth, through the scrape config inferwatch.localstack generates.
- The same Prometheus behind a proxy that wants a bearer token and ``X-Scope-OrgID``, as Mimir's
  gateway or OpenShift's Thanos querier do (inferwatch.localstack.tenantproxy).

`slo status`, `cost report` and `dashboards preview` work with the right `prometheus:` settings
and exit 3 with a message naming the setting without them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings
from inferwatch.conventions import cost as cc
from inferwatch.conventions import slo as sc
from inferwatch.localstack.backfill import Series
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.localstack.launchers import WebAccess
from inferwatch.localstack.processes import ManagedProcess, wait_for
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render_yaml
from inferwatch.localstack.tenantproxy import TenantProxy
from inferwatch.prom import PrometheusReader
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.tools import Toolbox
from tests.support.certs import TestCA
from tests.support.exporter import exporter_process

pytestmark = pytest.mark.timeout(600)

WEEK = IsoWeek.parse("2026-W40")
AT = WEEK.start + timedelta(days=1, hours=12)
SLO = {"name": "chat-ttft", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}}
READER, READER_PASSWORD = "reader", "reader-pa55"
SCRAPER, SCRAPER_PASSWORD = "prometheus", "scrape-pa55"
TOKEN, TENANT = "sa-token-for-the-cost-job", "team-a"


def _history() -> list[Series]:
    """Recorded series as the rules would have written them: one SLO's budget and burn rates around
    AT, and three hours of GPU cost in the report's week (a partial week, which the report says)."""
    slo = {sc.SLO_LABEL: SLO["name"]}
    around = [(AT - timedelta(minutes=m)).timestamp() for m in range(30, -1, -1)]
    series = [Series(sc.ERROR_BUDGET_REMAINING, slo, [(t, 0.8) for t in around])]
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        series.append(Series(sc.BURN_RATE, {**slo, sc.WINDOW_LABEL: window}, [(t, 0.2) for t in around]))
    start = WEEK.start + timedelta(days=1, hours=9)
    grid = [(start + timedelta(minutes=m)).timestamp() for m in range(0, 180)]
    series.append(
        Series(cc.GPU_COST_RATE, {"gpu_uuid": "GPU-1", "gpu_model": "NVIDIA H100"}, [(t, 0.001) for t in grid])
    )
    series.append(Series(cc.ALLOCATED_COST_RATE, {"namespace": TENANT}, [(t, 0.0008) for t in grid]))
    return series


@dataclass
class Stack:
    """The secured Prometheus, the exporter it scrapes, and how to reach both."""

    prometheus: BackfilledPrometheus
    exporter: ManagedProcess
    ca: TestCA
    password_file: Path
    workdir: Path

    @property
    def url(self) -> str:
        return self.prometheus.url


def _web_config(path: Path, user: str, password: str) -> Path:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()
    path.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
                "basic_auth_users": {user: hashed},
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def stack(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("secured")
    ca = TestCA(work / "pki")
    ca.issue("server")
    password_file = work / "pki" / "scrape-password"
    password_file.write_text(SCRAPER_PASSWORD + "\n")
    exporter_web = _web_config(work / "pki" / "exporter-web.yml", SCRAPER, SCRAPER_PASSWORD)
    tls = WebAccess(ca.ca_file).verify()
    with exporter_process(work / "exporter", ["--gpu-backend", "simulated", "--web.config.file", str(exporter_web)],
                          tls=tls) as exporter:  # fmt: skip
        hist = BackfilledPrometheus(
            tools,
            work / "prometheus",
            web_config_file=_web_config(work / "pki" / "prometheus-web.yml", READER, READER_PASSWORD),
            access=WebAccess(ca.ca_file, (READER, READER_PASSWORD)),
        )
        address = exporter.url.removeprefix("https://")
        secured = {"scheme": "https", "tls_config": {"ca_file": str(ca.ca_file)}}
        hist.config_file.write_text(
            render_yaml(
                LocalStack(
                    targets=(
                        ScrapeTarget("inferwatch-exporter", address, {"namespace": "gpu"}, honor_labels=True, **secured,
                                     basic_auth={"username": SCRAPER, "password_file": str(password_file)}),
                        ScrapeTarget("without-credentials", address, {"namespace": "gpu"}, **secured),
                    ),
                    scrape_interval="1s",
                )
            )
        )  # fmt: skip
        try:
            hist.add_raw(_history())
            hist.start()
            yield Stack(hist, exporter, ca, password_file, work)
        finally:
            hist.stop()


def _settings(stack: Stack, **extra: Any) -> dict[str, Any]:
    return {"url": stack.url, "retries": 1, "retry_backoff_s": 0, **extra}


def _tls_basic(stack: Stack) -> dict[str, Any]:
    pw = stack.workdir / "reader-password"
    pw.write_text(READER_PASSWORD)
    return _settings(stack, tls_config={"ca_file": str(stack.ca.ca_file)},
                     basic_auth={"username": READER, "password_file": str(pw)})  # fmt: skip


def _commands(stack: Stack, out: Path) -> dict[str, list[str]]:
    return {
        "slo status": ["slo", "status", "--output", "json", "--at", AT.isoformat()],
        "cost report": ["cost", "report", "--week", WEEK.label, "--out", str(out / "reports")],
        "dashboards preview": ["dashboards", "preview", "--prometheus", stack.url, "--out", str(out / "preview"),
                               "--dashboard", "inferwatch-slos", "--from", (AT - timedelta(hours=1)).isoformat(),
                               "--to", AT.isoformat()],
    }  # fmt: skip


def _run(tmp_path: Path, prometheus: dict[str, Any], args: list[str]) -> Result:
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"prometheus": prometheus, "slos": [SLO]}))
    return CliRunner().invoke(cli, ["-c", str(config), *args])


COMMANDS = ("slo status", "cost report", "dashboards preview")


# ---------------------------------------------------------------- TLS + basic auth


def test_prometheus_scrapes_the_exporter_over_tls_with_basic_auth(stack: Stack) -> None:
    """The generated scrape config reaches the TLS exporter with its password; a job without it gets 401."""
    settings = PrometheusSettings.model_validate(_tls_basic(stack))
    reader = PrometheusReader(settings)

    def scraped() -> bool:
        up = {s.labels["job"]: s.value for s in reader.query("up")}
        return up.get("inferwatch-exporter") == 1 and "without-credentials" in up

    wait_for(scraped, "both exporter jobs scraped", timeout=60, interval=0.5)
    up = {s.labels["job"]: s.value for s in reader.query("up")}
    assert up == {"inferwatch-exporter": 1.0, "without-credentials": 0.0}
    assert reader.query('count(inferwatch_gpu_up{job="inferwatch-exporter"})')[0].value == 2
    targets = stack.prometheus.url + "/api/v1/targets"
    active = httpx.get(targets, verify=WebAccess(stack.ca.ca_file).verify(), auth=(READER, READER_PASSWORD)).json()
    errors = {t["labels"]["job"]: t["lastError"] for t in active["data"]["activeTargets"]}
    assert "401" in errors["without-credentials"] and errors["inferwatch-exporter"] == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_work_with_tls_and_basic_auth(stack: Stack, tmp_path: Path, command: str) -> None:
    res = _run(tmp_path, _tls_basic(stack), _commands(stack, tmp_path)[command])
    assert res.exit_code == 0, res.output
    if command == "slo status":
        [row] = yaml.safe_load(res.output)
        assert row["budget_remaining_percent"] == pytest.approx(80.0) and row["state"] == "ok"
    if command == "cost report":
        assert "partial week" in res.output and "team-a" in (tmp_path / "reports").rglob("*.md").__next__().read_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_without_credentials_exit_3_saying_so(stack: Stack, tmp_path: Path, command: str) -> None:
    res = _run(
        tmp_path, _settings(stack, tls_config={"ca_file": str(stack.ca.ca_file)}), _commands(stack, tmp_path)[command]
    )
    assert res.exit_code == 3, res.output
    assert "authentication failed (HTTP 401 Unauthorized" in res.output
    assert "prometheus.authorization or prometheus.basic_auth (neither is set)" in res.output


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_without_the_ca_exit_3_naming_tls_config(stack: Stack, tmp_path: Path, command: str) -> None:
    res = _run(tmp_path, _settings(stack, basic_auth={"username": READER, "password": READER_PASSWORD}),
               _commands(stack, tmp_path)[command])  # fmt: skip
    assert res.exit_code == 3, res.output
    assert "TLS with Prometheus" in res.output and "check prometheus.tls_config" in res.output
    assert READER_PASSWORD not in res.output


def test_wrong_password_exits_3_naming_basic_auth(stack: Stack, tmp_path: Path) -> None:
    settings = _settings(stack, tls_config={"ca_file": str(stack.ca.ca_file)},
                         basic_auth={"username": READER, "password": "not-it"})  # fmt: skip
    res = _run(tmp_path, settings, _commands(stack, tmp_path)["slo status"])
    assert res.exit_code == 3 and "prometheus.basic_auth (username 'reader', password)" in res.output
    assert "not-it" not in res.output


# ---------------------------------------------------------------- bearer token + tenant header


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[TenantProxy]:
    proxy = TenantProxy(
        stack.url, TOKEN, (TENANT,), forbidden_tokens=("token-of-another-team",),
        upstream_tls=ssl.create_default_context(cafile=str(stack.ca.ca_file)),
        upstream_auth=(READER, READER_PASSWORD),
    )  # fmt: skip
    with proxy:
        yield proxy


def _token_settings(gateway: TenantProxy, tmp_path: Path, token: str = TOKEN, tenant: bool = True) -> dict[str, Any]:
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    settings: dict[str, Any] = {"url": gateway.url, "retries": 1, "retry_backoff_s": 0,
                                "authorization": {"credentials_file": str(token_file)}}  # fmt: skip
    if tenant:
        settings["http_headers"] = {"X-Scope-OrgID": {"values": [TENANT]}}
    return settings


def _gateway_commands(stack: Stack, gateway: TenantProxy, out: Path) -> dict[str, list[str]]:
    commands = _commands(stack, out)
    preview = commands["dashboards preview"]
    preview[preview.index(stack.url)] = gateway.url
    return commands


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_work_through_a_tenant_gateway(
    stack: Stack, gateway: TenantProxy, tmp_path: Path, command: str
) -> None:
    gateway.seen.clear()
    res = _run(tmp_path, _token_settings(gateway, tmp_path), _gateway_commands(stack, gateway, tmp_path)[command])
    assert res.exit_code == 0, res.output
    assert gateway.seen and all(s.tenant == TENANT and s.authorization == f"Bearer {TOKEN}" for s in gateway.seen)
    assert {s.status for s in gateway.seen} == {200}


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_without_the_tenant_exit_3_naming_the_header(
    stack: Stack, gateway: TenantProxy, tmp_path: Path, command: str
) -> None:
    res = _run(
        tmp_path, _token_settings(gateway, tmp_path, tenant=False), _gateway_commands(stack, gateway, tmp_path)[command]
    )
    assert res.exit_code == 3, res.output
    assert "authentication failed (HTTP 401" in res.output and "no org id" in res.output
    assert "set prometheus.http_headers.X-Scope-OrgID" in res.output


def test_wrong_and_foreign_tokens_exit_3(stack: Stack, gateway: TenantProxy, tmp_path: Path) -> None:
    status = _gateway_commands(stack, gateway, tmp_path)["slo status"]
    res = _run(tmp_path, _token_settings(gateway, tmp_path, token="expired-token"), status)
    assert res.exit_code == 3 and "authentication failed" in res.output
    assert f"prometheus.authorization (Bearer, credentials_file {tmp_path / 'token'})" in res.output
    res = _run(tmp_path, _token_settings(gateway, tmp_path, token="token-of-another-team"), status)
    assert res.exit_code == 3 and "authenticated, but not allowed (HTTP 403 Forbidden" in res.output
    assert "token-of-another-team" not in res.output and "expired-token" not in res.output
