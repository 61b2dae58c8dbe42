"""Grafana dashboards checked against Grafana's dashboard JSON schema, then the dashboards' own lint."""

from __future__ import annotations

import json
from pathlib import Path

from inferwatch.artifacts import CheckResult
from inferwatch.dashboards.lint import check_dashboard
from inferwatch.errors import ToolMissingError
from inferwatch.reference import GRAFANA_DASHBOARD_SCHEMA, reference_path
from inferwatch.tools import Toolbox


def check_grafana_dashboard(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """The dashboard JSON against Grafana's dashboard schema (grafana-foundation-sdk, draft-07)."""
    try:
        import jsonschema
    except ImportError:
        raise ToolMissingError("jsonschema is not installed: pip install -c constraints.txt -e '.[dev]'") from None
    schema = json.loads(reference_path(*GRAFANA_DASHBOARD_SCHEMA).read_text())
    try:
        dashboard = json.loads((root / rel).read_text())
    except json.JSONDecodeError as err:
        return [CheckResult(rel, "jsonschema", False, f"not valid JSON: {err}")]
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(dashboard), key=lambda e: list(e.path))
    output = "\n".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:20])
    return [CheckResult(rel, "jsonschema", not errors, output)]


def check_dashboard_and_lint(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Grafana's JSON schema, then the dashboards' lint and promtool parse (inferwatch.dashboards.lint)."""
    return check_grafana_dashboard(tools, root, rel) + check_dashboard(tools, root, rel)
