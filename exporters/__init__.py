"""The inferwatch exporter: NVML GPUs, the vLLM endpoint and kubelet pod attribution, served from memory.

Each source is a background sampler writing an immutable snapshot plus a prometheus_client
collector reading it, one module each (`gpu`, `vllm`, `attribution`, `podresources`, `otlp`);
`inferwatch.exporters.run.build_app` assembles them into the Starlette app of `inferwatch exporter
run`. The package itself imports nothing: a sidecar never reads the kubelet, so it never loads
the pod-resources module and gRPC (about 20 MB of a process's memory).
"""
