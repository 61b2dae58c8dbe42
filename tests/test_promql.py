"""PromQL helpers: escaping keeps user values from breaking or widening a query."""

from __future__ import annotations

import re

import pytest

from inferwatch.promql import by, escape_label_value, le_regex, matchers, selector


def test_escape_label_value() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_selector_escapes_and_sorts() -> None:
    assert selector("vllm:num_requests_running", {"namespace": 'te"am', "model_name": "m"}) == (
        'vllm:num_requests_running{model_name="m",namespace="te\\"am"}'
    )


def test_rejects_invalid_label_and_metric_names() -> None:
    with pytest.raises(ValueError, match="label name"):
        matchers({"bad-name": "x"})
    with pytest.raises(ValueError, match="metric name"):
        selector("bad metric")
    with pytest.raises(ValueError):
        by(["__name__"])


@pytest.mark.parametrize(
    ("boundary", "spellings"),
    [(2.0, ["2", "2.0"]), (0.25, ["0.25"]), (1e-05, ["1e-05", "0.00001"]), (float("inf"), ["+Inf"])],
)
def test_le_regex_matches_prometheus_2_and_3_spellings(boundary: float, spellings: list[str]) -> None:
    pattern = re.compile(f"^(?:{le_regex(boundary)})$")
    for s in spellings:
        assert pattern.match(s), (boundary, s)
    assert not pattern.match("20")
    assert not pattern.match("2.05")
