"""The alert set: one definition per alert, read by the rule generator *and* the runbook generator.

Each definition carries its PromQL (over normalized `inferwatch:*` series only), its severity,
its annotations and its runbook text; thresholds come from the configuration, so the number in
the alert, its description and its runbook is always the configured one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inferwatch.config.durations import duration_seconds
from inferwatch.config.thresholds import Thresholds
from inferwatch.conventions import normalized as c
from inferwatch.rules import AlertingRule, RuleGroup

Severity = Literal["page", "ticket"]

ALERT_GROUP_PREFIX = "inferwatch-alerts"
RUNBOOK_DIR = "docs/runbooks"


@dataclass(frozen=True)
class AlertDefinition:
    """One alert: its rule and the text of its runbook."""

    name: str
    group: str
    severity: Severity
    expr: str
    for_: str | None
    summary: str
    description: str
    threshold: str
    meaning: str
    checks: tuple[str, ...]
    actions: tuple[str, ...]

    def runbook_url(self, runbook_base_url: str) -> str:
        """Where this alert's runbook lives (`<runbook_base_url>/<AlertName>.md`)."""
        return f"{runbook_base_url}/{self.name}.md"

    def to_rule(self, runbook_base_url: str) -> AlertingRule:
        """The Prometheus alerting rule of this definition."""
        return AlertingRule(
            alert=self.name,
            expr=self.expr,
            for_=self.for_,
            labels={"severity": self.severity},
            annotations={
                "summary": self.summary,
                "description": self.description,
                "runbook_url": self.runbook_url(runbook_base_url),
            },
        )


def hold(duration: str) -> str | None:
    """An alert's `for:` from its configured duration: None (no `for:`, fire at once) for 0s."""
    return duration if duration_seconds(duration) else None


def held(duration: str) -> str:
    """How the texts say how long a condition must hold: " for 10m", or nothing for 0s."""
    return f" for {duration}" if duration_seconds(duration) else ""


def num(value: float) -> str:
    """A number as PromQL and humans both read it: 2.0 -> "2", 0.95 -> "0.95"."""
    return f"{value:g}"


def pct(ratio: float) -> str:
    """A ratio as a percentage for text: 0.95 -> "95%"."""
    return f"{ratio * 100:g}%"


# Where a vLLM alert is: the labels every description names.
_VLLM_WHERE = "model {{ $labels.model_name }} in namespace {{ $labels.namespace }}"
_POD_WHERE = "pod {{ $labels.namespace }}/{{ $labels.pod }} (model {{ $labels.model_name }})"
_GPU_WHERE = "GPU {{ $labels.gpu_uuid }} ({{ $labels.gpu_model }})"


def _with_model(expr: str) -> str:
    """Attach `gpu_model` to a per-GPU expression, so the alert says which kind of GPU it is."""
    return f"{expr}\n* on ({c.GPU_UUID}) group_left ({c.GPU_MODEL}) {c.GPU_INFO}"


def _p95(kind: str) -> str:
    return f"histogram_quantile(0.95, sum by ({c.NAMESPACE}, {c.MODEL}, {c.LE}) ({c.histogram_series(kind, 'bucket')}))"


def _p95_above(kind: str, threshold: float, t: Thresholds) -> str:
    """P95 of ``kind`` above ``threshold``, judged only where requests arrive at the configured minimum
    rate: every request observes one TTFT, so the TTFT count is the request rate."""
    requests = f"sum by ({c.NAMESPACE}, {c.MODEL}) ({c.histogram_series('ttft', 'count')})"
    return (
        f"({_p95(kind)} > {num(threshold)})\n"
        f"and on ({c.NAMESPACE}, {c.MODEL})\n"
        f"({requests} >= {num(t.latency_min_requests_per_second)})"
    )


def _min_traffic(t: Thresholds) -> str:
    return f"judged at {num(t.latency_min_requests_per_second)} requests/s or more"


def _vllm_alerts(t: Thresholds) -> list[AlertDefinition]:
    g = f"{ALERT_GROUP_PREFIX}-vllm"
    return [
        AlertDefinition(
            name="VLLMTimeToFirstTokenHigh",
            group=g,
            severity="page",
            expr=_p95_above("ttft", t.ttft_p95_seconds, t),
            for_=hold(t.ttft_for),
            summary="P95 time to first token of {{ $labels.model_name }} in {{ $labels.namespace }} is above "
            f"{num(t.ttft_p95_seconds)}s",
            description=f"P95 time to first token is {{{{ $value | humanizeDuration }}}} for {_VLLM_WHERE} "
            f"(threshold {num(t.ttft_p95_seconds)}s{held(t.ttft_for)}, {_min_traffic(t)}).",
            threshold=f"P95 TTFT over 5 minutes above {num(t.ttft_p95_seconds)} s{held(t.ttft_for)}, {_min_traffic(t)}",
            meaning="Users wait too long for the first token. TTFT is queue time plus prefill: it rises when "
            "requests queue (too few replicas, KV cache full) or prompts get much longer.",
            checks=(
                "Queue: `inferwatch:vllm_requests_waiting:sum` and the queue-time histogram "
                "`inferwatch:vllm_queue_seconds_bucket:rate5m` for the model: is the time spent waiting or in prefill?",
                "KV cache: `inferwatch:vllm_kv_cache_usage:max` near 1 and a non-zero "
                "`inferwatch:vllm_preemptions:rate5m` mean the batch is memory-bound.",
                "Load: `inferwatch:vllm_prompt_tokens:rate5m` against last week — did traffic or prompt length jump?",
                "GPU: is `inferwatch:gpu_busy_seconds:rate5m` of the pods' GPUs near 1 (saturated) or throttled "
                "(`inferwatch:gpu_throttle:active`)?",
            ),
            actions=(
                "Saturated: add replicas (raise the HPA/KServe max replicas) or shed low-priority traffic.",
                "Long prompts: enable chunked prefill or prefix caching; cap `max_model_len` for this model.",
                "Throttled or unhealthy GPU: cordon the node and move the pod (see the GPU runbooks).",
            ),
        ),
        AlertDefinition(
            name="VLLMInterTokenLatencyHigh",
            group=g,
            severity="ticket",
            expr=_p95_above("itl", t.itl_p95_seconds, t),
            for_=hold(t.itl_for),
            summary="P95 inter-token latency of {{ $labels.model_name }} in {{ $labels.namespace }} is above "
            f"{num(t.itl_p95_seconds)}s",
            description=f"P95 inter-token latency is {{{{ $value | humanizeDuration }}}} for {_VLLM_WHERE} "
            f"(threshold {num(t.itl_p95_seconds)}s{held(t.itl_for)}, {_min_traffic(t)}).",
            threshold=f"P95 inter-token latency above {num(t.itl_p95_seconds)} s{held(t.itl_for)}, {_min_traffic(t)}",
            meaning="Streaming is slow: each decode step of the batch takes too long, usually because the "
            "batch is too large for the GPU or prefills interleave with decodes.",
            checks=(
                "Batch size: `inferwatch:vllm_requests_running:sum` per pod against `max_num_seqs`.",
                "Prefill interference: a burst of long prompts in `inferwatch:vllm_prompt_tokens:rate5m`.",
                "GPU clocks: `inferwatch:gpu_throttle:active` and `inferwatch:gpu_temperature:celsius`.",
            ),
            actions=(
                "Lower `max_num_seqs` or `max_num_batched_tokens` for this model, or add replicas.",
                "Consider disaggregated prefill/decode for long-prompt workloads.",
            ),
        ),
        AlertDefinition(
            name="VLLMKVCacheNearlyFull",
            group=g,
            severity="ticket",
            expr=f"{c.VLLM_KV_CACHE_USAGE} > {num(t.kv_cache_usage_ratio)}",
            for_=hold(t.kv_cache_for),
            summary="KV cache of {{ $labels.namespace }}/{{ $labels.pod }} is above "
            f"{pct(t.kv_cache_usage_ratio)}: preemptions imminent",
            description=f"KV-cache usage is {{{{ $value | humanizePercentage }}}} in {_POD_WHERE} "
            f"(threshold {pct(t.kv_cache_usage_ratio)}{held(t.kv_cache_for)}).",
            threshold=f"KV-cache usage (max over engines) above {pct(t.kv_cache_usage_ratio)}{held(t.kv_cache_for)}",
            meaning="vLLM is about to run out of KV-cache blocks; it will preempt running requests "
            "(recompute or swap), which multiplies latency.",
            checks=(
                "`inferwatch:vllm_preemptions:rate5m` for the pod: have preemptions started?",
                "`inferwatch:vllm_requests_running:sum` and the generation length (`max_tokens`) of recent requests.",
                "`vllm:cache_config_info` (num_gpu_blocks) and the pod's `--gpu-memory-utilization`.",
            ),
            actions=(
                "Add replicas or lower `max_num_seqs` so fewer sequences share the cache.",
                "Raise `--gpu-memory-utilization` if the GPU has headroom, or use a quantized KV cache (fp8).",
            ),
        ),
        AlertDefinition(
            name="VLLMRequestsWaitingGPUIdle",
            group=g,
            severity="page",
            expr=(
                f"({c.VLLM_REQUESTS_WAITING} > 0)\n"
                f"and on ({c.NAMESPACE}, {c.POD})\n"
                f"(\n  max by ({c.NAMESPACE}, {c.POD}) (\n"
                f"    ({c.GPU_ALLOCATION} * 0) + on ({c.GPU_UUID}) group_left () {c.GPU_BUSY_RATE}\n"
                f"  ) < {num(t.gpu_idle_utilization_ratio)}\n)"
            ),
            for_=hold(t.requests_waiting_gpu_idle_for),
            summary="Requests wait in {{ $labels.namespace }}/{{ $labels.pod }} while its GPU sits idle",
            description=f"{{{{ $value | humanize }}}} request(s) are waiting in {_POD_WHERE} while every GPU "
            f"the pod holds is busy less than {pct(t.gpu_idle_utilization_ratio)} of the time"
            f"{held(t.requests_waiting_gpu_idle_for)}.",
            threshold=f"waiting requests > 0 while the pod's GPUs are busy < {pct(t.gpu_idle_utilization_ratio)}"
            f"{held(t.requests_waiting_gpu_idle_for)}",
            meaning="Users wait while paid-for GPUs do nothing: the engine is stuck (a hung worker, a deadlocked "
            "scheduler, a dead NCCL peer) or requests wait on something other than the GPU.",
            checks=(
                "The vLLM container's log for errors, stack traces or `Engine core` restarts.",
                "`inferwatch:vllm_requests_running:sum` for the pod: 0 running with a queue means the scheduler "
                "admits nothing.",
                "For tensor-parallel pods: are all ranks alive (`kubectl exec … nvidia-smi`)?",
            ),
            actions=(
                "Restart the pod (`kubectl delete pod -n <namespace> <pod>`); the Deployment replaces it.",
                "If it recurs, capture `py-spy dump` of the engine process before restarting and file a vLLM bug.",
            ),
        ),
        AlertDefinition(
            name="VLLMQueueGrowing",
            group=g,
            severity="ticket",
            expr=(
                f"({c.VLLM_REQUESTS_WAITING} > {t.queue_waiting_requests})\n"
                f"and\n(deriv({c.VLLM_REQUESTS_WAITING}[15m]) > 0)"
            ),
            for_=hold(t.queue_growing_for),
            summary="Request queue of {{ $labels.namespace }}/{{ $labels.pod }} keeps growing",
            description=f"{{{{ $value | humanize }}}} requests are waiting in {_POD_WHERE} and the queue has "
            f"kept growing{held(t.queue_growing_for)} (threshold {t.queue_waiting_requests} waiting).",
            threshold=f"more than {t.queue_waiting_requests} waiting requests and a rising queue"
            f"{held(t.queue_growing_for)}",
            meaning="Demand exceeds what the replicas serve: latency rises for everyone until the queue drains.",
            checks=(
                "Traffic: `inferwatch:vllm_prompt_tokens:rate5m` and the finished-request rate "
                "`inferwatch:vllm_requests_finished:rate5m` — arrivals above completions?",
                "KV cache and preemptions (VLLMKVCacheNearlyFull).",
            ),
            actions=(
                "Scale out (replicas, HPA on `inferwatch:vllm_requests_waiting:sum`).",
                "Rate-limit the callers that grew, or route some traffic to another model deployment.",
            ),
        ),
        AlertDefinition(
            name="VLLMPreemptionsHigh",
            group=g,
            severity="ticket",
            expr=f"{c.VLLM_PREEMPTIONS_RATE} > {num(t.preemptions_per_second)}",
            for_=hold(t.preemptions_for),
            summary="vLLM preempts requests in {{ $labels.namespace }}/{{ $labels.pod }}",
            description=f"{{{{ $value | humanize }}}} preemptions per second in {_POD_WHERE} "
            f"(threshold {num(t.preemptions_per_second)}/s{held(t.preemptions_for)}).",
            threshold=f"more than {num(t.preemptions_per_second)} preemptions per second{held(t.preemptions_for)}",
            meaning="The KV cache ran out: vLLM evicts running sequences and recomputes them later, wasting "
            "GPU time and inflating latency.",
            checks=(
                "`inferwatch:vllm_kv_cache_usage:max` for the pod (is it pinned near 1?).",
                "Long generations: the e2e histogram `inferwatch:vllm_e2e_seconds_bucket:rate5m`.",
            ),
            actions=(
                "Lower `max_num_seqs`, raise `--gpu-memory-utilization`, or add replicas.",
                "Use an fp8 KV cache or a larger GPU for this model.",
            ),
        ),
        AlertDefinition(
            name="VLLMPrefixCacheHitRateLow",
            group=g,
            severity="ticket",
            expr=(
                f"({c.VLLM_PREFIX_CACHE_HITS_RATE} / {c.VLLM_PREFIX_CACHE_QUERIES_RATE} "
                f"< {num(t.prefix_cache_hit_ratio)})\n"
                f"and\n({c.VLLM_PREFIX_CACHE_QUERIES_RATE} > {num(t.prefix_cache_min_queries_per_second)})"
            ),
            for_=hold(t.prefix_cache_for),
            summary="Prefix-cache hit rate of {{ $labels.namespace }}/{{ $labels.pod }} is low",
            description=f"Prefix-cache hit rate is {{{{ $value | humanizePercentage }}}} in {_POD_WHERE} "
            f"(threshold {pct(t.prefix_cache_hit_ratio)}{held(t.prefix_cache_for)}, judged above "
            f"{num(t.prefix_cache_min_queries_per_second)} queried tokens/s).",
            threshold=f"prefix-cache hits / queried tokens below {pct(t.prefix_cache_hit_ratio)}"
            f"{held(t.prefix_cache_for)}",
            meaning="Requests that should share a prompt prefix (system prompt, RAG context) are recomputed: "
            "prefill costs more GPU time than it needs to.",
            checks=(
                "Do callers still send the same system prompt byte-for-byte (timestamps or request IDs at the "
                "start of the prompt defeat the cache)?",
                "Is traffic spread over many replicas without prefix-aware routing?",
            ),
            actions=(
                "Move variable content to the end of the prompt.",
                "Route by prefix (llm-d inference scheduler, KServe with prefix-aware routing).",
            ),
        ),
    ]


def _gpu_alerts(t: Thresholds) -> list[AlertDefinition]:
    g = f"{ALERT_GROUP_PREFIX}-gpu"
    excluded = "|".join(str(x) for x in t.application_xids)
    xid_matcher = f'{{xid!~"{excluded}"}}' if excluded else ""
    return [
        AlertDefinition(
            name="GPUMemoryNearlyFull",
            group=g,
            severity="ticket",
            expr=_with_model(
                f"({c.GPU_MEMORY_USED} / {c.GPU_MEMORY_TOTAL} > {num(t.gpu_memory_used_ratio)})",
            ),
            for_=hold(t.gpu_memory_for),
            summary="GPU {{ $labels.gpu_uuid }} memory is above " + pct(t.gpu_memory_used_ratio),
            description=f"{_GPU_WHERE} has {{{{ $value | humanizePercentage }}}} of its memory in use "
            f"(threshold {pct(t.gpu_memory_used_ratio)}{held(t.gpu_memory_for)}).",
            threshold=f"GPU memory used / total above {pct(t.gpu_memory_used_ratio)}{held(t.gpu_memory_for)}",
            meaning="The next allocation on this GPU fails with out-of-memory: a model load, a CUDA graph "
            "capture or a second tenant on a shared GPU.",
            checks=(
                'Which pods hold the GPU: `inferwatch:gpu_allocation:ratio{gpu_uuid="…"}`.',
                "`nvidia-smi` on the node: processes and their memory.",
                "vLLM's `--gpu-memory-utilization` (it reserves that share at start; 0.9 is the default).",
            ),
            actions=(
                "Lower `--gpu-memory-utilization` of a pod that shares the GPU, or stop time-slicing it.",
                "Kill leaked processes (a crashed worker that kept its context).",
            ),
        ),
        AlertDefinition(
            name="GPULost",
            group=g,
            severity="page",
            expr=f"{c.GPU_UP} == 0",
            for_=hold(t.gpu_lost_for),
            summary="GPU {{ $labels.gpu_uuid }} is lost",
            description="NVML reports GPU {{ $labels.gpu_uuid }} lost or fallen off the bus "
            "(inferwatch:gpu_up = {{ $value }}).",
            threshold=f"the exporter reports the GPU down (NVML: GPU lost){held(t.gpu_lost_for)}",
            meaning="The GPU no longer answers the driver: every pod on it fails. Usually hardware (Xid 79), "
            "power or a PCIe fault.",
            checks=(
                "`kubectl describe node` and `dmesg | grep -i xid` on the node.",
                "`nvidia-smi -q -i <uuid>`: does the driver still see the GPU?",
            ),
            actions=(
                "Cordon and drain the node (`kubectl cordon <node>; kubectl drain <node> --ignore-daemonsets`).",
                "Reset the GPU (`nvidia-smi -r`) or reboot the node; open a hardware ticket if it recurs.",
            ),
        ),
        AlertDefinition(
            name="GPUCriticalXid",
            group=g,
            severity="page",
            expr=_with_model(f"({c.GPU_XID_ERRORS_INCREASE}{xid_matcher} > 0)"),
            for_=hold(t.xid_for),
            summary="GPU {{ $labels.gpu_uuid }} reported Xid {{ $labels.xid }}",
            description=f"{_GPU_WHERE} reported Xid {{{{ $labels.xid }}}} {{{{ $value | humanize }}}} time(s) "
            f"in the last 5 minutes (application Xids {', '.join(map(str, t.application_xids)) or 'none'} "
            "are not alerted).",
            threshold="any Xid error not in the application list "
            f"({', '.join(map(str, t.application_xids)) or 'none'}) within 5 minutes{held(t.xid_for)}",
            meaning="The driver logged a hardware or driver fault (e.g. 48 double-bit ECC, 63/64 row remapping, "
            "74 NVLink, 79 fallen off the bus, 94/95 contained/uncontained ECC). Application Xids (a user "
            "kernel faulting) are excluded by configuration.",
            checks=(
                "NVIDIA's Xid catalogue for the code: does it need a GPU reset or a node reboot?",
                "`dmesg | grep -i xid` on the node for the full message and the process it hit.",
                "Other GPUs of the node: NVLink Xids (74) involve peers.",
            ),
            actions=(
                "Cordon the node so no new pods land on the GPU; drain it if the Xid requires a reset.",
                "Reset the GPU or reboot; open a hardware ticket for repeated Xid 48/79/94/95.",
            ),
        ),
        AlertDefinition(
            name="GPUUncorrectableECCErrors",
            group=g,
            severity="page",
            expr=_with_model(f"({c.GPU_ECC_UNCORRECTED_INCREASE} > 0)"),
            for_=hold(t.ecc_for),
            summary="GPU {{ $labels.gpu_uuid }} has uncorrectable ECC errors",
            description=f"{_GPU_WHERE} reported {{{{ $value | humanize }}}} uncorrectable ECC error(s) in the "
            "last 5 minutes.",
            threshold=f"any uncorrectable (double-bit) ECC error within 5 minutes{held(t.ecc_for)}",
            meaning="GPU memory returned corrupt data: the process using it is killed, and results computed "
            "just before may be wrong.",
            checks=(
                "`nvidia-smi -q -d ECC,ROW_REMAPPER -i <uuid>`: pending row remaps or remapping failures?",
                "Xid 48/63/64/94/95 around the same time (GPUCriticalXid).",
            ),
            actions=(
                "Drain the node and reset the GPU so pending row remaps apply.",
                "Replace the GPU if remapping failed or errors recur.",
            ),
        ),
        AlertDefinition(
            name="GPUThrottlingSustained",
            group=g,
            severity="ticket",
            expr=_with_model(f"({c.GPU_THROTTLE} == 1)"),
            for_=hold(t.throttle_for),
            summary="GPU {{ $labels.gpu_uuid }} is {{ $labels.cause }}-throttled",
            description=f"{_GPU_WHERE} has held its clocks down for {{{{ $labels.cause }}}} reasons"
            f"{held(t.throttle_for)}.",
            threshold=f"thermal or power throttling active{held(t.throttle_for)}",
            meaning="The GPU runs below its clocks: every token costs more time. Thermal: cooling or airflow; "
            "power: the power cap (expected briefly at full load) or the board's power brake.",
            checks=(
                "`inferwatch:gpu_temperature:celsius` and `inferwatch:gpu_power:watts` against the limits "
                "(`nvidia-smi -q -d TEMPERATURE,POWER,PERFORMANCE`).",
                "Other GPUs in the same chassis: one hot node points at cooling, one GPU at the card.",
            ),
            actions=(
                "Thermal: check fans/airflow and data-centre cooling; move load off the node meanwhile.",
                "Power: check a lowered power limit (`nvidia-smi -pl`) or PSU alarms; raise `throttle_for` if "
                "power capping at full load is accepted here.",
            ),
        ),
    ]


def _target_alerts(t: Thresholds) -> list[AlertDefinition]:
    g = f"{ALERT_GROUP_PREFIX}-targets"
    return [
        AlertDefinition(
            name="VLLMTargetDown",
            group=g,
            severity="page",
            expr=f"{c.VLLM_TARGET_UP} == 0",
            for_=hold(t.vllm_target_down_for),
            summary="vLLM target {{ $labels.namespace }}/{{ $labels.pod }} is down",
            description="Prometheus cannot scrape vLLM at {{ $labels.instance }} (job {{ $labels.job }}, "
            "pod {{ $labels.namespace }}/{{ $labels.pod }}): up = {{ $value }}"
            f"{held(t.vllm_target_down_for)}.",
            threshold="a target that served vLLM metrics within the last hour fails its scrape, or the inferwatch "
            f"sidecar passing them through cannot reach vLLM{held(t.vllm_target_down_for)}",
            meaning="The vLLM server stopped answering /metrics: it crashed, hangs, or is restarting (a model "
            "load takes minutes). Its users likely get errors too.",
            checks=(
                "`kubectl get pod -n <namespace> <pod>` and `kubectl logs --previous` for OOM or CUDA errors.",
                "The scrape error on Prometheus's /targets page.",
            ),
            actions=(
                "A crash loop on CUDA OOM: lower `--gpu-memory-utilization` or `max_model_len`.",
                "A hang: restart the pod and capture logs first.",
            ),
        ),
        AlertDefinition(
            name="GPUExporterDown",
            group=g,
            severity="ticket",
            expr=f"{c.GPU_EXPORTER_TARGET_UP} == 0",
            for_=hold(t.gpu_exporter_down_for),
            summary="GPU exporter {{ $labels.instance }} ({{ $labels.exporter }}) is down",
            description="Prometheus cannot scrape the {{ $labels.exporter }} GPU exporter at "
            "{{ $labels.instance }} (job {{ $labels.job }}, pod {{ $labels.namespace }}/{{ $labels.pod }}) "
            f"up = {{{{ $value }}}}{held(t.gpu_exporter_down_for)}.",
            threshold="a GPU exporter target (inferwatch or dcgm-exporter) fails its scrape"
            f"{held(t.gpu_exporter_down_for)}",
            meaning="GPU health, utilization and cost for the GPUs it covers are blind: GPU alerts cannot "
            "fire and the cost report undercounts.",
            checks=(
                "`kubectl get pods` of the exporter (DaemonSet or sidecar) and its logs.",
                "For the inferwatch exporter: its /readyz answer and the NVML error it logs at start-up.",
            ),
            actions=("Restart the exporter pod; fix its NVML access (device plugin, runtime class) if it fails.",),
        ),
        AlertDefinition(
            name="VLLMMetricsAbsent",
            group=g,
            severity="ticket",
            expr=f"absent({c.VLLM_REQUESTS_RUNNING})",
            for_=hold(t.metrics_absent_for),
            summary="No vLLM metrics reach Prometheus",
            description=f"No series of inferwatch:vllm_requests_running:sum exists{held(t.metrics_absent_for)}: "
            "no vLLM server is "
            "scraped, or its metrics lost their namespace/pod labels.",
            threshold=f"no normalized vLLM series at all{held(t.metrics_absent_for)}",
            meaning="Dashboards, SLOs and the vLLM alerts are blind.",
            checks=(
                "Prometheus /targets: is the ServiceMonitor/PodMonitor selecting the vLLM pods?",
                "Does `vllm:num_requests_running` exist raw? If so, check the relabeling that adds namespace/pod.",
            ),
            actions=("Fix the ServiceMonitor selector or relabeling; redeploy the chart with the right labels.",),
        ),
        AlertDefinition(
            name="GPUMetricsAbsent",
            group=g,
            severity="ticket",
            expr=f"absent({c.GPU_INFO})",
            for_=hold(t.metrics_absent_for),
            summary="No GPU metrics reach Prometheus",
            description=f"No series of inferwatch:gpu_info exists{held(t.metrics_absent_for)}: neither the "
            "inferwatch exporter nor "
            "dcgm-exporter is scraped.",
            threshold=f"no normalized GPU series at all{held(t.metrics_absent_for)}",
            meaning="GPU alerts cannot fire and cost per token has no GPU-hours.",
            checks=(
                "Prometheus /targets for the exporter job.",
                "Does the exporter serve `inferwatch_gpu_info` (or dcgm-exporter `DCGM_FI_DEV_GPU_UTIL` with a "
                "`UUID` label)?",
            ),
            actions=("Deploy the inferwatch DaemonSet or fix the dcgm-exporter ServiceMonitor.",),
        ),
    ]


def alert_definitions(thresholds: Thresholds) -> list[AlertDefinition]:
    """Every alert of inferwatch, with thresholds from the configuration (pure)."""
    return _vllm_alerts(thresholds) + _gpu_alerts(thresholds) + _target_alerts(thresholds)


def alert_groups(thresholds: Thresholds, runbook_base_url: str) -> tuple[RuleGroup, ...]:
    """The alert set as rule groups, in definition order."""
    groups: dict[str, list[AlertingRule]] = {}
    for d in alert_definitions(thresholds):
        groups.setdefault(d.group, []).append(d.to_rule(runbook_base_url))
    return tuple(RuleGroup(name, tuple(rules)) for name, rules in groups.items())
