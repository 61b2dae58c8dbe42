"""Scrapes first: background work steps aside, between two of its pieces, while a scrape is answered.

The exporter answers a scrape on its event loop from text rendered in the background, but the
background work (parsing ~250 KB of vLLM text, ~40 ms; rendering it, ~18 ms) holds the
interpreter, and a scrape that arrives meanwhile gets it back only at forced switches: on an H100
machine a scrape answered in 0.9 ms took 4-5 ms during a parse, which put the p99 there (issue 23).
The event loop marks each scrape (`begin`/`end`); the parse and the render call `step_aside()`
after each metric family, which releases the interpreter and, while a scrape is in flight, waits
for it to end, at most `max_defer_s` per piece, so a stream of scrapes slows the background work
down but never stops it. A scrape that waits on a render itself (a format never rendered, a part
whose renderer lags) is not counted meanwhile.
"""

from __future__ import annotations

import threading
import time


class ScrapesInFlight:
    """How many scrapes the event loop is answering; background pieces wait for none to be left."""

    def __init__(self, max_defer_s: float = 0.01) -> None:
        """``max_defer_s``: the longest one piece of background work waits for scrapes to end."""
        self._max_defer = max_defer_s
        self._count = 0  # touched by the event loop's thread only
        self._idle = threading.Event()
        self._idle.set()

    def begin(self) -> None:
        """A scrape starts being answered (event loop)."""
        self._count += 1
        self._idle.clear()

    def end(self) -> None:
        """A scrape has been answered (event loop)."""
        self._count -= 1
        if self._count <= 0:
            self._count = 0
            self._idle.set()

    def step_aside(self) -> None:
        """Between two pieces of background work: hand the interpreter over, and let a scrape in flight finish."""
        if self._idle.is_set():
            time.sleep(0)  # releases the GIL: a scrape that just arrived gets it now
        else:
            self._idle.wait(self._max_defer)


# The process's one exporter: its event loop and its background workers share this.
SCRAPES = ScrapesInFlight()
