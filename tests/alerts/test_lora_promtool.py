"""promtool proof on both promtools: vLLM's LoRA adapter lists become one series per adapter.

`vllm:lora_requests_info` keeps every label combination it ever set, its value the time it set
it: only the newest combination of a pod counts, and only while it is fresh.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.conventions import normalized as n
from inferwatch.tools import Toolbox
from tests.alerts.cases import series
from tests.alerts.test_promtool import PROMTOOLS, _expr_test, _run_tests

POD = 'namespace="ns1",pod="vllm-0",job="vllm",instance="10.0.0.1:8000"'
OLD = 'namespace="ns1",pod="vllm-1",job="vllm",instance="10.0.0.2:8000"'


def _info(target: str, running: str, waiting: str) -> str:
    return (
        f'vllm:lora_requests_info{{{target},max_lora="4",running_lora_adapters="{running}",'
        f'waiting_lora_adapters="{waiting}"}}'
    )


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_the_newest_fresh_adapter_lists_one_series_per_adapter(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    inputs = [
        series(f'vllm:num_requests_running{{{POD},model_name="llama",engine="0"}}', "2x10"),
        series(f'vllm:num_requests_running{{{OLD},model_name="llama",engine="0"}}', "0x10"),
        # Set (to the time of day in seconds) until minute 3, then no more: an older combination.
        series(_info(POD, "", ""), "0 60 120 180 180x6"),
        # The current one from minute 4; in llm-d-inference-sim's order the same set may come twice.
        series(_info(POD, "sql-lora,chat-lora", "math-lora"), "_x4 240+60x5"),
        series(_info(POD, "chat-lora,sql-lora", "math-lora"), "_x4 200x5"),
        # A pod whose engine last stepped at minute 1 (more than five minutes before 9m): nothing runs.
        series(_info(OLD, "old-lora", ""), "60x10"),
    ]
    where = 'namespace="ns1",model_name="llama",pod="vllm-0"'
    expected = [
        (
            n.VLLM_LORA_ADAPTERS,
            [
                (f'{{{where},lora_adapter="chat-lora",state="running"}}', 1.0),
                (f'{{{where},lora_adapter="math-lora",state="waiting"}}', 1.0),
                (f'{{{where},lora_adapter="sql-lora",state="running"}}', 1.0),
            ],
        )
    ]
    _run_tests(tools, promtool, rules_dir, [_expr_test("lora adapters", inputs, expected)], "lora")
