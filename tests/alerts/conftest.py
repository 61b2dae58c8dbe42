"""Fixtures of the rules-area tests: the generated rule files, and the local stack's webhook receiver
recording what Alertmanager posts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inferwatch.alerts.generate import rule_files
from inferwatch.config import InferwatchConfig
from inferwatch.localstack.receiver import WebhookReceiver
from inferwatch.rules import to_prometheus_yaml


def write_rules(d: Path, config: InferwatchConfig) -> Path:
    """The rules area's rule files of ``config`` (normalize.yaml, alerts.yaml) written under ``d``."""
    for name, rf in rule_files(config).items():
        (d / f"{name}.yaml").write_text(to_prometheus_yaml(rf))
    return d


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rule files generated from the default configuration."""
    return write_rules(tmp_path_factory.mktemp("rules"), InferwatchConfig())


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
