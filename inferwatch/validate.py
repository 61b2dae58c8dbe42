"""Validation of generated artifacts with the domain's own tools (promtool, amtool, kubeconform, JSON schema)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from inferwatch.artifacts import ArtifactKind
from inferwatch.tools import Toolbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one tool run on one file."""

    path: str
    tool: str
    ok: bool
    output: str


def _result(path: str, tool: str, proc_rc: int, out: str) -> CheckResult:
    return CheckResult(path=path, tool=tool, ok=proc_rc == 0, output=out.strip())


def check_file(tools: Toolbox, root: Path, rel: str, kind: ArtifactKind) -> list[CheckResult]:
    """Validate ``root/rel`` according to ``kind``; returns one result per tool run."""
    path = str(root / rel)
    results: list[CheckResult] = []
    if kind is ArtifactKind.PROMETHEUS_RULES:
        # Both Prometheus 3 and Debian's Prometheus 2.42 must load every rule file.
        for tool in ("promtool", "promtool2"):
            proc = tools.run(tool, "check", "rules", path)
            results.append(_result(rel, tool, proc.returncode, proc.stdout + proc.stderr))
    elif kind is ArtifactKind.PROMETHEUS_CONFIG:
        proc = tools.run("promtool", "check", "config", "--syntax-only", path)
        results.append(_result(rel, "promtool", proc.returncode, proc.stdout + proc.stderr))
    elif kind is ArtifactKind.ALERTMANAGER_CONFIG:
        proc = tools.run("amtool", "check-config", path)
        results.append(_result(rel, "amtool", proc.returncode, proc.stdout + proc.stderr))
    elif kind is ArtifactKind.GRAFANA_DASHBOARD:
        from inferwatch.dashboards.lint import check_dashboard

        results.extend(check_dashboard(tools, root, rel))
    return results
