"""What each rule of the normalization, alert and cost groups costs at fleet size, one expression at a time.

    nice -n 10 python -m bench.fleet_rule_costs [--scale 1] [--group inferwatch-normalize-vllm ...]
        [--expr 'PromQL' ...] [--repeat 3]

`bench.fleet_bench` measures whole rule sets live, where one group's time is wall clock on a
busy machine; this one says where a group's time goes and compares two spellings of one
expression. The fleet's raw history (`bench.fleet_model`, 20 minutes) is imported into a real
Prometheus 3, the normalization's recorded series are backfilled over it with `promtool tsdb
create-blocks-from rules` (so the alert and cost groups read what they read in production), and
every rule's expression of the chosen groups (and each ``--expr``) is run as an instant query at
the history's end, ``--repeat`` times: the fastest run's `execTotalTime`, and the exact
`totalQueryableSamples` and series returned. Nothing is written to docs/: the figures quoted in
docs/benchmarks.md (section `fleet`) say which command gave them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import httpx
import numpy as np
import yaml

from bench.fleet_model import Fleet, write_history
from bench.fleet_rules import inferwatch_rule_files
from inferwatch.localstack.backfill import create_blocks, install_blocks
from inferwatch.localstack.launchers import start_prometheus
from inferwatch.localstack.processes import ProcessGroup
from inferwatch.tools import Toolbox

DEFAULT_GROUPS = (
    "inferwatch-normalize-vllm",
    "inferwatch-normalize-gpu",
    "inferwatch-normalize-dashboards",
    "inferwatch-normalize-kube",
    "inferwatch-alerts-vllm",
    "inferwatch-cost-level0",
)


def _time(client: httpx.Client, url: str, expr: str, at: int, repeat: int) -> tuple[float, int, int]:
    """(fastest ms, samples read, series returned) of ``expr`` at ``at``; raises on a query error."""
    best, samples, series = float("inf"), 0, 0
    for _ in range(repeat):
        answer = client.post(url + "/api/v1/query", data={"query": expr, "time": at, "stats": "all"}).json()
        if answer.get("status") != "success":
            raise click.ClickException(f"{expr[:80]}: {answer.get('error')}")
        stats = answer["data"]["stats"]
        best = min(best, stats["timings"]["execTotalTime"] * 1000)
        samples, series = int(stats["samples"]["totalQueryableSamples"]), len(answer["data"]["result"])
    return best, samples, series


def _import(tools: Toolbox, fleet: Fleet, work: Path, end: int) -> Path:
    """The raw history up to ``end`` and the normalization backfilled over it, as a TSDB."""
    times = np.arange(end - 19 * 60, end + 1, 60, dtype=np.int64)
    write_history(fleet, times, work / "fleet.om", None)
    create_blocks(tools, work / "fleet.om", work / "blocks", max_block_duration="24h", timeout_s=7200)
    (work / "fleet.om").unlink()
    data = work / "tsdb"
    install_blocks(work / "blocks", data)
    return data


def _backfill_rules(tools: Toolbox, group: ProcessGroup, url: str, normalize: Path, end: int, work: Path) -> None:
    argv = [str(tools.path("promtool")), "tsdb", "create-blocks-from", "rules", f"--start={end - 900}",
            f"--end={end}", f"--url={url}", f"--output-dir={work / 'rule-blocks'}", "--eval-interval=60s",
            str(normalize)]  # fmt: skip
    mp = group.spawn("promtool-rules", argv, url, cwd=work, log_path=work / "promtool-rules.log")
    if mp.proc.wait(timeout=3600) != 0:
        raise click.ClickException(f"promtool create-blocks-from rules failed: {work / 'promtool-rules.log'}")


@click.command(help=__doc__)
@click.option("--scale", type=float, default=1.0, show_default=True, help="fleet size (1 = 1,000 GPUs, 500 vLLM pods)")
@click.option("--group", "groups", multiple=True, help=f"groups to time (default: {', '.join(DEFAULT_GROUPS)})")
@click.option("--expr", "exprs", multiple=True, help="an expression to time as well (e.g. a rule spelled otherwise)")
@click.option("--repeat", type=int, default=3, show_default=True, help="runs of each expression (the fastest counts)")
def main(scale: float, groups: tuple[str, ...], exprs: tuple[str, ...], repeat: int) -> None:
    """Time every rule of ``groups`` and every ``--expr`` over the fleet's history."""
    tools, fleet = Toolbox.default(), Fleet.build(scale)
    files = inferwatch_rule_files(fleet)
    end = int(time.time()) // 60 * 60
    with tempfile.TemporaryDirectory(prefix="fleet-rule-costs-") as tmp, ProcessGroup(Path(tmp)) as procs:
        work = Path(tmp)
        normalize = work / "normalize.yaml"
        normalize.write_text(files["normalize"])
        data = _import(tools, fleet, work, end)
        config = work / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 60s\n")
        url = _start(tools, procs, config, data, work)
        _backfill_rules(tools, procs, url, normalize, end, work)
        procs.stop("prometheus")
        install_blocks(work / "rule-blocks", data)
        url = _start(tools, procs, config, data, work)
        rules = {g["name"]: g["rules"] for text in files.values() for g in (yaml.safe_load(text) or {})["groups"]}
        with httpx.Client(timeout=600) as client:
            for name in groups or DEFAULT_GROUPS:
                total = [0.0, 0, 0]
                click.echo(f"\n{name}")
                for rule in rules[name]:
                    ms, samples, series = _time(client, url, rule["expr"], end, repeat)
                    total = [total[0] + ms, total[1] + samples, total[2] + series]
                    label = rule.get("record") or rule.get("alert")
                    click.echo(f"{ms:9.1f} ms {samples:>10,} samples {series:>8,} series  {label}")
                click.echo(f"{total[0]:9.1f} ms {total[1]:>10,} samples {total[2]:>8,} series  all of {name}")
            for expr in exprs:
                ms, samples, series = _time(client, url, expr, end, repeat)
                click.echo(f"{ms:9.1f} ms {samples:>10,} samples {series:>8,} series  {expr}")


def _start(tools: Toolbox, procs: ProcessGroup, config: Path, data: Path, work: Path) -> str:
    mp = start_prometheus(procs, tools, config, data, name="prometheus", log_path=work / "prometheus.log",
                          timeout=600, retention="100y", extra_args=["--query.max-samples=200000000"])  # fmt: skip
    return mp.url


if __name__ == "__main__":
    main()
