"""The GPU alerts: memory, lost GPUs, Xid and ECC errors, throttling and stale NVML values, per GPU.

Thresholds and hold durations come from the `thresholds:` section of the configuration
(gpu_memory_*, gpu_lost_for, xid_for, application_xids, ecc_for, throttle_for,
gpu_sample_age_*); the runbook prose of each alert is alerts/templates/<AlertName>.md.j2.
"""

from __future__ import annotations

from inferwatch.alerts.definition import ALERT_GROUP_PREFIX, AlertDefinition, AlertGroup, held, hold, num, pct
from inferwatch.config.thresholds import Thresholds
from inferwatch.conventions import normalized as c

# Where a GPU alert is: the labels every description names.
_GPU_WHERE = "GPU {{ $labels.gpu_uuid }} ({{ $labels.gpu_model }})"


def _with_model(expr: str) -> str:
    """Attach `gpu_model` to a per-GPU expression, so the alert says which kind of GPU it is."""
    return f"{expr}\n* on ({c.GPU_UUID}) group_left ({c.GPU_MODEL}) {c.GPU_INFO}"


def gpu_alerts(t: Thresholds) -> list[AlertDefinition]:
    """The GPU alerts, with the configured thresholds (application Xids excluded)."""
    excluded = "|".join(str(x) for x in t.application_xids)
    xid_matcher = f'{{xid!~"{excluded}"}}' if excluded else ""
    return [
        AlertDefinition(
            name="GPUMemoryNearlyFull",
            severity="ticket",
            expr=_with_model(
                f"({c.GPU_MEMORY_USED} / {c.GPU_MEMORY_TOTAL} > {num(t.gpu_memory_used_ratio)})",
            ),
            for_=hold(t.gpu_memory_for),
            summary="GPU {{ $labels.gpu_uuid }} memory is above " + pct(t.gpu_memory_used_ratio),
            description=f"{_GPU_WHERE} has {{{{ $value | humanizePercentage }}}} of its memory in use "
            f"(threshold {pct(t.gpu_memory_used_ratio)}{held(t.gpu_memory_for)}).",
            threshold=f"GPU memory used / total above {pct(t.gpu_memory_used_ratio)}{held(t.gpu_memory_for)}",
        ),
        AlertDefinition(
            name="GPULost",
            severity="page",
            expr=f"{c.GPU_UP} == 0",
            for_=hold(t.gpu_lost_for),
            summary="GPU {{ $labels.gpu_uuid }} is lost",
            description="NVML reports GPU {{ $labels.gpu_uuid }} lost or fallen off the bus "
            "(inferwatch:gpu_up = {{ $value }}).",
            threshold=f"the exporter reports the GPU down (NVML: GPU lost){held(t.gpu_lost_for)}",
        ),
        AlertDefinition(
            name="GPUCriticalXid",
            severity="page",
            expr=_with_model(f"({c.GPU_XID_ERRORS_INCREASE}{xid_matcher} > 0)"),
            for_=hold(t.xid_for),
            summary="GPU {{ $labels.gpu_uuid }} reported Xid {{ $labels.xid }}",
            description=f"{_GPU_WHERE} reported Xid {{{{ $labels.xid }}}} {{{{ $value | humanize }}}} time(s) "
            f"in the last 5 minutes (application Xids {', '.join(map(str, t.application_xids)) or 'none'} "
            "are not alerted).",
            threshold="any Xid error not in the application list "
            f"({', '.join(map(str, t.application_xids)) or 'none'}) within 5 minutes{held(t.xid_for)}",
        ),
        AlertDefinition(
            name="GPUUncorrectableECCErrors",
            severity="page",
            expr=_with_model(f"({c.GPU_ECC_UNCORRECTED_INCREASE} > 0)"),
            for_=hold(t.ecc_for),
            summary="GPU {{ $labels.gpu_uuid }} has uncorrectable ECC errors",
            description=f"{_GPU_WHERE} reported {{{{ $value | humanize }}}} uncorrectable ECC error(s) in the "
            "last 5 minutes.",
            threshold=f"any uncorrectable (double-bit) ECC error within 5 minutes{held(t.ecc_for)}",
        ),
        AlertDefinition(
            name="GPUThrottlingSustained",
            severity="ticket",
            expr=_with_model(f"({c.GPU_THROTTLE} == 1)"),
            for_=hold(t.throttle_for),
            summary="GPU {{ $labels.gpu_uuid }} is {{ $labels.cause }}-throttled",
            description=f"{_GPU_WHERE} has held its clocks down for {{{{ $labels.cause }}}} reasons"
            f"{held(t.throttle_for)}.",
            threshold=f"thermal or power throttling active{held(t.throttle_for)}",
        ),
        AlertDefinition(
            name="GPUMetricsStale",
            severity="ticket",
            # A lost GPU's values age too; GPULost pages for it, so only GPUs still up are judged here.
            expr=_with_model(
                f"(({c.GPU_SAMPLE_AGE} > {num(t.gpu_sample_age_seconds)}) and on ({c.GPU_UUID}) ({c.GPU_UP} == 1))"
            ),
            for_=hold(t.gpu_sample_age_for),
            summary="GPU {{ $labels.gpu_uuid }} metrics are stale: NVML has not answered for over "
            f"{num(t.gpu_sample_age_seconds)}s",
            description=f"{_GPU_WHERE} serves values last read from NVML {{{{ $value | humanizeDuration }}}} ago "
            f"(threshold {num(t.gpu_sample_age_seconds)}s{held(t.gpu_sample_age_for)}), while it still reports up.",
            threshold=f"sample age (seconds since NVML last answered) above {num(t.gpu_sample_age_seconds)} s "
            f"while the GPU reports up{held(t.gpu_sample_age_for)}",
        ),
    ]


GROUP = AlertGroup(f"{ALERT_GROUP_PREFIX}-gpu", gpu_alerts)
