"""SLO specs: validation errors name file, SLO and field; warnings come apart from errors; OpenSLO subset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.config.yamlfile import MAX_CONFIG_BYTES, MAX_NESTING
from inferwatch.errors import ConfigError
from inferwatch.slo.loader import load_slo_files
from inferwatch.slo.model import AvailabilitySLI, LatencySLI

TTFT = {"name": "chat-ttft", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 2.5}}


def _write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _problems(paths: list[Path]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_slo_files(paths)
    return [str(p) for p in err.value.problems]


def test_valid_spec_compiles_with_defaults(tmp_path: Path) -> None:
    """Objective becomes a ratio, window defaults to 30d, availability errors default to finished_reason=error."""
    f = _write(
        tmp_path / "s.yaml", {"slos": [TTFT, {"name": "avail", "objective": 99.9, "sli": {"kind": "availability"}}]}
    )
    slos, warnings = load_slo_files([f])
    assert warnings == []
    assert slos[0].objective == 0.995 and slos[0].window == "30d"
    assert slos[0].sli == LatencySLI("ttft", 2.5)
    assert slos[1].sli == AvailabilitySLI(("error",), True)
    assert slos[1].error_budget == 0.001


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"objective": 100}, "objective", "less than or equal to 99.9999"),
        ({"objective": 0}, "objective", "greater than 0"),
        ({"window": "14d"}, "window", "30d"),
        ({"sli": {"kind": "ttft"}}, "sli", "threshold_seconds is required"),
        ({"sli": {"kind": "latency", "threshold_seconds": 1}}, "sli.kind", "ttft"),
        ({"group_by": ["pod"]}, "group_by.0", "namespace"),
        ({"thresold": 1}, "thresold", "Extra inputs"),
    ],
)
def test_errors_name_file_slo_and_field(tmp_path: Path, change: dict[str, Any], field: str, text: str) -> None:
    """Every problem reads `<file>: SLO '<name>': <field>: <message>`."""
    f = _write(tmp_path / "s.yaml", {"slos": [TTFT | change]})
    problems = _problems([f])
    assert len(problems) == 1
    assert problems[0].startswith(f"{f}: SLO 'chat-ttft': {field}: "), problems
    assert text in problems[0]


def test_a_file_holding_one_slo(tmp_path: Path) -> None:
    """A file may hold a single SLO mapping instead of a `slos:` list."""
    slos, _ = load_slo_files([_write(tmp_path / "one.yaml", TTFT)])
    assert [s.name for s in slos] == ["chat-ttft"]


def test_names_unique_across_files(tmp_path: Path) -> None:
    """The same name in two files is an error naming both files."""
    a = _write(tmp_path / "a.yaml", [TTFT])
    b = _write(tmp_path / "b.yaml", {"slos": [TTFT]})
    (problem,) = _problems([a, b])
    assert problem.startswith(f"{b}: SLO 'chat-ttft': name") and str(a) in problem


def test_ratio_objective_is_a_warning_not_an_error(tmp_path: Path) -> None:
    """0.995 is valid (0 < x < 100) but almost surely meant 99.5: a warning says so."""
    f = _write(tmp_path / "s.yaml", {"slos": [TTFT | {"objective": 0.995}]})
    slos, warnings = load_slo_files([f])
    assert len(slos) == 1
    assert [w.field for w in warnings] == ["objective"]
    assert "did you mean 99.5" in str(warnings[0]) and str(f) in str(warnings[0])


def test_slo_check_cli_exit_2_writes_nothing(tmp_path: Path) -> None:
    """`slo check`: a threshold off vLLM's buckets and a bad objective, both reported, exit 2, no file written."""
    f = _write(
        tmp_path / "s.yaml",
        {"slos": [TTFT | {"sli": {"kind": "ttft", "threshold_seconds": 2.0}}, TTFT | {"name": "x", "objective": 120}]},
    )
    before = sorted(tmp_path.iterdir())
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2
    assert "SLO 'x': objective" in res.output
    assert sorted(tmp_path.iterdir()) == before
    # fix the objective: the bucket problem (2.0 is not a vLLM TTFT boundary) remains
    _write(f, {"slos": [TTFT | {"sli": {"kind": "ttft", "threshold_seconds": 2.0}}]})
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2
    assert "SLO 'chat-ttft': sli.threshold_seconds: 2 is not a bucket boundary" in res.output
    _write(f, {"slos": [TTFT]})
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 0, res.output


OPENSLO_REF = """
apiVersion: openslo/v1
kind: SLI
metadata: {name: ttft-under-2-5s}
spec:
  ratioMetric:
    counter: true
    good: {metricSource: {type: inferwatch, spec: {kind: ttft, threshold_seconds: 2.5}}}
    total: {metricSource: {type: inferwatch, spec: {kind: ttft}}}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: chat-ttft
  annotations: {inferwatch.io/group-by: "namespace, model_name"}
spec:
  service: chat
  indicatorRef: ttft-under-2-5s
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{displayName: fast first token, target: 0.99}]
"""

OPENSLO_INLINE = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: chat-availability}
spec:
  service: chat
  indicator:
    metadata: {name: availability}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: inferwatch, spec: {kind: availability}}}
        total: {metricSource: {type: inferwatch, spec: {kind: availability}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{targetPercent: 99.9}]
"""


def test_openslo_referenced_and_inline_sli(tmp_path: Path) -> None:
    """An SLO with indicatorRef and one with an inline indicator both map."""
    ref = _write(tmp_path / "ref.yaml", OPENSLO_REF)
    inline = _write(tmp_path / "inline.yaml", OPENSLO_INLINE)
    slos, warnings = load_slo_files([ref, inline])
    assert warnings == []
    ttft, avail = slos
    assert (ttft.name, ttft.objective, ttft.window, ttft.group_by) == (
        "chat-ttft",
        0.99,
        "28d",
        ("namespace", "model_name"),
    )
    assert ttft.sli == LatencySLI("ttft", 2.5)
    assert (avail.objective, avail.window) == (0.999, "7d")
    assert isinstance(avail.sli, AvailabilitySLI)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("budgetingMethod: Occurrences", "budgetingMethod: Timeslices", "SLO 'chat-ttft'.spec.budgetingMethod"),
        ("isRolling: true", "isRolling: false", "SLO 'chat-ttft'.spec.timeWindow[0].isRolling"),
        ("duration: 28d", "duration: 90d", "SLO 'chat-ttft'.spec.timeWindow[0].duration"),
        ("type: inferwatch, spec: {kind: ttft, threshold", "type: Prometheus, spec: {kind: ttft, threshold",
         "SLI 'ttft-under-2-5s'.spec.ratioMetric.good.metricSource.type"),
        ("counter: true", "counter: false", "SLI 'ttft-under-2-5s'.spec.ratioMetric.counter"),
        ("indicatorRef: ttft-under-2-5s", "indicatorRef: nope", "SLO 'chat-ttft'.spec.indicatorRef"),
        ("  service: chat\n", "  service: chat\n  alertPolicies: [fast]\n", "SLO 'chat-ttft'.spec.alertPolicies"),
        ("target: 0.99", "target: lots", "SLO 'chat-ttft'.spec.objectives[0].target"),
        ("target: 0.99", "targetPercent: [99]", "SLO 'chat-ttft'.spec.objectives[0].targetPercent"),
        ("target: 0.99", "target: .inf", "SLO 'chat-ttft'.spec.objectives[0].target"),
        ('annotations: {inferwatch.io/group-by: "namespace, model_name"}', "annotations: [a, b]",
         "SLO 'chat-ttft'.metadata.annotations"),
        ('"namespace, model_name"', "[namespace]", "SLO 'chat-ttft'.metadata.annotations.inferwatch.io/group-by"),
    ],
)  # fmt: skip
def test_openslo_unsupported_is_rejected_naming_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    """What does not map is an error naming the OpenSLO field, never silently dropped."""
    assert old in OPENSLO_REF
    f = _write(tmp_path / "o.yaml", OPENSLO_REF.replace(old, new, 1))
    problems = _problems([f])
    assert any(p.startswith(f"{f}: {field}") for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("kind: SLO", "kind: *big", "SLO 'chat-ttft'.kind"),
        ("indicatorRef: ttft-under-2-5s", "indicatorRef: *big", "SLO 'chat-ttft'.spec.indicatorRef"),
        ("  name: chat-ttft", "  name: *big", "document 1.metadata.name"),
    ],
)
def test_a_large_aliased_value_is_named_in_a_short_message(tmp_path: Path, old: str, new: str, field: str) -> None:
    """A value built from aliases (under the expansion bound) is quoted cut short, not as 400 KB of repr."""
    tree = ["big0: &big0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    tree += [f"big{i}: &big{i} [{', '.join([f'*big{i - 1}'] * 9)}]" for i in range(1, 4)]
    sli, slo = OPENSLO_REF.split("---\n")
    slo = slo.replace("apiVersion: openslo/v1\n", "apiVersion: openslo/v1\nx-tree:\n  " + "\n  ".join(tree) + "\n")
    f = _write(tmp_path / "o.yaml", sli + "---\n" + slo.replace(old, new.replace("*big", "*big3"), 1))
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}: {field}" in res.stderr, res.stderr[:1000]
    assert max(len(line) for line in res.stderr.splitlines()) < 400, res.stderr[:1000]


ALIAS_BOMB = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
apiVersion: openslo/v1
kind: SLO
metadata: {name: *h}
"""


def test_yaml_alias_bomb_is_refused_with_exit_2(tmp_path: Path) -> None:
    """A few hundred bytes of nested aliases are refused before anything expands them: exit 2 naming the file."""
    f = _write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert str(f) in res.output and "aliases" in res.output


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    """Ordinary anchors (one spec reused) still load."""
    text = "slos:\n- &base {name: a, objective: 99.5, sli: {kind: ttft, threshold_seconds: 2.5}}\n"
    text += "- {<<: *base, name: b}\n"
    slos, _ = load_slo_files([_write(tmp_path / "s.yaml", text)])
    assert [s.name for s in slos] == ["a", "b"]


def test_duplicate_key_is_refused_naming_line_and_column(tmp_path: Path) -> None:
    """YAML keys are unique: a second `budgetingMethod` silently winning over the first is exit 2 instead."""
    text = OPENSLO_REF.replace(
        "  budgetingMethod: Occurrences\n", "  budgetingMethod: Timeslices\n  budgetingMethod: Occurrences\n"
    )
    f = _write(tmp_path / "dup.yaml", text)
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}: not valid YAML" in res.stderr and "duplicate key 'budgetingMethod'" in res.stderr, res.stderr


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    """Megabytes of YAML (a list of millions of numbers) would take PyYAML minutes and gigabytes: exit 2 at once."""
    f = tmp_path / "big.yaml"
    with f.open("w") as out:
        out.write("slos: [" + "1," * MAX_CONFIG_BYTES + "1]\n")
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}: larger than {MAX_CONFIG_BYTES} bytes" in res.stderr


def test_non_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    head = b"slos:\n- {name: caf"
    f.write_bytes(head + b"\xe9, objective: 99, sli: {kind: availability}}\n")
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}: not UTF-8: byte offset {len(head)} (0xe9)" in res.stderr


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 5000])
def test_deep_nesting_is_refused_with_exit_2(tmp_path: Path, depth: int) -> None:
    """PyYAML composes by recursion: thousands of nested brackets are refused before that (no RecursionError)."""
    f = _write(tmp_path / "deep.yaml", "slos: " + "[" * depth + "]" * depth + "\n")
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}: line 1, column {MAX_NESTING + 6}: nested more than {MAX_NESTING} levels deep" in res.stderr


def test_apiversion_typo_in_a_file_of_several_documents_says_what_is_read(tmp_path: Path) -> None:
    """`OpenSLO/v1` in an SLI + SLO file: exit 2 saying which apiVersion is read, not a bare "one document"."""
    f = _write(tmp_path / "typo.yaml", OPENSLO_REF.replace("apiVersion: openslo/v1", "apiVersion: OpenSLO/v1"))
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}: expected one YAML document, or only OpenSLO documents (apiVersion: openslo/v1 exactly" in res.stderr


@pytest.mark.parametrize(
    "text",
    [
        OPENSLO_INLINE.replace("apiVersion: openslo/v1", "apiVersion: OpenSLO/v1"),
        "prometheus: {url: http://127.0.0.1:9090}\n",
        "slos: []\n",
    ],
)
def test_file_without_a_recognised_slo_exits_2(tmp_path: Path, text: str) -> None:
    """`slo check FILE` where FILE holds no SLO it can read: nothing to check is exit 2, saying why."""
    f = _write(tmp_path / "none.yaml", text)
    res = CliRunner().invoke(cli, ["slo", "check", str(f)])
    assert res.exit_code == 2, res.output
    assert str(f) in res.output and "no SLO definitions found" in res.output and "openslo/v1" in res.output
