"""The chart's generated files checked as `inferwatch build` validates HELM_CHART artifacts.

Every file must parse and the values schema must be a JSON schema; at values.yaml the chart as a
whole is checked: the checkout's templates with the generated files laid over them must pass
`helm lint --strict` and `helm template`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import yaml

from inferwatch.app.chart.values import CHART_DIR
from inferwatch.artifacts import CheckResult
from inferwatch.errors import ToolMissingError
from inferwatch.tools import Toolbox, checkout_dirs

# Kubernetes version the chart is rendered for when it is checked (helm's own default is v1.20).
CHECK_KUBE_VERSION = "v1.34.0"


def checkout_chart() -> Path:
    """The chart's hand-written part (Chart.yaml, templates/): in the working directory's checkout,
    else in the source checkout inferwatch runs from."""
    candidates = [base / CHART_DIR for base in checkout_dirs()]
    return next((c for c in candidates if (c / "Chart.yaml").is_file()), candidates[-1])


def check_chart_file(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Check one generated chart file under ``root``: it parses; the schema is a JSON schema.

    At values.yaml the chart as a whole is checked: the checkout's templates with the generated
    files of ``root`` laid over them must pass `helm lint --strict` and `helm template`.
    """
    path = root / rel
    try:
        data = json.loads(path.read_text()) if rel.endswith(".json") else list(yaml.safe_load_all(path.read_text()))
    except (ValueError, yaml.YAMLError) as err:
        return [CheckResult(rel, "parse", False, str(err))]
    if rel.endswith("values.schema.json"):
        try:
            import jsonschema
        except ImportError:
            raise ToolMissingError("jsonschema is not installed: pip install -c constraints.txt -e '.[dev]'") from None
        try:
            jsonschema.Draft202012Validator.check_schema(data)
        except jsonschema.SchemaError as err:
            return [CheckResult(rel, "jsonschema", False, str(err))]
    if rel != f"{CHART_DIR}/values.yaml":
        return [CheckResult(rel, "jsonschema" if rel.endswith("values.schema.json") else "parse", True, "")]
    source = checkout_chart()
    if not (source / "Chart.yaml").is_file():
        return [CheckResult(rel, "helm", False, f"no chart templates at {source}: build in a checkout")]
    with tempfile.TemporaryDirectory(prefix="inferwatch-chart-") as tmp:
        chart = Path(tmp) / "inferwatch"
        shutil.copytree(source, chart, ignore=shutil.ignore_patterns("files", "values.yaml", "values.schema.json"))
        shutil.copytree(root / CHART_DIR, chart, dirs_exist_ok=True)
        results = []
        proc = tools.run("helm", "lint", "--strict", str(chart))
        results.append(CheckResult(rel, "helm lint", proc.returncode == 0, (proc.stdout + proc.stderr).strip()))
        proc = tools.run("helm", "template", "inferwatch", str(chart), "--kube-version", CHECK_KUBE_VERSION)
        results.append(CheckResult(rel, "helm template", proc.returncode == 0, proc.stderr.strip()))
    return results
