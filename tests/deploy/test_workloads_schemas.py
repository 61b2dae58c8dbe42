"""The CRD -> JSON-schema conversion kubeconform validates against (inferwatch.kubeschemas)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from inferwatch.config import InferwatchConfig
from inferwatch.kubeschemas import KindRef, crd_schemas, kubernetes_schema, kubernetes_schema_dir

CRD: dict[str, Any] = {
    "kind": "CustomResourceDefinition",
    "spec": {
        "group": "example.io",
        "names": {"kind": "Widget"},
        "versions": [
            {"name": "v1alpha1", "served": False, "schema": {"openAPIV3Schema": {"type": "object"}}},
            {
                "name": "v1",
                "served": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                    "free": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                        "properties": {"a": {"type": "string"}},
                                    },
                                    "template": {
                                        "type": "object",
                                        "x-kubernetes-embedded-resource": True,
                                        "properties": {"spec": {"type": "object"}},
                                    },
                                },
                            },
                        },
                    }
                },
            },
        ],
    },
}
OK = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}}


def _schema() -> dict[str, Any]:
    schemas = crd_schemas(CRD)
    assert list(schemas) == [KindRef("example.io/v1", "Widget")]  # only served versions
    return schemas[KindRef("example.io/v1", "Widget")]


@pytest.mark.parametrize(
    "spec",
    [
        {"port": 8080},
        {"port": "http"},
        {"note": None},
        {"free": {"a": "x", "anything": 1}},
        {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}},
    ],
)
def test_what_kubernetes_accepts_validates(spec: dict[str, Any]) -> None:
    jsonschema.validate({**OK, "spec": spec}, _schema())


@pytest.mark.parametrize(
    "doc",
    [
        {**OK, "spec": {"prot": 1}},
        {**OK, "spec": {"port": 1.5}},
        {**OK, "spec": {"template": {"spec": {}, "extra": 1}}},
        {**OK, "apiVersion": "example.io/v2"},
        {**OK, "typo": 1},
    ],
)
def test_unknown_fields_and_wrong_versions_are_rejected(doc: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _schema())


def test_kubernetes_kinds_are_self_contained_and_strict() -> None:
    schema = kubernetes_schema(KindRef("v1", "Service"), kubernetes_schema_dir())
    assert all(ref.startswith("#/$defs/") for ref in _refs(schema))
    validator = jsonschema.Draft202012Validator(schema)
    good = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    validator.validate(good)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**good, "spec": {"ports": [{"port": 80, "targetPrt": 81}]}})


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize(
    ("autoscaling", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "below min_replicas"),
        ({"fallback_replicas": 9}, "fallback_replicas 9 must lie between"),
    ],
)
def test_inconsistent_autoscaling_is_refused(autoscaling: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InferwatchConfig.model_validate({"workload": {"autoscaling": autoscaling}})
