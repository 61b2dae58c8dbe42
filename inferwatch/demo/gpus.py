"""The demo's exporter process: the real inferwatch exporter app over the simulated node's GPUs.

`python -m inferwatch.demo.gpus --mode sidecar|daemonset …` builds the same app `inferwatch
exporter run` serves (inferwatch.exporters.cli.build_app), but hands it a simulated NVML shaped
like the demo's node (five H100s, one of them MIG-partitioned) whose utilization follows the
scenario's day curve — the same curve the backfilled history and the load generator use. The
exporter says it is simulated in its log and in `inferwatch_exporter_info{gpu_backend="simulated"}`.
"""

from __future__ import annotations

import logging
import threading
import time

import click

from inferwatch.config.exporter import ExporterSettings
from inferwatch.demo.scenario import DEFAULT_SCENARIO, GPU_COUNT, MIG_GPU, MIG_SLICES, busy_ratio
from inferwatch.exporters.run import build_app, configure_logging
from inferwatch.exporters.server import serve
from inferwatch.exporters.simulated import MEASURED_H100_LATENCIES_S, SimulatedNvml

log = logging.getLogger(__name__)

LOAD_TICK_S = 1.0
HELD_MEMORY_BYTES = 62 * 1024**3


def simulated_node(clock_latencies: bool = True) -> SimulatedNvml:
    """The demo node's GPUs: five simulated H100s, GPU 3 MIG-partitioned as the scenario says."""
    return SimulatedNvml(
        GPU_COUNT,
        latencies_s=MEASURED_H100_LATENCIES_S if clock_latencies else None,
        mig_gpus={MIG_GPU: MIG_SLICES},
    )


def follow_scenario(nvml: SimulatedNvml, stop: threading.Event) -> None:
    """Set every GPU's utilization from the scenario's day curve once a second until ``stop``."""
    while not stop.is_set():
        now = time.time()
        for i in range(GPU_COUNT):
            busy = busy_ratio(i, now, DEFAULT_SCENARIO)
            nvml.set_load(i, busy, HELD_MEMORY_BYTES if busy > 0 else 1024**3)
        stop.wait(LOAD_TICK_S)


@click.command()
@click.option("--mode", type=click.Choice(["sidecar", "daemonset"]), required=True)
@click.option("--port", type=int, required=True)
@click.option("--vllm-url", default=None)
@click.option("--gpu-uuid", "gpu_uuids", multiple=True)
@click.option("--pod-resources-socket", default=None)
@click.option("--vllm-scrape-interval", type=float, default=5.0)
def main(
    mode: str,
    port: int,
    vllm_url: str | None,
    gpu_uuids: tuple[str, ...],
    pod_resources_socket: str | None,
    vllm_scrape_interval: float,
) -> None:
    """Serve the exporter over the simulated node's GPUs on 127.0.0.1:PORT until SIGTERM."""
    logging.basicConfig(level=logging.INFO)
    configure_logging("logfmt")
    data: dict[str, object] = {
        "mode": mode,
        "listen_host": "127.0.0.1",
        "port": port,
        "gpu_backend": "simulated",
        "vllm_url": vllm_url,
        "vllm_scrape_interval_s": vllm_scrape_interval,
        "gpu_uuids": list(gpu_uuids) or None,
        "pod_resources_refresh_s": 5.0,
    }
    if pod_resources_socket:
        data["pod_resources_socket"] = pod_resources_socket
    settings = ExporterSettings.model_validate(data)
    nvml = simulated_node()
    log.warning("GPU backend is SIMULATED: %d fake H100s of the demo node, load follows the demo scenario", GPU_COUNT)
    stop = threading.Event()
    threading.Thread(target=follow_scenario, args=(nvml, stop), name="scenario-load", daemon=True).start()
    try:
        serve(build_app(settings, backend=nvml), host=settings.listen_host, port=settings.port)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
