"""Prometheus and Alertmanager files checked with the real tools: promtool (3 and Debian's 2) and amtool."""

from __future__ import annotations

from pathlib import Path

from inferwatch.artifacts import CheckResult
from inferwatch.tools import Toolbox


def tool_result(path: str, tool: str, returncode: int, output: str) -> CheckResult:
    """The CheckResult of one tool run: ok when it exited 0, its output trimmed."""
    return CheckResult(path=path, tool=tool, ok=returncode == 0, output=output.strip())


def check_rule_file(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Both Prometheus 3 and Debian's Prometheus 2 must load every rule file."""
    results = []
    for tool in ("promtool", "promtool2"):
        proc = tools.run(tool, "check", "rules", str(root / rel))
        results.append(tool_result(rel, tool, proc.returncode, proc.stdout + proc.stderr))
    return results


def check_prometheus_config(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """promtool's check of a Prometheus server configuration (rule files it names are checked on their own)."""
    proc = tools.run("promtool", "check", "config", "--syntax-only", str(root / rel))
    return [tool_result(rel, "promtool", proc.returncode, proc.stdout + proc.stderr)]


def check_alertmanager_config(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """amtool's check of an Alertmanager configuration."""
    proc = tools.run("amtool", "check-config", str(root / rel))
    return [tool_result(rel, "amtool", proc.returncode, proc.stdout + proc.stderr)]
