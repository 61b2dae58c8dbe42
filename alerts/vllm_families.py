"""Which metric families the installed vLLM declares that the normalization layer does not read.

vLLM adds families every release (`num_requests_waiting_by_reason`, `admission_rejections`, …);
the normalization rules pass unknown ones through untouched, but a dashboard or alert can only
use what they record. `inferwatch rules vllm-coverage` lists the gap for the vLLM installed with
the `vllm` extra. vLLM's source is read, not imported: importing it loads torch and CUDA.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.errors import ToolMissingError

_VLLM_NAME = re.compile(r"^vllm:[a-zA-Z_][a-zA-Z0-9_:]*$")
_IN_PROMQL = re.compile(r"vllm:[a-zA-Z_][a-zA-Z0-9_:]*")
# Suffixes the exposition adds to a family's name (counter, histogram and summary samples).
_SAMPLE_SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum")


def family(name: str) -> str:
    """The metric family of a sample or declared name: `vllm:num_preemptions_total` -> `vllm:num_preemptions`."""
    for suffix in _SAMPLE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def vllm_source_dir() -> Path:
    """The installed vLLM package's folder (found without importing it); ToolMissingError when absent."""
    spec = importlib.util.find_spec("vllm")
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissingError("vLLM is not installed: pip install -c constraints.txt -e '.[vllm]'")
    return Path(next(iter(spec.submodule_search_locations)))


def declared_families(source: Path) -> set[str]:
    """Every `vllm:*` metric family named by a string literal in the package's Python files."""
    found: set[str] = set()
    for path in sorted(source.rglob("*.py")):
        text = path.read_text(errors="replace")
        if "vllm:" not in text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _VLLM_NAME.match(node.value):
                found.add(family(node.value))
    return found


def normalized_families(exprs: Iterable[str] | None = None) -> set[str]:
    """The `vllm:*` families the normalization rules read."""
    if exprs is None:
        exprs = (r.expr for g in normalization_groups() for r in g.rules)
    return {family(name) for expr in exprs for name in _IN_PROMQL.findall(expr)}


def unknown_families(source: Path) -> list[str]:
    """Families the vLLM under ``source`` declares that normalization does not read, sorted."""
    return sorted(declared_families(source) - normalized_families())
