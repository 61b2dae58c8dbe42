"""SLO rules at fleet scale: inferwatch vs the real Sloth v0.16.0 vs Pyrra's rule shape, on one Prometheus.

    python -m bench.slo_rules_bench [--series 20 200] [--days 30] [--settle 75] [--no-write]

For each N (SLO series: one TTFT ≤ 1 s SLO at 99.5 % grouped by namespace, N namespaces), a real
Prometheus 3 holds a backfilled history (`promtool tsdb create-blocks-from openmetrics`) of
``--days`` days at one sample a minute, uneven per namespace (diurnal traffic, incidents, a
no-traffic stretch in every tenth namespace):

* the raw vLLM counters (`vllm:time_to_first_token_seconds_count` and `_bucket{le="1.0"}`), which
  Sloth's and Pyrra's rules read;
* what each rule set's own recording rules would have recorded over that history: inferwatch's
  5-minute event rates and their hourly sums, Sloth's `slo:sli_error:ratio_rate5m`;
* the normalized 5-minute rates inferwatch's SLO rules read, around the present.

The raw and normalized inputs run on 40 minutes past the history's end, so rules evaluated live
read present data. Then each rule set is loaded alone (Prometheus restarted with only its files,
every group evaluated every ``--interval``) and measured:

* evaluation time per group: Prometheus's own ``prometheus_rule_group_last_duration_seconds``,
  the median over the evaluations within ``--settle`` seconds;
* samples scanned per group: the sum over its rules of ``totalQueryableSamples`` from
  ``/api/v1/query?stats=all`` at the history's end;
* series recorded per evaluation: ``prometheus_rule_group_last_evaluation_samples``;
* budget remaining over the SLO window at the history's end, per namespace, against the exact
  count from the generated counters (the independent count): mean and worst error in percentage
  points, and how many namespaces have no figure (NaN or missing).

Sloth's rules come from the real `sloth generate` over the equivalent Sloth spec (`sloth_spec`);
Pyrra's shape is written here (`pyrra_rules`): Pyrra's `increase` over the raw counters for the
SLO window (its `4w`, set to the same window for a like-for-like budget) and its burn-rate
`rate`s over the raw counters. Figures go to the "slo-rules" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import subprocess
import tempfile
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import slo_rule_file, window_sum_expr
from inferwatch.slo.windows import COARSE_STEP, format_duration, is_coarse, recorded_windows

from bench.report import machine_description, update_section
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.prometheus_config import LocalStack, render_yaml
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup, to_prometheus_yaml
from inferwatch.tools import Toolbox
from tests.support.backfill import BackfilledPrometheus

log = logging.getLogger("bench.slo_rules")

STEP = 60  # seconds between samples, raw and recorded
DAY = 86400
FUTURE = 40 * 60  # raw and normalized inputs run on past the history's end, for live evaluation
HOURLY_PHASE = 17 * 60  # the hourly group's evaluation offset within the hour (Prometheus hashes one)
RAW_COUNT = "vllm:time_to_first_token_seconds_count"
RAW_BUCKET = "vllm:time_to_first_token_seconds_bucket"
THRESHOLD = "1.0"
SLO_NAME = "chat-ttft"
OBJECTIVE = 99.5
SPEC: dict[str, Any] = {
    "name": SLO_NAME,
    "objective": OBJECTIVE,
    "sli": {"kind": "ttft", "threshold_seconds": float(THRESHOLD)},
    "group_by": ["namespace"],
}


def traffic(i: int, t: float, start: float) -> tuple[float, float]:
    """Requests per second and the share of them slower than the threshold, for namespace ``i`` at ``t``."""
    day = (t - start) / DAY
    if i % 10 == 3 and 20.0 <= day < 20.5:
        return 0.0, 0.0  # twelve hours without traffic
    base = 0.5 + (i % 7) * 0.5
    rate = base * (1 + 0.6 * math.sin(2 * math.pi * (t / DAY + i / 13)))
    # a slowly worsening error ratio in every third namespace, so the window's edges matter
    bad = 0.001 + 0.0004 * (i % 9) + (0.0001 * day if i % 3 == 0 else 0.0)
    if i % 5 == 1 and 12.0 <= day < 12.25:
        bad = 0.05  # a six-hour incident
    return rate, bad


@dataclass
class History:
    """The generated counters of every namespace, sampled every STEP s from ``start``."""

    n: int
    start: float
    end: float  # the history's end: recorded series stop here; budgets are compared here
    good: list[array[float]] = field(default_factory=list)
    total: list[array[float]] = field(default_factory=list)

    @property
    def times(self) -> range:
        """Sample times (unix seconds) of the raw counters, into the future by FUTURE."""
        return range(int(self.start), int(self.end) + FUTURE + 1, STEP)

    def build(self) -> None:
        """Integrate every namespace's traffic into good and total counters."""
        for i in range(self.n):
            g, tot, gv, tv = array("d", [0.0]), array("d", [0.0]), 0.0, 0.0
            for t in self.times[:-1]:
                rate, bad = traffic(i, t, self.start)
                tv += rate * STEP
                gv += rate * (1 - bad) * STEP
                g.append(gv)
                tot.append(tv)
            self.good.append(g)
            self.total.append(tot)

    def index(self, t: float) -> int:
        """Index of the sample at ``t``."""
        return int((t - self.start) // STEP)

    def expected_budget(self, i: int, window_s: int, error_budget: float) -> float | None:
        """Budget remaining (ratio) over the window ending at ``end``, from the exact counts."""
        a, b = max(self.index(self.end - window_s), 0), self.index(self.end)
        total = self.total[i][b] - self.total[i][a]
        if total <= 0:
            return None
        return 1 - (1 - (self.good[i][b] - self.good[i][a]) / total) / error_budget

    def rate5m(self, counter: array[float], k: int) -> float:
        """What `rate(counter[5m])` gives at sample ``k`` (no counter resets here)."""
        return (counter[k] - counter[max(k - 5, 0)]) / 300


def _fmt_labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _value(v: float) -> str:
    return "NaN" if math.isnan(v) else repr(v)


def _lines(name: str, labels: dict[str, str], points: Iterator[tuple[int, float]]) -> Iterator[str]:
    prefix = name + _fmt_labels(labels)
    for t, v in points:
        yield f"{prefix} {_value(v)} {t}\n"


def _hourly_sums(h: History, good: array[float], total: array[float]) -> list[tuple[int, float, float]]:
    """What the hourly group records: at each of its evaluations, the sums of the hour's 5-minute-rate samples."""
    step_h = int(COARSE_STEP.total_seconds())
    out = []
    t_h = int(h.end) - HOURLY_PHASE
    while t_h - step_h > h.start + 5 * STEP:
        ks = [k for k in range(h.index(t_h - step_h) + 1, h.index(t_h) + 1) if h.rate5m(total, k) > 0]
        if ks:
            out.append((t_h, sum(h.rate5m(good, k) for k in ks), sum(h.rate5m(total, k) for k in ks)))
        t_h -= step_h
    return out[::-1]


def openmetrics(h: History, slo: SLO, sloth_labels: dict[str, str], path: Path) -> int:
    """Write the whole history (raw, normalized, and each set's recorded series) as one OpenMetrics file."""
    times = list(h.times)
    end_k = h.index(h.end)
    recorded = range(5, end_k + 1)  # recording rules start once a 5-minute rate exists
    families: dict[str, list[Iterator[str]]] = {}

    def add(name: str, labels: dict[str, str], points: Iterator[tuple[int, float]]) -> None:
        families.setdefault(name, []).append(_lines(name, labels, points))

    def namespace(i: int) -> None:
        # a function per namespace, so each generator below reads its own namespace's arrays
        ns = {"namespace": f"ns-{i:04d}", "model_name": "m", "pod": f"ns-{i:04d}-vllm-0"}
        good, total = h.good[i], h.total[i]
        add(RAW_COUNT, ns, ((t, total[k]) for k, t in enumerate(times)))
        add(RAW_BUCKET, {**ns, "le": THRESHOLD}, ((t, good[k]) for k, t in enumerate(times)))
        near = range(end_k - 15, len(times))
        add(norm.histogram_series("ttft", "count"), ns, ((times[k], h.rate5m(total, k)) for k in near))
        add(
            norm.histogram_series("ttft", "bucket"),
            {**ns, "le": THRESHOLD},
            ((times[k], h.rate5m(good, k)) for k in near),
        )
        grp = {"namespace": ns["namespace"]}
        rec = {**grp, c.SLO_LABEL: slo.name}
        busy = [k for k in recorded if h.rate5m(total, k) > 0]
        add(c.TOTAL_EVENTS, rec, ((times[k], h.rate5m(total, k)) for k in busy))
        add(c.GOOD_EVENTS, rec, ((times[k], h.rate5m(good, k)) for k in busy))
        hours = _hourly_sums(h, good, total)
        add(c.GOOD_EVENTS_HOURLY, rec, ((t, g) for t, g, _ in hours))
        add(c.TOTAL_EVENTS_HOURLY, rec, ((t, tot) for t, _, tot in hours))
        # the hourly group's window sums at its last two evaluations, as the SLO group reads them
        for w in (d for d in recorded_windows(slo.period) if is_coarse(d)):
            at = [t for t, _, _ in hours[-2:]]
            sums = [[x for x in hours if t - w.total_seconds() < x[0] <= t] for t in at]
            labels = {**rec, c.WINDOW_LABEL: format_duration(w)}
            add(c.GOOD_EVENTS_WINDOW, labels, ((t, sum(x[1] for x in xs)) for t, xs in zip(at, sums, strict=True)))
            add(c.TOTAL_EVENTS_WINDOW, labels, ((t, sum(x[2] for x in xs)) for t, xs in zip(at, sums, strict=True)))
        # Sloth's 5-minute error ratio: 0/0 (NaN) where there is no traffic, as its rule records it
        add(
            "slo:sli_error:ratio_rate5m",
            {**sloth_labels, **grp},
            ((times[k], _sloth_ratio(h, good, total, k)) for k in recorded),
        )

    for i in range(h.n):
        namespace(i)
    count = 0
    with path.open("w") as f:
        for name in sorted(families):
            for lines in families[name]:
                for line in lines:
                    f.write(line)
                    count += 1
        f.write("# EOF\n")
    return count


def _sloth_ratio(h: History, good: array[float], total: array[float], k: int) -> float:
    tot = h.rate5m(total, k)
    return (1 - h.rate5m(good, k) / tot) if tot > 0 else math.nan


def sloth_spec(slo: SLO) -> dict[str, Any]:
    """The Sloth (prometheus/v1) spec equivalent to ``slo``: errors = count - bucket{le=threshold}."""
    count = f"sum by (namespace) (rate({RAW_COUNT}[{{{{.window}}}}]))"
    bucket = f'sum by (namespace) (rate({RAW_BUCKET}{{le="{THRESHOLD}"}}[{{{{.window}}}}]))'
    return {
        "version": "prometheus/v1",
        "service": "inferwatch-bench",
        "slos": [
            {
                "name": slo.name,
                "objective": slo.objective_percent,
                "sli": {"events": {"error_query": f"{count} - {bucket}", "total_query": count}},
                "alerting": {
                    "name": "ChatTTFT",
                    "page_alert": {"labels": {"severity": "page"}},
                    "ticket_alert": {"labels": {"severity": "ticket"}},
                },
            }
        ],
    }


def sloth_rules(tools: Toolbox, slo: SLO, work: Path) -> Path:
    """Run the real `sloth generate` on the equivalent spec; returns the rule file it wrote."""
    spec = work / "sloth-spec.yaml"
    spec.write_text(yaml.safe_dump(sloth_spec(slo), sort_keys=False))
    out = work / "sloth-rules.yaml"
    proc = subprocess.run(
        [str(tools.path("sloth")), "generate", "-i", str(spec), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sloth generate failed: {proc.stderr.strip()}")
    return out


def sloth_labels(rule_file: Path) -> dict[str, str]:
    """The labels Sloth puts on its 5-minute ratio series (read from the rules it generated)."""
    for group in yaml.safe_load(rule_file.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == "slo:sli_error:ratio_rate5m":
                return {str(k): str(v) for k, v in rule.get("labels", {}).items()}
    raise RuntimeError(f"{rule_file} records no slo:sli_error:ratio_rate5m")


def pyrra_rules(slo: SLO) -> RuleFile:
    """Pyrra's rule shape for a latency SLO: `increase` over the SLO window, burn-rate `rate`s, on raw counters."""
    window = slo.window
    sel_count = RAW_COUNT
    sel_bucket = f'{RAW_BUCKET}{{le="{THRESHOLD}"}}'
    increase = (
        RecordingRule(
            f"{RAW_COUNT}:increase{window}",
            f"sum by (namespace) (increase({sel_count}[{window}]))",
            {"slo": slo.name},
        ),
        RecordingRule(
            f"{RAW_BUCKET}:increase{window}",
            f"sum by (namespace) (increase({sel_bucket}[{window}]))",
            {"slo": slo.name, "le": THRESHOLD},
        ),
    )
    burn = tuple(
        RecordingRule(
            f"{RAW_COUNT.removesuffix('_count')}:burnrate{w}",
            f"(\n  sum by (namespace) (rate({sel_count}[{w}]))\n  -\n"
            f"  sum by (namespace) (rate({sel_bucket}[{w}]))\n)\n/\nsum by (namespace) (rate({sel_count}[{w}]))",
            {"slo": slo.name},
        )
        for w in ("5m", "30m", "1h", "2h", "6h", "1d", "4d")
    )
    return RuleFile((RuleGroup(f"{slo.name}-increase", increase), RuleGroup(f"{slo.name}", burn)))


def pyrra_budget_query(slo: SLO) -> str:
    """Budget remaining per namespace from Pyrra's increase rules' expressions (evaluated at the history's end)."""
    increase = {r.record: r.expr for r in pyrra_rules(slo).groups[0].rules if isinstance(r, RecordingRule)}
    good = increase[f"{RAW_BUCKET}:increase{slo.window}"]
    total = increase[f"{RAW_COUNT}:increase{slo.window}"]
    return f"1 - (1 - ({good}) / ({total})) / {slo.error_budget:.12g}"


@dataclass
class GroupFigures:
    """One rule group's measurements."""

    name: str
    rules: int
    eval_ms: float
    samples_scanned: int
    series_recorded: int


@dataclass
class SetFigures:
    """One rule set's measurements at one N."""

    name: str
    groups: list[GroupFigures]
    budget_err_mean_pp: float | None
    budget_err_max_pp: float | None
    no_figure: int

    @property
    def eval_ms(self) -> float:
        """Evaluation time of the set's groups together, per evaluation of each."""
        return sum(g.eval_ms for g in self.groups)

    @property
    def samples(self) -> int:
        """Samples the set's groups scan per evaluation of each."""
        return sum(g.samples_scanned for g in self.groups)


class PrometheusAPI:
    """The few HTTP calls the benchmark makes to Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=600)

    def query(self, expr: str, at: float, stats: bool = False) -> dict[str, Any]:
        """An instant query's ``data`` (with ``stats`` when asked)."""
        params = {"query": expr, "time": f"{at:.3f}"}
        if stats:
            params["stats"] = "all"
        r = self.client.post("/api/v1/query", data=params)
        body = r.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query failed: {expr[:80]}…: {body.get('error')}")
        return dict(body["data"])

    def metrics(self) -> str:
        """Prometheus's own /metrics."""
        return self.client.get("/metrics").text


def _metric_by_group(text: str, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            group = labels.split('rule_group="', 1)[1].split('"', 1)[0].split(";", 1)[-1]
            out[group] = float(value)
    return out


def measure_set(
    hist: BackfilledPrometheus,
    name: str,
    files: Sequence[Path],
    budget_query: str,
    h: History,
    slo: SLO,
    interval: str,
    settle_s: float,
) -> SetFigures:
    """Restart Prometheus with only ``files`` loaded, let every group evaluate, read the figures."""
    hist.stop()
    config = yaml.safe_load(render_yaml(LocalStack(targets=())))
    config.setdefault("global", {})["evaluation_interval"] = interval
    config["rule_files"] = [str(f) for f in files]
    hist.config_file.write_text(yaml.safe_dump(config))
    hist.start()
    api = PrometheusAPI(hist.url)
    durations: dict[str, list[float]] = {}
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        time.sleep(2)
        text = api.metrics()
        for g, v in _metric_by_group(text, "prometheus_rule_group_last_duration_seconds").items():
            seen = durations.setdefault(g, [])
            if v > 0 and (not seen or seen[-1] != v):
                seen.append(v)
    text = api.metrics()
    recorded = _metric_by_group(text, "prometheus_rule_group_last_evaluation_samples")
    groups = []
    for f in files:
        for g in yaml.safe_load(f.read_text())["groups"]:
            scanned = 0
            for rule in g["rules"]:
                data = api.query(rule["expr"], h.end, stats=True)
                scanned += int(data.get("stats", {}).get("samples", {}).get("totalQueryableSamples", 0))
            evals = durations.get(g["name"], [])
            groups.append(
                GroupFigures(
                    name=g["name"],
                    rules=len(g["rules"]),
                    eval_ms=statistics.median(evals) * 1000 if evals else math.nan,
                    samples_scanned=scanned,
                    series_recorded=int(recorded.get(g["name"], 0)),
                )
            )
    got = {s["metric"].get("namespace", ""): float(s["value"][1]) for s in api.query(budget_query, h.end)["result"]}
    errors, missing = [], 0
    for i in range(h.n):
        want = h.expected_budget(i, int(slo.period.total_seconds()), slo.error_budget)
        value = got.get(f"ns-{i:04d}")
        if want is None:
            continue
        if value is None or not math.isfinite(value):
            missing += 1
            continue
        errors.append(abs(value - want) * 100)
    log.info("%s: %s", name, [(g.name, round(g.eval_ms, 1), g.samples_scanned) for g in groups])
    return SetFigures(
        name,
        groups,
        statistics.fmean(errors) if errors else None,
        max(errors) if errors else None,
        missing,
    )


def run(n: int, days: int, interval: str, settle_s: float, tools: Toolbox, work: Path) -> list[SetFigures]:
    """Backfill the history for ``n`` SLO series and measure the three rule sets on it."""
    slo, _ = compile_slo(SLOSpec.model_validate(SPEC), "bench")
    end = (time.time() // STEP) * STEP - 5 * STEP
    h = History(n, end - (days * DAY + 2 * 3600), end)
    t0 = time.perf_counter()
    h.build()
    sloth_file = sloth_rules(tools, slo, work)
    om = work / "history.om"
    samples = openmetrics(h, slo, sloth_labels(sloth_file), om)
    log.info("N=%d: %d samples written in %.0f s", n, samples, time.perf_counter() - t0)
    hist = BackfilledPrometheus(tools, work / "prom")
    blocks = work / "blocks"
    blocks.mkdir()
    subprocess.run(
        [
            str(tools.path("promtool")),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=240h",
            str(om),
            str(blocks),
        ],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    om.unlink()
    hist._install_blocks(blocks)  # as add_raw installs its blocks
    log.info("N=%d: backfilled in %.0f s", n, time.perf_counter() - t0)
    ours = work / "inferwatch-rules.yaml"
    # the hourly group runs at the same interval as the others here, so its cost is measured too
    rule_file = slo_rule_file([slo])
    ours.write_text(to_prometheus_yaml(RuleFile(tuple(RuleGroup(g.name, g.rules) for g in rule_file.groups))))
    pyrra = work / "pyrra-rules.yaml"
    pyrra.write_text(to_prometheus_yaml(pyrra_rules(slo)))
    # the SLO window's good/total as the hourly group sums them, evaluated at the history's end
    good_w = window_sum_expr(slo, c.GOOD_EVENTS_HOURLY).split("\nor\n")[-1]
    total_w = window_sum_expr(slo, c.TOTAL_EVENTS_HOURLY).split("\nor\n")[-1]
    ours_budget = f"1 - (1 - ({good_w}) / ({total_w})) / {slo.error_budget:.12g}"
    sloth_budget = _sloth_budget_query(sloth_file, slo)
    try:
        out = [
            measure_set(hist, "inferwatch", [ours], ours_budget, h, slo, interval, settle_s),
            measure_set(hist, "Sloth v0.16.0", [sloth_file], sloth_budget, h, slo, interval, settle_s),
            measure_set(hist, "Pyrra shape", [pyrra], pyrra_budget_query(slo), h, slo, interval, settle_s),
        ]
    finally:
        hist.stop()
    return out


def _sloth_budget_query(sloth_file: Path, slo: SLO) -> str:
    """Sloth's SLO-window error ratio, as its own rule computes it, turned into budget remaining."""
    for group in yaml.safe_load(sloth_file.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == f"slo:sli_error:ratio_rate{slo.window}":
                return f"1 - ({rule['expr']}) / {slo.error_budget:.12g}"
    raise RuntimeError(f"Sloth's rules hold no slo:sli_error:ratio_rate{slo.window}")


def _pp(s: SetFigures) -> str:
    return f"≤ {s.budget_err_max_pp:.3f}" if s.budget_err_max_pp is not None else "—"


def markdown(results: dict[int, list[SetFigures]], days: int, interval: str) -> str:
    """The docs/benchmarks.md section."""
    lines = [
        "## SLO rules at fleet scale: inferwatch vs Sloth v0.16.0 vs Pyrra's rule shape",
        "",
        f"Machine: {machine_description()}. Prometheus 3 over a backfilled {days}-day history at one sample a",
        "minute (`python -m bench.slo_rules_bench`); one TTFT ≤ 1 s SLO at 99.5 % grouped by namespace, N",
        f"namespaces; each rule set loaded alone, every group evaluated every {interval}. Evaluation time:",
        "`prometheus_rule_group_last_duration_seconds` (median over the evaluations seen); samples:",
        "`totalQueryableSamples` of each rule at the history's end; series:",
        "`prometheus_rule_group_last_evaluation_samples`;",
        "budget: the SLO window's budget remaining per namespace at the history's end against the exact count",
        "from the generated counters (percentage points; `no figure`: NaN or missing).",
        "",
        "| N | rule set | rules | groups | eval ms (all groups) | samples scanned | series / eval "
        "| budget error mean / max pp | no figure |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, sets in results.items():
        for s in sets:
            err = (
                f"{s.budget_err_mean_pp:.3f} / {s.budget_err_max_pp:.3f}"
                if s.budget_err_mean_pp is not None and s.budget_err_max_pp is not None
                else "—"
            )
            lines.append(
                f"| {n} | {s.name} | {sum(g.rules for g in s.groups)} | {len(s.groups)} | {s.eval_ms:.1f} "
                f"| {s.samples:,} | {sum(g.series_recorded for g in s.groups):,} | {err} | {s.no_figure} |"
            )
    lines += ["", "Per group:", "", "| N | rule set | group | eval ms | samples scanned | series / eval |"]
    lines.append("|---:|---|---|---:|---:|---:|")
    for n, sets in results.items():
        for s in sets:
            for g in s.groups:
                lines.append(
                    f"| {n} | {s.name} | `{g.name}` | {g.eval_ms:.1f} | {g.samples_scanned:,} | {g.series_recorded:,} |"
                )
    lines.append("")
    for n, sets in results.items():
        ours, sloth = sets[0], sets[1]
        if ours.eval_ms > 0 and sloth.eval_ms > 0:
            # per minute in production: the SLO group every minute, the hourly group once in 60
            hourly = sum(g.eval_ms for g in ours.groups if g.name.endswith(c.HOURLY_GROUP_SUFFIX))
            per_minute = ours.eval_ms - hourly + hourly / 60
            lines.append(
                f"- N={n}: inferwatch's groups {ours.eval_ms:.1f} ms together when both run, "
                f"{sloth.eval_ms / ours.eval_ms:.1f}× cheaper than Sloth's "
                f"({sloth.samples / max(ours.samples, 1):.0f}× fewer samples scanned); per minute in production "
                f"(hourly group once an hour) {per_minute:.1f} ms, {sloth.eval_ms / per_minute:.0f}× cheaper. "
                f"Budget error {_pp(ours)} pp against Sloth's {_pp(sloth)} pp ({sloth.no_figure} of {n} NaN)."
            )
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


NOTES = """How to read it:

- The hourly group (`…-hourly`) runs once an hour in production (`interval: 1h`); here it ran
  every evaluation like the others, so its column is its cost per run, and the total counts it as
  if it ran every minute. Sloth's and Pyrra's groups run at the global interval.
- Targets (issue 15): at 200 series the SLO groups together ≤ 100 ms per evaluation, ≥ 10× cheaper
  than Sloth's, budgets within 0.1 pp of the count where Sloth's are not. The machine is shared
  (8 engineers on 2 cores, load average ~12 during the run), so times are noisy; samples scanned
  are exact and are what the times follow.
- inferwatch's budget error is the edge of the long windows (docs/slo.md, "Long windows"): the
  SLO window ends at the hourly group's last evaluation (17 minutes before the history's end
  here), so the newest and the oldest 17 minutes differ from the exact count. Sloth's SLO window
  averages 5-minute ratios (every 5 minutes weighs the same whatever its traffic) and is NaN for a
  namespace with a stretch without traffic (`no figure`). Pyrra's `increase` over the raw counters
  is exact but scans every raw sample of the window, every evaluation.
- N = 2000 was not run here: writing and importing the 30-day history alone (≈ 440 M samples)
  takes over an hour on this machine. The costs scale linearly with N (the per-group figures at
  20 and 200 show it), so at 2000 series expect 10× the N=200 figures."""


def load_results(path: Path) -> dict[int, list[SetFigures]]:
    """Figures written by ``--json``, to render the section again without re-running."""
    data = json.loads(path.read_text())
    return {
        int(n): [
            SetFigures(
                s["name"],
                [GroupFigures(**g) for g in s["groups"]],
                s["budget_err_mean_pp"],
                s["budget_err_max_pp"],
                s["no_figure"],
            )
            for s in sets
        ]
        for n, sets in data.items()
    }


def main() -> None:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", default="15s")
    parser.add_argument("--settle", type=float, default=75.0)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--render", type=Path, default=None, help="only render the section from a --json file")
    args = parser.parse_args()
    if args.render:
        update_section("slo-rules", markdown(load_results(args.render), args.days, args.interval))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tools = Toolbox.default()
    results: dict[int, list[SetFigures]] = {}
    for n in args.series:
        with tempfile.TemporaryDirectory(prefix=f"slo-bench-{n}-") as tmp:
            results[n] = run(n, args.days, args.interval, args.settle, tools, Path(tmp))
    text = markdown(results, args.days, args.interval)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    str(n): [s.__dict__ | {"groups": [g.__dict__ for g in s.groups]} for s in sets]
                    for n, sets in results.items()
                },
                indent=1,
                default=str,
            )
        )
    if not args.no_write:
        update_section("slo-rules", text)


if __name__ == "__main__":
    main()
