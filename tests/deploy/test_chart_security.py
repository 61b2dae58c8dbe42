"""checkov over `helm template` of every ci/ values file: no failed check, and every skip says why."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from inferwatch.tools import Toolbox
from tests.deploy.chart_support import CI_VALUES, helm_template, objects


@pytest.fixture(scope="module")
def checkov(tools: Toolbox) -> Path:
    found = tools.find("checkov")
    if found is None:
        pytest.fail("checkov is not installed: run scripts/install-tools.sh (it installs the pinned checkov)")
    return found


def _scan(checkov: Path, target: Path) -> list[dict[str, Any]]:
    # --skip-download: offline, no Prisma Cloud calls; the built-in Kubernetes checks only.
    flag = "-d" if target.is_dir() else "-f"
    proc = subprocess.run(
        [str(checkov), "--skip-download", "--framework", "kubernetes", flag, str(target), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    return [report] if isinstance(report, dict) else list(report)


def test_checkov_finds_nothing_unexplained(tools: Toolbox, checkov: Path, tmp_path: Path) -> None:
    # One checkov run over the renders of every ci/ values file (each run costs ~20 s of start-up).
    annotations: dict[str, dict[str, str]] = {}
    for values in CI_VALUES:
        rendered = helm_template(tools, "-f", str(values))
        (tmp_path / values.name).write_text(rendered)
        for o in objects(rendered):
            # checkov names a cluster-scoped object (the controller's ClusterRole) as if in "default".
            namespace = o["metadata"].get("namespace", "default")
            key = f"{values.name}:{o['kind']}.{namespace}.{o['metadata']['name']}"
            annotations[key] = o["metadata"].get("annotations", {})
    (results,) = [r["results"] for r in _scan(checkov, tmp_path) if r.get("check_type") == "kubernetes"]
    failed = [f"{c['file_path']} {c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]]
    assert not failed, "\n".join(failed)
    scanned = {Path(c["file_path"]).name for c in results["passed_checks"]}
    assert scanned == {v.name for v in CI_VALUES}
    for skipped in results["skipped_checks"]:
        check = skipped["check_id"]
        resource = f"{Path(skipped['file_path']).name}:{skipped['resource']}"
        reasons = [
            v.partition("=")[2]
            for k, v in annotations[resource].items()
            if k.startswith("checkov.io/skip") and v.startswith(f"{check}=")
        ]
        assert reasons and len(reasons[0]) > 30, f"{check} on {resource} is skipped without a reason in its template"


def test_checkov_does_catch_a_privileged_container(tools: Toolbox, checkov: Path, tmp_path: Path) -> None:
    # The scan is live: the same render with a privileged, root, writable exporter fails.
    rendered = helm_template(tools, "-f", str(CI_VALUES[0]))
    broken = rendered.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", 1)
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(broken)
    (report,) = _scan(checkov, manifest)
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert "CKV_K8S_20" in failed
