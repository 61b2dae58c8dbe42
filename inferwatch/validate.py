"""Validation of generated artifacts with the domain's own tools, looked up by artifact kind.

`VALIDATORS` maps every ArtifactKind to one function ``(tools, root, rel) -> [CheckResult]`` that
checks the file ``root/rel`` (the whole generated tree lies under ``root``, so relative
references resolve). A kind without a validator cannot be built: `check_file` refuses it and a
test fails. Registering a kind is one line in VALIDATORS.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from inferwatch.artifacts import ArtifactKind
from inferwatch.errors import ToolMissingError, ValidationFailedError
from inferwatch.tools import Toolbox

log = logging.getLogger(__name__)

# Kubernetes version whose schemas (shipped by the kubernetes-validate package) objects must match.
KUBERNETES_SCHEMA_VERSION_PREFIX = "v1."
# CRDs (prometheus-operator, KServe, KEDA) and the Grafana dashboard schema, beside the checkout.
REFERENCE_DIRS = ("prometheus-operator-crds", "kserve-crds", "keda-crds")
GRAFANA_SCHEMA = "grafana-dashboard-jsonschema/main/dashboard.jsonschema.json"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one tool run on one file."""

    path: str
    tool: str
    ok: bool
    output: str


Validator = Callable[[Toolbox, Path, str], list[CheckResult]]


def _result(path: str, tool: str, proc_rc: int, out: str) -> CheckResult:
    return CheckResult(path=path, tool=tool, ok=proc_rc == 0, output=out.strip())


def check_rule_file(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Both Prometheus 3 and Debian's Prometheus 2 must load every rule file."""
    results = []
    for tool in ("promtool", "promtool2"):
        proc = tools.run(tool, "check", "rules", str(root / rel))
        results.append(_result(rel, tool, proc.returncode, proc.stdout + proc.stderr))
    return results


def check_prometheus_config(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """promtool's check of a Prometheus server configuration (rule files it names are checked on their own)."""
    proc = tools.run("promtool", "check", "config", "--syntax-only", str(root / rel))
    return [_result(rel, "promtool", proc.returncode, proc.stdout + proc.stderr)]


def check_alertmanager_config(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """amtool's check of an Alertmanager configuration."""
    proc = tools.run("amtool", "check-config", str(root / rel))
    return [_result(rel, "amtool", proc.returncode, proc.stdout + proc.stderr)]


# --- Kubernetes objects: kubeconform -strict, offline ------------------------------------------


def reference_dir() -> Path:
    """../shared/reference beside the checkout (or the working directory); ToolMissingError when absent."""
    checkout = Path(__file__).resolve().parent.parent
    for base in (Path.cwd(), checkout):
        candidate = base.parent / "shared" / "reference"
        if candidate.is_dir():
            return candidate
    raise ToolMissingError("the reference schemas (../shared/reference beside the checkout) are missing")


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
def _crd_schemas(reference: Path, group: str, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, version) -> strict JSON schema of the CRDs under ``reference`` that may define ``kind`` of ``group``.

    Only the files named `<group>_<plural>` are parsed (KServe's are megabytes; the plural is
    guessed as kind + "s", else every file of the group is read); a `.full` file wins over a
    `.minimal` one.
    """
    of_group = [f for d in REFERENCE_DIRS for f in (reference / d).glob(f"{group}_*.yaml")]
    named = [f for f in of_group if f.name.split(".yaml")[0].removeprefix(f"{group}_").split(".")[0] == f"{kind}s"]
    files = sorted(named or of_group, key=lambda f: ".minimal." not in f.name)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for f in files:
        for crd in yaml.load_all(f.read_text(), Loader=loader):
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
            schema = _crd_schemas(reference_dir(), group, kind.lower()).get((kind.lower(), version))
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
    return [_result(rel, "kubeconform", proc.returncode, proc.stdout + proc.stderr)]


# --- Grafana dashboards: the dashboard JSON schema ---------------------------------------------


def check_grafana_dashboard(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """The dashboard JSON against Grafana's dashboard schema (grafana-foundation-sdk, draft-07)."""
    try:
        import jsonschema
    except ImportError:
        raise ToolMissingError("jsonschema is not installed: pip install -c constraints.txt -e '.[dev]'") from None
    schema = json.loads((reference_dir() / GRAFANA_SCHEMA).read_text())
    try:
        dashboard = json.loads((root / rel).read_text())
    except json.JSONDecodeError as err:
        return [CheckResult(rel, "jsonschema", False, f"not valid JSON: {err}")]
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(dashboard), key=lambda e: list(e.path))
    output = "\n".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:20])
    return [CheckResult(rel, "jsonschema", not errors, output)]


def check_dashboard_and_lint(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Grafana's JSON schema, then the dashboards' lint and promtool parse (inferwatch.dashboards.lint)."""
    from inferwatch.dashboards.lint import check_dashboard

    return check_grafana_dashboard(tools, root, rel) + check_dashboard(tools, root, rel)


# --- documents: relative links resolve ---------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def check_document(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Every relative link of a Markdown page names a file (or folder) that exists: among the
    generated files, or among the checkout's own (a runbook may link docs/slo.md)."""
    text = _CODE.sub("", (root / rel).read_text())
    checkout = Path(__file__).resolve().parent.parent
    broken = []
    for target in _LINK.findall(text):
        parsed = urlparse(target)
        if parsed.scheme or parsed.netloc or target.startswith("#"):
            continue
        link = Path(rel).parent / unquote(parsed.path)
        if not ((root / link).exists() or (checkout / link).exists()):
            broken.append(target)
    output = "".join(f"broken relative link: {t}\n" for t in broken)
    return [CheckResult(rel, "links", not broken, output)]


def check_helm_chart(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """A generated file of the Helm chart (see inferwatch.chart.check_chart_file)."""
    from inferwatch.chart import check_chart_file  # late: inferwatch.chart imports this module

    return check_chart_file(tools, root, rel)


VALIDATORS: dict[ArtifactKind, Validator] = {
    ArtifactKind.PROMETHEUS_RULES: check_rule_file,
    ArtifactKind.PROMETHEUS_CONFIG: check_prometheus_config,
    ArtifactKind.ALERTMANAGER_CONFIG: check_alertmanager_config,
    ArtifactKind.KUBERNETES: check_kubernetes,
    ArtifactKind.GRAFANA_DASHBOARD: check_dashboard_and_lint,
    ArtifactKind.DOCUMENT: check_document,
    ArtifactKind.HELM_CHART: check_helm_chart,
}


class NoValidatorError(ValidationFailedError):
    """An artifact kind has no validator: nothing of that kind may be written unchecked."""


def check_file(tools: Toolbox, root: Path, rel: str, kind: ArtifactKind) -> list[CheckResult]:
    """Validate ``root/rel`` with the validator registered for ``kind``; one result per tool run."""
    validator = VALIDATORS.get(kind)
    if validator is None:
        raise NoValidatorError(f"{rel}: no validator is registered for artifact kind {kind.value!r}")
    return validator(tools, root, rel)
