"""The example Alertmanager configuration: amtool accepts it, routes by severity, and a real
Alertmanager inhibits a ticket while a page fires for the same namespace/model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from inferwatch.alerts.alertmanager import ALERTMANAGER_CONFIG_PATH, Receivers, alertmanager_config
from inferwatch.alerts.model import dump_yaml

from inferwatch.tools import Toolbox
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


class _Webhook:
    """A webhook receiver on loopback that records what Alertmanager posts, by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def alertnames(self, path: str) -> set[tuple[str, str]]:
        """(alertname, namespace) of every alert posted to ``path``."""
        return {
            (a["labels"]["alertname"], a["labels"].get("namespace", ""))
            for p, body in self.received
            if p == path
            for a in body["alerts"]
        }


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    hook = _Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": severity, **labels}, "annotations": {"summary": name}}


def test_a_page_inhibits_tickets_of_the_same_model(
    tmp_path: Path, alertmanager_factory: Starter, webhook: _Webhook
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
