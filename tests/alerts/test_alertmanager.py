"""The example Alertmanager configuration: amtool accepts it, routes by severity, and a real
Alertmanager inhibits a ticket while a page fires for the same namespace/model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from inferwatch.alerts.alertmanager import ALERTMANAGER_CONFIG_PATH, Receivers, alertmanager_config
from inferwatch.rules import dump_yaml
from inferwatch.tools import Toolbox
from tests.alerts.conftest import Webhook
from tests.conftest import Starter


def test_amtool_accepts_the_committed_config(tools: Toolbox, repo_root: Path) -> None:
    proc = tools.run("amtool", "check-config", str(repo_root / ALERTMANAGER_CONFIG_PATH))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 inhibit rules" in proc.stdout and "2 receivers" in proc.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=page", "namespace=ns1", "model_name=llama"], "page"),
        (["severity=ticket", "namespace=ns1", "model_name=llama"], "ticket"),
        (["severity=page", "gpu_uuid=GPU-1"], "page"),
    ],
)
def test_severity_picks_the_receiver(tools: Toolbox, repo_root: Path, labels: list[str], receiver: str) -> None:
    proc = tools.run(
        "amtool", "config", "routes", "test", f"--config.file={repo_root / ALERTMANAGER_CONFIG_PATH}", *labels
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == receiver


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": severity, **labels}, "annotations": {"summary": name}}


def test_a_page_inhibits_tickets_of_the_same_model(
    tmp_path: Path, alertmanager_factory: Starter, webhook: Webhook
) -> None:
    config = alertmanager_config(Receivers(page_url=f"{webhook.url}/page", ticket_url=f"{webhook.url}/ticket"))
    # Shorter waits than the example's, so the test does not sit for 30 s; routing is unchanged.
    config["route"]["group_wait"] = "1s"
    for route in config["route"]["routes"]:
        route["group_wait"] = "1s"
    path = tmp_path / "alertmanager.yml"
    path.write_text(dump_yaml(config))
    am = alertmanager_factory(path, tmp_path)

    alerts = [
        _alert("VLLMTimeToFirstTokenHigh", "page", namespace="ns1", model_name="llama"),
        _alert("VLLMKVCacheNearlyFull", "ticket", namespace="ns1", model_name="llama", pod="vllm-0"),
        _alert("VLLMKVCacheNearlyFull", "ticket", namespace="ns2", model_name="llama", pod="vllm-0"),
    ]
    httpx.post(f"{am.url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if webhook.alertnames("/page") and webhook.alertnames("/ticket"):
            break
        time.sleep(0.2)
    state = httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()
    inhibited = {(a["labels"]["alertname"], a["labels"]["namespace"]) for a in state if a["status"]["inhibitedBy"]}
    assert inhibited == {("VLLMKVCacheNearlyFull", "ns1")}, yaml.safe_dump(state)
    assert webhook.alertnames("/page") == {("VLLMTimeToFirstTokenHigh", "ns1")}
    assert webhook.alertnames("/ticket") == {("VLLMKVCacheNearlyFull", "ns2")}, am.log()[-2000:]
