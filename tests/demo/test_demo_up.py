"""`inferwatch demo up` end to end: the real stack on loopback tells its story, pages, reports and cleans up.

One test runs the demo twice in the same output folder: first interrupted with SIGINT as soon as
the stack is up (every process must stop, the output folder is named), then for a short duration
with compressed timings (VLLMTimeToFirstTokenHigh `for: 1m`) — long enough for the SLO page,
whose windows and `for:` the demo's config fixes (the 14-minute window must reach 14.4x, then
2 minutes of `for:`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from inferwatch.localstack.ports import free_port_range, port_free
from inferwatch.localstack.receiver import read_notifications
from inferwatch.tools import Toolbox
from tests.slo.cost.recompute import assert_ties_out

PORT_SPAN = 45
QUIET_S = 60
DURATION_S = 480


def _processes_mentioning(text: str) -> dict[int, str]:
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found[int(proc.name)] = cmdline[:200]
    return found


def _left_behind(base: int, out: Path) -> dict[int, str]:
    return _processes_mentioning(str(out)) | _processes_mentioning(f"--port {base + 10}")


def _assert_nothing_left(base: int, out: Path) -> None:
    taken = [p for p in range(base, base + PORT_SPAN) if not port_free(p)]
    assert not taken, f"ports still listening after the demo: {taken}"
    left = _left_behind(base, out)
    assert not left, f"processes left behind: {left}"


def _kill_everything(proc: subprocess.Popen[str] | None, base: int, out: Path) -> None:
    """After a failed phase: the demo and every process it started (they run in their own sessions),
    so that one failure does not leave a stack slowing the rest of the run."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)
    for pid in _left_behind(base, out):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _demo(out: Path, base: int, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "inferwatch", "demo", "up", "--out", str(out), "--base-port", str(base),
        "--no-live", *args,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_pages_reports_and_leaves_nothing_behind(tmp_path: Path, tools: Toolbox) -> None:
    assert tools.find("llm-d-inference-sim"), "llm-d-inference-sim missing: run scripts/install-tools.sh"
    out = tmp_path / "demo-output"
    base = free_port_range(PORT_SPAN)

    # 1. Ctrl-C once the stack is up: every process stops and the output folder is named.
    proc = subprocess.Popen(_demo(out, base, "--duration", "600"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    lines: list[str] = []
    assert proc.stdout is not None
    # A demo silent in start-up would never reach the deadline check below: kill it at the deadline.
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Output folder:"):
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=300)
    except BaseException:
        _kill_everything(proc, base, out)
        raise
    finally:
        watchdog.cancel()
    output = "".join(lines) + rest
    assert proc.returncode == 130, output[-3000:]
    assert "the load generator measures them" in output, output[-3000:]
    assert f"the output is in {out}" in output.replace("\n", ""), output[-2000:]
    _assert_nothing_left(base, out)

    # 2. The same folder again, for the whole (short) story.
    try:
        run = subprocess.run(
            _demo(
                out,
                base,
                "--duration",
                str(DURATION_S),
                "--incident-start",
                str(QUIET_S),
                "--alert-for",
                "1m",
                "--screenshot",
                str(out / "demo.svg"),
            ),
            capture_output=True,
            text=True,
            timeout=1500,
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() kills the demo only, not its children
        _kill_everything(None, base, out)
        raise
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    _assert_nothing_left(base, out)
    status = json.loads((out / "status.json").read_text())

    targets = status["targets"]
    # Three sidecars (two data-parallel ranks of chat-0, one of search-0), the DaemonSet exporter, and
    # per rank the vLLM families the load generator measures because the simulator lacks them.
    assert Counter(t["job"] for t in targets) == {
        "inferwatch-sidecar": 3,
        "inferwatch-node": 1,
        "inferwatch-load-generator": 3,
    }, targets
    assert all(t["health"] == "up" for t in targets), targets

    notifications = [n for n in read_notifications(out / "pages.jsonl") if n.receiver == "page"]
    firing = Counter(
        (a["labels"]["alertname"], a["labels"].get("namespace"), a["labels"].get("slo", ""))
        for n in notifications
        for a in n.firing()
    )
    assert firing == {
        ("VLLMTimeToFirstTokenHigh", "team-b", ""): 1,
        ("InferwatchSLOBurnRatePage", "team-b", "chat-ttft"): 1,
    }, firing
    incident_at = status["started_at"] + status["incident"][0]
    assert all(n.received_at >= incident_at for n in notifications if n.firing()), "a page arrived in the quiet phase"

    slo = {(r["slo"], r["group"]["namespace"]): r for r in status["slo_status"]}
    for ns in ("team-a", "team-b"):
        assert slo[("chat-ttft", ns)]["budget_remaining_percent"] is not None
    assert slo[("chat-ttft", "team-a")]["budget_remaining_percent"] > 0
    assert slo[("chat-ttft", "team-b")]["state"] == "page"
    assert "chat-ttft" in (out / "slo-status.txt").read_text()

    cost = status["cost_report"]
    assert cost["total_cost"] > 0
    assert cost["namespaces"]["team-a"] > 0 and cost["namespaces"]["team-b"] > 0
    for kind in ("html", "md", "csv", "focus-metadata"):
        assert (out / cost["files"][kind]).stat().st_size > 0
    # The demo's report ties out: every figure of its HTML and Markdown is what its FOCUS rows add up to.
    files = {kind: (out / name).read_text() for kind, name in cost["files"].items()}
    tied = assert_ties_out(files["csv"], files["md"], files["html"], cost["currency"])
    assert float(tied.bill) == pytest.approx(cost["total_cost"])
    index = (out / "index.html").read_text()
    for link in (cost["files"]["html"], "slo-status.txt", "pages.html"):
        assert link in index

    assert "<svg" in (out / "demo.svg").read_text()

    previews = status["previews"]
    assert previews["available"], previews
    assert len(previews["files"]) > 1 and all((out / f).stat().st_size > 0 for f in previews["files"]), previews
    assert previews["unexpected_empty"] == [], previews
