"""The rule sets the fleet benchmark loads: inferwatch's complete generated set, and Sloth's for the same SLOs.

inferwatch's set is what `inferwatch build` generates for `examples/inferwatch.yaml` with its
`slos:` replaced by the fleet's SLOs: the normalization and alert files (alerts area), the SLO
file (slo area), the cost file (cost area) and the autoscaling group (workloads area, which ships
it inside a PrometheusRule). Every group is evaluated every ``interval`` in the benchmark (so a
few minutes show several evaluations of each); its production interval is kept, so that the cost
per minute in production can be computed from the cost per evaluation.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.fleet_model import Fleet
from inferwatch.app.pipeline import generate_all
from inferwatch.artifacts import ArtifactKind
from inferwatch.config.model import parse_config
from inferwatch.rules import RuleFile, to_prometheus_yaml
from inferwatch.slo.windows import parse_duration
from inferwatch.tools import Toolbox
from inferwatch.workloads.autoscaling import autoscaling_group

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "inferwatch.yaml"
KINDS = ("ttft", "tpot", "e2e", "availability")
THRESHOLDS = {"ttft": 2.5, "tpot": 0.1, "e2e": 30.0}
# The raw families each SLI kind reads (Sloth's queries are written over them).
RAW = {
    "ttft": "vllm:time_to_first_token_seconds",
    "tpot": "vllm:request_time_per_output_token_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
}
DEFAULT_INTERVAL_S = 60.0  # Prometheus's default evaluation_interval, for groups that set none


def slo_specs(fleet: Fleet) -> list[dict[str, Any]]:
    """The fleet's SLOs: 50 at scale 1 (one per team namespace, cycling the SLI kinds), per model."""
    count = max(len(KINDS), round(50 * fleet.scale))
    out = []
    for k in range(count):
        kind = KINDS[k % len(KINDS)]
        namespace = fleet.namespaces[k % len(fleet.namespaces)]
        sli: dict[str, Any] = {"kind": kind}
        if kind in THRESHOLDS:
            sli["threshold_seconds"] = THRESHOLDS[kind]
        out.append(
            {
                "name": f"{kind}-{k:02d}",
                "objective": 99.5 if kind == "availability" else 99.0,
                "sli": sli,
                "group_by": ["model_name"],
                "matchers": {"namespace": namespace},
            }
        )
    return out


def inferwatch_rule_files(fleet: Fleet) -> dict[str, str]:
    """The generated rule files (YAML text) by short name, for the fleet's SLOs."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["slos"] = slo_specs(fleet)
    config = parse_config(data, "bench fleet config", {})
    out = {
        Path(a.path).stem: a.content
        for a in generate_all(config, only=("alerts", "slo", "cost"))
        if a.kind is ArtifactKind.PROMETHEUS_RULES
    }
    out["autoscaling"] = to_prometheus_yaml(RuleFile((autoscaling_group(),)))
    return out


@dataclass(frozen=True)
class LoadedSet:
    """A rule set written for the benchmark: its files, and each group's production interval (s)."""

    name: str
    files: tuple[Path, ...]
    production_interval_s: dict[str, float]

    @property
    def groups(self) -> list[str]:
        """Its group names."""
        return list(self.production_interval_s)


def write_set(name: str, files: dict[str, str], work: Path, interval: str) -> LoadedSet:
    """Write ``files`` under ``work/name`` with every group's interval set to ``interval``."""
    folder = work / name.replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    paths, intervals = [], {}
    for stem, text in files.items():
        doc = yaml.safe_load(text) or {}
        for group in doc.get("groups") or []:
            prod = group.get("interval")
            intervals[group["name"]] = parse_duration(prod).total_seconds() if prod else DEFAULT_INTERVAL_S
            group["interval"] = interval
        path = folder / f"{stem}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(path)
    return LoadedSet(name, tuple(paths), intervals)


def sloth_spec(fleet: Fleet) -> dict[str, Any]:
    """Sloth's (prometheus/v1) spec for the fleet's SLOs, over the raw vLLM counters.

    Latency: errors = count - bucket{le=threshold}; availability: errors = aborted requests of
    all finished (`vllm:request_success_total`), by model as inferwatch's SLOs group.
    """
    slos = []
    for spec in slo_specs(fleet):
        kind, ns = spec["sli"]["kind"], spec["matchers"]["namespace"]
        sel = f'namespace="{ns}"'
        if kind == "availability":
            total = f"sum by (model_name) (rate(vllm:request_success_total{{{sel}}}[{{{{.window}}}}]))"
            aborted = f'vllm:request_success_total{{{sel},finished_reason="abort"}}'
            errors = f"sum by (model_name) (rate({aborted}[{{{{.window}}}}]))"
        else:
            raw, le = RAW[kind], repr(float(spec["sli"]["threshold_seconds"]))
            total = f"sum by (model_name) (rate({raw}_count{{{sel}}}[{{{{.window}}}}]))"
            good = f'sum by (model_name) (rate({raw}_bucket{{{sel},le="{le}"}}[{{{{.window}}}}]))'
            errors = f"{total} - {good}"
        slos.append(
            {
                "name": spec["name"],
                "objective": spec["objective"],
                "sli": {"events": {"error_query": errors, "total_query": total}},
                "alerting": {
                    "name": f"SLO{spec['name'].replace('-', '')}",
                    "page_alert": {"labels": {"severity": "page"}},
                    "ticket_alert": {"labels": {"severity": "ticket"}},
                },
            }
        )
    return {"version": "prometheus/v1", "service": "inferwatch-fleet", "slos": slos}


def sloth_rule_file(tools: Toolbox, fleet: Fleet, work: Path) -> str:
    """The real `sloth generate` over ``sloth_spec``; returns the rule file's text."""
    spec, out = work / "sloth-spec.yaml", work / "sloth-rules.yaml"
    spec.write_text(yaml.safe_dump(sloth_spec(fleet), sort_keys=False))
    proc = subprocess.run(
        [str(tools.path("sloth")), "generate", "-i", str(spec), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sloth generate failed: {proc.stderr.strip()[-2000:]}")
    return out.read_text()
