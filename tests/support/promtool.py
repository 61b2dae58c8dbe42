"""promtool unit-test files with a fixed group order.

promtool evaluates a test's rule groups one after another at each step, in the order of
`group_eval_order`; without it the order is Go's map order, random per run, so a test whose
expected values depend on one group reading another's output of the same minute passes half
the time. Every test file here lists every group, in the order the rule files hold them (the
generators write dependencies first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def group_order(rule_dir: Path, rule_files: list[str]) -> list[str]:
    """Every group name of ``rule_files`` (relative to ``rule_dir``), in file order."""
    names: list[str] = []
    for name in rule_files:
        doc = yaml.safe_load((rule_dir / name).read_text()) or {}
        names += [g["name"] for g in doc.get("groups") or []]
    return names


def unit_test_doc(rule_dir: Path, rule_files: list[str], tests: list[dict[str, Any]]) -> dict[str, Any]:
    """A `promtool test rules` document over ``rule_files`` with the groups' order fixed."""
    return {
        "rule_files": rule_files,
        "evaluation_interval": "1m",
        "group_eval_order": group_order(rule_dir, rule_files),
        "tests": tests,
    }
