"""The engine's exposition passed through by line: vLLM's text renamed and filtered without parsing it into objects.

prometheus_client's parser turns vLLM's ~250 KB answer into ~2,500 sample objects in 40-70 ms of
interpreter time, and rendering them back costs ~20 ms more; the sidecar re-exposes the same lines
with a few family names changed. `translate_text` reads the answer line by line instead, for the
answers it can prove it reads exactly as the parser would: every line a `# HELP`, a `# TYPE` of a
text-format type, a sample `name{label="value",...} value` without timestamp, or blank; no
backslash anywhere (so no escape to interpret). It groups lines into families by the parser's
own rules (`prometheus_client.parser.text_fd_to_metric_families`), then keeps, renames and drops
families as `inferwatch.exporters.vllm.translate_families` does. Whatever it cannot prove (a
repeated family, a duplicate series, a timestamp, an escape, another comment, a counter declared
without `_total`) returns None, and the scraper takes the full parse, which repairs and counts it.

The result is an `EngineExposition`: the families' sample lines as they came (values unformatted:
`5` stays `5` where the parse and render wrote `5.0`, the same number to Prometheus) under
headers in the text format and, on demand, in OpenMetrics. The background work steps aside for
scrapes every `LINES_PER_PIECE` lines (inferwatch.exporters.priority).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from inferwatch.exporters.priority import SCRAPES

LINES_PER_PIECE = 64

# Older family name -> current one (vLLM v1 renamed these; see docs/design.md, "One normalization layer").
RENAMED_FAMILIES: dict[str, str] = {
    "vllm:gpu_cache_usage_perc": "vllm:kv_cache_usage_perc",
    "vllm:gpu_prefix_cache_queries": "vllm:prefix_cache_queries",
    "vllm:gpu_prefix_cache_hits": "vllm:prefix_cache_hits",
    "vllm:time_per_output_token_seconds": "vllm:inter_token_latency_seconds",
}

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\n]*"'
_VALUE = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN"
_SAMPLE = re.compile(rf"({_NAME})(?:\{{({_LABEL}(?:,{_LABEL})*)\}})? (?:{_VALUE})")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\n]*)"')
_HELP = re.compile(rf"# HELP ({_NAME})(?: (\S(?:.*\S)?))?")
_TYPE = re.compile(rf"# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)")
# The sample names a declared family takes (the parser's `allowed_names`).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("",),
    "gauge": ("",),
    "summary": ("_count", "_sum", ""),
    "histogram": ("_count", "_sum", "_bucket"),
    "untyped": ("",),
}


class NeedsFullParse(Exception):
    """The answer holds something the line reader does not read exactly as the parser would."""


@dataclass
class _Family:
    """One family as the parser would build it: `name` is a counter's without `_total`."""

    name: str
    type: str  # the text format's: counter, gauge, histogram, summary, untyped
    help: str
    lines: list[str]


class _Reader:
    """The parser's state machine (text_fd_to_metric_families) over the strict subset of the format."""

    def __init__(self) -> None:
        self.families: list[_Family] = []
        self._names: set[str] = set()
        self._current: _Family | None = None
        self._declared = ""  # the name of the family being declared ("" after a stray sample)
        self._allowed: tuple[str, ...] = ()
        self._series: set[tuple[str, frozenset[tuple[str, str]]]] = set()

    def read(self, lines: Sequence[str]) -> None:
        for start in range(0, len(lines), LINES_PER_PIECE):
            for line in lines[start : start + LINES_PER_PIECE]:
                self._line(line)
            SCRAPES.step_aside()
        self._flush()
        self._series.clear()  # ~10,000 objects freed here, in a piece of their own, not at the caller's return
        SCRAPES.step_aside()

    def _line(self, line: str) -> None:
        if not line or line.isspace():
            return
        if line[0] == "#":
            self._comment(line)
            return
        sample = _SAMPLE.fullmatch(line)
        if sample is None:
            raise NeedsFullParse(line[:80])
        name, labels = sample.group(1, 2)
        pairs = frozenset(_PAIR.findall(labels)) if labels else frozenset()
        if labels and (len({k for k, _ in pairs}) != labels.count('="') or "__name__" in labels):
            raise NeedsFullParse("a label given twice, or __name__")  # the parser keeps the last, or refuses
        if self._current is None or name not in self._allowed:
            self._flush()  # the parser yields such a sample as an untyped family of its own
            self._declared, self._allowed = "", ()
            self._start(_Family(name, "untyped", "", []))
        key = (name, pairs)
        if key in self._series:
            raise NeedsFullParse("a series given twice")
        self._series.add(key)
        assert self._current is not None
        self._current.lines.append(line)

    def _comment(self, line: str) -> None:
        if help_ := _HELP.fullmatch(line):
            name, text = help_.group(1), help_.group(2) or ""
            if name != self._declared:
                self._flush()
                self._declared, self._allowed = name, (name,)
                self._start(_Family(name, "untyped", text, []))
            else:
                assert self._current is not None
                self._current.help = text
            return
        type_ = _TYPE.fullmatch(line)
        if type_ is None:
            raise NeedsFullParse(line[:80])  # another comment, an unknown type, a malformed header
        name, kind = type_.group(1, 2)
        if name != self._declared:
            self._flush()
            self._declared = name
            self._start(_Family(name, kind, "", []))
        else:
            assert self._current is not None
            self._current.type = kind
        self._allowed = tuple(name + suffix for suffix in _SUFFIXES[kind])

    def _start(self, family: _Family) -> None:
        self._current = family

    def _flush(self) -> None:
        family, self._current = self._current, None
        if family is None:
            return
        if family.type == "counter":
            if not family.name.endswith("_total"):
                raise NeedsFullParse("a counter declared without _total")  # the parser renames its samples
            family.name = family.name[: -len("_total")]
        if family.name in self._names:
            raise NeedsFullParse("a family given twice")  # repaired (merged) and counted by the full parse
        self._names.add(family.name)
        self.families.append(family)


def _translate(families: Iterable[_Family]) -> list[_Family]:
    """`vllm.translate_families` over line families: engine families only, old names renamed or dropped."""
    kept = [f for f in families if f.name.startswith(contract.ENGINE_PREFIXES)]
    present = {f.name for f in kept}
    out: list[_Family] = []
    for family in kept:
        current = RENAMED_FAMILIES.get(family.name)
        if current is not None:
            if current in present:
                continue  # vLLM (or the simulator) emits both: the current family wins
            old = family.name
            family = _Family(current, family.type, family.help, [current + line[len(old) :] for line in family.lines])
        out.append(family)
    return out


class EngineExposition:
    """The engine families a snapshot serves, in the text format and (rendered once asked) OpenMetrics.

    Made by `translate_text` (the sample lines as vLLM wrote them) or `of_families` (families the
    full parse repaired, rendered by prometheus_client). `families()` parses the text back into
    families for what needs objects (the OTLP push, the tests); the scrape path never does.
    """

    def __init__(
        self, text: bytes, *, line_families: Sequence[_Family] = (), families: Sequence[Metric] | None = None
    ) -> None:
        """Use `translate_text` or `of_families`."""
        self._text = text
        self._line_families = line_families
        self._families = tuple(families) if families is not None else None
        self._openmetrics: bytes | None = None
        self._lock = threading.Lock()

    @classmethod
    def of_families(cls, families: Sequence[Metric]) -> EngineExposition:
        """The exposition of already-translated families (the full parse's path)."""
        return cls(generate_latest(_InPieces(families)), families=families)

    @classmethod
    def of_lines(cls, families: Sequence[_Family]) -> EngineExposition:
        """The exposition of line families: text-format headers over the lines as they came."""
        return cls(_joined(families, openmetrics_format=False), line_families=families)

    def render(self, openmetrics_format: bool) -> bytes:
        """The families in the text format or OpenMetrics (without `# EOF`)."""
        if not openmetrics_format:
            return self._text
        with self._lock:
            if self._openmetrics is None:
                if self._families is not None:
                    self._openmetrics = openmetrics.generate_latest(  # type: ignore[no-untyped-call]
                        _InPieces(self._families), escaping=openmetrics.ALLOWUTF8
                    ).removesuffix(b"# EOF\n")
                else:
                    self._openmetrics = _joined(self._line_families, openmetrics_format=True)
            return self._openmetrics

    def families(self) -> tuple[Metric, ...]:
        """The families as prometheus_client objects (parsed from the text when made from lines)."""
        if self._families is not None:
            return self._families
        return tuple(text_string_to_metric_families(self._text.decode()))

    def __len__(self) -> int:
        """How many families."""
        return len(self._families) if self._families is not None else len(self._line_families)


EMPTY = EngineExposition(b"", families=())


def _block(family: _Family, *, openmetrics_format: bool) -> str:
    """One family's headers and sample lines, as prometheus_client renders a parsed family."""
    if openmetrics_format:
        # OpenMetrics names a counter without `_total`, says `unknown` and escapes quotes in HELP.
        kind = "unknown" if family.type == "untyped" else family.type
        help_ = family.help.replace('"', '\\"')
        header = f"# HELP {family.name} {help_}\n# TYPE {family.name} {kind}\n"
    else:
        name = family.name + "_total" if family.type == "counter" else family.name
        header = f"# HELP {name} {family.help}\n# TYPE {name} {family.type}\n"
    if not family.lines:
        return header
    return header + "\n".join(family.lines) + "\n"


def _joined(families: Sequence[_Family], *, openmetrics_format: bool) -> bytes:
    """The families' blocks as one exposition, stepping aside for scrapes between two."""
    blocks: list[str] = []
    for family in families:
        blocks.append(_block(family, openmetrics_format=openmetrics_format))
        SCRAPES.step_aside()
    return "".join(blocks).encode()


def translate_text(text: str) -> EngineExposition | None:
    """The engine families of `text` translated line by line, or None when it needs the full parse."""
    if "\\" in text:
        return None
    lines = text.split("\n")
    SCRAPES.step_aside()
    reader = _Reader()
    try:
        reader.read(lines)
    except NeedsFullParse:
        return None
    if not reader.families:
        return None  # the full parse says why (no families)
    families = _translate(reader.families)
    SCRAPES.step_aside()
    return EngineExposition.of_lines(families)


class _InPieces:
    """Families for prometheus_client's renderers, stepping aside for scrapes between two."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family
            SCRAPES.step_aside()
