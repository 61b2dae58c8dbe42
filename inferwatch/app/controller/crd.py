"""The InferenceSLO CustomResourceDefinition, generated from the SLO model of inferwatch.yaml.

`spec` is `SLOSpec` (the `slos:` entries of inferwatch.yaml) without `name`, which is the object's
own name: the pydantic JSON schema is turned into a Kubernetes structural schema (no `$ref`, no
`anyOf`, draft-4 style exclusive bounds), and what a schema cannot say is said in CEL
(`x-kubernetes-validations`) so the API server refuses it at `kubectl apply`: a latency SLI
without a threshold, an availability SLI with one, an unknown matcher label, a name that is no DNS
label. What only Prometheus knows (bucket boundaries, retention) the controller checks and reports
in `status.conditions`.
"""

from __future__ import annotations

from typing import Any

from inferwatch.artifacts import generated_header
from inferwatch.config.slo import LATENCY_KINDS, SLOSpec
from inferwatch.errors import ValidationFailedError
from inferwatch.rules import dump_yaml

GROUP = "inferwatch.io"
VERSION = "v1alpha1"
KIND = "InferenceSLO"
PLURAL = "inferenceslos"
SINGULAR = "inferenceslo"
SHORT_NAMES = ("islo",)
API_VERSION = f"{GROUP}/{VERSION}"
CRD_NAME = f"{PLURAL}.{GROUP}"
# An InferenceSLO's name is its SLO's name: a DNS label, like `name:` in inferwatch.yaml.
NAME_PATTERN = SLOSpec.model_fields["name"].metadata[0].pattern
MAX_NAME = 63
# The keys a schema keeps from pydantic's JSON schema; the rest (title, default, …) is dropped.
_KEPT: tuple[str, ...] = ("type", "description", "enum", "pattern", "minimum", "maximum", "minItems", "maxItems")
_KEPT += ("minLength", "maxLength", "maxProperties", "required", "format")


def _inline(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One pydantic schema node as a structural schema node (recursively)."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    if "anyOf" in node:
        # `X | None`: a structural schema has one type per node; an absent field is "None".
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValidationFailedError(f"cannot express anyOf {node['anyOf']!r} in a structural schema")
        return _inline({**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}, defs)
    out: dict[str, Any] = {k: node[k] for k in _KEPT if k in node}
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if bound in node:
            out[flag] = node[bound]
            out[bound] = True
    if "properties" in node:
        out["properties"] = {k: _inline(v, defs) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = _inline(node["items"], defs)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _inline(extra, defs)
    if "propertyNames" in node:
        # No propertyNames in a structural schema: the allowed keys become a CEL rule.
        keys = node["propertyNames"]["enum"]
        out["maxProperties"] = len(keys)
        out["x-kubernetes-validations"] = [
            {
                "rule": f"self.all(k, k in {keys!r})",
                "message": f"allowed keys: {', '.join(keys)}",
            }
        ]
    return out


def spec_schema() -> dict[str, Any]:
    """The OpenAPI v3 (structural) schema of an InferenceSLO's ``spec``: SLOSpec without ``name``."""
    raw = SLOSpec.model_json_schema()
    defs = raw.get("$defs", {})
    spec = _inline({k: v for k, v in raw.items() if k != "$defs"}, defs)
    del spec["properties"]["name"]
    spec["required"] = [r for r in spec["required"] if r != "name"]
    spec["description"] = (
        "One SLO, as an entry of `slos:` in inferwatch.yaml without `name` (the object's name is the SLO's). "
        "See docs/slo.md."
    )
    props = spec["properties"]
    props["window"]["default"] = SLOSpec.model_fields["window"].default
    # Listing a label twice is refused by the API server, as by the config loader.
    props["group_by"]["x-kubernetes-list-type"] = "set"
    latency = ", ".join(repr(k) for k in LATENCY_KINDS)
    props["sli"]["x-kubernetes-validations"] = [
        {
            "rule": f"!(self.kind in [{latency}]) || has(self.threshold_seconds)",
            "message": "threshold_seconds is required for a latency SLI (ttft, tpot, e2e)",
            "fieldPath": ".threshold_seconds",
            "reason": "FieldValueRequired",
        },
        {
            "rule": "self.kind != 'availability' || !has(self.threshold_seconds)",
            "message": "threshold_seconds applies to latency SLIs only, not availability",
            "fieldPath": ".threshold_seconds",
            "reason": "FieldValueForbidden",
        },
    ]
    return spec


def _condition_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "maxLength": 316},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string", "maxLength": 1024},
            "message": {"type": "string", "maxLength": 32768},
            "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
        },
    }


def _number(description: str) -> dict[str, Any]:
    return {"type": "number", "description": description}


def status_schema() -> dict[str, Any]:
    """The schema of ``status``, written by the controller only (the status subresource)."""
    series = {
        "type": "object",
        "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "state": {"type": "string"},
            "budgetRemainingPercent": _number("share of the error budget left over the window, in percent"),
            "sliPercent": _number("good events over the window, in percent"),
        },
    }
    return {
        "type": "object",
        "description": "Written by the inferwatch controller from Prometheus on a period.",
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "sloName": {
                "type": "string",
                "description": "the `slo` label of its series and alerts: <namespace>/<name>",
            },
            "prometheusRule": {"type": "string", "description": "the PrometheusRule holding its rules"},
            "state": {
                "type": "string",
                "description": "ok, ticket, page, exhausted, no budget, no data or invalid (worst series)",
            },
            "budgetRemaining": {"type": "string", "description": "budget left of the worst series, for kubectl get"},
            "budgetRemainingPercent": _number("budget left of the worst series, in percent (negative: overspent)"),
            "sliPercent": _number("good events over the window of the worst series, in percent"),
            "burnRates": {
                "type": "object",
                "description": "burn rates of the worst series over the page windows (1 spends the budget exactly)",
                "additionalProperties": {"type": "number"},
            },
            "coverage": {
                "type": "object",
                "description": "how much of the SLO window Prometheus recorded; figures over a window "
                "holding a gap are listed (their events are counted from the counters, but a pod "
                "restarted inside the gap lost its events before the restart)",
                "properties": {
                    "window": {"type": "string"},
                    "coveredPercent": _number("share of the SLO window recorded, in percent"),
                    "figuresOnGap": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "the figures whose window holds a gap in the recording",
                    },
                },
            },
            "series": {"type": "array", "maxItems": 100, "items": series},
            "lastEvaluated": {"type": "string", "format": "date-time"},
            "conditions": {
                "type": "array",
                "items": _condition_schema(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        },
    }


def printer_columns() -> list[dict[str, Any]]:
    """What `kubectl get inferenceslo` shows."""
    return [
        {"name": "Objective", "type": "number", "jsonPath": ".spec.objective"},
        {"name": "Window", "type": "string", "jsonPath": ".spec.window"},
        {"name": "Budget Left", "type": "string", "jsonPath": ".status.budgetRemaining"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def inference_slo_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of InferenceSLO (namespaced, status subresource)."""
    root = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "x-kubernetes-validations": [
            {
                "rule": f"self.metadata.name.matches('{NAME_PATTERN}') && size(self.metadata.name) <= {MAX_NAME}",
                "message": f"metadata.name is the SLO's name: a DNS label of at most {MAX_NAME} characters "
                "(lower-case letters, digits and '-')",
                "reason": "FieldValueInvalid",
            }
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/part-of": "inferwatch"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["inferwatch"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render_crd() -> str:
    """The CRD as the YAML file the chart ships in crds/."""
    header = generated_header(
        "InferenceSLO CRD", "the SLO model (inferwatch/config/slo.py) by inferwatch/app/controller/crd.py"
    )
    return header + dump_yaml(inference_slo_crd())
