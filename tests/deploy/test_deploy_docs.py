"""The deployment docs as a new user follows them (offline; tests/k8s runs their commands on a real API
server): links that resolve, a quick start that labels the namespace, one release, repos added."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inferwatch.tools import Toolbox
from tests.deploy.chart_support import CHART, REPO_ROOT, helm_template

DOCS = sorted([REPO_ROOT / "README.md", CHART / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)|\[(\.\./[^\]]+)\]")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for match in LINK.finditer(doc.read_text()):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):
            continue
        if not (doc.parent / target).exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO_ROOT)}: {broken}"


def test_config_comments_name_docs_that_exist() -> None:
    text = (REPO_ROOT / "examples" / "inferwatch.yaml").read_text()
    missing = [d for d in re.findall(r"docs/[\w-]+\.md", text) if not (REPO_ROOT / d).exists()]
    assert not missing


def test_chart_quick_start_labels_the_namespace_before_installing() -> None:
    text = (CHART / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    label = block.index("pod-security.kubernetes.io/enforce=privileged")
    assert label < block.index("helm upgrade --install")
    assert "--create-namespace" not in block


def test_deploy_guide_installs_one_release() -> None:
    """Every install of the chart in docs/deploy.md targets the §2 namespace: a second release would
    run two exporters per node and load every rule twice."""
    text = (REPO_ROOT / "docs" / "deploy.md").read_text()
    installs = re.findall(r"helm upgrade (?:--install )?inferwatch deploy/helm/inferwatch -n (\S+)", text)
    assert installs and set(installs) == {"inferwatch"}, installs
    upgrades = re.findall(r"^helm upgrade .*$", text, re.M)
    assert not [u for u in upgrades if "--reuse-values" in u], upgrades


def test_autoscaling_adds_the_prometheus_community_repo_before_using_it() -> None:
    text = (REPO_ROOT / "docs" / "autoscaling.md").read_text()
    assert text.index("helm repo add prometheus-community") < text.index("prometheus-community/prometheus-adapter")


def test_notes_tell_about_the_privileged_namespace() -> None:
    text = (CHART / "templates" / "NOTES.txt").read_text()
    assert "pod-security.kubernetes.io/enforce=privileged" in text


def test_the_week_and_scrape_annotation_values_render(tools: Toolbox) -> None:
    cron = helm_template(tools, "--show-only", "templates/cronjob.yaml", "--set", "costReport.week=2026-W47")
    assert '- --week\n                - "2026-W47"' in cron
    svc = helm_template(tools, "--show-only", "templates/service.yaml", "--set", "monitoring.operator=false",
                        "--set", "service.scrapeAnnotations=false")  # fmt: skip
    assert "prometheus.io/scrape" not in svc
    quota = helm_template(tools, "--show-only", "templates/resourcequota.yaml")
    assert "scopeName: PriorityClass" in quota and "system-node-critical" in quota
