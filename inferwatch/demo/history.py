"""The demo's backfilled history: a week and more of the same targets, built before live traffic starts.

Raw series (what the sidecars and the DaemonSet exporter expose) are taken from a live scrape of
those very targets — the same label sets and histogram boundaries — and given values from the
scenario (scenario.py) over every `step` from the start of the last full ISO week to now. They
are written as OpenMetrics and turned into TSDB blocks with `promtool tsdb create-blocks-from
openmetrics` (inferwatch.localstack.backfill).

Recorded series over that history come from the generated recording rules (inferwatch.demo.backfill
says which), pass by pass in the order their expressions require: a helper Prometheus serves the
blocks written so far and each rule's expression is evaluated as a range query on the rule's own
interval (inferwatch.localstack.backfilled). The TSDB it leaves is the live Prometheus's starting
point: the history ends where the live scrapes begin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from inferwatch.demo.scenario import Scenario, busy_ratio, gpu_uuid, request_rate
from inferwatch.localstack.backfill import Series

Labels = Mapping[str, str]
# A live scrape of one target, by sample name: every (label set, value) the target exposes.
SampleSets = Mapping[str, Sequence[tuple[Labels, float]]]

IDLE_POWER_W = 70.0
MAX_POWER_W = 700.0


@dataclass(frozen=True)
class ScrapedTarget:
    """What one live target exposed: its target labels and its sample label sets."""

    target_labels: Labels
    samples: SampleSets


def grid(start: float, end: float, step: float) -> list[float]:
    """Times ``start, start+step, …`` up to ``end`` (inclusive)."""
    n = math.floor((end - start) / step + 1e-9)
    return [start + i * step for i in range(n + 1)]


def counter(times: Sequence[float], rate: Callable[[float], float], initial: float = 0.0) -> list[tuple[float, float]]:
    """A cumulative counter at ``times`` whose increase between two times is ``rate(t_prev) * dt``."""
    points = []
    value = initial
    prev: float | None = None
    for t in times:
        if prev is not None:
            value += max(rate(prev), 0.0) * (t - prev)
        points.append((t, value))
        prev = t
    return points


def gauge(times: Sequence[float], value: Callable[[float], float]) -> list[tuple[float, float]]:
    """A gauge at ``times``."""
    return [(t, value(t)) for t in times]


# ----- raw series from the scenario -----------------------------------------------------------------


def _le(labels: Labels) -> float:
    raw = labels.get("le", "+Inf")
    return math.inf if raw in ("+Inf", "Inf") else float(raw)


@dataclass(frozen=True)
class _RankTraffic:
    """Traffic one data-parallel rank served: the model's requests split evenly over its ranks."""

    scenario: Scenario
    pod: str
    ranks: int

    def rate(self, t: float) -> float:
        return request_rate(self.scenario.model(self.pod), t) / self.ranks

    def in_past_incident(self, t: float, now: float) -> bool:
        sc = self.scenario
        start = now - sc.past_incident_days_ago * 86400.0
        return self.pod == sc.incident_model.pod and start <= t < start + sc.past_incident_hours * 3600.0

    def ttft_share_at_most(self, le: float, t: float, now: float) -> float:
        """Share of requests at ``t`` whose time to first token is at most ``le``."""
        m = self.scenario.model(self.pod)
        share = sum(p.share for p in m.prompts if m.ttft_of(p.tokens) <= le)
        if self.in_past_incident(t, now):
            bad = self.scenario.past_incident_bad_share
            long_ok = 1.0 if m.ttft_of(m.incident_prompt_tokens) <= le else 0.0
            share = share * (1 - bad) + long_ok * bad
        return share

    def mean_prompt(self, t: float, now: float) -> float:
        m = self.scenario.model(self.pod)
        if self.in_past_incident(t, now):
            bad = self.scenario.past_incident_bad_share
            return m.mean_prompt_tokens * (1 - bad) + m.incident_prompt_tokens * bad
        return m.mean_prompt_tokens

    def mean_ttft(self, t: float, now: float) -> float:
        m = self.scenario.model(self.pod)
        return m.prefill_overhead_s + m.prefill_s_per_token * self.mean_prompt(t, now)


def _vllm_series(name: str, labels: Labels, traffic: _RankTraffic, times: Sequence[float], now: float) -> Series | None:
    """The history of one vLLM sample the sidecar exposes, or None for one the story does not model."""
    m = traffic.scenario.model(traffic.pod)
    per_request: Callable[[float], float] | None = None
    tpot = m.itl_s
    if name == "vllm:time_to_first_token_seconds_bucket":
        le = _le(labels)

        def ttft_bucket(t: float) -> float:
            return traffic.ttft_share_at_most(le, t, now)

        per_request = ttft_bucket
    elif name in ("vllm:time_to_first_token_seconds_count", "vllm:request_prefill_time_seconds_count",
                  "vllm:request_decode_time_seconds_count", "vllm:request_time_per_output_token_seconds_count",
                  "vllm:e2e_request_latency_seconds_count"):  # fmt: skip
        per_request = lambda t: 1.0  # noqa: E731
    elif name in ("vllm:time_to_first_token_seconds_sum", "vllm:request_prefill_time_seconds_sum"):
        per_request = lambda t: traffic.mean_ttft(t, now)  # noqa: E731
    elif name == "vllm:request_decode_time_seconds_sum":
        per_request = lambda t: m.itl_s * (m.output_tokens - 1)  # noqa: E731
    elif name == "vllm:request_time_per_output_token_seconds_bucket":
        le = _le(labels)
        per_request = lambda t: 1.0 if tpot <= le else 0.0  # noqa: E731
    elif name == "vllm:request_time_per_output_token_seconds_sum":
        per_request = lambda t: tpot  # noqa: E731
    elif name == "vllm:e2e_request_latency_seconds_bucket":
        le = _le(labels)
        decode = m.itl_s * (m.output_tokens - 1)

        def e2e_bucket(t: float) -> float:
            return traffic.ttft_share_at_most(le - decode, t, now)

        per_request = e2e_bucket
    elif name == "vllm:e2e_request_latency_seconds_sum":
        per_request = lambda t: traffic.mean_ttft(t, now) + m.itl_s * (m.output_tokens - 1)  # noqa: E731
    elif name == "vllm:prompt_tokens_total":
        per_request = lambda t: traffic.mean_prompt(t, now)  # noqa: E731
    elif name == "vllm:generation_tokens_total":
        per_request = lambda t: float(m.output_tokens)  # noqa: E731
    elif name == "vllm:request_success_total":
        # One finish reason carries the traffic: the one the live simulator reports for max_tokens.
        if labels.get("finish_reason", labels.get("finished_reason", "")) != "length":
            return None
        per_request = lambda t: 1.0  # noqa: E731
    if per_request is None:
        return None
    f = per_request
    return Series(name, labels, counter(times, lambda t: traffic.rate(t) * f(t)))


def scraped_labels(sample: Labels, target: Labels) -> dict[str, str]:
    """The labels Prometheus stores for ``sample`` scraped from a target labelled ``target``.

    As with `honor_labels: false` (the default): a sample label the target also sets is kept as
    `exported_<name>`, and the target's value wins; `le` and `quantile` take float form.
    """
    out = dict(target)
    for k, v in sample.items():
        if k in ("le", "quantile"):
            v = float_label(v)
        out[f"exported_{k}" if k in target else k] = v
    return out


def float_label(value: str) -> str:
    """A histogram's `le` (or a summary's `quantile`) as Prometheus 3 stores it: in float form, `10` as `10.0`.

    A history written with the exposition's `le="10"` would be another series than the live `le="10.0"`.
    """
    f = float(value)
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return repr(f)


def _busy(index: int, scenario: Scenario) -> Callable[[float], float]:
    return lambda t: busy_ratio(index, t, scenario)


def _power(index: int, scenario: Scenario) -> Callable[[float], float]:
    return lambda t: IDLE_POWER_W + busy_ratio(index, t, scenario) * (MAX_POWER_W - IDLE_POWER_W)


def _constant(value: float) -> Callable[[float], float]:
    return lambda t: value


def raw_series(
    scenario: Scenario,
    targets: Sequence[ScrapedTarget],
    start: datetime,
    end: datetime,
    step_s: float,
) -> list[Series]:
    """Every raw series of the history for ``targets`` over [start, end] (see the module docstring).

    Every target exposing vLLM samples is one data-parallel rank of the pod it names (its
    ``engine`` target label says which) and serves an equal share of the pod's traffic. A GPU
    exposed by a sidecar and by the DaemonSet exporter gets both histories, as it has both live
    series; the normalization rules take the max per GPU.
    """
    times = grid(start.timestamp(), end.timestamp(), step_s)
    now = end.timestamp()
    out: list[Series] = []
    ranks: dict[str, int] = {}
    for target in targets:
        if any(name.startswith("vllm:") for name in target.samples):
            pod = target.target_labels.get("pod", "")
            ranks[pod] = ranks.get(pod, 0) + 1
    gpu_index = {gpu_uuid(i): i for i in range(16)}
    for target in targets:
        base = dict(target.target_labels)
        pod = base.get("pod", "")
        for name, label_sets in target.samples.items():
            for sample_labels, sample_value in label_sets:
                labels = scraped_labels(sample_labels, base)
                uuid = sample_labels.get("gpu_uuid", "")
                if name.startswith("vllm:"):
                    if pod not in ranks:
                        continue
                    s = _vllm_series(name, labels, _RankTraffic(scenario, pod, ranks[pod]), times, now)
                    if s is not None:
                        out.append(s)
                elif "mig_uuid" in sample_labels or uuid not in gpu_index:
                    continue
                elif name == "inferwatch_gpu_info":
                    out.append(Series(name, labels, gauge(times, lambda t: 1.0)))
                elif name == "inferwatch_gpu_busy_seconds_total":
                    out.append(Series(name, labels, counter(times, _busy(gpu_index[uuid], scenario))))
                elif name == "inferwatch_gpu_energy_joules_total":
                    out.append(Series(name, labels, counter(times, _power(gpu_index[uuid], scenario))))
                elif name == "inferwatch_gpu_allocation_ratio":
                    out.append(Series(name, labels, gauge(times, _constant(sample_value))))
    return out


def history_start(now: datetime, week_start: datetime) -> datetime:
    """Where the history starts: two hours before the last full ISO week (so its first rates exist)."""
    return min(week_start, now - timedelta(days=7)) - timedelta(hours=2)
