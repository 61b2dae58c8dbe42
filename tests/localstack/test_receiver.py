"""The webhook receiver records Alertmanager's notifications; a page is a firing alert sent to /page."""

from __future__ import annotations

from pathlib import Path

import httpx

from inferwatch.localstack.ports import free_port
from inferwatch.localstack.receiver import WebhookReceiver, read_notifications


def _payload(status: str, alertname: str) -> dict[str, object]:
    return {
        "version": "4",
        "status": status,
        "receiver": "page",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": alertname, "namespace": "team-b", "severity": "page"},
                "annotations": {"summary": f"{alertname} <b>summary</b>"},
                "startsAt": "2026-11-30T12:00:00Z",
            }
        ],
    }


def test_firing_pages_are_kept_resolved_and_tickets_are_not_pages(tmp_path: Path) -> None:
    log = tmp_path / "pages.jsonl"
    receiver = WebhookReceiver(free_port(), log)
    receiver.start()
    try:
        ttft = "VLLMTimeToFirstTokenHigh"
        assert httpx.post(receiver.url + "/page", json=_payload("firing", ttft)).status_code == 200
        assert httpx.post(receiver.url + "/ticket", json=_payload("firing", "VLLMQueueGrowing")).status_code == 200
        assert httpx.post(receiver.url + "/page", json=_payload("resolved", ttft)).status_code == 200
        assert httpx.post(receiver.url + "/page", content=b"not json").status_code == 400
        pages = receiver.pages()
    finally:
        receiver.stop()
    assert [(p.alertname, p.labels["namespace"]) for p in pages] == [("VLLMTimeToFirstTokenHigh", "team-b")]
    assert pages[0].summary == "VLLMTimeToFirstTokenHigh <b>summary</b>"
    assert [n.receiver for n in read_notifications(log)] == ["page", "ticket", "page"]
