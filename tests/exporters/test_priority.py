"""Scrapes first (inferwatch.exporters.priority): background pieces wait while a scrape is answered."""

from __future__ import annotations

import threading

from inferwatch.exporters.priority import ScrapesInFlight


def _step_aside_in_thread(scrapes: ScrapesInFlight) -> threading.Event:
    done = threading.Event()

    def piece() -> None:
        scrapes.step_aside()
        done.set()

    threading.Thread(target=piece, daemon=True).start()
    return done


def test_background_piece_waits_for_the_scrapes_in_flight() -> None:
    scrapes = ScrapesInFlight(max_defer_s=60)
    scrapes.begin()
    scrapes.begin()
    done = _step_aside_in_thread(scrapes)
    scrapes.end()
    assert not done.wait(0.3)  # one scrape is still being answered
    scrapes.end()
    assert done.wait(10)


def test_without_scrapes_a_piece_goes_on_and_a_stream_of_scrapes_never_stops_it() -> None:
    scrapes = ScrapesInFlight(max_defer_s=0.05)
    assert _step_aside_in_thread(scrapes).wait(10)
    scrapes.begin()  # a scrape that never ends: the piece waits its bound, then goes on
    assert _step_aside_in_thread(scrapes).wait(10)
