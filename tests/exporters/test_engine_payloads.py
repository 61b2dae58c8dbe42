"""The engine payload fixtures, and the sidecar reading an SGLang server: every `sglang:*` family passed
through unchanged, the engine process's other families left out."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from inferwatch.exporters.vllm import VllmCollector, VllmScraper, parse_exposition, translate_families
from tests.exporters.fake_vllm import fake_vllm
from tests.support.engine_payloads import ROUTER_PAYLOAD, SGLANG_PAYLOAD, router_payload, sglang_payload

PROCESS = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3.5\n"


def _samples(text: str, prefix: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name.startswith(prefix)
    }


def test_the_payload_fixtures_are_what_their_builders_make() -> None:
    """Regenerate with `python -m tests.support.engine_payloads` after changing the builders."""
    assert SGLANG_PAYLOAD.read_text() == sglang_payload()
    assert ROUTER_PAYLOAD.read_text() == router_payload()


def test_sglang_families_pass_through_untouched() -> None:
    payload = SGLANG_PAYLOAD.read_text()
    kept = translate_families(parse_exposition(payload + PROCESS))
    assert kept and all(f.name.startswith("sglang:") for f in kept)
    assert {f.name for f in kept} == {f.name for f in text_string_to_metric_families(payload)}
    assert contract.ENGINE_PREFIXES == ("vllm:", "sglang:")


def test_the_sidecar_serves_an_sglang_server_as_it_answers() -> None:
    payload = SGLANG_PAYLOAD.read_text()
    with fake_vllm() as sglang:
        sglang.serve(payload + PROCESS)
        scraper = VllmScraper(sglang.url, interval_s=60, timeout_s=5, max_body_bytes=1 << 22)
        try:
            scraper.scrape_once()
        finally:
            scraper.stop()
    registry = CollectorRegistry()
    registry.register(VllmCollector(scraper))
    served = generate_latest(registry).decode()
    assert _samples(served, "sglang:") == _samples(payload, "sglang:")
    assert "process_cpu_seconds_total" not in served
    assert "inferwatch_vllm_up 1.0" in served
