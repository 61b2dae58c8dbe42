"""Manifests of the vLLM/KServe workloads inferwatch observes, with its sidecar, and their autoscaling."""

from inferwatch.workloads.generate import artifacts

__all__ = ["artifacts"]
