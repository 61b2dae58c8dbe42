"""The backfilled history continues the live series: same labels as a scrape stores them, consistent counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inferwatch.demo.history import ScrapedTarget, raw_series, scraped_labels
from inferwatch.demo.scenario import DEFAULT_SCENARIO, MIG_GPU, SEARCH, gpu_uuid

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
START = END - timedelta(days=7, hours=2)
LES = ("0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")


def _sidecar() -> ScrapedTarget:
    model = {"model_name": SEARCH.model}
    samples: dict[str, list[tuple[dict[str, str], float]]] = {
        "vllm:time_to_first_token_seconds_bucket": [({**model, "le": le}, 0.0) for le in LES],
        "vllm:time_to_first_token_seconds_count": [(model, 0.0)],
        "vllm:prompt_tokens_total": [(model, 0.0)],
        "vllm:num_requests_running": [(model, 0.0)],
    }
    labels = {"job": "inferwatch-sidecar", "instance": "127.0.0.1:1", "namespace": "team-b", "pod": "search-0"}
    return ScrapedTarget(labels, samples)


def _node() -> ScrapedTarget:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {
        "inferwatch_gpu_busy_seconds_total": [({"gpu_uuid": gpu_uuid(i)}, 0.0) for i in (0, MIG_GPU)],
        "inferwatch_gpu_allocation_ratio": [
            ({"gpu_uuid": gpu_uuid(2), "namespace": "team-b", "pod": "search-0", "container": "vllm"}, 0.5)
        ],
    }
    return ScrapedTarget({"job": "inferwatch-node", "instance": "127.0.0.1:2", "node": "gpu-node-1"}, samples)


def test_histogram_buckets_are_cumulative_and_the_count_is_the_inf_bucket() -> None:
    series = raw_series(DEFAULT_SCENARIO, [_sidecar()], START, END, 120.0)
    last = {(s.name, s.labels.get("le", "")): s.points[-1][1] for s in series}
    # Prometheus 3 stores `le` in float form; the history must continue those very series.
    stored = ("0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf")
    buckets = [last[("vllm:time_to_first_token_seconds_bucket", le)] for le in stored]
    assert buckets == sorted(buckets) and buckets[0] == 0
    assert buckets[-1] == last[("vllm:time_to_first_token_seconds_count", "")] > 0
    # The slow tail (and the past incident) are the only requests over 2.5 s: a little under 1 %.
    bad = 1 - last[("vllm:time_to_first_token_seconds_bucket", "2.5")] / buckets[-1]
    assert 0.001 < bad < 0.01
    # Series the story does not model (a gauge of the live server) are not invented.
    assert ("vllm:num_requests_running", "") not in last


def test_gpu_series_keep_the_scrape_labels_and_only_held_gpus_get_busy() -> None:
    series = raw_series(DEFAULT_SCENARIO, [_node()], START, END, 120.0)
    busy = {s.labels["gpu_uuid"]: s.points[-1][1] for s in series if s.name == "inferwatch_gpu_busy_seconds_total"}
    week_s = (END - START).total_seconds()
    assert 0.15 * week_s < busy[gpu_uuid(0)] < 0.75 * week_s
    assert busy[gpu_uuid(MIG_GPU)] == 0
    alloc = next(s for s in series if s.name == "inferwatch_gpu_allocation_ratio")
    assert alloc.labels["namespace"] == "team-b" and alloc.labels["job"] == "inferwatch-node"
    assert {v for _, v in alloc.points} == {0.5}


def test_a_label_the_target_also_sets_is_kept_as_exported() -> None:
    assert scraped_labels({"namespace": "team-a", "pod": "p"}, {"namespace": "kube-system", "job": "j"}) == {
        "namespace": "kube-system",
        "exported_namespace": "team-a",
        "pod": "p",
        "job": "j",
    }
