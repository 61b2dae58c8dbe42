"""Kubernetes objects checked with kubeconform -strict, offline: Kubernetes' own schemas (shipped by the
kubernetes-validate package) and the bundled CRDs of prometheus-operator, KServe and KEDA."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from inferwatch.app.validate.promtool import tool_result
from inferwatch.artifacts import CheckResult
from inferwatch.errors import ToolMissingError
from inferwatch.reference import crd_files
from inferwatch.tools import Toolbox

# Kubernetes version whose schemas (shipped by the kubernetes-validate package) objects must match.
KUBERNETES_SCHEMA_VERSION_PREFIX = "v1."


def kubernetes_schema_dir(version: str | None = None) -> Path:
    """The strict Kubernetes JSON schemas the kubernetes-validate package ships: the newest, or
    those of `version` ("1.34"); ToolMissingError when there are none."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise ToolMissingError("kubernetes-validate is not installed: pip install -c constraints.txt -e '.[dev]'")
    base = Path(spec.origin).parent / "kubernetes-json-schema"

    def numbers(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.name))

    prefix = KUBERNETES_SCHEMA_VERSION_PREFIX if version is None else f"v{version}."
    dirs = sorted(base.glob(f"{prefix}*-local-strict"), key=numbers)
    if not dirs:
        raise ToolMissingError(f"no strict Kubernetes {version or ''} schemas under {base}")
    return dirs[-1]


def _stage_kubernetes_schema(target_dir: Path, source: Path, kind: str, group: str, version: str) -> bool:
    """Put a built-in kind's strict schema where kubeconform finds it, its references made local;
    False when ``source`` has no schema for it (a custom resource, or a kind of another release).

    kubernetes-validate's schemas carry an https `$id` and refer to `/api/_definitions.json`, which
    its own resolver maps; kubeconform resolves references against the schema file instead.
    """
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    name = f"{kind.lower()}{suffix}.json"
    if not (source / name).is_file():
        return False
    target_dir.mkdir(parents=True, exist_ok=True)
    definitions = target_dir / "_definitions.json"
    if not definitions.exists():
        definitions.symlink_to(source / "_definitions.json")
    schema = json.loads((source / name).read_text())
    schema.pop("$id", None)  # an https $id would make the references resolve on the network
    text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
    (target_dir / name).write_text(text)
    return True


def _strict(schema: Any) -> Any:
    """A CRD's openAPIV3Schema as kubeconform's strict mode wants it: unknown fields refused,
    int-or-string spelled as JSON Schema."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    preserve = out.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


@functools.cache
def _crd_schemas(group: str, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, version) -> strict JSON schema of the bundled CRDs that may define ``kind`` of ``group``.

    Only the files named `<group>_<plural>` are parsed (KServe's are megabytes; the plural is
    guessed as kind + "s", else every file of the group is read).
    """
    of_group = crd_files(group)
    named = [f for f in of_group if f.name.removeprefix(f"{group}_").split(".")[0] == f"{kind}s"]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for f in named or of_group:
        text = f.read_text()
        docs = [json.loads(text)] if f.suffix == ".json" else yaml.load_all(text, Loader=loader)
        for crd in docs:
            if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                continue
            kind = crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                schemas[(kind.lower(), v["name"])] = _strict(v["schema"]["openAPIV3Schema"])
    return schemas


def _object_types(path: Path) -> Iterator[tuple[str, str]]:
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str):
            yield doc["apiVersion"], doc["kind"]


def check_kubernetes(tools: Toolbox, root: Path, rel: str, kubernetes_version: str | None = None) -> list[CheckResult]:
    """kubeconform -strict against Kubernetes' schemas (the newest, or `kubernetes_version`'s) and
    the reference CRDs, offline."""
    crd_dir = root / ".inferwatch-crd-schemas"
    try:
        types = list(_object_types(root / rel))
    except yaml.YAMLError as err:
        return [CheckResult(rel, "kubeconform", False, f"not valid YAML: {err}")]
    source = kubernetes_schema_dir(kubernetes_version)
    k8s_dir = crd_dir / "kubernetes" / source.name
    for api_version, kind in types:
        group, _, version = api_version.rpartition("/")
        # Built-in groups may have dots too (resource.k8s.io, networking.k8s.io): Kubernetes' own
        # schemas first, then the CRDs.
        if not _stage_kubernetes_schema(k8s_dir, source, kind, group, version) and "." in group:
            schema = _crd_schemas(group, kind.lower()).get((kind.lower(), version))
            if schema is not None:
                target = crd_dir / group / f"{kind.lower()}_{version}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema))
    proc = tools.run(
        "kubeconform",
        "-strict",
        "-summary",
        "-schema-location",
        f"{k8s_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        "-schema-location",
        f"{crd_dir}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
        str(root / rel),
    )
    return [tool_result(rel, "kubeconform", proc.returncode, proc.stdout + proc.stderr)]
