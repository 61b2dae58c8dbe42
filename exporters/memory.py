"""Giving freed heap memory back to the operating system after an oversized answer.

Reading a 32 MB vLLM body (refused at the size limit) or parsing an answer with a 1 MB label
frees everything it allocated once the next answer replaces it, but glibc's allocator keeps the
freed pages: many small chunks of a socket read land in a thread's heap, and after a large block
is freed glibc raises its mmap threshold, so later large blocks land there too. The process
stayed ~40 MB above its steady size (bench/exporter_bench.py, "memory after oversized answers").
`malloc_trim(0)` returns the free pages of every arena; it costs about a millisecond, so the vLLM
scraper calls it only after an answer of at least `TRIM_AFTER_BYTES` (and after the two scrapes
that follow, by when the large snapshot and its rendered text are freed). Without glibc (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)

TRIM_AFTER_BYTES = 1 << 20


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_freed_memory() -> bool:
    """Return the allocator's free pages to the OS; True when glibc's malloc_trim released some."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
