"""Reading OpenSLO v1 `SLO` documents (with an inline or referenced `SLI`) into inferwatch SLO specs.

The subset that maps: `budgetingMethod: Occurrences`, one rolling `timeWindow` of 30d, 28d or
7d, one objective (`target` ratio or `targetPercent`), and an indicator whose `ratioMetric`
reads inferwatch's SLIs (`metricSource.type: inferwatch`, `spec.kind` ttft/tpot/e2e/availability).
Grouping comes from the annotation `inferwatch.io/group-by: namespace,model_name`. Anything
else is rejected with a problem naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from inferwatch.errors import FieldProblem

API_VERSION = "openslo/v1"
GROUP_BY_ANNOTATION = "inferwatch.io/group-by"
METRIC_SOURCE_TYPE = "inferwatch"

_SLO_KEYS = {"service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives", "description"}
_UNSUPPORTED_SLO_KEYS = {
    "alertPolicies": "alert policies are not read: inferwatch generates the burn-rate alerts itself",
}


class OpenSLOProblems(Exception):
    """Problems found in OpenSLO documents; each names its field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def is_openslo(doc: Any) -> bool:
    """Whether a parsed YAML document is an OpenSLO one (any kind)."""
    return isinstance(doc, Mapping) and str(doc.get("apiVersion", "")).startswith("openslo/")


def _name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""


def _sli_spec(indicator: Any, where: str, problems: list[FieldProblem]) -> dict[str, Any] | None:
    if not isinstance(indicator, Mapping) or not isinstance(indicator.get("spec"), Mapping):
        problems.append(FieldProblem(where, "an SLI needs a `spec` mapping"))
        return None
    spec = indicator["spec"]
    for key in spec:
        if key in ("thresholdMetric",):
            problems.append(
                FieldProblem(f"{where}.spec.thresholdMetric", "threshold SLIs are not supported; use ratioMetric")
            )
        elif key not in ("ratioMetric", "description"):
            problems.append(FieldProblem(f"{where}.spec.{key}", "unknown or unsupported field"))
    ratio = spec.get("ratioMetric")
    if not isinstance(ratio, Mapping):
        problems.append(FieldProblem(f"{where}.spec.ratioMetric", "required (the only indicator type that maps)"))
        return None
    for key in ratio:
        if key == "rawMetric":
            problems.append(
                FieldProblem(f"{where}.spec.ratioMetric.rawMetric", "raw ratios are not supported; give good and total")
            )
        elif key == "bad":
            problems.append(
                FieldProblem(f"{where}.spec.ratioMetric.bad", "bad/total is not supported; give good and total")
            )
        elif key not in ("counter", "good", "total"):
            problems.append(FieldProblem(f"{where}.spec.ratioMetric.{key}", "unknown or unsupported field"))
    if ratio.get("counter", True) is not True:
        problems.append(
            FieldProblem(f"{where}.spec.ratioMetric.counter", "only counter: true maps (inferwatch counts events)")
        )
    parts: dict[str, Mapping[str, Any]] = {}
    for part in ("good", "total"):
        path = f"{where}.spec.ratioMetric.{part}.metricSource"
        source = ratio.get(part, {}).get("metricSource") if isinstance(ratio.get(part), Mapping) else None
        if not isinstance(source, Mapping):
            problems.append(FieldProblem(path, "required"))
            continue
        if source.get("type") != METRIC_SOURCE_TYPE:
            problems.append(
                FieldProblem(
                    f"{path}.type",
                    f"{source.get('type')!r} is not supported: free-form queries cannot be checked against "
                    f"vLLM's histograms; use type: {METRIC_SOURCE_TYPE} with spec.kind ttft/tpot/e2e/availability",
                )
            )
            continue
        if not isinstance(source.get("spec"), Mapping):
            problems.append(FieldProblem(f"{path}.spec", "required"))
            continue
        parts[part] = source["spec"]
    if len(parts) != 2:
        return None
    good, total = parts["good"], parts["total"]
    if good.get("kind") != total.get("kind"):
        problems.append(
            FieldProblem(f"{where}.spec.ratioMetric.total.metricSource.spec.kind", "must equal good's kind")
        )
        return None
    extra = sorted(set(total) - {"kind"})
    if extra:
        problems.append(
            FieldProblem(f"{where}.spec.ratioMetric.total.metricSource.spec.{extra[0]}", "only `kind` applies to total")
        )
    return dict(good)


def _number(value: Any) -> float | None:
    """A finite number given as a YAML int or float (not a string, not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _objective(spec: Mapping[str, Any], where: str, problems: list[FieldProblem]) -> float | None:
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or len(objectives) != 1 or not isinstance(objectives[0], Mapping):
        problems.append(FieldProblem(f"{where}.spec.objectives", "exactly one objective is supported"))
        return None
    obj = objectives[0]
    for key in obj:
        if key not in ("displayName", "target", "targetPercent"):
            problems.append(
                FieldProblem(f"{where}.spec.objectives[0].{key}", "unsupported (Occurrences ratio objectives only)")
            )
    for key, scale in (("targetPercent", 1.0), ("target", 100.0)):
        if key in obj:
            value = _number(obj[key])
            if value is None:
                problems.append(FieldProblem(f"{where}.spec.objectives[0].{key}", f"{obj[key]!r:.80} is not a number"))
                return None
            return value * scale
    problems.append(FieldProblem(f"{where}.spec.objectives[0].target", "required (target or targetPercent)"))
    return None


def _window(spec: Mapping[str, Any], where: str, problems: list[FieldProblem]) -> str | None:
    tw = spec.get("timeWindow")
    if not isinstance(tw, list) or len(tw) != 1 or not isinstance(tw[0], Mapping):
        problems.append(FieldProblem(f"{where}.spec.timeWindow", "exactly one time window is supported"))
        return None
    if tw[0].get("isRolling") is not True or "calendar" in tw[0]:
        problems.append(FieldProblem(f"{where}.spec.timeWindow[0].isRolling", "only rolling windows are supported"))
        return None
    duration = str(tw[0].get("duration", ""))
    if duration not in ("30d", "28d", "7d"):
        problems.append(FieldProblem(f"{where}.spec.timeWindow[0].duration", f"{duration!r}: use 30d, 28d or 7d"))
        return None
    return duration


def to_specs(docs: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Turn OpenSLO documents into (SLO name, inferwatch spec dict) pairs; raises OpenSLOProblems.

    SLI documents are only used when an SLO's `indicatorRef` names them.
    """
    problems: list[FieldProblem] = []
    slis = {_name(d): d for d in docs if isinstance(d, Mapping) and d.get("kind") == "SLI"}
    out: list[tuple[str, dict[str, Any]]] = []
    for i, doc in enumerate(docs):
        if not isinstance(doc, Mapping):
            problems.append(FieldProblem(f"document {i}", "must be a mapping"))
            continue
        kind = doc.get("kind")
        if doc.get("apiVersion") != API_VERSION:
            problems.append(
                FieldProblem(f"document {i}.apiVersion", f"{doc.get('apiVersion')!r}: only {API_VERSION} is read")
            )
            continue
        if kind == "SLI":
            continue
        name = _name(doc)
        where = f"SLO {name!r}" if name else f"document {i}"
        if kind != "SLO":
            problems.append(FieldProblem(f"{where}.kind", f"{kind!r} is not supported (SLO and SLI only)"))
            continue
        spec = doc.get("spec")
        if not isinstance(spec, Mapping):
            problems.append(FieldProblem(f"{where}.spec", "required"))
            continue
        for key in spec:
            if key in _UNSUPPORTED_SLO_KEYS:
                problems.append(FieldProblem(f"{where}.spec.{key}", _UNSUPPORTED_SLO_KEYS[key]))
            elif key not in _SLO_KEYS:
                problems.append(FieldProblem(f"{where}.spec.{key}", "unknown or unsupported field"))
        if spec.get("budgetingMethod") != "Occurrences":
            problems.append(
                FieldProblem(
                    f"{where}.spec.budgetingMethod",
                    f"{spec.get('budgetingMethod')!r} is not supported: only Occurrences maps to event-based SLIs",
                )
            )
        if "indicator" in spec:
            indicator = spec["indicator"]
            sli_where = f"{where}.spec.indicator"
        elif "indicatorRef" in spec:
            ref = str(spec["indicatorRef"])
            indicator = slis.get(ref)
            sli_where = f"SLI {ref!r}"
            if indicator is None:
                problems.append(FieldProblem(f"{where}.spec.indicatorRef", f"no SLI named {ref!r} in the same file"))
                continue
        else:
            problems.append(FieldProblem(f"{where}.spec.indicator", "required (inline indicator or indicatorRef)"))
            continue
        sli = _sli_spec(indicator, sli_where, problems)
        objective = _objective(spec, where, problems)
        window = _window(spec, where, problems)
        if sli is None or objective is None or window is None:
            continue
        meta = doc.get("metadata", {})
        annotations = meta.get("annotations", {}) if isinstance(meta, Mapping) else {}
        if not isinstance(annotations, Mapping):
            problems.append(FieldProblem(f"{where}.metadata.annotations", "must be a mapping of names to strings"))
            continue
        group_by_text = annotations.get(GROUP_BY_ANNOTATION, "")
        if not isinstance(group_by_text, str):
            problems.append(
                FieldProblem(f"{where}.metadata.annotations.{GROUP_BY_ANNOTATION}", "must be a comma-separated string")
            )
            continue
        group_by = [g.strip() for g in group_by_text.split(",") if g.strip()]
        spec_out: dict[str, Any] = {
            "name": name,
            "objective": round(objective, 10),
            "window": window,
            "sli": sli,
            "group_by": group_by,
        }
        if spec.get("description"):
            spec_out["description"] = str(spec["description"])
        out.append((name, spec_out))
    if problems:
        raise OpenSLOProblems(problems)
    return out
