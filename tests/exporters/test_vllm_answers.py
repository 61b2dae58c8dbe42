"""Malformed but answered vLLM /metrics bodies (issue 17): each is served sanely, counted and logged once.

The vLLM side is a real HTTP server on loopback (tests/exporters/fake_vllm.py); what Prometheus
would read is the exporter's rendered exposition, parsed back.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from inferwatch.exporters import memory
from inferwatch.exporters import vllm as vllm_module
from inferwatch.exporters.server import render_metrics
from inferwatch.exporters.vllm import VllmCollector, VllmScraper
from tests.exporters.fake_vllm import FakeVllm, fake_vllm

RUNNING = "# TYPE vllm:num_requests_running gauge\n"
WAITING = "# TYPE vllm:num_requests_waiting gauge\n"


@pytest.fixture
def vllm() -> Iterator[FakeVllm]:
    with fake_vllm() as server:
        yield server


@pytest.fixture
def scraper(vllm: FakeVllm) -> Iterator[VllmScraper]:
    s = VllmScraper(vllm.url, interval_s=60, timeout_s=5, max_body_bytes=1 << 20)
    yield s
    s.stop()


def _served(scraper: VllmScraper) -> tuple[str, CollectorRegistry]:
    registry = CollectorRegistry()
    registry.register(VllmCollector(scraper))
    body, _ = render_metrics(registry, None)
    return body.decode(), registry


def _series_lines(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{") or line.startswith(name + " ")]


def _repairs(registry: CollectorRegistry, reason: str) -> float | None:
    return registry.get_sample_value(contract.VLLM_SCRAPE_REPAIRS.name, {"reason": reason})


def test_a_series_twice_in_one_answer_is_served_once(
    vllm: FakeVllm, scraper: VllmScraper, caplog: pytest.LogCaptureFixture
) -> None:
    vllm.serve(RUNNING + 'vllm:num_requests_running{model_name="m"} 3\nvllm:num_requests_running{model_name="m"} 4\n')
    with caplog.at_level(logging.WARNING):
        assert scraper.scrape_once().up
        scraper.scrape_once()
    text, registry = _served(scraper)
    assert _series_lines(text, "vllm:num_requests_running") == ['vllm:num_requests_running{model_name="m"} 3.0']
    assert registry.get_sample_value(contract.VLLM_UP.name) == 1
    assert _repairs(registry, "duplicate_series") == 2  # once per answer
    assert len([r for r in caplog.records if "duplicate_series" in r.getMessage()]) == 1
    # Nothing in the whole exposition is served twice.
    samples = Counter(
        (s.name, tuple(sorted(s.labels.items()))) for f in text_string_to_metric_families(text) for s in f.samples
    )
    assert max(samples.values()) == 1


def test_an_empty_200_body_is_vllm_down_with_a_reason(
    vllm: FakeVllm, scraper: VllmScraper, caplog: pytest.LogCaptureFixture
) -> None:
    vllm.serve(" \n")
    with caplog.at_level(logging.WARNING):
        snap = scraper.scrape_once()
    assert not snap.up and snap.error == "HTTP 200 with an empty body"
    _, registry = _served(scraper)
    assert registry.get_sample_value(contract.VLLM_UP.name) == 0
    assert registry.get_sample_value(contract.VLLM_SCRAPE_ERRORS.name, {"reason": "empty"}) == 1
    assert [r for r in caplog.records if "reason=HTTP 200 with an empty body" in r.getMessage()]


def test_a_repeated_family_block_is_merged_counted_and_logged_once(
    vllm: FakeVllm, scraper: VllmScraper, caplog: pytest.LogCaptureFixture
) -> None:
    vllm.serve(
        RUNNING + 'vllm:num_requests_running{model_name="a"} 1\n'
        + WAITING + 'vllm:num_requests_waiting{model_name="a"} 5\n'
        + RUNNING + 'vllm:num_requests_running{model_name="b"} 2\n'
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        scraper.scrape_once()
        scraper.scrape_once()
    text, registry = _served(scraper)
    # Both models' series are served (before: the second block was dropped silently), the family once.
    assert registry.get_sample_value("vllm:num_requests_running", {"model_name": "a"}) == 1
    assert registry.get_sample_value("vllm:num_requests_running", {"model_name": "b"}) == 2
    assert text.count("# TYPE vllm:num_requests_running gauge") == 1
    assert _repairs(registry, "repeated_family") == 2
    assert len([r for r in caplog.records if "repeated_family" in r.getMessage()]) == 1


def test_an_undefined_escape_is_kept_verbatim_counted_and_logged_once(
    vllm: FakeVllm, scraper: VllmScraper, caplog: pytest.LogCaptureFixture
) -> None:
    vllm.serve(RUNNING + 'vllm:num_requests_running{model_name="a\\qb",path="c:\\\\d"} 1\n')
    with caplog.at_level(logging.WARNING):
        scraper.scrape_once()
        scraper.scrape_once()
    _, registry = _served(scraper)
    # As Prometheus reads vLLM directly: the backslash of the undefined escape is kept, `\\` is one backslash.
    assert registry.get_sample_value("vllm:num_requests_running", {"model_name": "a\\qb", "path": "c:\\d"}) == 1
    assert _repairs(registry, "invalid_escape") == 2
    assert len([r for r in caplog.records if "invalid_escape" in r.getMessage()]) == 1


def test_a_clean_answer_counts_no_repair(vllm: FakeVllm, scraper: VllmScraper) -> None:
    vllm.serve(RUNNING + 'vllm:num_requests_running{model_name="a\\"b\\\\c\\nd"} 1\n')
    scraper.scrape_once()
    _, registry = _served(scraper)
    assert registry.get_sample_value("vllm:num_requests_running", {"model_name": 'a"b\\c\nd'}) == 1
    for reason in contract.VLLM_REPAIR_REASONS:
        assert _repairs(registry, reason) is None


def test_the_heap_is_given_back_after_an_oversized_answer(
    vllm: FakeVllm, scraper: VllmScraper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: RSS stayed ~40 MB up after a body refused at the size limit (glibc kept the freed pages)."""
    trims: list[int] = []
    scraper_calls = [0]

    def trim() -> bool:
        trims.append(scraper_calls[0])
        return True

    monkeypatch.setattr(vllm_module, "release_freed_memory", trim)

    def scrape() -> None:
        scraper_calls[0] += 1
        scraper.scrape_once()

    small = RUNNING + 'vllm:num_requests_running{model_name="m"} 1\n'
    vllm.serve(small)
    scrape()
    scrape()
    assert trims == []  # an ordinary answer costs no trim
    huge = RUNNING + 'vllm:num_requests_running{model_name="' + "x" * (2 << 20) + '"} 1\n'
    vllm.serve(huge, length=False)
    scrape()  # no Content-Length: over this scraper's limit (1 MiB) while reading, then refused
    assert scraper.snapshot() is not None and not scraper.snapshot().up  # type: ignore[union-attr]
    vllm.serve(small)
    for _ in range(4):
        scrape()
    assert trims == [3, 4, 5]  # the oversized scrape, and the two that replace what it left
    assert memory.TRIM_AFTER_BYTES <= 1 << 20


def test_release_freed_memory_runs_here() -> None:
    # On this glibc machine the call exists and is safe to make at any time.
    assert memory._malloc_trim() is not None
    memory.release_freed_memory()
