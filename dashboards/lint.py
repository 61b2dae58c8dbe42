"""The dashboard validator: structural lint, PromQL that parses, and series that something records.

In the spirit of grafana/dashboard-linter, every generated dashboard must

- use the `$datasource` variable on every panel and target, and have that variable;
- use `$__rate_interval` as the window of every rate()/irate()/increase();
- give every target a legend and every panel a unit;
- have unique panel ids, grid positions inside the 24 columns that do not overlap, and only
  current panel types (no Angular graph/singlestat/heatmap/…);
- carry no `__inputs`/`${DS_…}` import placeholders, and a UID equal to its file name's stem;
- have every expression (and every variable's selector) parse with promtool once the variables
  are substituted as Grafana would; and
- read only series recorded by a generated rule file or exposed by the exporter's contract.

`check_dashboard(tools, root, rel)` is the GRAFANA_DASHBOARD check of `inferwatch build`.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inferwatch import contract
from inferwatch.artifacts import CheckResult
from inferwatch.dashboards import variables
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup, to_prometheus_yaml
from inferwatch.tools import Toolbox

ALLOWED_TYPES = frozenset({"timeseries", "stat", "table", "state-timeline", "row"})
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
# Where generated rule files live under a repository (or build scratch) root.
RULE_FILE_GLOBS = ("*/generated/*.yaml",)
# The exporter's contract: raw series a dashboard may read directly.
EXPORTER_SERIES = frozenset(contract.BY_NAME)
# What the validator substitutes: "All" for every query variable, Grafana's intervals at 6 h.
_ALL = ".*"
_CHECK_INTERVALS = variables.intervals(range_s=6 * 3600, max_points=1000, scrape_interval_s=15)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_RANGE_FN = re.compile(r"\b(rate|irate|increase)\s*\(")
_CLAUSE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN", "by", "without", "on"})


@dataclass(frozen=True)
class Problem:
    """One lint finding: where (panel title or dashboard) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def panels_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' collapsed children included."""
    out: list[dict[str, Any]] = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []) if p.get("type") == "row" else [])
    return out


def targets_of(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every target of every panel."""
    for p in panels_of(dashboard):
        for t in p.get("targets", []):
            yield p, t


def _where(panel: dict[str, Any]) -> str:
    return f"panel {panel.get('id')} {panel.get('title', '')!r}"


def _rate_windows(expr: str) -> Iterator[str]:
    """The range window of every rate()/irate()/increase() call in ``expr``."""
    for m in _RANGE_FN.finditer(expr):
        depth, i = 1, m.end()
        while i < len(expr) and depth:
            if expr[i] == "(":
                depth += 1
            elif expr[i] == ")":
                depth -= 1
            elif expr[i] == "[" and depth == 1:
                end = expr.index("]", i)
                yield expr[i + 1 : end].split(":")[0]
                break
            i += 1


def series_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords, label names and strings left out)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _CLAUSE.sub("", text)
    names = set()
    for m in _IDENT.finditer(text):
        name, call = m.group(1), m.group(2)
        if call or name in _KEYWORDS or name.startswith("$"):
            continue
        names.add(name)
    return names


def structural_problems(dashboard: dict[str, Any], stem: str) -> list[Problem]:
    """Every structural rule the dashboard breaks (empty: it passes)."""
    problems: list[Problem] = []
    text = json.dumps(dashboard)
    if "__inputs" in dashboard or "${DS_" in text:
        problems.append(Problem("dashboard", "carries import placeholders (__inputs / ${DS_…})"))
    if dashboard.get("uid") != stem:
        problems.append(Problem("dashboard", f"uid {dashboard.get('uid')!r} is not the file name's stem {stem!r}"))
    declared = dashboard.get("templating", {}).get("list", [])
    if not any(v.get("type") == "datasource" and v.get("name") == "datasource" for v in declared):
        problems.append(Problem("dashboard", "no `datasource` variable of type datasource"))
    seen_ids: dict[Any, str] = {}
    boxes: list[tuple[str, int, int, int, int]] = []
    for p in panels_of(dashboard):
        where = _where(p)
        kind = p.get("type")
        if kind not in ALLOWED_TYPES:
            problems.append(
                Problem(where, f"panel type {kind!r} is not one of {sorted(ALLOWED_TYPES)} (Angular or legacy)")
            )
        pid = p.get("id")
        if pid in seen_ids:
            problems.append(Problem(where, f"id {pid} is also used by {seen_ids[pid]}"))
        seen_ids[pid] = where
        pos = p.get("gridPos") or {}
        x, y, w, h = (v if isinstance(v := pos.get(k), int) else -1 for k in ("x", "y", "w", "h"))
        if min(x, y) < 0 or w <= 0 or h <= 0 or x + w > 24:
            problems.append(Problem(where, f"gridPos {pos} is outside the 24-column grid"))
        for other, ox, oy, ow, oh in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(Problem(where, f"gridPos overlaps {other}"))
        boxes.append((where, x, y, w, h))
        if kind == "row":
            continue
        if p.get("datasource") != DATASOURCE_REF:
            problems.append(Problem(where, "does not use the $datasource variable"))
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(Problem(where, "has no unit"))
        if not p.get("targets"):
            problems.append(Problem(where, "has no query"))
        for t in p.get("targets", []):
            ref = f"{where} target {t.get('refId')}"
            if t.get("datasource") != DATASOURCE_REF:
                problems.append(Problem(ref, "does not use the $datasource variable"))
            if not str(t.get("legendFormat", "")).strip():
                problems.append(Problem(ref, "has no legend"))
            for window in _rate_windows(t.get("expr", "")):
                if window != "$__rate_interval":
                    problems.append(Problem(ref, f"rate window [{window}] is not [$__rate_interval]"))
    return problems


def substituted_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every target and every variable's selector, variables substituted (All)."""
    values = {v["name"]: _ALL for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"}
    out: list[tuple[str, str]] = []
    for p, t in targets_of(dashboard):
        where = f"{_where(p)} target {t.get('refId')}"
        try:
            out.append((where, variables.substitute(t["expr"], values, _CHECK_INTERVALS)))
        except KeyError as err:
            out.append((where, f"undefined_variable_{err.args[0]}{{"))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        where = f"variable {v.get('name')}"
        try:
            selector, _ = variables.label_values_query(str(v.get("query", "")))
            out.append((where, variables.substitute(selector, values, _CHECK_INTERVALS)))
        except (ValueError, KeyError):
            # As written: promtool refuses it (label_values is no PromQL function), naming the variable.
            out.append((where, str(v.get("query", ""))))
    return out


def known_series(root: Path) -> set[str]:
    """Series recorded by the rule files under ``root`` (RULE_FILE_GLOBS) plus the exporter's contract."""
    names = set(EXPORTER_SERIES)
    for pattern in RULE_FILE_GLOBS:
        for path in sorted(root.glob(pattern)):
            doc = yaml.safe_load(path.read_text())
            if isinstance(doc, dict) and isinstance(doc.get("groups"), list):
                names.update(r["record"] for g in doc["groups"] for r in g.get("rules", []) if "record" in r)
    return names


def unknown_series(expressions: Iterable[tuple[str, str]], known: set[str]) -> list[Problem]:
    """A problem per series an expression reads that nothing records or exposes."""
    return [
        Problem(where, f"reads {name}, which no generated rule records and the exporter does not expose")
        for where, expr in expressions
        for name in sorted(series_names(expr) - known)
    ]


def promtool_check(tools: Toolbox, expressions: list[tuple[str, str]]) -> tuple[bool, str]:
    """Parse every expression with `promtool check rules` on a synthetic rule file (one group each)."""
    groups = tuple(
        RuleGroup(f"{i:03d} {where}", (RecordingRule(f"dashboard_check:expr_{i}", expr),))
        for i, (where, expr) in enumerate(expressions)
    )
    with tempfile.TemporaryDirectory(prefix="inferwatch-dashboard-") as tmp:
        path = Path(tmp) / "dashboard-expressions.yaml"
        path.write_text(to_prometheus_yaml(RuleFile(groups)))
        proc = tools.run("promtool", "check", "rules", str(path))
    return proc.returncode == 0, (proc.stdout + proc.stderr).replace(str(path), "<dashboard expressions>")


def check_dashboard(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Validate the dashboard ``root/rel``: structure, PromQL (promtool), series coverage."""
    path = root / rel
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return [CheckResult(rel, "dashboard-lint", False, f"cannot read dashboard JSON: {err}")]
    if not isinstance(dashboard, dict) or not isinstance(dashboard.get("panels", []), list):
        return [CheckResult(rel, "dashboard-lint", False, "not a Grafana dashboard (an object with a panels list)")]
    problems = structural_problems(dashboard, path.stem)
    expressions = substituted_expressions(dashboard)
    problems += unknown_series(expressions, known_series(root))
    results = [CheckResult(rel, "dashboard-lint", not problems, "\n".join(str(p) for p in problems))]
    ok, output = promtool_check(tools, expressions)
    results.append(CheckResult(rel, "promtool", ok, output.strip()))
    return results
