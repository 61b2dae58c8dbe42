"""promtool unit-test files with a fixed group order.

promtool evaluates a test's rule groups one after another at each step, in the order of
`group_eval_order`; without it the order is Go's map order, random per run, so a test whose
expected values depend on one group reading another's output of the same minute passes half
the time. Every test file here lists every group, each after the groups whose series it reads
(inferwatch.localstack.rulepasses derives the order from the rules' expressions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferwatch.localstack.rulepasses import group_eval_order, load_rule_groups


def group_order(rule_dir: Path, rule_files: list[str]) -> list[str]:
    """Every group name of ``rule_files`` (relative to ``rule_dir``), each after the groups it reads."""
    return group_eval_order([g for name in rule_files for g in load_rule_groups(rule_dir / name)])


def unit_test_doc(rule_dir: Path, rule_files: list[str], tests: list[dict[str, Any]]) -> dict[str, Any]:
    """A `promtool test rules` document over ``rule_files`` with the groups' order fixed."""
    return {
        "rule_files": rule_files,
        "evaluation_interval": "1m",
        "group_eval_order": group_order(rule_dir, rule_files),
        "tests": tests,
    }
