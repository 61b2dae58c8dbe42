"""Recomputing the report's figures from its own files, independently of the code that wrote them.

``csv_figures`` adds the FOCUS CSV's rows up (BilledCost by cluster, namespace, model, kind,
team label in Tags); ``md_tables`` and ``html_tables`` read the tables back out of the Markdown
and the HTML; ``assert_ties_out`` checks that every money figure the report shows is what the
CSV's rows add up to, and that the HTML and Markdown show the same cells. Used on the hand-built
report (test_render.py), the backfilled Prometheus (test_report_e2e.py) and the demo's report.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

NOT_ATTRIBUTED = "(not attributed to a model)"
IDLE_KINDS = ("idle", "idle share")


def money(v: Decimal) -> str:
    """As the report shows money."""
    return f"{v:,.2f}"


def label_key(key: str) -> str:
    """kube-state-metrics' spelling of a Kubernetes label key, "label_" dropped."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


@dataclass
class CsvFigures:
    """What the CSV's rows add up to."""

    bill: Decimal = Decimal(0)
    idle: Decimal = Decimal(0)
    unused: Decimal = Decimal(0)
    gpu_hours: Decimal = Decimal(0)
    tokens: int = 0
    namespaces: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    models: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    model_unused: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    namespace_unused: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    teams: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    clusters: set[str] = field(default_factory=set)
    rows: list[dict[str, str]] = field(default_factory=list)


def _unquote(v: str) -> str:
    """The name a formula-guarded cell stands for ('=x is =x)."""
    return v[1:] if v[:2] in ("'=", "'+", "'-", "'@") else v


def csv_figures(text: str, team_keys: tuple[str, ...] = ()) -> CsvFigures:
    """Add the FOCUS CSV's rows up."""
    f = CsvFigures()
    f.rows = list(csv.DictReader(text.splitlines(keepends=True)))
    for r in f.rows:
        cost = Decimal(r["BilledCost"])
        assert Decimal(r["ListCost"]) == cost == Decimal(r["EffectiveCost"]) == Decimal(r["ContractedCost"])
        kind = r["x_CostKind"]
        cluster, ns, model = _unquote(r["x_Cluster"]), _unquote(r["x_Namespace"]), _unquote(r["x_Model"])
        f.clusters.add(cluster)
        f.bill += cost
        f.tokens += int(r["x_PromptTokens"]) + int(r["x_GenerationTokens"])
        if kind != "idle share":
            f.gpu_hours += Decimal(r["PricingQuantity"])
        if kind in IDLE_KINDS:
            f.idle += cost
        if kind == "idle":
            assert r["SubAccountId"] == "" and r["SubAccountName"] == ""
            continue
        unused = Decimal(r["x_UnusedCost"] or 0)
        f.unused += unused
        f.namespaces[(cluster, ns)] += cost
        f.namespace_unused[(cluster, ns)] += unused
        f.models[(cluster, ns, model or NOT_ATTRIBUTED)] += cost
        f.model_unused[(cluster, ns, model or NOT_ATTRIBUTED)] += unused
        tags = json.loads(r["Tags"])
        for key in team_keys:
            value = tags.get(label_key(key)) or f"(no {key} label)"
            f.teams.setdefault(key, defaultdict(Decimal))[value] += cost
    return f


def _md_unescape(cell: str) -> str:
    cell = re.sub(r"\\(.)", r"\1", cell).replace("<br>", "\n")
    return cell.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _md_cells(line: str) -> list[str]:
    cells, cell, escaped = [], "", False
    for ch in line.strip()[1:-1]:
        if escaped:
            cell, escaped = cell + ch, False
        elif ch == "\\":
            cell, escaped = cell + ch, True
        elif ch == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
    cells.append(cell.strip())
    return [_md_unescape(c) for c in cells]


def md_tables(md: str) -> dict[str, list[dict[str, str]]]:
    """Each table under its "## title", as rows of header -> cell (unescaped)."""
    out: dict[str, list[dict[str, str]]] = {}
    title = ""
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            title = _md_unescape(line[3:])
        elif line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|-"):
            headers = _md_cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(headers, _md_cells(lines[i]), strict=True)))
                i += 1
            out[title] = rows
            continue
        i += 1
    return out


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.titles: list[str] = []
        self._cell: list[str] | None = None
        self._h2: list[str] | None = None
        self.tags: list[str] = []
        self.svg_text: list[str] = []
        self._in_svg_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h2":
            self._h2 = []
        elif tag == "text":
            self._in_svg_text = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "h2" and self._h2 is not None:
            self.titles.append("".join(self._h2))
            self._h2 = None
        elif tag == "table":
            self.tables[-1].insert(0, [self.titles[-1]])
        elif tag == "text":
            self._in_svg_text = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._h2 is not None:
            self._h2.append(data)
        if self._in_svg_text:
            self.svg_text.append(data)


def html_tables(html: str) -> tuple[dict[str, list[dict[str, str]]], list[str], list[str]]:
    """Each table under its title as rows of header -> cell; every tag; the charts' texts."""
    parser = _Tables()
    parser.feed(html)
    out = {}
    for t in parser.tables:
        title, headers, *rows = t
        out[title[0]] = [dict(zip(headers, r, strict=True)) for r in rows]
    return out, parser.tags, parser.svg_text


def _row(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def assert_ties_out(csv_text: str, md: str, html: str, currency: str, team_keys: tuple[str, ...] = ()) -> CsvFigures:
    """Every money figure of the Markdown and HTML is what the CSV adds up to; HTML = Markdown cell for cell."""
    f = csv_figures(csv_text, team_keys)
    tables = md_tables(md)
    htables, _, svg = html_tables(html)
    assert tables == htables, "the HTML and Markdown tables differ"
    summary = {r["figure"]: r for r in tables["Summary"]}
    this_week = next(h for h in tables["Summary"][0] if h.startswith("this week"))
    figures = {
        f"total GPU spend ({currency})": f.bill,
        f"of which idle: GPU time nobody held ({currency})": f.idle,
        f"of which held but not busy ({currency})": f.unused,
        f"savings: idle + held but not busy ({currency})": f.idle + f.unused,
    }
    for label, value in figures.items():
        assert summary[label][this_week] == money(value), (label, summary[label], value)
    assert summary["GPU-hours"][this_week] == f"{f.gpu_hours:,.1f}"
    assert summary["tokens"][this_week] == f"{f.tokens:,}"
    cost = f"cost ({currency})"
    for (cluster, ns), value in f.namespaces.items():
        row = _row(tables["Namespaces"], cluster=cluster, namespace=ns)
        assert row[cost] == money(value), (cluster, ns)
        assert row[f"held but unused ({currency})"] == money(f.namespace_unused[(cluster, ns)])
    assert len(tables["Namespaces"]) == len(f.namespaces)
    for (cluster, ns, model), value in f.models.items():
        assert _row(tables["Models"], cluster=cluster, namespace=ns, model=model)[cost] == money(value)
    assert len(tables["Models"]) == len(f.models)
    for key, values in f.teams.items():
        rows = tables[f"Cost by namespace label {key}"]
        assert {r["value"]: r[cost] for r in rows} == {k: money(v) for k, v in values.items()}
    # The waste table (its first rows) is the CSV's unused cost per model; its note says the whole.
    for r in tables["GPU time held but not busy, by namespace and model"]:
        assert r[f"held but unused ({currency})"] == money(f.model_unused[(r["cluster"], r["namespace"], r["model"])])
    assert f"All GPU time held but not busy: {money(f.unused)} {currency}." in md
    assert f"All idle GPU time: {money(f.idle)} {currency}." in md
    # The savings sentence and the bar chart say the same amounts.
    assert f"Savings: {money(f.idle + f.unused)} {currency}" in md
    assert f"({money(f.idle)} {currency})" in md.split("Savings:")[1].split("\n")[0]
    bars = [money(v) for v in f.namespaces.values()]
    for label in bars:
        assert label in svg, f"bar {label} not in the cost chart"
    return f
