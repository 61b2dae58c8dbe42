"""promtool proof of the normalization group the dashboards added (inferwatch-normalize-dashboards):
node and MIG identity, power limit and clocks from either GPU source, and the SLO alert state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.alerts.normalize import NORMALIZE_GROUP_PREFIX, normalization_groups
from inferwatch.rules import RuleFile, to_prometheus_yaml
from inferwatch.tools import Toolbox
from tests.support.promtool import unit_test_doc

GPU = "GPU-aaaaaaaa-0000-4000-8000-000000000000"
DCGM_GPU = "GPU-dddddddd-0000-4000-8000-000000000000"
MIG = "MIG-11111111-0000-4000-8000-000000000000"
H100 = "NVIDIA H100 80GB HBM3"


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def _expect(expr: str, samples: list[tuple[dict[str, str], float]]) -> dict[str, Any]:
    return {
        "expr": expr,
        "eval_time": "4m",
        "exp_samples": [{"labels": _labels(expr, lb), "value": v} for lb, v in samples],
    }


def _labels(expr: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{expr}{{{inner}}}"


TESTS: list[dict[str, Any]] = [
    {
        "name": "a GPU seen by a sidecar and a DaemonSet keeps the DaemonSet's node; dcgm GPUs take Hostname",
        "interval": "1m",
        "input_series": [
            _series(
                "inferwatch_gpu_info", {"gpu_uuid": GPU, "gpu_model": H100, "mig_uuid": "", "job": "sidecar"}, "1x5"
            ),
            _series(
                "inferwatch_gpu_info",
                {"gpu_uuid": GPU, "gpu_model": H100, "mig_uuid": "", "job": "ds", "node": "n1"},
                "1x5",
            ),
            _series(
                "DCGM_FI_DEV_GPU_UTIL", {"UUID": DCGM_GPU, "modelName": H100, "Hostname": "n2", "gpu": "0"}, "40x5"
            ),
        ],
        "promql_expr_test": [
            _expect(
                "inferwatch:gpu_node:info",
                [
                    ({"gpu_uuid": GPU, "gpu_model": H100, "node": "n1"}, 1),
                    ({"gpu_uuid": DCGM_GPU, "gpu_model": H100, "node": "n2"}, 1),
                ],
            )
        ],
    },
    {
        "name": "power limit and clocks from the exporter (whole GPU only) or dcgm (MHz to Hz)",
        "interval": "1m",
        "input_series": [
            _series("inferwatch_gpu_power_limit_watts", {"gpu_uuid": GPU, "mig_uuid": ""}, "700x5"),
            _series("inferwatch_gpu_clock_hertz", {"gpu_uuid": GPU, "mig_uuid": "", "clock": "sm"}, "1980000000x5"),
            _series("inferwatch_gpu_clock_hertz", {"gpu_uuid": GPU, "mig_uuid": MIG, "clock": "sm"}, "1x5"),
            _series("DCGM_FI_DEV_POWER_MGMT_LIMIT", {"UUID": DCGM_GPU}, "350x5"),
            _series("DCGM_FI_DEV_SM_CLOCK", {"UUID": DCGM_GPU}, "1410x5"),
            _series("DCGM_FI_DEV_MEM_CLOCK", {"UUID": DCGM_GPU}, "1593x5"),
        ],
        "promql_expr_test": [
            _expect("inferwatch:gpu_power_limit:watts", [({"gpu_uuid": GPU}, 700), ({"gpu_uuid": DCGM_GPU}, 350)]),
            _expect(
                "inferwatch:gpu_clock:hertz",
                [
                    ({"gpu_uuid": GPU, "clock": "sm"}, 1.98e9),
                    ({"gpu_uuid": DCGM_GPU, "clock": "sm"}, 1.41e9),
                    ({"gpu_uuid": DCGM_GPU, "clock": "memory"}, 1.593e9),
                ],
            ),
        ],
    },
    {
        "name": "MIG instances keyed by parent and instance, with their profile",
        "interval": "1m",
        "input_series": [
            _series(
                "inferwatch_gpu_mig_info",
                {
                    "gpu_uuid": GPU,
                    "mig_uuid": MIG,
                    "profile": "3g.40gb",
                    "gpu_instance_id": "1",
                    "compute_instance_id": "0",
                },
                "1x5",
            ),
            _series("inferwatch_gpu_mig_memory_used_bytes", {"gpu_uuid": GPU, "mig_uuid": MIG, "job": "a"}, "100x5"),
            _series("inferwatch_gpu_mig_memory_total_bytes", {"gpu_uuid": GPU, "mig_uuid": MIG, "job": "a"}, "400x5"),
        ],
        "promql_expr_test": [
            _expect("inferwatch:gpu_mig_info", [({"gpu_uuid": GPU, "mig_uuid": MIG, "profile": "3g.40gb"}, 1)]),
            _expect("inferwatch:gpu_mig_memory_used:bytes", [({"gpu_uuid": GPU, "mig_uuid": MIG}, 100)]),
            _expect("inferwatch:gpu_mig_memory_total:bytes", [({"gpu_uuid": GPU, "mig_uuid": MIG}, 400)]),
        ],
    },
    {
        "name": "SLO alert state: 2 while the page fires, 1 while only the ticket fires, 0 otherwise",
        "interval": "1m",
        "input_series": [
            _series("inferwatch:slo_error_budget_remaining:ratio", {"slo": "ttft", "namespace": "a"}, "0.5x5"),
            _series("inferwatch:slo_error_budget_remaining:ratio", {"slo": "ttft", "namespace": "b"}, "-0.2x5"),
            _series("inferwatch:slo_error_budget_remaining:ratio", {"slo": "ttft", "namespace": "c"}, "0.1x5"),
            _series(
                "ALERTS",
                {
                    "alertname": "InferwatchSLOBurnRatePage",
                    "alertstate": "firing",
                    "severity": "page",
                    "slo": "ttft",
                    "namespace": "b",
                },
                "1x5",
            ),
            _series(
                "ALERTS",
                {
                    "alertname": "InferwatchSLOBurnRateTicket",
                    "alertstate": "firing",
                    "severity": "ticket",
                    "slo": "ttft",
                    "namespace": "b",
                },
                "1x5",
            ),
            _series(
                "ALERTS",
                {
                    "alertname": "InferwatchSLOBurnRateTicket",
                    "alertstate": "firing",
                    "severity": "ticket",
                    "slo": "ttft",
                    "namespace": "c",
                },
                "1x5",
            ),
            _series(
                "ALERTS",
                {
                    "alertname": "InferwatchSLOBurnRatePage",
                    "alertstate": "pending",
                    "severity": "page",
                    "slo": "ttft",
                    "namespace": "a",
                },
                "1x5",
            ),
        ],
        "promql_expr_test": [
            _expect(
                "inferwatch:slo_alert:state",
                [
                    ({"slo": "ttft", "namespace": "a"}, 0),
                    ({"slo": "ttft", "namespace": "b"}, 2),
                    ({"slo": "ttft", "namespace": "c"}, 1),
                ],
            )
        ],
    },
]


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_dashboard_series_rules(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    groups = tuple(g for g in normalization_groups() if g.name == f"{NORMALIZE_GROUP_PREFIX}-dashboards")
    assert len(groups) == 1
    (tmp_path / "dashboards.yaml").write_text(to_prometheus_yaml(RuleFile(groups)))
    doc = unit_test_doc(tmp_path, ["dashboards.yaml"], TESTS)
    path = tmp_path / "dashboards.test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode == 0, f"{promtool} test rules failed:\n{proc.stdout}\n{proc.stderr}"
