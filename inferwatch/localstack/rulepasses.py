"""Which recorded series each rule reads, and the order rules must be backfilled or evaluated in.

A backfill evaluates a pass of rules over data already in the TSDB: a rule that reads a series
another rule records can only be evaluated in a later pass than that rule. The passes are
derived from the expressions themselves — each rule's pass is one after the last pass of a rule
whose series it reads, rules that read only raw series go first — so adding a rule or a level
never means editing a list of passes. The same dependencies order the rule groups of a
`promtool test rules` file (`group_eval_order`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import yaml

from inferwatch.rules import AlertingRule, RecordingRule, Rule, RuleFile, RuleGroup

T = TypeVar("T")

# Words of PromQL that look like series names but are operators or modifiers; aggregations are among
# them because `sum by (x) (…)` puts a label list between the name and its parenthesis.
_KEYWORDS = frozenset({
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
})  # fmt: skip
# Keywords followed by a parenthesised list of label names (not series).
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_QUOTES = "\"'`"


class RuleCycleError(ValueError):
    """Rules read each other's series in a circle: no order evaluates each after what it reads."""


def _skip_string(expr: str, i: int) -> tuple[str, int]:
    """The string literal starting at ``expr[i]`` (unescaped) and the index after it."""
    quote, j, out = expr[i], i + 1, []
    while j < len(expr) and expr[j] != quote:
        if expr[j] == "\\" and quote != "`" and j + 1 < len(expr):
            j += 1
        out.append(expr[j])
        j += 1
    return "".join(out), j + 1


_MATCHER = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)""")


@dataclass(frozen=True)
class Selector:
    """A series selector of an expression: the name and its `label="value"` matchers (others left out)."""

    name: str
    equal: Mapping[str, str] = field(default_factory=dict)

    def may_select(self, rule: RecordingRule) -> bool:
        """Whether the series ``rule`` records can match (its own labels do not contradict a matcher)."""
        return rule.record == self.name and all(rule.labels.get(k, v) == v for k, v in self.equal.items())


def _matchers(expr: str, i: int) -> tuple[dict[str, str], int]:
    """The `label="value"` matchers of the `{...}` block at ``expr[i]``, and the index after the block."""
    end = _skip_brackets(expr, i, "}")
    equal = {}
    for m in _MATCHER.finditer(expr, i + 1, end - 1):
        if m.group(2) == "=":
            equal[m.group(1)] = _skip_string(m.group(3), 0)[0]
    return equal, end


def _skip_brackets(expr: str, i: int, close: str) -> int:
    depth, opening = 0, expr[i]
    while i < len(expr):
        if expr[i] in _QUOTES:
            _, i = _skip_string(expr, i)
            continue
        depth += expr[i] == opening
        depth -= expr[i] == close
        i += 1
        if depth == 0:
            break
    return i


def _next_non_space(expr: str, i: int) -> int:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i


def selectors(expr: str) -> list[Selector]:
    """The series selectors of a PromQL expression, in order.

    Function and aggregation names, keywords, label names (in matchers and in by/on/… lists),
    strings, numbers and durations are left out; a `{__name__="x"}` matcher selects `x`.
    """
    found: list[Selector] = []
    equal: dict[str, str]
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch in _QUOTES:
            _, i = _skip_string(expr, i)
        elif ch == "#":  # a comment runs to the end of the line
            end = expr.find("\n", i)
            i = len(expr) if end < 0 else end
        elif ch == "{":
            equal, i = _matchers(expr, i)
            name = equal.pop("__name__", None)
            if name:
                found.append(Selector(name, equal))
        elif ch == "[":
            i = _skip_brackets(expr, i, "]")
        elif ch.isdigit() or (ch == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            i += 1  # a number or a duration: 1e-3, 0x1f, 5m, 1h30m
            while i < len(expr) and (expr[i].isalnum() or expr[i] in "._" or (expr[i] in "+-" and expr[i - 1] in "eE")):
                i += 1
        elif ch.isalpha() or ch in "_:":
            start = i
            while i < len(expr) and (expr[i].isalnum() or expr[i] in "_:"):
                i += 1
            word = expr[start:i]
            after = _next_non_space(expr, i)
            if word.lower() in _KEYWORDS:
                continue
            if word in _LABEL_LISTS:
                if after < len(expr) and expr[after] == "(":
                    i = _skip_brackets(expr, after, ")")
                continue
            if after < len(expr) and expr[after] == "(":
                continue  # a function or an aggregation
            matchers: dict[str, str] = {}
            if after < len(expr) and expr[after] == "{":
                matchers, i = _matchers(expr, after)
            found.append(Selector(word, matchers))
        else:
            i += 1
    return found


def series_read(expr: str) -> set[str]:
    """The series names a PromQL expression selects (see `selectors`)."""
    return {s.name for s in selectors(expr)}


def _readers(rules: Sequence[RecordingRule]) -> list[list[int]]:
    """For each rule, the other rules whose series it may read (by name and `label="value"` matchers)."""
    by_record: dict[str, list[int]] = {}
    for index, r in enumerate(rules):
        by_record.setdefault(r.record, []).append(index)
    return [
        sorted(
            {
                p
                for sel in selectors(r.expr)
                for p in by_record.get(sel.name, ())
                if p != index and sel.may_select(rules[p])
            }
        )
        for index, r in enumerate(rules)
    ]


def rule_passes(items: Sequence[T], rule: Callable[[T], RecordingRule]) -> list[list[T]]:
    """``items`` in backfill passes: each after every pass holding a rule whose series it reads.

    A rule that reads what no other item records (raw series) is in the first pass; a rule is in
    the pass after the last one it reads from. Order within a pass is the order of ``items``.
    RuleCycleError when rules read each other in a circle.
    """
    reads = _readers([rule(item) for item in items])
    level: dict[int, int] = {}

    def level_of(index: int, path: tuple[int, ...]) -> int:
        if index in path:
            circle = " -> ".join(rule(items[i]).record for i in (*path[path.index(index) :], index))
            raise RuleCycleError(f"recording rules read each other in a circle: {circle}")
        if index not in level:
            level[index] = 1 + max((level_of(d, (*path, index)) for d in reads[index]), default=-1)
        return level[index]

    passes: list[list[T]] = []
    for index, item in enumerate(items):
        n = level_of(index, ())
        passes.extend([] for _ in range(n + 1 - len(passes)))
        passes[n].append(item)
    return passes


def needed_rules(rules: Sequence[RecordingRule], expressions: Iterable[str]) -> list[RecordingRule]:
    """The rules whose series ``expressions`` read, directly or through other rules of ``rules``, in order."""
    wanted: set[int] = set()
    todo = [sel for expr in expressions for sel in selectors(expr)]
    while todo:
        sel = todo.pop()
        for index, r in enumerate(rules):
            if index not in wanted and sel.may_select(r):
                wanted.add(index)
                todo += selectors(r.expr)
    return [r for index, r in enumerate(rules) if index in wanted]


def pass_rule_files(groups: Sequence[RuleGroup]) -> list[RuleFile]:
    """The recording rules of ``groups`` as one rule file per backfill pass.

    Each pass keeps every group's name and interval (with the group's rules of that pass), so a
    group split over passes is evaluated at the same times in each, as Prometheus would evaluate
    it whole. Alerting rules record nothing and are left out.
    """
    items = [(g, r) for g in groups for r in g.rules if isinstance(r, RecordingRule)]
    files = []
    for members in rule_passes(items, lambda item: item[1]):
        by_group: dict[str, list[RecordingRule]] = {}
        for g, r in members:
            by_group.setdefault(g.name, []).append(r)
        files.append(
            RuleFile(
                tuple(RuleGroup(g.name, tuple(by_group[g.name]), g.interval) for g in groups if g.name in by_group)
            )
        )
    return files


def pass_runs(
    groups: Sequence[RuleGroup], start: datetime, starts: Mapping[str, datetime] | None = None
) -> list[list[tuple[datetime, RuleFile]]]:
    """`pass_rule_files`, each pass split by where its rules' evaluations start.

    ``starts`` maps a record to its own start (a rule read only around the end is cheaper
    evaluated from a later start); the others start at ``start``. One run per start and pass.
    """
    out = []
    for rule_file in pass_rule_files(groups):
        runs: dict[datetime, list[RuleGroup]] = {}
        for g in rule_file.groups:
            by_start: dict[datetime, list[RecordingRule]] = {}
            for r in g.rules:
                if isinstance(r, RecordingRule):
                    by_start.setdefault((starts or {}).get(r.record, start), []).append(r)
            for since, rules in by_start.items():
                runs.setdefault(since, []).append(RuleGroup(g.name, tuple(rules), g.interval))
        out.append([(since, RuleFile(tuple(gs))) for since, gs in runs.items()])
    return out


def group_eval_order(groups: Sequence[RuleGroup]) -> list[str]:
    """Every group name in an order that evaluates each group after the groups whose series it reads.

    Groups that do not depend on each other keep the order given. Groups can read each other (an
    SLO's main group records the events its hourly group sums, and reads the hourly group's window
    sums back): such groups go in the order of their first rule's backfill pass (`rule_passes`), so
    the group whose rules read only what comes before it runs first.
    """
    recording = [(i, r) for i, g in enumerate(groups) for r in g.rules if isinstance(r, RecordingRule)]
    depends: list[set[int]] = [set() for _ in groups]
    for (i, _), reads in zip(recording, _readers([r for _, r in recording]), strict=True):
        depends[i] |= {recording[p][0] for p in reads} - {i}
    for i, g in enumerate(groups):  # what alerting rules read orders their groups too
        for alert in (r for r in g.rules if isinstance(r, AlertingRule)):
            depends[i] |= {j for j, r in recording for sel in selectors(alert.expr) if sel.may_select(r)} - {i}
    items = recording
    first_pass = [len(items)] * len(groups)
    for n, members in enumerate(rule_passes(items, lambda item: item[1])):
        for i, _ in members:
            first_pass[i] = min(first_pass[i], n)
    order: list[str] = []
    for component in _components([sorted(d) for d in depends]):
        order += [groups[i].name for i in sorted(component, key=lambda i: (first_pass[i], i))]
    return order


def _components(depends: Sequence[Sequence[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components of the graph ``node -> depends[node]``, dependencies first."""
    low: dict[int, int] = {}
    number: dict[int, int] = {}
    stack: list[int] = []
    out: list[list[int]] = []

    def visit(node: int) -> None:
        number[node] = low[node] = len(number)
        stack.append(node)
        for dep in depends[node]:
            if dep not in number:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], number[dep])
        if low[node] == number[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            out.append(component)

    for node in range(len(depends)):
        if node not in number:
            visit(node)
    return out


def load_rule_groups(path: Path) -> list[RuleGroup]:
    """The groups of a Prometheus rule file with what ordering needs: names, records, labels, expressions."""
    doc = yaml.safe_load(path.read_text()) or {}
    groups = []
    for g in doc.get("groups") or []:
        rules: list[Rule] = [
            RecordingRule(
                str(r["record"]), str(r["expr"]), {str(k): str(v) for k, v in (r.get("labels") or {}).items()}
            )
            if "record" in r
            else AlertingRule(str(r["alert"]), str(r["expr"]))
            for r in g.get("rules") or []
        ]
        groups.append(RuleGroup(str(g["name"]), tuple(rules), g.get("interval")))
    return groups
