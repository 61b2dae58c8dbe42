"""What inferwatch's whole rule set costs a Prometheus at fleet size, and what VictoriaMetrics + vmalert and Sloth cost.

    nice -n 10 python -m bench.fleet_bench [--scale 0.25 --scale 1] [--span 1h] [--settle 150] [--no-write]
        [--compare <(git show main:alerts/generated/normalize.yaml)]

The defaults (a quarter fleet, an hour of history) take about half an hour on 2 shared cores;
the recorded figures add `--scale 1` (about 50 minutes more: 24 M samples written and imported,
five rule sets measured for 150 s each, each after a 5-minute warm-up of its own).

For each ``--scale`` (1 = 1,000 GPUs on 125 nodes, 500 vLLM pods, 40 models, 60 namespaces, 50
SLOs; `bench.fleet_model`), the fleet's raw series — what Prometheus scrapes from the vLLM pods'
sidecars, the DaemonSet exporter and kube-state-metrics — are written for ``--span`` of history
plus ``--future`` (so rules evaluated live read present data), imported with `promtool tsdb
create-blocks-from openmetrics` into a real Prometheus 3 and into VictoriaMetrics, and measured
live (`bench.fleet_measure`):

* Prometheus with no rules (the baseline), with inferwatch's complete generated rule set
  (`bench.fleet_rules`: normalization, alerts, SLOs, cost, autoscaling) and with the real Sloth's
  rules for the same SLOs over the raw counters;
* vmalert over VictoriaMetrics with inferwatch's set.

Each Prometheus run starts from a fresh copy of the imported blocks and scrapes for ``--warmup``
seconds before it measures: no run reads the scrapes or the rule outputs of the run before.

Every group is evaluated every ``--interval``; each group's cost per minute in production is its
time per evaluation times its evaluations per minute at its own interval (Prometheus's default
1 m where the group sets none; the hourly SLO groups once an hour). Figures go to the "fleet"
section of docs/benchmarks.md and the sizing table of docs/scaling.md.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.fleet_measure import (
    GroupFigures,
    LiveTarget,
    RunFigures,
    import_victoriametrics,
    measure_prometheus,
    measure_vmalert,
    start_victoriametrics,
)
from bench.fleet_model import Fleet, write_history
from bench.fleet_report import markdown, scaling_markdown
from bench.fleet_rules import LoadedSet, inferwatch_rule_files, slo_specs, sloth_rule_file, write_set
from bench.report import BENCHMARKS_MD, run_end, update_section
from inferwatch.localstack.backfill import create_blocks, install_blocks
from inferwatch.localstack.processes import ProcessGroup
from inferwatch.slo.windows import parse_duration
from inferwatch.tools import Toolbox

log = logging.getLogger("bench.fleet")
SCALING_MD = BENCHMARKS_MD.parent / "scaling.md"


@dataclass
class ScaleResult:
    """One fleet size's figures."""

    scale: float
    nodes: int = 0
    gpus: int = 0
    pods: int = 0
    engines: int = 0
    models: int = 0
    namespaces: int = 0
    slos: int = 0
    raw_series: int = 0
    raw_by_source: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    span: str = ""
    step_s: int = 60
    interval_s: float = 30.0
    write_s: float = 0.0
    import_s: float = 0.0
    vm_import_s: float = 0.0
    # each rule set measured over a fresh copy of the imported history (False: figures of a bench
    # that ran each set over the TSDB the set before left, read back from an older --json file)
    fresh_history: bool = False
    warmup_s: float = 0.0
    finished: float | None = None  # when the size's last measurement ended (epoch s; None in older --json files)
    runs: list[RunFigures] = field(default_factory=list)


def _history(
    fleet: Fleet, result: ScaleResult, opts: dict[str, Any], work: Path
) -> tuple[Path, Path | None, LiveTarget]:
    """Write the history: blocks up to now, the VictoriaMetrics import, and the live expositions after now."""
    now, step = int(time.time()), int(opts["step"])
    start = now - int(parse_duration(opts["span"]).total_seconds())
    end = now + int(parse_duration(opts["future"]).total_seconds())
    times = np.arange(start - start % step, end, step, dtype=np.int64)
    live_from = int(np.searchsorted(times, now, side="right"))
    om, vm_text = work / "fleet.om", (work / "fleet.prom" if opts["vm"] else None)
    t = time.perf_counter()
    h = write_history(fleet, times, om, vm_text, live_from, work / "live")
    result.write_s = time.perf_counter() - t
    result.raw_series, result.samples, result.raw_by_source = h.series, h.samples, dict(h.by_source)
    return om, vm_text, LiveTarget(work / "live", times, live_from)


def run_scale(scale: float, tools: Toolbox, work: Path, opts: dict[str, Any], progress: Progress) -> ScaleResult:
    """Build, import and measure one fleet size."""
    fleet = Fleet.build(scale)
    r = ScaleResult(scale, len(fleet.nodes), fleet.gpu_count, len(fleet.pods), fleet.engine_count,
                    len(fleet.models), len(fleet.namespaces), len(slo_specs(fleet)), span=opts["span"],
                    step_s=opts["step"], interval_s=parse_duration(opts["interval"]).total_seconds(),
                    fresh_history=True, warmup_s=opts["warmup"])  # fmt: skip
    task = progress.add_task(f"scale {scale}: writing the history", total=None)

    def tick(text: str) -> None:
        progress.update(task, description=f"scale {scale}: {text}")

    om, vm_text, target = _history(fleet, r, opts, work)
    tick(f"{r.raw_series:,} series, {r.samples:,} samples written; promtool importing")
    t = time.perf_counter()
    create_blocks(tools, om, work / "blocks", max_block_duration="24h", timeout_s=7200)
    om.unlink()
    imported = work / "imported"
    install_blocks(work / "blocks", imported)
    r.import_s = time.perf_counter() - t
    interval, settle, step = opts["interval"], opts["settle"], opts["step"]
    ours = write_set("inferwatch", inferwatch_rule_files(fleet), work, interval)
    sets: list[LoadedSet | None] = [None, ours]
    if opts["compare"]:
        files = inferwatch_rule_files(fleet) | {p.stem: p.read_text() for p in opts["compare"]}
        sets.append(write_set(opts["compare_name"], files, work, interval))
    if opts["sloth"]:
        sets.append(write_set("sloth", {"sloth": sloth_rule_file(tools, fleet, work)}, work, interval))
    try:
        for i, rules in enumerate(sets):
            # Each set starts from the imported blocks alone, as the first did: a run over the TSDB
            # the run before left would read its scrapes and its rules' outputs too (more head
            # series, a longer WAL replay, series no production Prometheus of this set would hold).
            data = work / f"tsdb-{i}"
            shutil.copytree(imported, data)
            # the scrape starts after the import or the run before: a gap of more than a sample or
            # two in the last 5 minutes makes rates partial, so the run scrapes for --warmup seconds
            # before it measures
            gap = time.time() - float(target.times[target.live_from - 1])
            warmup = opts["warmup"] if gap > 2 * step else 0.0
            r.runs.append(measure_prometheus(tools, work, data, rules, interval, settle, tick, target, step, warmup))
            shutil.rmtree(data, ignore_errors=True)
    finally:
        target.close()
    if vm_text is not None:
        with ProcessGroup(work) as group:
            vm = start_victoriametrics(group, tools, work)
            tick("importing into VictoriaMetrics")
            t = time.perf_counter()
            import_victoriametrics(vm.url, vm_text)
            r.vm_import_s = time.perf_counter() - t
            vm_text.unlink()
            r.runs.append(measure_vmalert(tools, work, group, vm, ours, interval, settle, tick))
    progress.update(task, description=f"scale {scale}: done", total=1, completed=1)
    r.finished = time.time()
    return r


def _load_json(path: Path) -> list[ScaleResult]:
    out = []
    for entry in json.loads(path.read_text()):
        runs = [
            RunFigures(**{**run, "groups": [GroupFigures(**g) for g in run["groups"]]}) for run in entry.pop("runs")
        ]
        out.append(ScaleResult(**entry, runs=runs))
    return out


@click.command(help=__doc__)
@click.option("--scale", "scales", type=float, multiple=True, default=(0.25,), show_default=True,
              help="fleet size (1 = 1,000 GPUs, 500 vLLM pods); repeat for several")  # fmt: skip
@click.option("--span", default="1h", show_default=True,
              help="history before now (a day: 24h — hours of writing and importing on 2 cores)")  # fmt: skip
@click.option("--future", default="80m", show_default=True,
              help="history after now, read by the live evaluations (longer than all the runs of a scale)")  # fmt: skip
@click.option("--step", type=int, default=60, show_default=True, help="seconds between samples")
@click.option("--interval", default="30s", show_default=True, help="evaluation interval of every group here")
@click.option("--settle", type=float, default=150.0, show_default=True, help="seconds each rule set is measured")
@click.option("--warmup", type=float, default=300.0, show_default=True,
              help="seconds of scraping before each rule set's measurement (5-minute rates whole)")  # fmt: skip
@click.option("--vm/--no-vm", default=True, show_default=True, help="measure VictoriaMetrics + vmalert too")
@click.option("--sloth/--no-sloth", default=True, show_default=True, help="measure Sloth's rules too")
@click.option(
    "--compare",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    multiple=True,
    help="a rule file replacing the generated one of the same name in a second inferwatch set, measured "
    "too (e.g. `git show main:alerts/generated/normalize.yaml`: a rule change against the rules before it)",
)
@click.option("--compare-name", default="inferwatch before", show_default=True, help="the --compare set's name")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="also write figures here")
@click.option("--render", type=click.Path(path_type=Path, exists=True), default=None,
              help="only render the docs from a --json file")  # fmt: skip
@click.option("--no-write", is_flag=True, help="print, do not write docs/")
def main(scales: tuple[float, ...], json_path: Path | None, render: Path | None, no_write: bool, **opts: Any) -> None:
    """Run the benchmark and record it."""
    if render is not None:
        results = _load_json(render)
    else:
        logging.basicConfig(level=logging.WARNING)
        tools = Toolbox.default()
        results = []
        cols = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*cols) as progress:
            for scale in scales:
                with tempfile.TemporaryDirectory(prefix=f"fleet-bench-{scale}-") as tmp:
                    results.append(run_scale(scale, tools, Path(tmp), opts, progress))
                if json_path:  # after each size, so a later failure keeps the figures so far
                    json_path.write_text(json.dumps([asdict(r) for r in results], indent=1))
    results = sorted(results, key=lambda r: r.scale)
    text, sizing = markdown(results, opts), scaling_markdown(results, opts)
    click.echo(text)
    click.echo(sizing)
    if not no_write:  # stamped with the end of the run, also when rendered later from its --json
        recorded = run_end(r.finished for r in results)
        update_section("fleet", text, recorded=recorded)
        update_section("fleet-sizing", sizing, SCALING_MD, recorded=recorded)


if __name__ == "__main__":
    main()
