"""Property: whatever a user does to examples/inferwatch.yaml, `config check` and `build` answer 0 or 2,
never a traceback; an exit-2 message names where the problem is; a failing build writes nothing;
memory stays bounded (tracemalloc) and the run is bounded by the pytest timeout, never a timed assertion."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferwatch.app.cli import cli
from tests.support import mutations

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "inferwatch.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
# Peak Python allocations while checking one mutated file (the loaded example needs a few MiB).
MEMORY_BOUND_BYTES = 256 * 1024 * 1024
# What an exit-2 message points at: a field path, a line/column, a byte offset, or the whole file.
WHERE = re.compile(r"^  (\S+: |line \d+, column \d+: |(not UTF-8: )?byte offset \d+|larger than |top level )", re.M)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """The example with one value replaced (by a hostile value or a tree of aliases), a key removed or
    added, or its bytes damaged."""
    if draw(st.integers(0, 4)) == 0:
        return mutations.splice_bytes(draw, EXAMPLE.read_bytes())
    return mutations.dump(mutations.mutate_tree(draw, BASE, ["replace", "delete", "add", "alias"]))


@pytest.mark.timeout(600)
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=mutated_files())
def test_mutated_config_exits_0_or_2_and_a_failed_build_writes_nothing(tmp_path: Path, content: bytes) -> None:
    config = tmp_path / "inferwatch.yaml"
    config.write_bytes(content)
    out = tmp_path / "out"
    if out.exists():
        for p in sorted(out.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        out.rmdir()
    runner = CliRunner()
    tracemalloc.start()
    try:
        checked = runner.invoke(cli, ["-c", str(config), "config", "check"])
        built = runner.invoke(cli, ["-c", str(config), "build", "--no-validate", "--out", str(out)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES, peak
    for result in (checked, built):
        assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert str(config) in result.stderr
            assert WHERE.search(result.stderr), result.stderr
    assert checked.exit_code == built.exit_code, (checked.stderr, built.stderr)
    if built.exit_code == 2:
        assert not out.exists()
