"""The typed rule model: recording and alerting rules, groups and files, rendered deterministically.

Every generator (normalization, alerts, SLOs, cost) builds these values; only this module
turns them into YAML, as a plain Prometheus rule file or a prometheus-operator PrometheusRule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from inferwatch.promql import check_metric_name


class _LiteralStr(str):
    """A string rendered as a YAML block literal (multi-line PromQL stays readable)."""


def _literal_representer(dumper: yaml.SafeDumper, data: _LiteralStr) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


class _QuotedStr(str):
    """A string rendered double-quoted, where YAML escapes every character a reader could misread."""


def _quoted_representer(dumper: yaml.SafeDumper, data: _QuotedStr) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_LiteralStr, _literal_representer)
_Dumper.add_representer(_QuotedStr, _quoted_representer)


def _expr(expr: str) -> str:
    """The expression as YAML should carry it: a block literal only when every line reads back as written.

    A YAML reader turns \\r, \\x85, \\u2028 and \\u2029 into line breaks (and PyYAML folds them in
    single-quoted or plain scalars), so text holding any character other than ``\\n`` that is not
    printable is written double-quoted, with those characters escaped.
    """
    text = expr.strip()
    if any(not (ch.isprintable() or ch == "\n") for ch in text):
        return _QuotedStr(text)
    return _LiteralStr(text + "\n") if "\n" in text else text


@dataclass(frozen=True)
class RecordingRule:
    """``record: <name>`` = ``expr``; names follow level:metric:operations."""

    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_metric_name(self.record)

    def to_dict(self) -> dict[str, Any]:
        """The rule as Prometheus's rule-file mapping."""
        out: dict[str, Any] = {"record": self.record, "expr": _expr(self.expr)}
        if self.labels:
            out["labels"] = dict(sorted(self.labels.items()))
        return out


@dataclass(frozen=True)
class AlertingRule:
    """An alert: expression, hold duration, labels (severity) and annotations (summary, runbook)."""

    alert: str
    expr: str
    for_: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    keep_firing_for: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The rule as Prometheus's rule-file mapping."""
        out: dict[str, Any] = {"alert": self.alert, "expr": _expr(self.expr)}
        if self.for_:
            out["for"] = self.for_
        if self.keep_firing_for:
            out["keep_firing_for"] = self.keep_firing_for
        if self.labels:
            out["labels"] = dict(sorted(self.labels.items()))
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out


Rule = RecordingRule | AlertingRule


@dataclass(frozen=True)
class RuleGroup:
    """A rule group: evaluated together, in order, every ``interval``."""

    name: str
    rules: tuple[Rule, ...]
    interval: str | None = None
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The group as Prometheus's rule-file mapping."""
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = self.interval
        if self.limit is not None:
            out["limit"] = self.limit
        out["rules"] = [r.to_dict() for r in self.rules]
        return out


@dataclass(frozen=True)
class RuleFile:
    """A rule file: an ordered set of groups with unique names."""

    groups: tuple[RuleGroup, ...]

    def __post_init__(self) -> None:
        names = [g.name for g in self.groups]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate rule group name(s): {', '.join(dupes)}")

    def to_dict(self) -> dict[str, Any]:
        """The file as Prometheus's rule-file mapping (``groups:``)."""
        return {"groups": [g.to_dict() for g in self.groups]}

    def rules(self) -> list[Rule]:
        """Every rule of every group, in order."""
        return [r for g in self.groups for r in g.rules]


def dump_yaml(data: Any) -> str:
    """Deterministic YAML: insertion order kept, block literals for multi-line PromQL, wide lines."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def to_prometheus_yaml(rule_file: RuleFile, header: str = "") -> str:
    """A plain Prometheus rule file (for `rule_files:` and promtool)."""
    return header + dump_yaml(rule_file.to_dict())


def to_prometheus_rule(
    rule_file: RuleFile, name: str, labels: Mapping[str, str] | None = None, header: str = ""
) -> str:
    """A prometheus-operator ``PrometheusRule`` object holding the same groups."""
    obj: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": dict(sorted((labels or {}).items()))},
        "spec": rule_file.to_dict(),
    }
    return header + dump_yaml(obj)
