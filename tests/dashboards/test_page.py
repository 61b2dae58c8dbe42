"""The preview's HTML index: hostile titles, variable values and errors are text, not markup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from inferwatch.dashboards.page import write_index
from inferwatch.dashboards.results import DashboardPreview, EmptyPanel


def test_hostile_strings_are_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    preview = DashboardPreview(
        uid="inferwatch-inference",
        title=f"Inference {evil}",
        png=tmp_path / "inferwatch-inference.png",
        panels=3,
        empty=(
            EmptyPanel("Inference", 2, f"KV {evil}", None, error=f'bad "query" {evil}'),
            EmptyPanel("Inference", 3, "Prefix cache", "no lookups <b>at all</b>"),
        ),
        variables={"namespace": f"All ({evil})"},
    )
    start, end = datetime(2026, 11, 30, 10, tzinfo=UTC), datetime(2026, 11, 30, 11, tzinfo=UTC)
    html = write_index(tmp_path, [preview], start, end, f"http://prom/{evil}").read_text()
    assert "<script>" not in html and "<b>at all</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "empty by design (no lookups &lt;b&gt;at all&lt;/b&gt;)" in html
    assert 'src="inferwatch-inference.png"' in html
