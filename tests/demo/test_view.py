"""The demo's live view shows cost per 1M tokens as the report does: three significant digits."""

from __future__ import annotations

from rich.console import Console

from inferwatch.demo.view import NamespaceCost, Snapshot, render


def test_cost_per_million_tokens_keeps_three_significant_digits() -> None:
    snapshot = Snapshot(
        phase="quiet", elapsed_s=10, duration_s=600, incident=(60, 300), prometheus_url="http://p",
        alertmanager_url="http://a", out_dir="/tmp/x", history="a week",
        costs=[NamespaceCost("team-a", 12.3456, 0.1852), NamespaceCost("team-b", 4.5, 12.5)],
    )  # fmt: skip
    console = Console(width=200, record=True)
    console.print(render(snapshot))
    text = console.export_text()
    assert "0.185 USD" in text and "0.19 USD" not in text  # 0.19 would be 2.6 % off
    assert "12.50 USD" in text and "12.35 USD" in text  # amounts stay in cents
