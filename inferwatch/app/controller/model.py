"""What the controller reads and decides about one InferenceSLO, as plain values (no API calls here).

An InferenceSLO's spec is validated by the same pydantic model as an entry of `slos:` in
inferwatch.yaml and compiled by the same `compile_slo`; its SLO is named ``<namespace>/<name>`` in
Prometheus (the `slo` label of its series and alerts), so two teams' SLOs never share a series and
none can collide with an SLO of the chart's values (whose names hold no `/`). Its SLI counts only
its own namespace's traffic: a team declares SLOs for what it runs, not for its neighbours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from inferwatch.config import HistogramBuckets, is_boundary
from inferwatch.config.slo import SLOSpec
from inferwatch.slo.model import SLO, LatencySLI, SpecWarning, compile_slo

# The prefix of the PrometheusRule that holds one InferenceSLO's rules (in its namespace).
RULE_PREFIX = "inferenceslo-"
NAMESPACE_LABEL = "namespace"

# Reasons of the Ready condition (CamelCase, as Kubernetes spells them).
REASON_APPLIED = "RuleApplied"
REASON_INVALID = "InvalidSpec"
REASON_NOT_A_BUCKET = "ThresholdNotABucket"
REASON_RETENTION = "WindowExceedsRetention"
REASON_CONFLICT = "RuleConflict"
REASON_PROMETHEUS = "PrometheusUnavailable"
REASON_API = "ApplyFailed"
REASON_CONFIG = "ConfigInvalid"


@dataclass(frozen=True)
class InferenceSLO:
    """The part of an InferenceSLO object the controller reads."""

    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> InferenceSLO:
        """From the API's JSON object."""
        meta = obj.get("metadata", {})
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation", 0) or 0),
            spec=obj.get("spec") or {},
            status=obj.get("status") or {},
        )

    @property
    def key(self) -> str:
        """``namespace/name``: the work-queue key, and the SLO's name in Prometheus."""
        return f"{self.namespace}/{self.name}"

    @property
    def rule_name(self) -> str:
        """The name of the PrometheusRule holding this SLO's rules (in the same namespace)."""
        return f"{RULE_PREFIX}{self.name}"


@dataclass(frozen=True)
class Problem:
    """Why an InferenceSLO's rules cannot be applied: the Ready condition's reason, and a message
    that names the field (``spec.sli.threshold_seconds: …``)."""

    reason: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Compiled:
    """An InferenceSLO turned into the internal SLO model, or the problems that stop it."""

    slo: SLO | None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[SpecWarning, ...] = ()


def compile_inference_slo(item: InferenceSLO) -> Compiled:
    """Validate the spec with the config's SLO model and compile it; scope it to its namespace."""
    raw = {**dict(item.spec), "name": item.name}
    try:
        spec = SLOSpec.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"])
            field = "metadata.name" if where == "name" else f"spec.{where}" if where else "spec"
            problems.append(Problem(REASON_INVALID, field, str(e["msg"]).removeprefix("Value error, ")))
        return Compiled(None, tuple(problems))
    own = next((v for k, v in spec.matchers.items() if k == NAMESPACE_LABEL), None)
    if own is not None and own != item.namespace:
        return Compiled(
            None,
            (
                Problem(
                    REASON_INVALID,
                    "spec.matchers.namespace",
                    f"{own!r} is not this InferenceSLO's namespace {item.namespace!r}: an InferenceSLO counts "
                    "the traffic of its own namespace only (declare cross-namespace SLOs in the chart's values)",
                ),
            ),
        )
    source = f"InferenceSLO {item.key}"
    slo, warnings = compile_slo(spec, source)
    matchers = dict(slo.matchers) | {NAMESPACE_LABEL: item.namespace}
    scoped = dataclasses.replace(slo, name=item.key, matchers=tuple(sorted(matchers.items())))
    return Compiled(scoped, (), tuple(warnings))


@dataclass(frozen=True)
class PrometheusFacts:
    """What Prometheus says about one SLO: the `le` boundaries it holds for the SLO's histogram (empty:
    none scraped yet; None: not a latency SLO) and its retention in seconds (None: unknown)."""

    boundaries: tuple[float, ...] | None
    retention_s: float | None


def _listed(values: Sequence[float]) -> str:
    return ", ".join(f"{b:g}" for b in values)


def prometheus_problems(slo: SLO, facts: PrometheusFacts, buckets: HistogramBuckets) -> list[Problem]:
    """What the generator would reject once Prometheus is asked: a latency threshold that is no bucket
    boundary of the histogram scraped for the SLO's series (or, while none is scraped yet, of the
    configured buckets), and a window longer than Prometheus keeps data."""
    problems: list[Problem] = []
    if isinstance(slo.sli, LatencySLI):
        kind, threshold = slo.sli.kind, slo.sli.threshold
        scraped = facts.boundaries or ()
        known = scraped or buckets.boundaries(kind)
        where = (
            f"the {kind} histogram Prometheus scraped for {dict(slo.matchers)}"
            if scraped
            else f"{buckets.origin(kind)} (Prometheus holds no {kind} histogram for {dict(slo.matchers)} yet)"
        )
        if not is_boundary(threshold, known):
            problems.append(
                Problem(
                    REASON_NOT_A_BUCKET,
                    "spec.sli.threshold_seconds",
                    f"{threshold:g} is not a bucket boundary of {where} ({_listed(known)}); the rule would count "
                    "nothing. Pick a boundary, or start vLLM with --custom-histogram-buckets holding it",
                )
            )
    if facts.retention_s is not None and slo.period.total_seconds() > facts.retention_s:
        days = facts.retention_s / 86400
        problems.append(
            Problem(
                REASON_RETENTION,
                "spec.window",
                f"{slo.window} is longer than Prometheus keeps data ({days:g}d retention): the budget would be "
                "computed over less than the window. Use a shorter window or raise the retention",
            )
        )
    return problems
