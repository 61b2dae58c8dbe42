"""Generated Markdown pages checked for links: every relative link names a file that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from inferwatch.artifacts import CheckResult
from inferwatch.tools import Toolbox, checkout_dirs

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def check_document(tools: Toolbox, root: Path, rel: str) -> list[CheckResult]:
    """Every relative link of a Markdown page names a file (or folder) that exists: among the
    generated files, or among the checkout's own (a runbook may link docs/slo.md)."""
    text = _CODE.sub("", (root / rel).read_text())
    checkouts = checkout_dirs()
    broken = []
    for target in _LINK.findall(text):
        parsed = urlparse(target)
        if parsed.scheme or parsed.netloc or target.startswith("#"):
            continue
        link = Path(rel).parent / unquote(parsed.path)
        if not any((base / link).exists() for base in (root, *checkouts)):
            broken.append(target)
    output = "".join(f"broken relative link: {t}\n" for t in broken)
    return [CheckResult(rel, "links", not broken, output)]
