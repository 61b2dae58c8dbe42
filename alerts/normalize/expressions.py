"""PromQL building blocks every source of the normalization layer shares: `or` chains, rates and `le`.

A normalized series is recorded from several raw sources (two vLLM generations, SGLang, three
router generations, two GPU exporters); these helpers spell the ways they are combined once.
"""

from __future__ import annotations

from inferwatch.conventions import normalized as c

W = c.RATE_WINDOW
# Targets that served engine (or exporter) metrics within this window count as such targets
# even while they are down and serve nothing.
TARGET_MEMORY = "1h"


def first_of(parts: list[str]) -> str:
    """`A or B or …`: the first source present for a label set wins, later ones fill gaps."""
    return "\nor\n".join(parts)


def first_on(on: str, parts: list[str]) -> str:
    """`A or on (…) B or on (…) C`: B counts only where no A series shares the `on` labels.

    A router target that serves two generations of names keeps only the newer one, whatever
    labels each generation carries (the older lacks `fairness_id`, so a plain `or` would keep both).
    """
    return f"\nor on ({on})\n".join(parts)


def rate(series: str, selector: str = "") -> str:
    """`rate(series{selector}[5m])`."""
    return f"rate({series}{{{selector}}}[{W}])" if selector else f"rate({series}[{W}])"


# `le` values a Go client writes for integer boundaries ("2" where Python writes "2.0").
INTEGER_LE = "[0-9]+"


def float_le(expr: str) -> str:
    """``expr`` with integer `le` values spelled the float way.

    Go clients write le="2", Python ones le="2.0"; Prometheus 3 stores both as "2.0", Prometheus 2
    as scraped. Spelling integers the float way gives one form on both.
    """
    return f'label_replace({expr}, "{c.LE}", "$1.0", "{c.LE}", "({INTEGER_LE})")'


def float_le_buckets(series: str, *matchers: str, rated: bool = True) -> str:
    """``series{matchers}`` (its 5-minute rate when ``rated``) with integer `le` values spelled the float way.

    Only the integer-spelled series go through `label_replace`: on Prometheus 3, which stores every
    `le` in float form, and for Python clients (vLLM) that selection is empty, so no raw bucket
    series is relabelled. Where one target switched spellings within the window (a Go engine
    replaced by vLLM in a StatefulSet pod on Prometheus 2), both its series would carry one label
    set after the relabelling — an evaluation error for the whole rule, which `or` avoids by
    keeping the float-spelled (newer) series.
    """

    def select(le: str) -> str:
        inner = ", ".join(m for m in (*matchers, le) if m)
        raw = f"{series}{{{inner}}}"
        return f"rate({raw}[{W}])" if rated else raw

    floats = select(f'{c.LE}!~"{INTEGER_LE}"')
    integers = select(f'{c.LE}=~"{INTEGER_LE}"')
    return f"{floats} or {float_le(integers)}"


def labelled(expr: str, label: str, value: str) -> str:
    """``expr`` with ``label`` set to ``value`` on every series."""
    return f'label_replace({expr}, "{label}", "{value}", "", "")'
