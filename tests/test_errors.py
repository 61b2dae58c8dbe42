"""Exit statuses: every one is named in inferwatch.errors.ExitCode, and no error class elsewhere
sets a number of its own (it names an ExitCode member, or inherits its status)."""

from __future__ import annotations

import ast

from inferwatch.errors import ConfigError, ExitCode, InferwatchError, ValidationFailedError
from tests.test_architecture import REPO_ROOT, product_modules


def test_statuses_are_the_documented_ones() -> None:
    assert InferwatchError.exit_code == ExitCode.FAILURE and int(ExitCode.FAILURE) == 1
    assert ConfigError.exit_code == ExitCode.USAGE and int(ExitCode.USAGE) == 2
    assert ValidationFailedError.exit_code == ExitCode.VALIDATION_FAILED and int(ExitCode.VALIDATION_FAILED) == 6
    assert len({int(c) for c in ExitCode}) == len(ExitCode)


def test_no_module_but_errors_sets_an_exit_status_number() -> None:
    numbered = []
    for module in product_modules().values():
        if module.name == "inferwatch.errors":
            continue
        for node in ast.walk(ast.parse(module.path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "exit_code" for t in node.targets)
                and isinstance(node.value, ast.Constant)
            ):
                numbered.append(f"{module.path.relative_to(REPO_ROOT)}:{node.lineno} exit_code = {node.value.value!r}")
    assert not numbered, "use a member of inferwatch.errors.ExitCode:\n" + "\n".join(numbered)
