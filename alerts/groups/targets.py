"""The scrape alerts: a vLLM or GPU-exporter target down, or no vLLM or GPU series at all.

Hold durations come from the `thresholds:` section of the configuration (vllm_target_down_for,
gpu_exporter_down_for, metrics_absent_for); the runbook prose of each alert is
alerts/templates/<AlertName>.md.j2.
"""

from __future__ import annotations

from inferwatch.alerts.definition import ALERT_GROUP_PREFIX, AlertDefinition, AlertGroup, held, hold
from inferwatch.config.thresholds import Thresholds
from inferwatch.conventions import normalized as c


def target_alerts(t: Thresholds) -> list[AlertDefinition]:
    """The scrape and absence alerts, with the configured hold durations."""
    return [
        AlertDefinition(
            name="VLLMTargetDown",
            severity="page",
            expr=f"{c.VLLM_TARGET_UP} == 0",
            for_=hold(t.vllm_target_down_for),
            summary="vLLM target {{ $labels.namespace }}/{{ $labels.pod }} is down",
            description="Prometheus cannot scrape vLLM at {{ $labels.instance }} (job {{ $labels.job }}, "
            "pod {{ $labels.namespace }}/{{ $labels.pod }}): up = {{ $value }}"
            f"{held(t.vllm_target_down_for)}.",
            threshold="a target that served vLLM metrics within the last hour fails its scrape, or the inferwatch "
            f"sidecar passing them through cannot reach vLLM{held(t.vllm_target_down_for)}",
        ),
        AlertDefinition(
            name="GPUExporterDown",
            severity="ticket",
            expr=f"{c.GPU_EXPORTER_TARGET_UP} == 0",
            for_=hold(t.gpu_exporter_down_for),
            summary="GPU exporter {{ $labels.instance }} ({{ $labels.exporter }}) is down",
            description="Prometheus cannot scrape the {{ $labels.exporter }} GPU exporter at "
            "{{ $labels.instance }} (job {{ $labels.job }}, pod {{ $labels.namespace }}/{{ $labels.pod }}) "
            f"up = {{{{ $value }}}}{held(t.gpu_exporter_down_for)}.",
            threshold="a GPU exporter target (inferwatch or dcgm-exporter) fails its scrape"
            f"{held(t.gpu_exporter_down_for)}",
        ),
        AlertDefinition(
            name="VLLMMetricsAbsent",
            severity="ticket",
            expr=f"absent({c.VLLM_REQUESTS_RUNNING})",
            for_=hold(t.metrics_absent_for),
            summary="No vLLM metrics reach Prometheus",
            description=f"No series of inferwatch:vllm_requests_running:sum exists{held(t.metrics_absent_for)}: "
            "no vLLM server is "
            "scraped, or its metrics lost their namespace/pod labels.",
            threshold=f"no normalized vLLM series at all{held(t.metrics_absent_for)}",
        ),
        AlertDefinition(
            name="GPUMetricsAbsent",
            severity="ticket",
            expr=f"absent({c.GPU_INFO})",
            for_=hold(t.metrics_absent_for),
            summary="No GPU metrics reach Prometheus",
            description=f"No series of inferwatch:gpu_info exists{held(t.metrics_absent_for)}: neither the "
            "inferwatch exporter nor "
            "dcgm-exporter is scraped.",
            threshold=f"no normalized GPU series at all{held(t.metrics_absent_for)}",
        ),
    ]


GROUP = AlertGroup(f"{ALERT_GROUP_PREFIX}-targets", target_alerts)
