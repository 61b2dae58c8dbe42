"""Run one "pod" on this machine: llm-d-inference-sim where vLLM would be, and a manifest's sidecar.

`python -m tests.deploy.workloads_pod SPEC.json` starts the simulators, waits for them, starts the
exporter with the sidecar's exact command line and environment, waits until it is ready and has
read vLLM, writes its /metrics to `out`, and stops everything. The test runs it inside a new
network namespace (`unshare -rn`), so, as in a pod, the sidecar finds vLLM on the loopback port
the manifest names and nothing else on this machine can collide with those ports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, wait_for


def _wait(url: str, verify: bool | str, what: str, procs: list[ManagedProcess], timeout: float = 60) -> str:
    def answer() -> str | None:
        r = httpx.get(url, timeout=3, verify=verify)
        return r.text if r.status_code == 200 else None

    return wait_for(answer, f"{what} at {url}", timeout=timeout, interval=0.2, watch=procs)


def run_pod(spec: dict[str, Any]) -> None:
    """Start what `spec` describes, write the sidecar's /metrics to spec["out"], stop everything."""
    workdir = Path(spec["workdir"])
    if spec["netns"]:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with ProcessGroup(workdir, grace_s=10) as group:
        for i, sim in enumerate(spec["sims"]):
            group.spawn(f"sim-{i}", sim["argv"], sim["ready_url"], cwd=Path.cwd())
            _wait(sim["ready_url"], sim.get("ca") or True, f"simulator {i}", group.processes)
        exporter = spec["exporter"]
        group.spawn(
            "exporter", exporter["argv"], exporter["url"], env={**os.environ, **exporter["env"]}, cwd=Path.cwd()
        )
        _wait(exporter["url"] + "/readyz", True, "the sidecar's /readyz", group.processes)
        deadline = time.monotonic() + 30
        while True:
            text = _wait(exporter["url"] + "/metrics", True, "the sidecar's /metrics", group.processes)
            if exporter.get("wait_for", "\ninferwatch_vllm_up 1.0") in text or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        Path(spec["out"]).write_text(text)


if __name__ == "__main__":
    run_pod(json.loads(Path(sys.argv[1]).read_text()))
