"""Run one "pod" on this machine: llm-d-inference-sim where vLLM would be, and a manifest's sidecar.

`python -m tests.deploy.workloads_pod SPEC.json` starts the simulators, waits for them, starts the
exporter with the sidecar's exact command line and environment, waits until it is ready and has
read vLLM, writes its /metrics to `out`, and stops everything. The test runs it inside a new
network namespace (`unshare -rn`), so, as in a pod, the sidecar finds vLLM on the loopback port
the manifest names and nothing else on this machine can collide with those ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def _wait(url: str, verify: bool | str, what: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{what}: a process exited with {p.returncode}")
        try:
            r = httpx.get(url, timeout=3, verify=verify)
            if r.status_code == 200:
                return r.text
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as err:
            last = repr(err)
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what} at {url}: {last}")


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def run_pod(spec: dict[str, Any]) -> None:
    """Start what `spec` describes, write the sidecar's /metrics to spec["out"], stop everything."""
    workdir = Path(spec["workdir"])
    if spec["netns"]:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, sim in enumerate(spec["sims"]):
            procs.append(_start(sim["argv"], dict(os.environ), workdir / f"sim-{i}.log"))
            _wait(sim["ready_url"], sim.get("ca") or True, f"simulator {i}", procs)
        exporter = spec["exporter"]
        procs.append(_start(exporter["argv"], {**os.environ, **exporter["env"]}, workdir / "exporter.log"))
        _wait(exporter["url"] + "/readyz", True, "the sidecar's /readyz", procs)
        deadline = time.monotonic() + 30
        while True:
            text = _wait(exporter["url"] + "/metrics", True, "the sidecar's /metrics", procs)
            if exporter.get("wait_for", "\ninferwatch_vllm_up 1.0") in text or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        Path(spec["out"]).write_text(text)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)


if __name__ == "__main__":
    run_pod(json.loads(Path(sys.argv[1]).read_text()))
