"""Manifests of the vLLM/KServe workloads inferwatch observes, with its sidecar, and their autoscaling.

The area's generator is `inferwatch.workloads.generate.artifacts`; the package itself imports
nothing, so loading one module of it never loads the others.
"""
