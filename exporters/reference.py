"""The exporter's series reference page (docs/exporter-series.md), generated from the contract.

`inferwatch build` writes it and `build --check` fails when it differs, so the table a reader
finds next to docs/exporter.md is always the list of series the exporter serves.
"""

from __future__ import annotations

from collections.abc import Iterable

from inferwatch import contract
from inferwatch.artifacts import Artifact, ArtifactKind, generated_header
from inferwatch.config import InferwatchConfig

SERIES_DOC_PATH = "docs/exporter-series.md"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def _labels(series: contract.Series) -> str:
    parts = []
    for label in series.labels:
        values = series.values.get(label)
        parts.append(f"`{label}`" + (f" ({', '.join(f'`{v}`' for v in values)})" if values else ""))
    return ", ".join(parts) or "—"


def _table(series: Iterable[contract.Series]) -> list[str]:
    lines = ["| series | kind | unit | labels | what |", "|---|---|---|---|---|"]
    for s in series:
        kind = "info (gauge, =1)" if s.kind is contract.Kind.INFO else s.kind.value
        lines.append(f"| `{s.name}` | {kind} | {s.unit.value or '—'} | {_labels(s)} | {_cell(s.help)} |")
    return lines


def render() -> str:
    """The page's Markdown (pure: a function of the contract only)."""
    first, second = generated_header(
        "exporter series reference", "inferwatch/contract.py", "inferwatch build", ""
    ).splitlines()
    header = f"<!--{first.rstrip()}\n    {second.rstrip()} -->\n"
    lines = [
        "# Exporter series",
        "",
        "Every `inferwatch_*` series `inferwatch exporter run` serves, from the contract module",
        "`inferwatch/contract.py` (the collectors, the normalization rules and the tests read the same",
        "module). Prose, modes and endpoints: [exporter.md](exporter.md). Base units; counters end in",
        "`_total`; a label with listed values takes only those.",
    ]
    for source in contract.Source:
        members = [s for s in contract.SERIES if s.source is source]
        if members:
            lines += ["", f"## {source.value[0].upper()}{source.value[1:]}", "", *_table(members)]
    prefixes = " and ".join(f"`{p}*`" for p in contract.ENGINE_PREFIXES)
    lines += [
        "",
        f"Besides these, a sidecar passes its engine's own {prefixes} families through (vLLM's old",
        "names translated to current ones, SGLang's as they come), and `process_*` describes the exporter",
        "process.",
    ]
    return header + "\n".join(lines) + "\n"


def artifacts(_: InferwatchConfig) -> list[Artifact]:
    """The generated series reference page."""
    return [Artifact(SERIES_DOC_PATH, render(), ArtifactKind.DOCUMENT)]
