"""Rendering a hand-built report into every format: golden files, figures that tie out, FOCUS, escaping.

Golden files live in tests/slo/cost/golden/; after a reviewed change to the output, regenerate
them with INFERWATCH_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from inferwatch.config import CostReportSettings, Pricing
from inferwatch.slo.cost.columns import Kind, display, sig_decimals
from inferwatch.slo.cost.focus import validate_focus_csv
from inferwatch.slo.cost.focus_csv import (
    ALLOCATION_METHOD,
    FocusIdentity,
    csv_columns,
    custom_column_types,
    render_csv,
    render_metadata,
)
from inferwatch.slo.cost.layout import coverage_note
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.render import md_cell, render_html, render_markdown, render_set
from inferwatch.slo.cost.slack import slack_escape, slack_summary
from tests.slo.cost.recompute import assert_ties_out, csv_figures, html_tables, md_tables
from tests.slo.cost.sample import (
    H100,
    HOSTILE_MODEL,
    HOSTILE_NAMESPACE,
    NEWLINE_MODEL,
    PRICING,
    SETTINGS,
    sample_report,
    shared_report,
)

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
TEAMS = ("team", "cost-center")


def _who(version: str = "1.3") -> FocusIdentity:
    return FocusIdentity.of(PRICING, SETTINGS, version)


def _formats(report: CostReport) -> dict[str, str]:
    return {
        "html": render_html(report),
        "md": render_markdown(report),
        "csv": render_csv(report, _who()),
        "focus-1.2.csv": render_csv(report, _who("1.2")),
        "focus-metadata.json": render_metadata(report, _who(), "cost-report-2026-W46.csv"),
        "slack.json": json.dumps(slack_summary(report), indent=2, ensure_ascii=False) + "\n",
    }


@pytest.mark.parametrize("fmt", ["html", "md", "csv", "focus-1.2.csv", "focus-metadata.json", "slack.json"])
def test_hand_built_report_renders_like_the_golden_file(fmt: str) -> None:
    text = _formats(sample_report())[fmt]
    golden = GOLDEN / f"report.{fmt}"
    if os.environ.get("INFERWATCH_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden.name} differs: review, then INFERWATCH_UPDATE_GOLDEN=1"


def test_rendering_is_deterministic() -> None:
    assert _formats(sample_report()) == _formats(sample_report())


@pytest.mark.parametrize(
    "make",
    [sample_report, shared_report, lambda: sample_report(HOSTILE_NAMESPACE, NEWLINE_MODEL)],
    ids=["separate", "share", "hostile"],
)
def test_every_figure_is_what_the_csv_adds_up_to(make: object) -> None:
    report = make()  # type: ignore[operator]
    files = render_set(report, _who())
    f = assert_ties_out(files["csv"], files["md"], files["html"], "EUR", TEAMS)
    assert f.bill == report.total_cost and f.idle == report.idle_cost and f.unused == report.unused_cost
    # The header, the chart and the savings say the same idle amount (2026-W46's 552.07 / 552.00 bug).
    idle = f"{report.idle_cost:,.2f}"
    assert files["md"].count(idle) >= 3


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_csv_is_a_focus_file_of_its_version(version: str) -> None:
    text = render_csv(sample_report(), _who(version))
    assert validate_focus_csv(text, version, custom_column_types()) == []
    header = next(csv.reader([text.splitlines()[0]]))
    assert tuple(header) == csv_columns(version)
    assert ("ServiceProviderName" in header) == (version == "1.3") == ("AllocatedMethodId" in header)


def test_focus_rows_say_who_what_where_and_at_which_price() -> None:
    rows = list(csv.DictReader(render_csv(sample_report(), _who()).splitlines()))
    idle = [r for r in rows if r["x_CostKind"] == "idle"]
    held = [r for r in rows if r["x_CostKind"] == "held"]
    # Idle: no sub account (not a placeholder), the unallocated portion of its pool.
    assert idle and all(r["SubAccountId"] == r["SubAccountName"] == r["SubAccountType"] == "" for r in idle)
    assert all(r["AllocatedMethodId"] == ALLOCATION_METHOD and r["AllocatedResourceId"] == "" for r in idle)
    # One row per list price: team-b's H100 and A100 time are two rows at 4.0 and 2.0.
    b = {r["ListUnitPrice"]: r for r in held if r["x_Namespace"] == "team-b"}
    assert set(b) == {"4.0", "2.0"} and b["2.0"]["SkuId"] == "gpu-hour/NVIDIA A100-SXM4-80GB"
    assert b["2.0"]["SkuPriceId"] == "gpu-hour/NVIDIA A100-SXM4-80GB/EUR/2.0"
    for r in rows:
        assert r["ResourceId"].startswith("default/gpu-pool/") and r["x_Cluster"] == "default"
        assert r["InvoiceId"] == "acme-ml/2026-W46" and r["ServiceSubcategory"] == "Generative AI"
        assert (
            r["ServiceProviderName"] == r["HostProviderName"] == r["InvoiceIssuerName"] == "ACME Platform Engineering"
        )
    assert all(r["SubAccountId"] == f"default/{r['x_Namespace']}" for r in held)
    a = next(r for r in held if r["x_Namespace"] == "team-a")
    assert json.loads(a["Tags"]) == {
        "team": "search",
        "cost_center": "cc-1",
        "inferwatch/cluster": "default",
        "inferwatch/namespace": "team-a",
    }
    # The allocated portion's model and, where the router and vLLM name them, its tenant and LoRA adapter.
    assert json.loads(a["AllocatedTags"]) == {
        "inferwatch/model": a["x_Model"],
        **({"inferwatch/tenant": a["x_Tenant"]} if a["x_Tenant"] else {}),
        **({"inferwatch/lora-adapter": a["x_LoraAdapter"]} if a["x_LoraAdapter"] else {}),
    }
    b_model = next(r for r in held if r["x_Namespace"] == "team-b" and r["x_Model"])
    assert json.loads(b_model["AllocatedTags"]) == {"inferwatch/model": b_model["x_Model"]}


def test_providers_default_to_self_hosted_and_can_each_be_named() -> None:
    who = FocusIdentity.of(Pricing(), CostReportSettings())
    assert (who.service_provider, who.host_provider, who.invoice_issuer, who.version) == (
        "Self-hosted",
        "Self-hosted",
        "Self-hosted",
        "1.3",
    )
    named = FocusIdentity.of(Pricing(provider="ML Platform"), CostReportSettings(host_provider="AWS"), "1.2")
    assert (named.service_provider, named.host_provider, named.invoice_issuer, named.version) == (
        "ML Platform",
        "AWS",
        "ML Platform",
        "1.2",
    )


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_the_metadata_names_the_version_beside_the_csv(version: str) -> None:
    meta = json.loads(render_metadata(sample_report(), _who(version), "cost-report-2026-W46.csv"))
    assert meta["Schema"]["FocusVersion"] == version
    assert meta["DataGenerator"] == {"DataGenerator": "inferwatch"}
    assert meta["DatasetInstance"][0]["FocusDatasetId"] == "CostAndUsage"
    assert [c["ColumnName"] for c in meta["Schema"]["ColumnDefinition"]] == list(csv_columns(version))
    assert meta["x_Data"]["Files"] == ["cost-report-2026-W46.csv"]
    assert ("DatasetInstanceId" in meta["Schema"]) == (version == "1.3")
    deprecated = {c["ColumnName"] for c in meta["Schema"]["ColumnDefinition"] if c.get("Deprecated")}
    assert deprecated == ({"ProviderName", "PublisherName"} if version == "1.3" else set())


def test_the_example_report_is_a_focus_file_that_ties_out() -> None:
    stem = EXAMPLES / "cost-report-2026-W46"
    text = (EXAMPLES / f"{stem.name}.csv").read_text()
    assert validate_focus_csv(text, "1.3", custom_column_types()) == []
    meta = json.loads((EXAMPLES / f"{stem.name}.focus-metadata.json").read_text())
    assert meta["Schema"]["FocusVersion"] == "1.3"
    html = (EXAMPLES / f"{stem.name}.html").read_text()
    assert_ties_out(text, (EXAMPLES / f"{stem.name}.md").read_text(), html, "EUR", ("team",))


def test_cost_per_million_tokens_has_three_significant_digits() -> None:
    assert display(Kind.PER_MTOK, 0.1852) == "0.185"
    assert display(Kind.PER_MTOK, 0.0012345) == "0.00123"
    assert display(Kind.PER_MTOK, 12.345) == "12.35"
    assert display(Kind.PER_MTOK, 1234.5) == "1,234.50"
    assert sig_decimals(0.5952) == 3
    # team-b's Qwen: 336 / 1,814.4 M tokens = 0.18518… -> 0.185, not 0.19.
    models = md_tables(render_markdown(sample_report()))["Models"]
    assert (
        next(r for r in models if r["namespace"] == "team-b" and r["model"].startswith("Qwen"))["EUR/1M tokens"]
        == "0.185"
    )


def test_week_over_week_says_which_hours_it_compares_in_every_format() -> None:
    report = sample_report()
    formats = _formats(report)
    sentence = "both weeks are compared over the 48 hours of the week that both recorded in full"
    for fmt in ("html", "md", "slack.json"):
        assert sentence in formats[fmt].replace("\n", " "), fmt
    summary = md_tables(formats["md"])["Summary"]
    assert list(summary[0]) == [
        "figure",
        "this week (all 168 h)",
        "this week, 48 compared h",
        "2026-W45, 48 compared h",
        "change",
    ]
    moved = md_tables(formats["md"])["Namespaces that moved most (48 compared hours)"]
    assert [(r["namespace"], r["change"]) for r in moved] == [("team-b", "new")]  # team-c was unobserved, not new


def test_coverage_note_opens_every_format_of_a_partial_week() -> None:
    report = replace(sample_report(), coverage={"default": 2}, observed_hours=2)
    note = "Partial week: data for 2 of 168 hours (1.2 %)"
    assert coverage_note(report).startswith(note)
    formats = _formats(report)
    for fmt in ("html", "md"):
        text = formats[fmt]
        assert note in text[: text.index("Summary")], fmt
    assert note in json.loads(formats["slack.json"])["text"].splitlines()[1]
    rows = list(csv.DictReader(formats["csv"].splitlines()))
    assert {r["x_ClusterObservedHours"] for r in rows} == {"2"}
    full = _formats(sample_report())
    assert all("Partial week" not in text for text in full.values())


# --- hostile names --------------------------------------------------------------------------------


def _hostile() -> CostReport:
    return sample_report(namespace_b=HOSTILE_NAMESPACE, model_b=HOSTILE_MODEL)


def test_hostile_names_are_text_in_html() -> None:
    for report in (_hostile(), sample_report(model_b=NEWLINE_MODEL)):
        html = render_html(report)
        tables, tags, _ = html_tables(html)
        assert "script" not in tags and "i" not in tags and "b" not in tags
        cells = {cell for rows in tables.values() for row in rows for cell in row.values()}
        names = {ns.namespace for ns in report.namespaces} | {m.model for m in report.models if m.model}
        for name in names:
            assert name in cells, f"{name!r} is not one table cell's text"
    assert "<script" not in render_html(_hostile())


def test_hostile_names_keep_markdown_tables_whole() -> None:
    for report in (_hostile(), sample_report(model_b=NEWLINE_MODEL)):
        md = render_markdown(report)
        assert "<script" not in md and "<i>" not in md and "<b>" not in md
        names = {m.model for m in report.models if m.model} | {ns.namespace for ns in report.namespaces}
        cells = {c for rows in md_tables(md).values() for row in rows for c in row.values()}
        assert names <= cells  # every row kept its cells: a pipe or newline split none
    assert md_cell("a|b\nc<d>&\\") == "a\\|b<br>c&lt;d&gt;&amp;\\\\"
    assert md_cell("[x](javascript:1) *y* `z`") == "\\[x\\](javascript:1) \\*y\\* \\`z\\`"


def test_hostile_names_round_trip_through_the_csv() -> None:
    report = sample_report(namespace_b=HOSTILE_NAMESPACE, model_b=NEWLINE_MODEL)
    text = render_csv(report, _who())
    assert validate_focus_csv(text, "1.3", custom_column_types()) == []
    rows = [r for r in csv.DictReader(text.splitlines(keepends=True)) if r["x_Namespace"] == HOSTILE_NAMESPACE]
    model_row = next(r for r in rows if r["x_Model"])
    assert model_row["x_Model"] == NEWLINE_MODEL and json.loads(model_row["AllocatedTags"]) == {
        "inferwatch/model": NEWLINE_MODEL
    }
    assert json.loads(model_row["Tags"])["inferwatch/namespace"] == HOSTILE_NAMESPACE
    assert model_row["SubAccountName"] == HOSTILE_NAMESPACE
    formula = render_csv(sample_report(namespace_b="=HYPERLINK(1)"), _who())
    assert "'=HYPERLINK(1)" in formula and ",=HYPERLINK" not in formula  # a spreadsheet shows the name
    assert csv_figures(formula).namespaces[("default", "=HYPERLINK(1)")] > 0


def test_hostile_names_are_escaped_in_slack() -> None:
    text = slack_summary(_hostile())["text"]
    assert "<" not in text.replace("<!", "") and ">" not in text
    assert "&lt;script&gt;" in text or "&lt;i&gt;" in text
    assert slack_escape("a & <!channel> b\nc") == "a &amp; &lt;!channel&gt; b c"
    lines = slack_summary(sample_report(model_b=NEWLINE_MODEL))["text"].splitlines()
    assert not any(line.startswith("second line") for line in lines)


def test_slack_summary_carries_the_summary_savings_and_teams() -> None:
    text = slack_summary(sample_report())["text"]
    assert "total GPU spend (EUR): *3,192.00*" in text
    assert "Savings: 2,035.20 EUR" in text
    assert "By team:" in text and "• search: 1,488.00 EUR" in text
    assert H100 in text  # the idle GPUs
