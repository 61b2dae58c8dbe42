"""The inferwatch exporter: NVML GPUs, the vLLM endpoint and kubelet pod attribution, served from memory."""
