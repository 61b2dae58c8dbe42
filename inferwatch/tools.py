"""Locates the pinned external tools (promtool, amtool, helm, …) that scripts/install-tools.sh installs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from inferwatch.errors import ToolMissingError

INSTALL_HINT = "run scripts/install-tools.sh (it installs the pinned toolchain into .tools/bin)"


def default_tool_dirs() -> list[Path]:
    """Where install-tools.sh puts tools: .tools/bin under the working directory or the source checkout."""
    checkout = Path(__file__).resolve().parent.parent
    dirs = [Path.cwd() / ".tools" / "bin", checkout / ".tools" / "bin"]
    return list(dict.fromkeys(dirs))


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
