"""The example Alertmanager configuration: pages and tickets to different receivers.

Alerts are grouped per namespace and model; while a `page` alert fires for a namespace/model
(or a GPU), `ticket` alerts of the same namespace/model (or GPU) are inhibited, so the person
paged is not also handed the symptoms as tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferwatch.conventions import normalized as c
from inferwatch.rules import dump_yaml

ALERTMANAGER_CONFIG_PATH = "deploy/alertmanager/alertmanager.yml"

# group_by and the inhibition's `equal`: GPU alerts carry gpu_uuid instead of namespace/model.
GROUP_BY: tuple[str, ...] = ("alertname", c.NAMESPACE, c.MODEL)
INHIBIT_EQUAL: tuple[str, ...] = (c.NAMESPACE, c.MODEL, c.GPU_UUID)


@dataclass(frozen=True)
class Receivers:
    """Webhook URLs the two receivers post to (swap for pagerduty_configs/slack_configs in real use)."""

    page_url: str = "http://alert-bridge.monitoring.svc:8080/page"
    ticket_url: str = "http://alert-bridge.monitoring.svc:8080/ticket"


def alertmanager_config(receivers: Receivers = Receivers()) -> dict[str, Any]:
    """The configuration as a mapping (pure)."""
    return {
        "route": {
            "receiver": "ticket",
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": "page",
                    "matchers": ['severity="page"'],
                    "group_wait": "10s",
                    "repeat_interval": "1h",
                },
                {
                    "receiver": "ticket",
                    "matchers": ['severity="ticket"'],
                    "repeat_interval": "24h",
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="page"'],
                "target_matchers": ['severity="ticket"'],
                "equal": list(INHIBIT_EQUAL),
            }
        ],
        "receivers": [
            {"name": "page", "webhook_configs": [{"url": receivers.page_url, "send_resolved": True}]},
            {"name": "ticket", "webhook_configs": [{"url": receivers.ticket_url, "send_resolved": True}]},
        ],
    }


def render_alertmanager_config(receivers: Receivers = Receivers(), header: str = "") -> str:
    """The configuration as YAML text, with an optional header."""
    return header + dump_yaml(alertmanager_config(receivers))
