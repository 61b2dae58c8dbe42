"""The dashboard validator: the generated dashboards pass, and each rule catches what it is for."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferwatch.app.pipeline import generate_all
from inferwatch.app.validate import check_file
from inferwatch.artifacts import ArtifactKind, CheckResult
from inferwatch.config import load_config
from inferwatch.dashboards.lint import check_dashboard, panels_of, series_names, structural_problems
from inferwatch.tools import Toolbox
from tests.conftest import REPO_ROOT

INFERENCE = "dashboards/generated/inferwatch-inference.json"


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every generated artifact written under a scratch root, as `inferwatch build` validates them."""
    root = tmp_path_factory.mktemp("build")
    for art in generate_all(load_config(REPO_ROOT / "examples" / "inferwatch.yaml")):
        (root / art.path).parent.mkdir(parents=True, exist_ok=True)
        (root / art.path).write_text(art.content)
    return root


def _failures(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.tool}: {r.output}" for r in results if not r.ok)


def test_generated_dashboards_pass_through_the_build_check(tools: Toolbox, build_root: Path) -> None:
    for path in sorted((build_root / "dashboards" / "generated").glob("*.json")):
        rel = str(path.relative_to(build_root))
        results = check_file(tools, build_root, rel, ArtifactKind.GRAFANA_DASHBOARD)
        assert [r.tool for r in results] == ["jsonschema", "dashboard-lint", "promtool"]
        assert all(r.ok for r in results), _failures(results)


def _first(d: dict[str, Any], kind: str = "timeseries") -> dict[str, Any]:
    return next(p for p in panels_of(d) if p["type"] == kind)


def _set_type(d: dict[str, Any]) -> None:
    _first(d)["type"] = "graph"


def _no_legend(d: dict[str, Any]) -> None:
    _first(d)["targets"][0]["legendFormat"] = ""


def _fixed_rate_window(d: dict[str, Any]) -> None:
    _first(d)["targets"][0]["expr"] = 'sum(rate(inferwatch_gpu_energy_joules_total{gpu_uuid=~"$node"}[5m]))'


def _no_unit(d: dict[str, Any]) -> None:
    del _first(d, "stat")["fieldConfig"]["defaults"]["unit"]


def _fixed_datasource(d: dict[str, Any]) -> None:
    _first(d)["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}


def _duplicate_id(d: dict[str, Any]) -> None:
    panels = [p for p in panels_of(d) if p["type"] != "row"]
    panels[1]["id"] = panels[0]["id"]


def _overlap(d: dict[str, Any]) -> None:
    panels = [p for p in panels_of(d) if p["type"] != "row"]
    panels[1]["gridPos"] = dict(panels[0]["gridPos"])


def _inputs(d: dict[str, Any]) -> None:
    d["__inputs"] = [{"name": "DS_PROMETHEUS", "type": "datasource"}]


def _unknown_series(d: dict[str, Any]) -> None:
    _first(d)["targets"][0]["expr"] = 'sum(vllm:gpu_cache_usage_perc{namespace=~"$namespace"})'


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "angular panel type": (_set_type, "panel type 'graph'"),
    "target without legend": (_no_legend, "has no legend"),
    "fixed rate window": (_fixed_rate_window, "rate window [5m] is not [$__rate_interval]"),
    "panel without unit": (_no_unit, "has no unit"),
    "fixed data source": (_fixed_datasource, "does not use the $datasource variable"),
    "duplicate panel id": (_duplicate_id, "is also used by"),
    "overlapping panels": (_overlap, "gridPos overlaps"),
    "import placeholders": (_inputs, "import placeholders"),
    "series nothing records": (_unknown_series, "reads vllm:gpu_cache_usage_perc, which no generated rule records"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rule_catches_its_fault(case: str, tools: Toolbox, build_root: Path, tmp_path: Path) -> None:
    breaks, message = CASES[case]
    dashboard = json.loads((build_root / INFERENCE).read_text())
    broken = copy.deepcopy(dashboard)
    breaks(broken)
    rel = "dashboards/generated/inferwatch-inference.json"
    root = tmp_path
    (root / rel).parent.mkdir(parents=True)
    (root / rel).write_text(json.dumps(broken))
    for rules in (build_root / "alerts" / "generated", build_root / "slo" / "generated"):
        dest = root / rules.relative_to(build_root)
        dest.mkdir(parents=True, exist_ok=True)
        for f in rules.glob("*.yaml"):
            (dest / f.name).write_text(f.read_text())
    lint = check_dashboard(tools, root, rel)[0]
    assert not lint.ok and message in lint.output, lint.output


def test_promql_that_does_not_parse_fails_naming_the_panel(tools: Toolbox, build_root: Path, tmp_path: Path) -> None:
    dashboard = json.loads((build_root / INFERENCE).read_text())
    panel = _first(dashboard)
    panel["targets"][0]["expr"] = 'sum by (namespace (inferwatch:vllm_requests_running:sum{pod=~"$pod"})'
    rel = "dashboards/generated/inferwatch-inference.json"
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text(json.dumps(dashboard))
    promtool = check_dashboard(tools, tmp_path, rel)[1]
    assert not promtool.ok
    assert f"panel {panel['id']} {panel['title']!r} target A" in promtool.output, promtool.output


def test_uid_must_be_the_file_name(tools: Toolbox, build_root: Path, tmp_path: Path) -> None:
    rel = "dashboards/generated/renamed.json"
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text((build_root / INFERENCE).read_text())
    lint = check_dashboard(tools, tmp_path, rel)[0]
    assert "is not the file name's stem 'renamed'" in lint.output


def test_series_names_skip_functions_labels_and_strings() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, namespace) (rate(vllm:x_bucket{a="b:c"}[$__rate_interval]))) '
        '/ on (pod) group_left (node) label_replace(up_total, "x", "$1", "y", "(.+)") or vector(0)'
    )
    assert series_names(expr) == {"vllm:x_bucket", "up_total"}


# The dashboards docs/dashboards.md compares ours with (Apache-2.0; SOURCE.txt says from where).
REFERENCE = REPO_ROOT / "tests" / "data" / "dashboards"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("vllm/grafana.json", ["carries import placeholders", "panel type 'heatmap'", "has no unit"]),
        ("dcgm-exporter/dcgm-exporter-dashboard.json", ["carries import placeholders", "panel type 'gauge'"]),
    ],
)
def test_the_reference_dashboards_fail_where_docs_say(path: str, expected: list[str]) -> None:
    """docs/dashboards.md compares ours with the dashboards we set out to beat; this keeps it true."""
    reference = json.loads((REFERENCE / path).read_text())
    problems = [str(p) for p in structural_problems(reference, Path(path).stem)]
    for message in [*expected, "does not use the $datasource variable"]:
        assert any(message in p for p in problems), (message, problems[:5])


def test_malformed_dashboards_fail_without_a_traceback(tools: Toolbox, tmp_path: Path) -> None:
    rel = "dashboards/generated/x.json"
    (tmp_path / rel).parent.mkdir(parents=True)
    for text, message in (("[1, 2]", "not a Grafana dashboard"), ("{", "cannot read dashboard JSON")):
        (tmp_path / rel).write_text(text)
        lint = check_dashboard(tools, tmp_path, rel)[0]
        assert not lint.ok and message in lint.output
    variable = {"name": "ns", "type": "query", "query": "query_result(up)"}
    (tmp_path / rel).write_text(json.dumps({"uid": "x", "panels": [], "templating": {"list": [variable]}}))
    results = check_dashboard(tools, tmp_path, rel)
    assert not results[1].ok and "variable ns" in results[1].output, results[1].output
