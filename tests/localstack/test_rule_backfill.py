"""The rule backfill's check for evaluations promtool skips at the end of its 2 h rule blocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from inferwatch.localstack.backfill import lost_rule_evaluations

BLOCK_START = datetime(2026, 11, 9, tzinfo=UTC)
STEP_MS = 120_000


def _block(root: Path, name: str, first_ms: int) -> None:
    """A rule block as promtool writes it: the 2 h range of its first sample; only meta.json matters."""
    (root / name).mkdir()
    (root / name / "meta.json").write_text(json.dumps({"minTime": first_ms, "maxTime": first_ms + 1}))


def test_evaluations_in_the_last_second_of_a_block_are_reported(tmp_path: Path) -> None:
    start_ms = int(BLOCK_START.timestamp() * 1000)
    # Offset 119.02 s: the 60th evaluation would be at 01:59:59.020, after the range promtool asks for.
    _block(tmp_path, "late", start_ms + 119_020)
    # Offset 77.799 s: the 60th evaluation is at 01:59:17.799, inside the range.
    _block(tmp_path, "early", start_ms + 77_799)
    end = datetime(2026, 11, 9, 3, tzinfo=UTC)
    assert lost_rule_evaluations(tmp_path, [STEP_MS], end) == [datetime(2026, 11, 9, 1, 59, 59, 20_000, tzinfo=UTC)]


def test_evaluations_after_the_end_or_on_the_block_boundary_are_not_lost(tmp_path: Path) -> None:
    start_ms = int(BLOCK_START.timestamp() * 1000)
    _block(tmp_path, "late", start_ms + 119_020)
    # A grid on the block boundary evaluates at 02:00:00.000, the next block's first sample.
    _block(tmp_path, "aligned", start_ms)
    assert lost_rule_evaluations(tmp_path, [STEP_MS], datetime(2026, 11, 9, 1, 30, tzinfo=UTC)) == []
    assert lost_rule_evaluations(tmp_path / "nothing", [STEP_MS], BLOCK_START) == []
