"""The engine and router payload fixtures (tests/data/engines/): what an SGLang server and an llm-d
router answer on /metrics after a known history, built from their own names, labels and buckets
(inferwatch.localstack.sglang and .router say where each comes from).

`python -m tests.support.engine_payloads` rewrites the fixtures; tests/exporters/test_engine_payloads.py
fails when they differ from what these functions build.
"""

from __future__ import annotations

from pathlib import Path

from inferwatch.localstack.router import RouterMetrics
from inferwatch.localstack.sglang import SglangMetrics

DATA = Path(__file__).resolve().parents[1] / "data" / "engines"
SGLANG_PAYLOAD = DATA / "sglang-0.5.23.txt"
ROUTER_PAYLOAD = DATA / "llm-d-router-v0.10.0.txt"
MODEL = "qwen2.5-1.5b-instruct"
POOL = "qwen-chat"
ADAPTER = "qwen-chat-support-lora"


def sglang_payload() -> str:
    """Two data-parallel ranks after ten finished requests (four served from the prefix cache), an
    abort, a retraction, a 503, and a moment with requests running and waiting."""
    sg = SglangMetrics(MODEL, dp_size=2)
    for i in range(10):
        sg.observe_request(
            prompt_tokens=400 + 10 * i,
            completion_tokens=120,
            cached_tokens=256 if i % 3 == 0 else 0,
            ttft_s=0.15 + 0.01 * i,
            e2e_s=1.9 + 0.1 * i,
            queue_s=0.004 * i,
            streaming=i % 2 == 0,
            dp_rank=i % 2,
        )
    sg.abort()
    sg.retract(dp_rank=1)
    sg.http_response("/v1/chat/completions", 503)
    sg.set_load(running=3, queued=2, token_usage=0.4166, dp_rank=0)
    sg.set_load(running=2, queued=0, token_usage=0.25, dp_rank=1)
    return sg.exposition()


def router_payload(router: RouterMetrics | None = None) -> str:
    """llm-d-router v0.10.0 (both generations of names; or ``router``'s) routing to the base model and
    a LoRA adapter for two tenants and requests without a fairness id, one request shed."""
    router = router or RouterMetrics(POOL)
    for i, (target, tenant) in enumerate(
        [(MODEL, "team-search"), (MODEL, "team-search"), (ADAPTER, "team-support"), (MODEL, "default-flow")]
    ):
        router.observe_request(
            MODEL if target == MODEL else ADAPTER,
            target,
            input_tokens=300 + 100 * i,
            output_tokens=80 + 20 * i,
            duration_s=1.2 + 0.3 * i,
            fairness_id=tenant,
        )
    router.shed(MODEL, MODEL, fairness_id="team-search")
    router.error(ADAPTER, ADAPTER, "ServiceUnavailable", fairness_id="team-support")
    router.set_pool(queue=1.5, kv_cache=0.42, ready=2)
    router.set_flow_queue(3, MODEL, MODEL, fairness_id="team-search")
    return router.exposition()


if __name__ == "__main__":
    SGLANG_PAYLOAD.write_text(sglang_payload())
    ROUTER_PAYLOAD.write_text(router_payload())
