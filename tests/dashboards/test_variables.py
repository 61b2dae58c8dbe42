"""Grafana's variable substitution as the preview and the validator do it."""

from __future__ import annotations

import pytest

from inferwatch.dashboards.preview import format_legend
from inferwatch.dashboards.variables import duration, intervals, label_values_query, regex_of, substitute


def test_rate_interval_is_grafanas_formula() -> None:
    # 1 h over 1200 points at a 15 s scrape interval: $__interval 15 s, $__rate_interval 60 s (4 x scrape).
    iv = intervals(3600, 1200, 15)
    assert (iv.interval_s, iv.rate_interval_s) == (15, 60)
    # 7 d over 1200 points: $__interval 504 s, $__rate_interval = interval + scrape.
    iv = intervals(7 * 86400, 1200, 15)
    assert (iv.interval_s, iv.rate_interval_s) == (504, 519)
    expr = "rate(x[$__rate_interval]) + y[$__interval] + sum_over_time(z[$__range]) + ${__range_s}"
    assert substitute(expr, {}, intervals(3600, 1200, 15)) == "rate(x[1m]) + y[15s] + sum_over_time(z[1h]) + 3600"


def test_multi_value_selection_is_an_escaped_alternation() -> None:
    assert regex_of(["team-a"]) == "team-a"
    assert regex_of(["team-a", "team-b"]) == "(team-a|team-b)"
    # A hostile value stays a literal inside a double-quoted =~ matcher.
    assert regex_of(['a"b', "c.d|e"]) == '(a\\"b|c\\\\.d\\\\|e)'
    iv = intervals(3600, 1200, 15)
    out = substitute('up{namespace=~"$namespace",pod=~"${pod}"}', {"namespace": "(a|b)", "pod": ".*"}, iv)
    assert out == 'up{namespace=~"(a|b)",pod=~".*"}'


def test_unknown_variable_is_named() -> None:
    with pytest.raises(KeyError, match="cluster"):
        substitute('up{cluster=~"$cluster"}', {}, intervals(60, 100, 15))


def test_label_replace_groups_are_not_variables() -> None:
    expr = 'label_replace(up, "x", "$1", "y", "(.+)")'
    assert substitute(expr, {}, intervals(60, 100, 15)) == expr


def test_label_values_and_durations() -> None:
    assert label_values_query('label_values(up{a=~"$b"}, pod)') == ('up{a=~"$b"}', "pod")
    with pytest.raises(ValueError, match="label_values"):
        label_values_query("query_result(up)")
    assert [duration(s) for s in (15, 60, 90, 3600, 86400, 0.2)] == ["15s", "1m", "90s", "1h", "1d", "1s"]


def test_legend_format_fills_labels() -> None:
    assert format_legend("{{namespace}}/{{ model_name }}", {"namespace": "a", "model_name": "m"}) == "a/m"
    assert format_legend("P95", {}) == "P95"
    assert format_legend("{{missing}}", {}) == "value"
