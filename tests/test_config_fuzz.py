"""Property: whatever a user does to examples/inferwatch.yaml, `config check` and `build` answer 0 or 2,
never a traceback; an exit-2 message names where the problem is; a failing build writes nothing;
memory stays bounded (tracemalloc) and the run is bounded by the pytest timeout, never a timed assertion."""

from __future__ import annotations

import copy
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferwatch.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "inferwatch.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
# Peak Python allocations while checking one mutated file (the loaded example needs a few MiB).
MEMORY_BOUND_BYTES = 256 * 1024 * 1024
# What an exit-2 message points at: a field path, a line/column, a byte offset, or the whole file.
WHERE = re.compile(r"^  (\S+: |line \d+, column \d+: |(not UTF-8: )?byte offset \d+|larger than |top level )", re.M)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["0s", "7d", "8d", "99999999999d", "{{ $value }}", "\x1b[31m", "1e308", "-0", ".inf", "2.2"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(BASE)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """The example with one value replaced, a key removed or added, or its bytes damaged."""
    kind = draw(st.sampled_from(["replace", "delete", "add", "bytes"]))
    if kind == "bytes":
        raw = bytearray(EXAMPLE.read_bytes())
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(raw)))
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        return bytes(raw)
    data = copy.deepcopy(BASE)
    path = draw(st.sampled_from(PATHS))
    parent: Any = data
    for key in path[:-1]:
        parent = parent[key]
    if kind == "replace":
        parent[path[-1]] = draw(values)
    elif kind == "delete":
        del parent[path[-1]]
    else:
        target = parent[path[-1]]
        if isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif isinstance(target, list):
            target.append(draw(values))
        else:
            parent[path[-1]] = {draw(st.text(min_size=1, max_size=12)): draw(values)}
    return yaml.safe_dump(data, allow_unicode=True).encode()


@pytest.mark.timeout(600)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
