"""vLLM's LoRA adapters: which adapters have running and waiting requests, one series per adapter.

`vllm:lora_requests_info` (vLLM 0.34, vllm/v1/metrics/loggers.py; registered with --enable-lora)
is a gauge whose labels carry adapter *names*, comma-joined in `running_lora_adapters` and
`waiting_lora_adapters` (an adapter is listed while it has at least one such request), and whose
value is the Unix time vLLM last set that combination. It has no `model_name`, no `engine`, and
no request counts: vLLM computes them but does not export them. Every combination ever set stays
in the exposition, so the current one is the newest (`topk by (namespace, pod) (1, …)`, as the
llm-d router reads it), and one older than FRESH counts as gone (an engine that stopped stepping).
llm-d-inference-sim serves the same labels, set at every adapter transition (integer seconds).

PromQL cannot split a list into series, so each of the first POSITIONS list positions gets its
own `label_replace`; the base model comes from the pod's engine series.
"""

from __future__ import annotations

from inferwatch.alerts.normalize.expressions import first_of
from inferwatch.conventions import normalized as c
from inferwatch.rules import RecordingRule

FAMILY = "vllm:lora_requests_info"
# How many adapters of one list are read: vLLM's --max-loras bounds how many can run at once.
POSITIONS = 16
# A combination set longer ago than this is no longer the engine's state.
FRESH = "300"
_LISTS = (("running", "running_lora_adapters"), ("waiting", "waiting_lora_adapters"))
_POD = f"{c.NAMESPACE}, {c.POD}"


def _position(state: str, label: str, i: int) -> str:
    named = f'label_replace({c.VLLM_LORA_LATEST}, "{c.LORA_ADAPTER}", "$1", "{label}", "^(?:[^,]*,){{{i}}}([^,]+).*$")'
    return f'label_replace({named}, "{c.LORA_STATE}", "{state}", "", "")'


def lora_rules() -> list[RecordingRule]:
    """The newest adapter lists per pod, their names one per series, and the adapters per base model."""
    split = [_position(state, label, i) for state, label in _LISTS for i in range(POSITIONS)]
    by = f"{_POD}, {c.LORA_ADAPTER}, {c.LORA_STATE}"
    model = f'group by ({_POD}, {c.MODEL}) ({c.SERVING_ENGINE_INFO}{{{c.SERVING_ENGINE}="{c.VLLM}"}})'
    return [
        RecordingRule(c.VLLM_LORA_LATEST, f"topk by ({_POD}) (1, {FAMILY} > time() - {FRESH})"),
        # Positions past the end of a list match nothing and keep no adapter label: the next rule drops them.
        RecordingRule(c.VLLM_LORA_SPLIT, f"group by ({by}) (\n{first_of(split)}\n)"),
        RecordingRule(
            c.VLLM_LORA_ADAPTERS,
            f"group by ({by}, {c.MODEL}) (\n"
            f'  {c.VLLM_LORA_SPLIT}{{{c.LORA_ADAPTER}!=""}}\n'
            f"  * on ({_POD}) group_left ({c.MODEL})\n  {model}\n)",
        ),
    ]
