"""Property: whatever a user does to an OpenSLO file, `slo check FILE` answers 0 or 2, never a traceback;
an exit-2 message names the file and where in it (the SLO or SLI and its field, or the file as a whole
when it cannot be read); memory stays bounded (tracemalloc) and the run is bounded by the pytest
timeout, never a timed assertion. The examples mutated are the OpenSLO files of tests/slo/test_spec.py
(one SLO with an SLI it references, one with its indicator inline)."""

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
from tests.slo.test_spec import OPENSLO_INLINE, OPENSLO_REF
from tests.support import mutations

EXAMPLES: list[list[Any]] = [list(yaml.safe_load_all(text)) for text in (OPENSLO_REF, OPENSLO_INLINE)]
# Peak Python allocations while checking one mutated file: the unmutated files need well under 1 MiB;
# an alias tree that got past the loader's expansion bound would need gigabytes.
MEMORY_BOUND_BYTES = 64 * 1024 * 1024
# Where an exit-2 problem points: an OpenSLO document (`SLO 'name'.spec.…`, `SLI 'name'.…`,
# `document N.…`), a field of the SLO it maps to (`SLO 'name': sli.…`), or the file as a whole
# (not YAML, not UTF-8, nested or aliased too deep, nothing to check), named on the first line.
WHERE = re.compile(
    r"^  ((?P<file>\S+): )?("
    r"(SLO|SLI) '.*'(\.|: )\S"
    r"|document \d+(\.\S+)?: "
    r"|SLO #\d+: \S"
    r"|slos: "
    r"|line \d+, column \d+: |not valid YAML|not UTF-8|more than \d+ YAML nodes|larger than "
    r"|no SLO definitions found|expected one YAML document"
    r")",
    re.M,
)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """One of the OpenSLO examples with a value replaced (by a hostile value or a tree of aliases), a key
    removed or added, a document dropped, or its bytes damaged."""
    documents = draw(st.sampled_from(EXAMPLES))
    kind = draw(st.sampled_from(["tree", "tree", "tree", "bytes", "drop"]))
    if kind == "bytes":
        return mutations.splice_bytes(draw, mutations.dump_all(documents))
    if kind == "drop" and len(documents) > 1:
        return mutations.dump_all([d for i, d in enumerate(documents) if i != draw(st.integers(0, 1))])
    return mutations.dump_all(mutations.mutate_tree(draw, documents, ["replace", "delete", "add", "alias"]))


@pytest.mark.timeout(300)
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=mutated_files())
def test_mutated_openslo_file_exits_0_or_2_naming_file_slo_and_field(tmp_path: Path, content: bytes) -> None:
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_bytes(content)
    tracemalloc.start()
    try:
        result = CliRunner().invoke(cli, ["slo", "check", str(slo_file)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_BYTES, peak
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        problems = list(WHERE.finditer(result.stderr))
        assert problems, result.stderr
        assert f"{slo_file}: " in result.stderr.splitlines()[0], result.stderr
        assert all(m["file"] in (None, str(slo_file)) for m in problems), result.stderr
        # an aliased value is quoted cut short, never as the megabytes its repr would take
        assert max(len(line) for line in result.stderr.splitlines()) < 1000, result.stderr[:2000]
    else:
        assert "SLO(s) ok" in result.output, result.output


def test_the_unmutated_examples_pass(tmp_path: Path) -> None:
    """The property's starting points are valid, so a mutation is what an exit 2 answers."""
    for i, documents in enumerate(EXAMPLES):
        slo_file = tmp_path / f"slos{i}.yaml"
        slo_file.write_bytes(mutations.dump_all(documents))
        result = CliRunner().invoke(cli, ["slo", "check", str(slo_file)])
        assert result.exit_code == 0, result.output
