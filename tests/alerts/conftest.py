"""Fixtures of the rules-area tests: the local stack's webhook receiver, recording what Alertmanager posts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inferwatch.localstack.receiver import WebhookReceiver


class Webhook(WebhookReceiver):
    """The webhook receiver, read as (alertname, namespace) pairs per path."""

    def alertnames(self, path: str) -> set[tuple[str, str]]:
        """(alertname, namespace) of every alert posted to ``path``, firing or resolved."""
        return {
            (a["labels"]["alertname"], a["labels"].get("namespace", ""))
            for body in self.payloads(path)
            for a in body["alerts"]
        }


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A started webhook receiver on loopback, shut down after the test."""
    with Webhook() as hook:
        yield hook
