"""The demo's history, built before live traffic: which series, over which span, and the backfill itself.

The raw series continue what the live targets expose (inferwatch.demo.history); the recorded
series are every generated rule the SLO status, the cost report and the dashboards read over
the week: the SLO events, the counters and checkpoints of the SLOs' checkpoint groups and their
long-window sums, every cost level, and the normalization rules those read. Each rule is
evaluated at its own interval; the passes follow from what each rule reads
(inferwatch.localstack.rulepasses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.alerts.generate import rule_files as alert_rule_files
from inferwatch.config import InferwatchConfig
from inferwatch.config.durations import duration_seconds
from inferwatch.conventions import slo as sc
from inferwatch.demo.config import RETENTION, DemoSettings
from inferwatch.demo.fleet import wait_for_vllm_series, warm_up
from inferwatch.demo.history import ScrapedTarget, history_start, raw_series
from inferwatch.demo.topology import Topology
from inferwatch.localstack.backfilled import BackfilledPrometheus, TimedRule
from inferwatch.localstack.processes import ProcessGroup
from inferwatch.localstack.prometheus_config import ScrapeTarget
from inferwatch.localstack.rulepasses import needed_rules
from inferwatch.rules import RecordingRule
from inferwatch.slo.cost.rules import cost_groups
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.rules import slo_rule_file
from inferwatch.tools import Toolbox

HISTORY_RAW_STEP_S = 120.0

Progress = Callable[[str], None]


def history_rules(config: InferwatchConfig, settings: DemoSettings) -> list[TimedRule]:
    """Every recording rule the history holds, each with the interval it is evaluated at."""
    slos, _ = slos_from_specs(config.slos, "demo.yaml")
    eval_s = float(settings.evaluation_interval_s)
    cost_s = float(config.pricing.rule_interval_s)
    # Every SLO group that has its own interval (the counters, the checkpoints, the long-window
    # sums) at that interval, as Prometheus evaluates it: the checkpoints fall on the minutes
    # they would. Of the main groups, only the SLI events: the burn rates are computed live.
    downstream: list[TimedRule] = []
    for g in slo_rule_file(slos).groups:
        interval = duration_seconds(g.interval) if g.interval else eval_s
        recorded = [r for r in g.rules if isinstance(r, RecordingRule)]
        if g.interval is None:
            recorded = [r for r in recorded if r.record in (sc.GOOD_EVENTS, sc.TOTAL_EVENTS)]
        downstream += [(r, interval) for r in recorded]
    downstream += [(r, cost_s) for g in cost_groups(config.pricing) for r in g.rules if isinstance(r, RecordingRule)]
    normalize = alert_rule_files(config)["normalize"]
    norm_rules = [r for g in normalize.groups for r in g.rules if isinstance(r, RecordingRule)]
    used = needed_rules(norm_rules, [r.expr for r, _ in downstream])
    return [(r, HISTORY_RAW_STEP_S) for r in used] + downstream


def scrape_live(targets: Sequence[ScrapeTarget]) -> list[ScrapedTarget]:
    """Every target's current /metrics, parsed: the label sets the history must continue."""
    out = []
    for target in targets:
        text = httpx.get(f"http://{target.address}/metrics", timeout=10).text
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
        labels = {**target.labels, "job": target.job, "instance": target.address}
        out.append(ScrapedTarget(labels, samples))
    return out


def build_history(
    group: ProcessGroup,
    tools: Toolbox,
    topo: Topology,
    config: InferwatchConfig,
    work_dir: Path,
    progress: Progress,
) -> tuple[int, tuple[datetime, datetime]]:
    """Backfill the week (and the SLO window) of the running targets into ``<work_dir>/tsdb``.

    Returns the samples written and the span they cover.
    """
    warm_up(topo)
    wait_for_vllm_series(group, topo)
    now = datetime.now(UTC).replace(microsecond=0)
    start = history_start(now, IsoWeek.last_full(now).start)
    progress(f"backfilling history {start:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC")
    raw = raw_series(topo.scenario, scrape_live(topo.history_targets()), start, now, HISTORY_RAW_STEP_S)
    helper = BackfilledPrometheus(
        tools,
        work_dir / "history",
        data_dir=work_dir / "tsdb",
        config_file=work_dir / "history-prometheus.yml",
        group=group,
        name="history-prometheus",
        port=topo.settings.ports.history_prometheus,
        retention=RETENTION,
        lifecycle=False,
        ready_timeout_s=120,
    )
    progress(f"promtool: {len(raw)} raw series to TSDB blocks")
    total = helper.add_raw(raw, name="raw")
    progress(f"{total:,} raw samples backfilled")
    total += helper.backfill_by_query(history_rules(config, topo.settings), start, now, progress=progress)
    return total, (start, now)
