"""The demo's story as data: one GPU node, who holds which GPU, what each model serves, and when.

Everything that must agree lives here, so the backfilled week (history.py), the live load
(traffic.py) and the simulated GPUs (gpus.py) tell one consistent story:

- node `gpu-node-1` has five simulated H100s: GPU 0 and 1 exclusive to `team-a/chat-0` (a Llama
  with two data-parallel ranks and a LoRA adapter), GPU 2 time-sliced in four (two slices to
  `team-b/search-0`, a Qwen, one to `team-a/notebook-0`), GPU 3 MIG-partitioned (a 3g.40gb
  instance held by `team-b/rerank-0`, a 2g.20gb instance free), GPU 4 idle;
- request rates follow a day curve (busy afternoons, quiet nights, UTC);
- prompts are mostly short, a few long ones make a thin slow tail (the history's and the live
  traffic's alike); three days before the demo the search model had a one-hour incident;
- live, after the quiet phase, the search model gets only very long prompts (the incident):
  its P95 time to first token crosses the threshold and its TTFT SLO burns; then it recovers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

H100 = "NVIDIA H100 80GB HBM3"
NODE = "gpu-node-1"
GPU_COUNT = 5


def gpu_uuid(index: int) -> str:
    """UUID of simulated GPU ``index`` (the simulated NVML's own naming)."""
    return f"GPU-5{index:07d}-0000-4000-8000-00000000000{index % 10}"


def mig_uuid(gpu_index: int, instance: int) -> str:
    """UUID of MIG instance ``instance`` of simulated GPU ``gpu_index`` (the simulated NVML's naming)."""
    return f"MIG-{gpu_index:02d}{instance:02d}0000-0000-4000-8000-000000000000"


MIG_GPU = 3
MIG_SLICES: tuple[int, ...] = (3, 2)  # a 3g.40gb and a 2g.20gb instance; 2 of 7 slices unpartitioned
TIME_SLICED_GPU = 2
TIME_SLICE_REPLICAS = 4


@dataclass(frozen=True)
class PromptClass:
    """Requests with prompts of ``tokens`` tokens, ``share`` of a model's requests."""

    tokens: int
    share: float


@dataclass(frozen=True)
class Model:
    """One vLLM deployment (an llm-d-inference-sim process per data-parallel rank, and its sidecars)."""

    namespace: str
    pod: str
    model: str
    peak_rps: float  # requests per second at the busiest hour
    output_tokens: int
    prefill_overhead_s: float  # time to first token of an empty prompt
    prefill_s_per_token: float
    itl_s: float  # inter-token latency
    prompts: tuple[PromptClass, ...]
    gpus: tuple[int, ...]
    data_parallel: int = 1
    lora: tuple[str, ...] = ()
    incident_prompt_tokens: int = 0  # > 0: the model the live incident hits

    def ttft_of(self, prompt_tokens: int) -> float:
        """Time to first token the simulator takes for a prompt of ``prompt_tokens`` tokens."""
        return self.prefill_overhead_s + self.prefill_s_per_token * prompt_tokens

    @property
    def mean_prompt_tokens(self) -> float:
        """Prompt tokens per request on average."""
        return sum(p.tokens * p.share for p in self.prompts)


@dataclass(frozen=True)
class Holding:
    """A container holding GPU devices through the kubelet (what the DaemonSet attributes)."""

    namespace: str
    pod: str
    container: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    """The whole story (see the module docstring)."""

    models: tuple[Model, ...]
    holdings: tuple[Holding, ...]
    past_incident_days_ago: float = 3.0
    past_incident_hours: float = 1.0
    past_incident_bad_share: float = 0.5
    extra: dict[str, str] = field(default_factory=dict)

    def model(self, pod: str) -> Model:
        """The model served by ``pod``."""
        return next(m for m in self.models if m.pod == pod)

    @property
    def incident_model(self) -> Model:
        """The model the live incident hits."""
        return next(m for m in self.models if m.incident_prompt_tokens > 0)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of the story, sorted."""
        return tuple(sorted({h.namespace for h in self.holdings} | {m.namespace for m in self.models}))


def day_shape(t: float) -> float:
    """Load at unix time ``t`` relative to the busiest hour (0.3 at 04:00 UTC, 1.0 at 16:00 UTC)."""
    hour = (t % 86400.0) / 3600.0
    return 0.65 - 0.35 * math.cos(2 * math.pi * (hour - 4.0) / 24.0)


def request_rate(model: Model, t: float) -> float:
    """Requests per second ``model`` receives at unix time ``t``."""
    return model.peak_rps * day_shape(t)


def busy_ratio(gpu_index: int, t: float, scenario: Scenario) -> float:
    """How busy simulated GPU ``gpu_index`` is at ``t``: a floor while held, plus load with the traffic.

    A time-sliced GPU is as busy as the models sharing it make it; the MIG parent reports no
    utilization (as real NVML does for a MIG-enabled GPU); an unheld GPU is idle.
    """
    load = 0.0
    held = False
    for m in scenario.models:
        if gpu_index in m.gpus:
            held = True
            load += 0.6 * request_rate(m, t) / m.peak_rps
    if gpu_index == TIME_SLICED_GPU:
        held = True
        load += 0.1  # the notebook
    if not held:
        return 0.0
    return min(0.15 + load, 1.0)


def prompt_share_above(model: Model, seconds: float) -> float:
    """Share of ``model``'s requests whose time to first token exceeds ``seconds``."""
    return sum(p.share for p in model.prompts if model.ttft_of(p.tokens) > seconds)


CHAT = Model(
    namespace="team-a",
    pod="chat-0",
    model="meta-llama/Llama-3.1-8B-Instruct",
    peak_rps=2.0,
    output_tokens=24,
    prefill_overhead_s=0.12,
    prefill_s_per_token=0.0002,
    itl_s=0.02,
    prompts=(PromptClass(200, 0.93), PromptClass(1200, 0.068), PromptClass(12000, 0.002)),
    gpus=(0, 1),
    data_parallel=2,
    lora=("support-bot",),
)
SEARCH = Model(
    namespace="team-b",
    pod="search-0",
    model="Qwen/Qwen2.5-7B-Instruct",
    peak_rps=2.0,
    output_tokens=16,
    prefill_overhead_s=0.08,
    prefill_s_per_token=0.0004,
    itl_s=0.015,
    prompts=(PromptClass(300, 0.95), PromptClass(1500, 0.047), PromptClass(8000, 0.003)),
    gpus=(TIME_SLICED_GPU,),
    incident_prompt_tokens=9000,
)

DEFAULT_SCENARIO = Scenario(
    models=(CHAT, SEARCH),
    holdings=(
        Holding("team-a", "chat-0", "vllm", (gpu_uuid(0), gpu_uuid(1))),
        Holding(
            "team-b",
            "search-0",
            "vllm",
            (f"{gpu_uuid(TIME_SLICED_GPU)}::0", f"{gpu_uuid(TIME_SLICED_GPU)}::1"),
        ),
        Holding("team-a", "notebook-0", "jupyter", (f"{gpu_uuid(TIME_SLICED_GPU)}::2",)),
        Holding("team-b", "rerank-0", "reranker", (mig_uuid(MIG_GPU, 0),)),
    ),
)


def allocation_ratio(holding: Holding) -> dict[str, float]:
    """The share of each physical GPU a holding has (what the DaemonSet exporter will say), by GPU UUID."""
    out: dict[str, float] = {}
    for device in holding.device_ids:
        if device.startswith("MIG-"):
            index = int(device[4:6])
            instance = int(device[6:8])
            out[gpu_uuid(index)] = out.get(gpu_uuid(index), 0.0) + MIG_SLICES[instance] / 7
        elif "::" in device:
            base = device.split("::", 1)[0]
            out[base] = out.get(base, 0.0) + 1 / TIME_SLICE_REPLICAS
        else:
            out[device] = out.get(device, 0.0) + 1.0
    return out


def sidecar_gpus(model: Model) -> Sequence[str]:
    """UUIDs of the GPUs a model's sidecar exporter reads (its pod's GPUs)."""
    return [gpu_uuid(i) for i in model.gpus]
