"""PromQL helpers: label-value escaping, matcher rendering and number formatting, so no user value
reaches a query raw and every number is spelled one way."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


# Characters a PromQL string may not hold raw, or that YAML and `str.splitlines()` treat as line
# breaks (\r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029): each is written as a Go escape, which
# Prometheus (2 and 3) and VictoriaMetrics unquote back to the same character.
_NAMED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\f": "\\f"}


def _escape_char(ch: str) -> str:
    named = _NAMED_ESCAPES.get(ch)
    if named is not None:
        return named
    if ch.isprintable() or ch == " ":
        return ch
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_label_value(value: str) -> str:
    """Escape a string for use inside a double-quoted PromQL label value.

    Backslash and double quote are escaped, and so is every character that is not printable
    (control characters, line and paragraph separators), so the query is one line of printable
    text that survives YAML and any line splitting unchanged.
    """
    return "".join(_escape_char(ch) for ch in value)


def escape_regex_value(value: str) -> str:
    """An RE2 pattern (not yet PromQL-escaped) that matches ``value`` literally.

    Like `le_regex`, the result goes into the ``regex`` argument of `matchers`/`selector`,
    which escape it once for the PromQL string; escaping here too would make every
    metacharacter match a backslash.
    """
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", value)


def check_label_name(name: str) -> str:
    """Return ``name`` if it is a valid Prometheus label name, else raise ValueError."""
    if not _LABEL_NAME.match(name) or name.startswith("__"):
        raise ValueError(f"invalid Prometheus label name {name!r}")
    return name


def check_metric_name(name: str) -> str:
    """Return ``name`` if it is a valid Prometheus metric name, else raise ValueError."""
    if not _METRIC_NAME.match(name):
        raise ValueError(f"invalid Prometheus metric name {name!r}")
    return name


def matchers(labels: Mapping[str, str], regex: Mapping[str, str] | None = None) -> str:
    """Render ``{a="x",b=~"y"}`` (or an empty string) with every value escaped.

    ``labels`` become equality matchers; ``regex`` values are used as given (already RE2).
    """
    parts = [f'{check_label_name(k)}="{escape_label_value(v)}"' for k, v in sorted(labels.items())]
    parts += [f'{check_label_name(k)}=~"{escape_label_value(v)}"' for k, v in sorted((regex or {}).items())]
    return "{" + ",".join(parts) + "}" if parts else ""


def selector(metric: str, labels: Mapping[str, str] | None = None, regex: Mapping[str, str] | None = None) -> str:
    """Render a vector selector ``metric{...}`` with escaped label values."""
    return check_metric_name(metric) + matchers(labels or {}, regex)


def by(labels: Iterable[str]) -> str:
    """Render a ``by (a, b)`` clause from label names (validated), or ``""`` for none."""
    names = [check_label_name(x) for x in labels]
    return f"by ({', '.join(names)})" if names else ""


def le_regex(boundary: float) -> str:
    """An RE2 pattern (not yet PromQL-escaped) matching ``le`` of ``boundary`` as Prometheus 2 *and* 3 store it.

    vLLM (Python) emits ``le="2.0"``, Go clients emit ``le="2"``; Prometheus 3 normalizes
    classic-histogram ``le`` values to float form on ingestion, Prometheus 2 keeps them as
    scraped. Matching all spellings makes one rule work everywhere.
    """
    if boundary == float("inf"):
        return r"\+Inf"
    text = repr(float(boundary))  # e.g. "2.0", "0.25", "1e-05"
    forms = {text}
    if text.endswith(".0"):
        forms.add(text[:-2])
    if "e" in text:
        forms.add(f"{boundary:.12f}".rstrip("0").rstrip("."))
    return "|".join(sorted(re.escape(f) for f in forms))


# Significant digits of a number written into a rule, a query or a threshold: enough for any
# configured value, few enough that float noise (1 - 0.995 = 0.0050000000000000044) reads 0.005.
SIGNIFICANT_DIGITS = 12


def format_number(value: float, significant: int | None = SIGNIFICANT_DIGITS) -> str:
    """``value`` as PromQL, OpenMetrics and people read it: 2.0 -> "2", 0.95 -> "0.95", inf -> "+Inf".

    Rounded to ``significant`` digits (Python's ``g`` format), or, with ``significant=None``, the
    shortest text that reads back as exactly ``value`` (for sample values, which must not lose
    precision). Non-finite values are spelled as Prometheus does: ``+Inf``, ``-Inf``, ``NaN``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if significant is None:
        text = repr(float(value))
        return text.removesuffix(".0")
    return f"{value:.{significant}g}"
