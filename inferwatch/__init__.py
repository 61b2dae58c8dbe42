"""inferwatch: observability and SLOs for self-hosted vLLM inference on Kubernetes."""

__version__ = "0.1.0"

__all__ = ["__version__"]
