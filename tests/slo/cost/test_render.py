"""Rendering a hand-built report into every format: golden files, FOCUS conformance, escaping.

Golden files live in tests/slo/cost/golden/; after a reviewed change to the output, regenerate
them with INFERWATCH_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from inferwatch.slo.cost.columns import Kind, coverage_note, display, sig_decimals
from inferwatch.slo.cost.focus import validate_focus_csv
from inferwatch.slo.cost.model import CostReport, share_idle
from inferwatch.slo.cost.render import (
    csv_columns,
    custom_column_types,
    md_cell,
    render_csv,
    render_html,
    render_markdown,
    slack_escape,
    slack_summary,
)
from tests.slo.cost.sample import (
    HOSTILE_MODEL,
    HOSTILE_NAMESPACE,
    NEWLINE_MODEL,
    model_cost,
    namespace_cost,
    sample_report,
    shared_report,
)

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def _formats(report: CostReport) -> dict[str, str]:
    return {
        "html": render_html(report),
        "md": render_markdown(report),
        "csv": render_csv(report, "cluster-prod", "ACME platform team"),
        "slack.json": json.dumps(slack_summary(report), indent=2, ensure_ascii=False) + "\n",
    }


@pytest.mark.parametrize("fmt", ["html", "md", "csv", "slack.json"])
def test_hand_built_report_renders_like_the_golden_file(fmt: str) -> None:
    text = _formats(sample_report())[fmt]
    golden = GOLDEN / f"report.{fmt}"
    if os.environ.get("INFERWATCH_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden.name} differs: review, then INFERWATCH_UPDATE_GOLDEN=1"


def test_rendering_is_deterministic() -> None:
    assert _formats(sample_report()) == _formats(sample_report())


@pytest.mark.parametrize("make", [sample_report, shared_report], ids=["separate", "share"])
def test_csv_is_a_focus_file(make: object) -> None:
    report = make()  # type: ignore[operator]
    text = render_csv(report, "cluster-prod", "ACME platform team")
    assert validate_focus_csv(text, custom_column_types()) == []
    rows = list(csv.DictReader(text.splitlines()))
    # Namespaces (+ idle when kept apart) add up to the bill.
    assert sum(float(r["BilledCost"]) for r in rows) == pytest.approx(report.total_cost, abs=0.01)
    assert all(r["PricingUnit"] == "GPU-Hours" and r["ChargeClass"] == "" for r in rows)
    for col in csv_columns():
        assert col in rows[0]
        assert col.startswith("x_") or col[0].isupper()


def test_the_example_report_is_a_focus_file() -> None:
    text = (EXAMPLES / "cost-report-2026-W46.csv").read_text()
    assert validate_focus_csv(text, custom_column_types()) == []


def test_the_validator_finds_what_breaks_focus() -> None:
    good = render_csv(sample_report())
    rows = list(csv.DictReader(good.splitlines()))
    header = list(rows[0])

    def write(rows: list[dict[str, str]], header: list[str]) -> str:
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()

    no_publisher = write(
        [{k: v for k, v in r.items() if k != "PublisherName"} for r in rows],
        [h for h in header if h != "PublisherName"],
    )
    assert "header: mandatory column PublisherName is missing" in validate_focus_csv(no_publisher)
    bad = [dict(r) for r in rows]
    bad[0].update(
        PricingUnit="GPU hour", BilledCost="1e3", ChargeCategory="Chargeback", BillingPeriodStart="2026-11-09"
    )
    problems = "\n".join(validate_focus_csv(write(bad, header)))
    for column in ("PricingUnit", "BilledCost", "ChargeCategory", "BillingPeriodStart"):
        assert f"row 2 {column}" in problems
    own = write([{**r, "Models": "x"} for r in rows], [*header, "Models"])
    assert any("Models is neither a FOCUS" in p for p in validate_focus_csv(own))
    null = [dict(r) for r in rows]
    null[1]["PricingQuantity"] = ""
    assert "row 3 PricingQuantity: must not be null" in validate_focus_csv(write(null, header))


def test_cost_per_million_tokens_has_three_significant_digits() -> None:
    assert display(Kind.PER_MTOK, 0.1852) == "0.185"
    assert display(Kind.PER_MTOK, 0.0012345) == "0.00123"
    assert display(Kind.PER_MTOK, 12.345) == "12.35"
    assert display(Kind.PER_MTOK, 1234.5) == "1,234.50"
    assert sig_decimals(0.5952) == 3
    md = render_markdown(sample_report())
    # team-b: (336 + 12.5) / 1.814e9 tokens * 1e6 = 0.19212… → 0.192, not 0.19.
    assert "| 0.192 |" in md


def test_shared_idle_namespace_and_model_price_a_token_alike() -> None:
    one = namespace_cost("one", (model_cost("one", "m", 100.0, 1e8, 2e7),), 25.0)
    two_models = (model_cost("two", "x", 50.0, 1e8, 1e7), model_cost("two", "y", 30.0, 5e7, 1e7))
    two = namespace_cost("two", two_models, 20.0, extra_cost=20.0)
    shared_one, shared_two = share_idle((one, two), 60.0)
    assert shared_one.idle_share == pytest.approx(30.0) and shared_two.idle_share == pytest.approx(30.0)
    assert shared_one.per_mtok == pytest.approx(shared_one.models[0].per_mtok)
    assert display(Kind.PER_MTOK, shared_one.per_mtok) == display(Kind.PER_MTOK, shared_one.models[0].per_mtok)
    # The models carry the namespace's share in proportion to their held cost; the pod that serves
    # no model carries the rest, so namespace + idle = the bill.
    assert sum(m.cost for m in shared_two.models) == pytest.approx(50 * 1.3 + 30 * 1.3)
    assert shared_one.cost + shared_two.cost == pytest.approx(200.0 + 60.0)
    # Input and output prices follow the charged cost too.
    m = shared_one.models[0]
    assert m.input_per_mtok == pytest.approx(m.cost * 0.25 / m.prompt_tokens * 1e6)
    md = render_markdown(shared_report())
    assert "shared by GPU-cost weight" in md


def test_coverage_note_opens_every_format_of_a_partial_week() -> None:
    report = replace(sample_report(), observed_hours=2)
    note = "Partial week: data for 2 of 168 hours (1.2 %)"
    assert coverage_note(report).startswith(note)
    formats = _formats(report)
    for fmt in ("html", "md"):
        text = formats[fmt]
        assert note in text[: text.index("Summary")], fmt
    assert note in json.loads(formats["slack.json"])["text"].splitlines()[1]
    rows = list(csv.DictReader(formats["csv"].splitlines()))
    assert {r["x_ClusterObservedHours"] for r in rows} == {"2"}
    full = _formats(replace(sample_report(), previous=None))
    assert all("Partial week" not in text for text in full.values())


# --- hostile names --------------------------------------------------------------------------------


class _Cells(HTMLParser):
    """Text of every table cell, and every tag seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _hostile() -> CostReport:
    return sample_report(namespace_b=HOSTILE_NAMESPACE, model_b=HOSTILE_MODEL)


def test_hostile_names_are_text_in_html() -> None:
    for report in (_hostile(), sample_report(model_b=NEWLINE_MODEL)):
        html = render_html(report)
        parser = _Cells()
        parser.feed(html)
        assert "script" not in parser.tags and "i" not in parser.tags and "b" not in parser.tags
        names = {ns.namespace for ns in report.namespaces} | {m.model for ns in report.namespaces for m in ns.models}
        for name in names:
            assert name in parser.cells, f"{name!r} is not one table cell's text"
    assert "<script" not in render_html(_hostile())


def _md_rows(md: str) -> list[list[str]]:
    """Table rows split on unescaped pipes."""
    rows = []
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = []
            cell = ""
            escaped = False
            for ch in line[1:-1]:
                if escaped:
                    cell += ch
                    escaped = False
                elif ch == "\\":
                    cell += ch
                    escaped = True
                elif ch == "|":
                    cells.append(cell)
                    cell = ""
                else:
                    cell += ch
            cells.append(cell)
            rows.append(cells)
    return rows


def test_hostile_names_keep_markdown_tables_whole() -> None:
    for report in (_hostile(), sample_report(model_b=NEWLINE_MODEL)):
        md = render_markdown(report)
        assert "<script" not in md and "<i>" not in md and "<b>" not in md
        # Every row of a table has as many cells as its header: no pipe or newline split a row.
        tables = md.split("\n\n")
        for block in tables:
            rows = _md_rows(block)
            if rows:
                assert len({len(r) for r in rows}) == 1, block
    assert md_cell("a|b\nc<d>&\\") == "a\\|b<br>c&lt;d&gt;&amp;\\\\"
    assert md_cell("[x](javascript:1) *y* `z`") == "\\[x\\](javascript:1) \\*y\\* \\`z\\`"


def test_hostile_names_round_trip_through_the_csv() -> None:
    report = sample_report(namespace_b=HOSTILE_NAMESPACE, model_b=NEWLINE_MODEL)
    text = render_csv(report)
    assert validate_focus_csv(text, custom_column_types()) == []
    rows = {r["ChargeDescription"]: r for r in csv.DictReader(text.splitlines())}
    row = rows[f"GPU time held by namespace {HOSTILE_NAMESPACE}"]
    assert list(json.loads(row["x_ModelCosts"])) == [NEWLINE_MODEL]
    assert json.loads(row["Tags"]) == {"inferwatch/namespace": HOSTILE_NAMESPACE}
    assert row["SubAccountName"] == HOSTILE_NAMESPACE
    formula = render_csv(sample_report(namespace_b="=HYPERLINK(1)"))
    assert "'=HYPERLINK(1)" in formula  # a spreadsheet shows the name, it does not run it
    assert math.isfinite(float(row["x_CostPerMillionTokens"]))


def test_hostile_names_are_escaped_in_slack() -> None:
    text = slack_summary(_hostile())["text"]
    assert "<" not in text.replace("<!", "") and ">" not in text
    assert "&lt;script&gt;" in text or "&lt;i&gt;" in text
    assert slack_escape("a & <!channel> b\nc") == "a &amp; &lt;!channel&gt; b c"
    lines = slack_summary(sample_report(model_b=NEWLINE_MODEL))["text"].splitlines()
    assert not any(line.startswith("second line") for line in lines)
