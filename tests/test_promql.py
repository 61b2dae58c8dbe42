"""PromQL helpers: escaping keeps user values from breaking or widening a query; numbers are spelled one way."""

from __future__ import annotations

import re

import pytest
import yaml

from inferwatch.promql import (
    by,
    escape_label_value,
    escape_regex_value,
    format_number,
    le_regex,
    matchers,
    selector,
)
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup, to_prometheus_yaml


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


LINE_BREAKERS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\t\x00"


def test_escape_label_value_leaves_no_line_break_or_control_character() -> None:
    """Every character YAML or str.splitlines() splits on becomes a Go escape: the value stays one printable line."""
    escaped = escape_label_value(f"a{LINE_BREAKERS}b")
    assert escaped.isprintable() and len(escaped.splitlines()) == 1
    assert escaped == "a\\r\\v\\f\\u001c\\u001d\\u001e\\u0085\\u2028\\u2029\\t\\u0000b"
    # printable non-ASCII text is kept as written
    assert escape_label_value("équipe-ü") == "équipe-ü"


def test_escape_regex_value_is_escaped_once() -> None:
    """A literal reason becomes an RE2 pattern matching only itself; PromQL quoting happens once, in matchers()."""
    for literal in ("err.*", "a|b", 'q"}\\', "error.oom"):
        pattern = escape_regex_value(literal)
        assert re.fullmatch(pattern, literal), literal
    assert matchers({}, {"r": escape_regex_value("error.oom")}) == '{r=~"error\\\\.oom"}'
    assert not re.fullmatch(escape_regex_value("err.*"), "errx")


@pytest.mark.parametrize("char", [*LINE_BREAKERS, LINE_BREAKERS])
def test_rule_yaml_reads_back_exactly(char: str) -> None:
    """The YAML writer never lets a reader turn a character of an expression into a line break."""
    expr = f'up{{a="x{char}y"}}\n  > 0'
    for text in (expr, expr.replace("\n", " ")):
        rule = RecordingRule("a:b:c", text)
        loaded = yaml.safe_load(to_prometheus_yaml(RuleFile((RuleGroup("g", (rule,)),))))
        assert loaded["groups"][0]["rules"][0]["expr"] == text.strip()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2"),
        (0.95, "0.95"),
        (1 - 0.995, "0.005"),  # float noise rounded away: 0.0050000000000000044
        (14.4, "14.4"),
        (1e-05, "1e-05"),
        (99.9, "99.9"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_format_number_spells_rule_and_threshold_numbers(value: float, text: str) -> None:
    assert format_number(value) == text


def test_format_number_exact_keeps_every_digit_of_a_sample() -> None:
    assert format_number(0.1 + 0.2, significant=None) == "0.30000000000000004"
    assert format_number(1234567890123.5, significant=None) == "1234567890123.5"
    assert format_number(3.0, significant=None) == "3"
    assert format_number(float("inf"), significant=None) == "+Inf"
    for value in (0.1 + 0.2, 1e-300, 123456789.123456789, -2.5):
        assert float(format_number(value, significant=None)) == value
