"""Cost per tenant, per LoRA adapter and energy per 1,000 tokens in the weekly report, against the hand-built week.

The fake Prometheus (tests/slo/cost/fake.py) answers with the recorded attribution of
tests/slo/cost/sample.py: team-a's router names two tenants paying 504.00 and 252.00 of its
1,008.00 and no tenant reported the other 252.00; Llama (672.00) ran two LoRA adapters a third of
its time each. Every expected number is worked out here by hand from those figures; tenants + no
tenant reported = the namespace and adapters + no adapter = the model hold to the cent under both
idle policies, the ledger lines staying priced (list price x GPU-hours) and the bill unchanged.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from decimal import Decimal

import pytest

from inferwatch.slo.cost.focus import validate_focus_csv
from inferwatch.slo.cost.focus_csv import FocusIdentity, custom_column_types, render_csv
from inferwatch.slo.cost.ledger import LineKind
from inferwatch.slo.cost.model import NO_ADAPTER, NO_TENANT, CostReport
from inferwatch.slo.cost.render import render_html, render_markdown, render_set
from inferwatch.slo.cost.slack import slack_summary
from tests.slo.cost.recompute import assert_ties_out, html_tables, md_tables
from tests.slo.cost.sample import HOSTILE_TENANT, LLAMA, PRICING, QWEN, SETTINGS, sample_report, shared_report

D = Decimal


def _tenants(report: CostReport) -> dict[tuple[str, str], Decimal]:
    return {(t.namespace, t.name): t.cost for t in report.tenants}


def test_tenants_pay_their_share_and_no_tenant_reported_is_the_rest_to_the_cent() -> None:
    report = sample_report()
    assert _tenants(report) == {
        ("team-a", "acme"): D("504.00"),
        ("team-a", "globex"): D("252.00"),
        ("team-a", NO_TENANT): D("252.00"),
    }
    a = next(ns for ns in report.namespaces if ns.namespace == "team-a")
    assert sum(_tenants(report).values(), D(0)) == a.cost == D("1008.00")
    acme = next(t for t in report.tenants if t.tenant == "acme")
    # Half of team-a: half of Llama's 168 H100-hours and of Qwen's 84; the router counted 840M tokens.
    assert acme.gpu_hours == D(126) and acme.share == pytest.approx(0.5) and acme.router_tokens == 840e6
    assert acme.per_mtok == pytest.approx(a.per_mtok, rel=1e-6)  # by token share: one price per namespace
    # Namespaces whose router named no tenant are not split (their whole cost is "no tenant reported").
    assert {t.namespace for t in report.tenants} == {"team-a"}
    assert all(ln.tenant == "" for ln in report.lines if ln.namespace != "team-a")


def test_adapters_share_their_model_and_no_adapter_running_is_the_rest() -> None:
    report = sample_report()
    got = {(x.model, x.name): (x.cost, x.gpu_hours) for x in report.adapters}
    assert got == {
        (LLAMA, "chat-lora"): (D("224.00"), D(56)),
        (LLAMA, "sql-lora"): (D("224.00"), D(56)),
        (LLAMA, NO_ADAPTER): (D("224.00"), D(56)),
    }
    llama = next(m for m in report.models if m.model == LLAMA)
    assert sum((x.cost for x in report.adapters), D(0)) == llama.cost
    # Tenants and adapters split the same lines: acme's part of sql-lora is half of its third.
    acme_sql = [ln for ln in report.lines if ln.tenant == "acme" and ln.adapter == "sql-lora"]
    assert [(ln.gpu_hours, ln.cost) for ln in acme_sql] == [(D(28), D("112.00"))]


def test_the_split_keeps_the_bill_the_hours_and_every_line_priced() -> None:
    for report in (sample_report(), shared_report()):
        held = sum((ln.gpu_hours for ln in report.lines if ln.kind is LineKind.HELD), D(0))
        assert report.total_cost == D("3192.00") and held == D(252 + 84 + 72 + 120)
        for ns in report.namespaces:
            assert sum((m.cost for m in ns.models), D(0)) == ns.cost
        by_ns: dict[str, Decimal] = {}
        for t in report.tenants:
            by_ns[t.namespace] = by_ns.get(t.namespace, D(0)) + t.cost
        assert by_ns == {ns.namespace: ns.cost for ns in report.namespaces if ns.namespace == "team-a"}
        for ln in report.lines:
            assert ln.cost == (ln.sku.unit_price * ln.gpu_hours).quantize(D("0.01"))
    shared = shared_report()
    a = next(ns for ns in shared.namespaces if ns.namespace == "team-a")
    # Under share, team-a's idle share is split with it: its tenants pay it in the same proportions.
    assert a.idle_share > 0 and any(ln.kind is LineKind.IDLE_SHARE and ln.tenant == "acme" for ln in shared.lines)
    assert float(_tenants(shared)[("team-a", "acme")]) == pytest.approx(float(a.cost) / 2, abs=0.02)


def test_energy_per_thousand_tokens_and_kwh_per_model_and_namespace() -> None:
    report = sample_report()
    models = {(m.namespace, m.model): m for m in report.models}
    llama = models[("team-a", LLAMA)]
    assert llama.model_energy_kwh == pytest.approx(56.0)
    assert llama.joules_per_thousand_tokens == pytest.approx(201.6e6 / (168 * 5.4e6) * 1000)
    a = next(ns for ns in report.namespaces if ns.namespace == "team-a")
    tokens = 168 * (5.4e6 + 4.68e6)
    assert a.joules_per_thousand_tokens == pytest.approx((201.6e6 + 100.8e6) / tokens * 1000)
    c = next(ns for ns in report.namespaces if ns.namespace == "team-c")
    assert c.joules_per_thousand_tokens != c.joules_per_thousand_tokens  # no energy recorded: n/a, not 0
    md = md_tables(render_markdown(report))
    row = next(r for r in md["Models"] if r["model"] == LLAMA)
    assert (row["energy (kWh)"], row["J/1k tokens"]) == ("56.0", f"{201.6e6 / (168 * 5.4e6) * 1000:,.0f}")
    assert next(r for r in md["Namespaces"] if r["namespace"] == "team-c")["J/1k tokens"] == "n/a"


def test_tenant_and_adapter_tables_tie_out_to_the_csv_in_every_format() -> None:
    files = render_set(sample_report(), FocusIdentity.of(PRICING, SETTINGS))
    f = assert_ties_out(files["csv"], files["md"], files["html"], "EUR", ("team", "cost-center"))
    assert f.tenants == {("default", "team-a", "acme"): D("504.00"), ("default", "team-a", "globex"): D("252.00"),
                         ("default", "team-a", NO_TENANT): D("252.00")}  # fmt: skip
    rows = list(csv.DictReader(files["csv"].splitlines()))
    acme = [r for r in rows if r["x_Tenant"] == "acme"]
    assert acme and all(json.loads(r["AllocatedTags"])["inferwatch/tenant"] == "acme" for r in acme)
    sql = next(r for r in acme if r["x_LoraAdapter"] == "sql-lora")
    assert json.loads(sql["AllocatedTags"]) == {
        "inferwatch/model": LLAMA,
        "inferwatch/tenant": "acme",
        "inferwatch/lora-adapter": "sql-lora",
    }
    rest = [r for r in rows if r["x_Namespace"] == "team-a" and not r["x_Tenant"]]
    assert rest and all(r["ChargeDescription"].endswith(", no tenant reported") for r in rest)
    assert all("inferwatch/tenant" not in json.loads(r["AllocatedTags"] or "{}") for r in rest)
    md = files["md"]
    assert "(no tenant reported): 252.00 EUR of 1,008.00 EUR" in md
    for version in ("1.3", "1.2"):
        text = render_csv(sample_report(), FocusIdentity.of(PRICING, SETTINGS, version))
        assert validate_focus_csv(text, version, custom_column_types()) == []
    v12 = list(csv.DictReader(render_csv(sample_report(), FocusIdentity.of(PRICING, SETTINGS, "1.2")).splitlines()))
    assert any(json.loads(r["Tags"]).get("inferwatch/tenant") == "globex" for r in v12)


def test_a_hostile_tenant_name_is_escaped_everywhere() -> None:
    report = sample_report(tenant=HOSTILE_TENANT)
    files = render_set(report, FocusIdentity.of(PRICING, SETTINGS))
    html = render_html(report)
    tables, tags, _ = html_tables(html)
    assert "img" not in tags
    assert HOSTILE_TENANT in {r["tenant"] for r in tables["Cost by tenant"]}
    md = md_tables(files["md"])
    assert HOSTILE_TENANT in {r["tenant"] for r in md["Cost by tenant"]} and "<img" not in files["md"]
    rows = list(csv.DictReader(files["csv"].splitlines(keepends=True)))
    hostile = [r for r in rows if r["x_Tenant"] == "'" + HOSTILE_TENANT]  # a spreadsheet shows, never runs, it
    assert hostile and json.loads(hostile[0]["AllocatedTags"])["inferwatch/tenant"] == HOSTILE_TENANT
    assert validate_focus_csv(files["csv"], "1.3", custom_column_types()) == []
    assert_ties_out(files["csv"], files["md"], files["html"], "EUR", ("team", "cost-center"))
    text = slack_summary(report)["text"]
    assert "By tenant (llm-d router):" in text and "<img" not in text and "&lt;img src=x&gt;" in text
    assert not any(line.startswith("@here") for line in text.splitlines())


def test_without_router_or_adapters_the_report_has_no_such_tables() -> None:
    report = sample_report()
    bare = replace(report, tenant_namespaces=frozenset(), adapter_models=frozenset())
    assert bare.tenants == () and bare.adapters == ()
    titles = set(md_tables(render_markdown(bare)))
    assert "Cost by tenant" not in titles and "Cost by LoRA adapter" not in titles
    assert {"Cost by tenant", "Cost by LoRA adapter"} <= set(md_tables(render_markdown(report)))
    assert QWEN not in {x.model for x in report.adapters}
