"""Offline JSON schemas for kubeconform: Kubernetes's own (kubernetes-validate) and CRDs', converted.

kubeconform looks a schema up as `<dir>/<kind><suffix>.json` (its `{{.ResourceKind}}{{.KindSuffix}}`
template: `deployment-apps-v1`, `service-v1`, `scaledobject-keda-v1alpha1`). This module writes
such a directory from two sources that need no network:

- the kubernetes-validate package's strict schemas, whose `$ref`s point at a shared
  `/api/_definitions.json`; each kind is written self-contained, with the definitions it reaches;
- CustomResourceDefinitions (KServe, prometheus-operator, KEDA): each served version's
  `openAPIV3Schema` becomes a strict JSON schema the way kubeconform's openapi2jsonschema does
  it (unknown fields rejected unless `x-kubernetes-preserve-unknown-fields`, int-or-string,
  nullable, embedded resources).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kv
import yaml

# kubeconform's -schema-location template for a directory written by write_schema_dir.
LOCATION_TEMPLATE = "{{ .ResourceKind }}{{ .KindSuffix }}.json"
_DEFS_PREFIX = "/api/_definitions.json#/$defs/"


class SchemaNotFoundError(LookupError):
    """No schema is known for a kind: neither Kubernetes has it nor a CRD given defines it."""


@dataclass(frozen=True)
class KindRef:
    """A kind as manifests name it: apiVersion (`group/version` or `v1`) and kind."""

    api_version: str
    kind: str

    @property
    def file_name(self) -> str:
        """The file kubeconform looks for: kind, then `-<first part of group>-<version>` (or `-v1`)."""
        group, _, version = self.api_version.rpartition("/")
        suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
        return f"{self.kind.lower()}{suffix.lower()}.json"


def kinds_in(documents: Iterable[Mapping[str, Any]]) -> set[KindRef]:
    """The kinds a set of parsed manifests uses."""
    return {KindRef(str(d["apiVersion"]), str(d["kind"])) for d in documents if d}


def kubernetes_schema_dir(version: str | None = None) -> Path:
    """The strict schemas kubernetes-validate ships for `version` (default: its newest)."""
    wanted = version or kv.latest_version()
    path = Path(kv.__file__).parent / "kubernetes-json-schema" / f"v{wanted}-local-strict"
    if not path.is_dir():
        raise SchemaNotFoundError(f"kubernetes-validate has no schemas for Kubernetes {wanted}")
    return path


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _def_name(ref: str) -> str:
    """The definition a `$ref` names, whether it points into the shared file or its own `$defs`."""
    for prefix in (_DEFS_PREFIX, "#/$defs/"):
        if ref.startswith(prefix):
            return ref.removeprefix(prefix)
    raise SchemaNotFoundError(f"unexpected $ref {ref!r} in kubernetes-validate's schemas")


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: ("#/$defs/" + _def_name(v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(x) for x in node]
    return node


@functools.cache
def _definitions(source: Path) -> dict[str, Any]:
    defs: dict[str, Any] = json.loads((source / "_definitions.json").read_text())["$defs"]
    return defs


def kubernetes_schema(ref: KindRef, source: Path) -> dict[str, Any]:
    """A self-contained strict schema of a built-in kind (only the definitions it reaches inlined)."""
    path = source / ref.file_name
    if not path.is_file():
        raise SchemaNotFoundError(f"no Kubernetes schema for {ref.api_version} {ref.kind}")
    schema: dict[str, Any] = json.loads(path.read_text())
    defs = _definitions(source)
    needed: dict[str, Any] = {}
    todo = [_def_name(r) for r in _refs(schema)]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed[name] = defs[name]
        todo.extend(_def_name(r) for r in _refs(defs[name]))
    out: dict[str, Any] = _rewrite_refs(schema)
    out["$defs"] = _rewrite_refs(needed)
    return out


def _strict(node: Any) -> Any:
    """An openAPIV3Schema node as strict JSON schema (kubeconform's openapi2jsonschema, strict mode)."""
    if isinstance(node, list):
        return [_strict(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-embedded-resource") and "properties" in out:
        # apiVersion, kind and metadata of an embedded object are implied, not listed.
        out["properties"] = {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            **out["properties"],
        }
    open_ended = "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and not open_ended:
        out["additionalProperties"] = False
    return out


def crd_schemas(crd: Mapping[str, Any]) -> dict[KindRef, dict[str, Any]]:
    """Strict JSON schemas of every served version of one CustomResourceDefinition."""
    spec = crd["spec"]
    out: dict[KindRef, dict[str, Any]] = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        ref = KindRef(f"{spec['group']}/{version['name']}", spec["names"]["kind"])
        schema = _strict(version["schema"]["openAPIV3Schema"])
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "enum": [ref.api_version]}
        props["kind"] = {"type": "string", "enum": [ref.kind]}
        out[ref] = schema
    return out


def load_crds(paths: Iterable[Path]) -> dict[KindRef, dict[str, Any]]:
    """Schemas of every CRD in the YAML files `paths`."""
    out: dict[KindRef, dict[str, Any]] = {}
    for path in paths:
        # The C loader: KServe's CRDs are megabytes of YAML.
        for doc in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                out |= crd_schemas(doc)
    return out


def write_schema_dir(
    dest: Path, kinds: Iterable[KindRef], crds: Mapping[KindRef, dict[str, Any]], k8s_source: Path | None = None
) -> None:
    """Write a schema for every kind in `kinds` under `dest` (CRDs first, then Kubernetes's own)."""
    source = k8s_source or kubernetes_schema_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for ref in sorted(kinds, key=lambda r: r.file_name):
        schema = crds[ref] if ref in crds else kubernetes_schema(ref, source)
        (dest / ref.file_name).write_text(json.dumps(schema))


def kubeconform_args(schema_dir: Path) -> list[str]:
    """kubeconform arguments validating strictly against `schema_dir` only (no network)."""
    return ["-strict", "-summary", "-schema-location", f"{schema_dir}/{LOCATION_TEMPLATE}"]
