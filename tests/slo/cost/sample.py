"""A hand-built week with known answers (no Prometheus): the input of the arithmetic, golden and escaping tests.

One cluster (its Prometheus has no ``cluster`` label: the report calls it "default"), priced
H100 4.00, A100 2.00, anything else 1.00 EUR per GPU-hour; energy 0.20 x PUE 1.5:

- team-a holds 1.5 H100 all week: Llama 1 GPU (70 % busy), Qwen 0.5 GPU (40 % busy);
- team-b holds half an H100 for its Qwen (60 % busy) and a 3/7 MIG slice of an A100 for a notebook
  that reports no vLLM model (10 % busy): its A100 time is not attributed to a model;
- team-c holds an H100 on weekdays only for Mistral (70 % busy);
- idle: one H100 on weekdays, two at the weekend; 4/7 of the A100; an L4 (default price) all week.

The previous week (2026-W45) has data for its weekend only (48 hours): team-a as now, team-b not
there yet, team-c (weekdays only) unobserved. Compared over those 48 hours, team-b is new and
team-c is not.

Expected, this week: team-a 252 GPU-h = 1,008.00; team-b 84 H100-h + 72 A100-h = 480.00; team-c
120 h = 480.00; idle 216 H100-h + 96 A100-h + 168 L4-h = 1,224.00; bill 3,192.00. Held but not
busy: Llama 50.4 h, Qwen(a) 50.4 h, Qwen(b) 33.6 h, Mistral 36 h of H100 = 681.60, the notebook
64.8 A100-h = 129.60; 811.20 in all. Savings: 1,224.00 + 811.20 = 2,035.20.
"""

from __future__ import annotations

from typing import Any

from inferwatch.config import CostReportSettings, Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.week import IsoWeek
from tests.slo.cost.fake import EVALUATIONS_PER_HOUR, FakePrometheus, Figures, every_hour, weekdays

WEEK = IsoWeek(2026, 46)
BEFORE = WEEK.previous()
H100, A100, L4 = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L4"
LLAMA, QWEN, MISTRAL = "meta-llama/Llama-3.1-70B", "Qwen/Qwen2.5-7B", "mistralai/Mistral-7B"
PRICING = Pricing(
    currency="EUR",
    default_gpu_hour=1.0,
    gpu_hour={H100: 4.0, A100: 2.0},
    energy_kwh=0.2,
    pue=1.5,
    low_utilization=0.5,
    billing_account="acme-ml",
    provider="ACME Platform Engineering",
)
SETTINGS = CostReportSettings(team_labels=["team", "cost-center"])
HOSTILE_NAMESPACE = "team\"q'<i>x</i>|n,=1+2"
HOSTILE_MODEL = "<script>alert('x')</script>"
HOSTILE_TENANT = '=cmd|"<img src=x>"|*t*\n@here'

NEWLINE_MODEL = "org/model,with|pipe\nsecond line $x$ & <b>"
WEEKEND = range(120, 168)


def this_week(b: str = "team-b", qwen_b: str = QWEN, tenant: str = "acme") -> Figures:
    """The report week's answers, with team-b's namespace and model names and team-a's first tenant replaceable."""
    return {
        "coverage": {("",): every_hour(EVALUATIONS_PER_HOUR)},
        "held": {
            ("", "team-a", H100): every_hour(1.5),
            ("", b, H100): every_hour(0.5),
            ("", b, A100): every_hour(3 / 7),
            ("", "team-c", H100): weekdays(1.0),
        },
        "busy": {
            ("", "team-a", H100): every_hour(0.9),
            ("", b, H100): every_hour(0.3),
            ("", b, A100): every_hour(3 / 7 * 0.1),
            ("", "team-c", H100): weekdays(0.7),
        },
        "energy": {
            ("", "team-a", H100): every_hour(0.5),
            ("", b, H100): every_hour(0.2),
            ("", b, A100): every_hour(0.1),
        },
        "model_held": {
            ("", "team-a", LLAMA, H100): every_hour(1.0),
            ("", "team-a", QWEN, H100): every_hour(0.5),
            ("", b, qwen_b, H100): every_hour(0.5),
            ("", "team-c", MISTRAL, H100): weekdays(1.0),
        },
        "model_busy": {
            ("", "team-a", LLAMA, H100): every_hour(0.7),
            ("", "team-a", QWEN, H100): every_hour(0.2),
            ("", b, qwen_b, H100): every_hour(0.3),
            ("", "team-c", MISTRAL, H100): weekdays(0.7),
        },
        "idle": {
            ("", H100): {**weekdays(1.0), **every_hour(2.0, WEEKEND)},
            ("", A100): every_hour(4 / 7),
            ("", L4): every_hour(1.0),
        },
        "prompt": {
            ("", "team-a", LLAMA): every_hour(4.5e6),
            ("", "team-a", QWEN): every_hour(3.6e6),
            ("", b, qwen_b): every_hour(8.8e6),
            ("", "team-c", MISTRAL): weekdays(5.4e6),
        },
        "generation": {
            ("", "team-a", LLAMA): every_hour(0.9e6),
            ("", "team-a", QWEN): every_hour(1.08e6),
            ("", b, qwen_b): every_hour(2.0e6),
            ("", "team-c", MISTRAL): weekdays(1.8e6),
        },
        "p95_ttft": {("", "team-a"): 0.86, ("", b): 0.9, ("", "team-c"): 0.7},
        "model_p95_ttft": {("", "team-a", LLAMA): 0.95, ("", "team-a", QWEN): 0.4, ("", b, qwen_b): 0.9},
        # Prefill share from the recorded model cost rules: Llama 25 %, Qwen 30 %; Mistral has no histograms.
        "input_cost": {("", "team-a", LLAMA): 168.0, ("", "team-a", QWEN): 100.8, ("", b, qwen_b): 100.8},
        "model_cost": {("", "team-a", LLAMA): 672.0, ("", "team-a", QWEN): 336.0, ("", b, qwen_b): 336.0},
        "recorded_gpu_cost": {("",): 3192.0 - 0.5},
        # team-a's router: two tenants pay half and a quarter of its 1,008.00; no tenant reported the rest.
        # Every namespace has the unattributed series (all of it where no tenant is reported).
        "tenant_cost": {("", "team-a", tenant): 504.0, ("", "team-a", "globex"): 252.0},
        "tenant_unattributed": {("", "team-a"): 252.0, ("", b): 480.0, ("", "team-c"): 480.0},
        "tenant_tokens": {("", "team-a", tenant): 840e6, ("", "team-a", "globex"): 420e6},
        # Llama ran two LoRA adapters a third of its time each (224.00 of 672.00 each).
        "adapter_cost": {("", "team-a", LLAMA, "sql-lora"): 224.0, ("", "team-a", LLAMA, "chat-lora"): 224.0},
        # The models' pods' energy (joules): Llama 56 kWh, Qwen (team-a) 28 kWh, Qwen (team-b) 33.6 kWh.
        "model_energy": {("", "team-a", LLAMA): 201.6e6, ("", "team-a", QWEN): 100.8e6, ("", b, qwen_b): 120.96e6},
        "namespace_labels": {
            ("", "team-a"): {"label_team": "search", "label_cost_center": "cc-1", "job": "kube-state-metrics"},
            ("", b): {"label_team": "search"},
            ("", "team-c"): {"label_team": "ads", "label_cost_center": "cc-2"},
        },
        "gpu_idle_hours": {
            ("", "GPU-C"): 48.0,
            ("", "GPU-D"): 168.0,
            ("", "GPU-M"): 96.0,
            ("", "GPU-L"): 168.0,
            ("", "GPU-X"): 0.25,
        },
        "gpu_model": {
            ("", "GPU-C", H100): 1.0,
            ("", "GPU-D", H100): 1.0,
            ("", "GPU-M", A100): 1.0,
            ("", "GPU-L", L4): 1.0,
            ("", "GPU-X", H100): 1.0,
        },
        "gpu_node": {
            ("", "GPU-C", "gpu-node-2", "", ""): 1.0,
            ("", "GPU-D", "", "dgx-3", "10.0.0.3:9400"): 1.0,
            ("", "GPU-M", "gpu-node-2", "", ""): 1.0,
            ("", "GPU-L", "", "", "10.0.0.4:9400"): 1.0,
        },
        "pod_cost": {
            ("", "team-a", "a-0"): 672.0,
            ("", "team-a", "a-1"): 336.0,
            ("", b, "b-0"): 336.0,
            ("", b, "notebook-0"): 144.0,
        },
        "pod_gpu_hours": {
            ("", "team-a", "a-0"): 168.0,
            ("", "team-a", "a-1"): 84.0,
            ("", b, "b-0"): 84.0,
            ("", b, "notebook-0"): 72.0,
        },
        "pod_busy_hours": {
            ("", "team-a", "a-0"): 117.6,
            ("", "team-a", "a-1"): 33.6,
            ("", b, "b-0"): 50.4,
            ("", b, "notebook-0"): 7.2,
        },
        "silent_pods": {("", b, "notebook-0"): 72.0},
        "d_p95_ttft": {("", "team-a"): [0.86] * 7, ("", b): [0.9] * 7},
    }


def previous_week() -> Figures:
    """W45: data for its weekend only; team-a as now, team-b not yet there, team-c (weekdays) unobserved."""
    return {
        "coverage": {("",): every_hour(EVALUATIONS_PER_HOUR, WEEKEND)},
        "held": {("", "team-a", H100): every_hour(1.5, WEEKEND)},
        "busy": {("", "team-a", H100): every_hour(0.9, WEEKEND)},
        "energy": {},
        "model_held": {
            ("", "team-a", LLAMA, H100): every_hour(1.0, WEEKEND),
            ("", "team-a", QWEN, H100): every_hour(0.5, WEEKEND),
        },
        "model_busy": {},
        "idle": {
            ("", H100): every_hour(2.5, WEEKEND),
            ("", A100): every_hour(1.0, WEEKEND),
            ("", L4): every_hour(1.0, WEEKEND),
        },
        "prompt": {("", "team-a", LLAMA): every_hour(4.5e6, WEEKEND)},
        "generation": {},
    }


def sample_weeks(**names: Any) -> dict[IsoWeek, Figures]:
    """This week and the previous one, as the fake Prometheus answers them."""
    return {WEEK: this_week(**names), BEFORE: previous_week()}


def sample_report(
    namespace_b: str = "team-b",
    model_b: str = QWEN,
    *,
    tenant: str = "acme",
    policy: IdlePolicy = IdlePolicy.SEPARATE,
    previous: bool = True,
) -> CostReport:
    """The report of the hand-built week (and its comparison with W45)."""
    weeks = {WEEK: this_week(namespace_b, model_b, tenant)}
    if previous:
        weeks[BEFORE] = previous_week()
    pricing = PRICING.model_copy(update={"idle_policy": policy})
    return collect_report(FakePrometheus(weeks), WEEK, pricing, settings=SETTINGS)


def shared_report() -> CostReport:
    """The sample with idle shared out over namespaces (``idle_policy: share``)."""
    return sample_report(policy=IdlePolicy.SHARE)
