"""The demo's simulated fleet: llm-d-inference-sim per model, a sidecar exporter per rank, the node's exporter.

Each model runs as one simulator process (its data-parallel ranks on consecutive ports) with the
model's latencies; each rank gets a sidecar exporter over simulated GPUs (inferwatch.demo.gpus),
and the vLLM families the simulator lacks are served per rank by the load generator's
measurements. The DaemonSet exporter of the node reads the local kubelet. Every process is started
in the stack's `ProcessGroup` and is ready when these functions return.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from inferwatch.demo.engine_families import MEASURED_FAMILIES
from inferwatch.demo.scenario import Model, gpu_uuid
from inferwatch.demo.topology import SimTarget, Topology
from inferwatch.localstack.launchers import inference_sim_argv
from inferwatch.localstack.processes import ComponentFailedError, ManagedProcess, ProcessGroup, http_ok, wait_for
from inferwatch.tools import Toolbox

Progress = Callable[[str], None]
# Readiness polls of the demo's processes.
POLL_S = 0.2


def sim_argv(tools: Toolbox, m: Model, target: SimTarget) -> list[str]:
    """The simulator's command line for model ``m``: its latencies, ranks and LoRA adapters."""
    argv = inference_sim_argv(tools, target.sim_port, m.model, [
        "--mode", "random",
        "--force-dummy-tokenizer",
        "--max-model-len", "32768",
        "--max-num-seqs", "256",
        # A zero time to first token lets the simulator derive it from the prompt: overhead + per token.
        "--time-to-first-token", "0",
        "--prefill-overhead", f"{round(m.prefill_overhead_s * 1000)}ms",
        "--prefill-time-per-token", f"{m.prefill_s_per_token * 1e6:.0f}us",
        "--inter-token-latency", f"{round(m.itl_s * 1000)}ms",
    ])  # fmt: skip
    if m.data_parallel > 1:
        argv += ["--data-parallel-size", str(m.data_parallel)]
    if m.lora:
        argv += ["--max-loras", str(len(m.lora))]
        argv += ["--lora-modules", *[json.dumps({"name": name, "path": f"/adapters/{name}"}) for name in m.lora]]
    return argv


def start_models(group: ProcessGroup, tools: Toolbox, topo: Topology, progress: Progress) -> None:
    """Simulators, sidecars and the measured families of every rank, each ready when this returns."""
    started: list[tuple[SimTarget, ManagedProcess]] = []
    for m in topo.scenario.models:
        progress(f"starting llm-d-inference-sim for {m.namespace}/{m.pod} ({m.model}, {m.data_parallel} rank(s))")
        ranks = topo.ranks(m)
        mp = group.spawn(f"sim-{m.pod}", sim_argv(tools, m, ranks[0]), ranks[0].sim_url)
        started += [(rank, mp) for rank in ranks]
    for target, mp in started:
        wait_for(http_ok(target.sim_url + "/v1/models"), "OpenAI API answers", timeout=60, interval=POLL_S, watch=[mp])
    for target, _ in started:
        progress(f"starting the sidecar exporter of {target.model.pod} rank {target.rank} (simulated GPUs)")
        argv = [
            sys.executable, "-m", "inferwatch.demo.gpus", "--mode", "sidecar", "--port", str(target.sidecar_port),
            "--vllm-url", target.sim_url + "/metrics", "--vllm-scrape-interval", "5",
            *[a for i in target.model.gpus for a in ("--gpu-uuid", gpu_uuid(i))],
        ]  # fmt: skip
        mp = group.spawn(f"sidecar-{target.model.pod}-rank{target.rank}", argv, target.sidecar_url)
        wait_for(
            http_ok(target.sidecar_url + "/readyz"), "/readyz answers 200", timeout=60, interval=POLL_S, watch=[mp]
        )
    progress(
        f"llm-d-inference-sim lacks {' and '.join(MEASURED_FAMILIES)}: the load generator measures them "
        "from each answer and serves them per rank under vLLM's names"
    )
    for target, _ in started:
        target.families.start()


def start_node_exporter(group: ProcessGroup, topo: Topology, kubelet_socket: Path) -> None:
    """The DaemonSet exporter of the node, ready once it has read the local kubelet's allocations."""
    url = topo.node_exporter_url
    argv = [
        sys.executable, "-m", "inferwatch.demo.gpus", "--mode", "daemonset",
        "--port", str(topo.settings.ports.node_exporter), "--pod-resources-socket", str(kubelet_socket),
    ]  # fmt: skip
    mp = group.spawn("node-exporter", argv, url)
    wait_for(http_ok(url + "/readyz"), "/readyz answers 200", timeout=60, interval=POLL_S, watch=[mp])

    def attributes() -> bool:
        text = httpx.get(url + "/metrics", timeout=5).text
        return "inferwatch_gpu_allocation_ratio{" in text and "inferwatch_podresources_up 1" in text

    wait_for(attributes, "GPU allocations from the local kubelet", timeout=30, interval=POLL_S, watch=[mp])


def warm_up(topo: Topology) -> None:
    """One request per model, rank and adapter, so every vLLM series exists before it is read for history."""
    for ep in topo.endpoints():
        for url in ep.rank_urls:
            for name in (ep.model.model, *ep.model.lora):
                body = {
                    "model": name,
                    "prompt": "hello there",
                    "max_tokens": ep.model.output_tokens,
                    "ignore_eos": True,
                }
                resp = httpx.post(url + "/v1/completions", json=body, timeout=30)
                if resp.status_code != 200:
                    raise ComponentFailedError(
                        f"llm-d-inference-sim at {url} refused a completion for {name}: "
                        f"HTTP {resp.status_code} {resp.text[:300]}"
                    )


def wait_for_vllm_series(group: ProcessGroup, topo: Topology) -> None:
    """Wait until every sidecar re-exposes its simulator's request series (it scrapes vLLM every few seconds)."""
    for s in topo.sims:
        mp = next(p for p in group.processes if p.url == s.sidecar_url)

        def served(url: str = s.sidecar_url) -> bool:
            return "vllm:time_to_first_token_seconds_count{" in httpx.get(url + "/metrics", timeout=5).text

        wait_for(served, "the simulator's request series re-exposed", timeout=60, interval=POLL_S, watch=[mp])
