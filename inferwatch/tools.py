"""Locates the pinned external tools (promtool, amtool, helm, …) that scripts/install-tools.sh installs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from inferwatch.errors import ToolMissingError

INSTALL_HINT = "run scripts/install-tools.sh (it installs the pinned toolchain into .tools/bin)"


def checkout_dirs() -> list[Path]:
    """Where a checkout's own files (.tools/bin, the chart's templates, the docs a runbook links) are
    looked for: the working directory, then the source checkout inferwatch runs from (an editable
    install; for an installed wheel this second place holds none of them)."""
    checkout = Path(__file__).resolve().parent.parent
    return list(dict.fromkeys([Path.cwd(), checkout]))


def default_tool_dirs() -> list[Path]:
    """Where install-tools.sh puts tools: .tools/bin under the working directory or the source checkout."""
    return [base / ".tools" / "bin" for base in checkout_dirs()]


@dataclass(frozen=True)
class Toolbox:
    """Finds tools in the given folders first, then on PATH."""

    dirs: tuple[Path, ...]

    @classmethod
    def default(cls, extra: Path | None = None) -> Toolbox:
        """The toolbox looking in ``extra`` (if given), then the default .tools/bin folders."""
        return cls(tuple(([extra] if extra else []) + default_tool_dirs()))

    def find(self, name: str) -> Path | None:
        """Path of ``name``, or None when it is not installed."""
        for d in self.dirs:
            candidate = d / name
            if candidate.is_file() and candidate.stat().st_mode & 0o111:
                return candidate
        found = shutil.which(name)
        return Path(found) if found else None

    def path(self, name: str) -> Path:
        """Path of ``name``; raises ToolMissingError with the install hint when it is missing."""
        found = self.find(name)
        if found is None:
            raise ToolMissingError(f"{name} is not installed: {INSTALL_HINT}")
        return found

    def run(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a tool to completion and return its result (output captured, never raises on status)."""
        return subprocess.run(
            [str(self.path(name)), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
