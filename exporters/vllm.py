"""The engine endpoint: a background scraper of vLLM's (or SGLang's) /metrics and a collector that re-exposes it.

`VllmScraper` fetches the local engine's `/metrics` on its own cadence (never per Prometheus
scrape), with a time limit on the whole exchange and a maximum body size, translates it line by
line (inferwatch.exporters.passthrough; an answer the line reader cannot prove it reads exactly
is parsed with prometheus_client's parser and repaired) and keeps an immutable `VllmSnapshot`
holding the translated text. `translate_families` keeps the
engine's own families (`contract.ENGINE_PREFIXES`: `vllm:*`, `sglang:*`), renames families that
older vLLM versions (and llm-d-inference-sim) still emit to the current names and drops an old
family when its current name is present too, so a family is never exposed twice; SGLang's are
passed through as they come (the normalization rules read its older names themselves).
`VllmCollector` yields the contract's vLLM series (`inferwatch.contract`: up, scrape duration,
scrape errors by reason) and, unless told not to, the latest snapshot's engine families as
objects; the exporter serves those families as the snapshot's text instead (`engine_text`). A
hung, refused, oversized or garbage response makes `inferwatch_vllm_up` 0, counts the failure by
reason and logs it once per change; it never raises from a scrape.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import urllib3
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from inferwatch import contract
from inferwatch.exporters import families, memory
from inferwatch.exporters.memory import release_freed_memory
from inferwatch.exporters.passthrough import EMPTY, RENAMED_FAMILIES, EngineExposition, translate_text
from inferwatch.exporters.priority import SCRAPES
from inferwatch.exporters.worker import PeriodicWorker

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 64 * 1024
VLLM_PREFIX = "vllm:"
ENGINE_PREFIXES = contract.ENGINE_PREFIXES


class VllmScrapeError(Exception):
    """One scrape of the vLLM endpoint failed; the message is the reason logged.

    `reason` is the failure's class, one of `contract.VLLM_SCRAPE_ERROR_REASONS` (the `reason`
    label of the scrape-errors counter).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        if reason not in contract.VLLM_SCRAPE_ERROR_REASONS:
            raise ValueError(f"unknown scrape error reason {reason!r}")
        self.reason = reason


@dataclass(frozen=True)
class VllmSnapshot:
    """The result of one scrape: the translated engine families, or why there are none."""

    taken_at: float
    up: bool
    duration_s: float
    engine: EngineExposition = EMPTY
    error: str | None = None
    errors_total: tuple[tuple[str, int], ...] = ()  # failed scrapes since start, by reason
    repairs_total: tuple[tuple[str, int], ...] = ()  # problems repaired in good answers since start, by reason


def _rename_family(family: Metric, new_name: str) -> Metric:
    """A copy of `family` under `new_name`, its samples renamed alike (suffixes kept)."""
    renamed = Metric(new_name, family.documentation, family.type, family.unit)
    old = family.name
    renamed.samples = [
        Sample(new_name + s.name[len(old) :], s.labels, s.value, s.timestamp, s.exemplar, s.native_histogram)
        if s.name.startswith(old)
        else s
        for s in family.samples
    ]
    return renamed


def translate_families(families: Iterable[Metric]) -> list[Metric]:
    """The engine families of one scrape with old vLLM names translated; never both names of one family.

    Families inferwatch does not know are passed through untouched; families without an engine
    prefix (the engine process's own python/process metrics, an unprefixed HTTP counter) are
    dropped so they cannot collide with ours.
    """
    kept = [f for f in families if f.name.startswith(ENGINE_PREFIXES)]
    present = {f.name for f in kept}
    out: list[Metric] = []
    seen: set[str] = set()
    for family in kept:
        current = RENAMED_FAMILIES.get(family.name)
        if current is not None:
            if current in present:
                continue  # vLLM (or the simulator) emits both: the current family wins
            family = _rename_family(family, current)
        if family.name in seen:
            continue  # repair_families merged repeats; this is a renamed family meeting its current name
        seen.add(family.name)
        out.append(family)
    return out


def parse_exposition(text: str) -> list[Metric]:
    """Parse Prometheus text exposition (raises VllmScrapeError on garbage or an empty body)."""
    if not text.strip():
        # vLLM always declares its families; an empty 200 is a broken endpoint, not "no data".
        raise VllmScrapeError("empty", "HTTP 200 with an empty body")
    families: list[Metric] = []
    try:
        for family in text_string_to_metric_families(text):
            families.append(family)
            # In pieces: the parse of ~250 KB holds the GIL for tens of ms; between two families a
            # scrape being answered goes first (inferwatch.exporters.priority).
            SCRAPES.step_aside()
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise VllmScrapeError("unparseable", f"unparseable exposition: {err}") from err
    if not families:
        raise VllmScrapeError("unparseable", "body holds no metric families")
    return families


# A backslash and the character it escapes; the text format defines only \\, \" and \n.
_ESCAPE = re.compile(r"\\(.)", re.S)
_VALID_ESCAPES = frozenset('\\"n')


def invalid_escapes(text: str) -> int:
    """How many escapes in `text` the text format does not define (`\\q`); Prometheus keeps them verbatim."""
    if "\\" not in text:  # the usual vLLM answer: no backslash at all, nothing to scan
        return 0
    return sum(1 for m in _ESCAPE.finditer(text) if m.group(1) not in _VALID_ESCAPES)


def repair_families(families: Iterable[Metric]) -> tuple[list[Metric], dict[str, int]]:
    """Merge a family block that appears again into the first one, and drop a series that comes twice.

    Exposing either as it came would serve one series twice, which Prometheus rejects ("duplicate
    sample") or resolves by dropping one at random. The first value of a series wins. Returns the
    families and how many repairs of each kind (`repeated_family`, `duplicate_series`) were made.
    """
    by_name: dict[str, Metric] = {}
    repairs: dict[str, int] = {}
    for family in families:
        first = by_name.get(family.name)
        if first is None:
            by_name[family.name] = family
            continue
        repairs["repeated_family"] = repairs.get("repeated_family", 0) + 1
        if first.type == family.type:
            first.samples.extend(family.samples)
    for family in by_name.values():
        seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
        kept: list[Sample] = []
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            if key in seen:
                continue
            seen.add(key)
            kept.append(sample)
        if len(kept) != len(family.samples):
            repairs["duplicate_series"] = repairs.get("duplicate_series", 0) + len(family.samples) - len(kept)
            family.samples = kept
    return list(by_name.values()), repairs


class VllmScraper:
    """Scrapes one vLLM /metrics URL on a background thread into an immutable `VllmSnapshot`."""

    def __init__(
        self,
        url: str,
        *,
        interval_s: float,
        timeout_s: float,
        max_body_bytes: int,
        verify: bool | str = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`verify`: check an https endpoint's certificate against the system's CAs (True), a CA file
        (its path) or not at all (False)."""
        if interval_s <= 0 or timeout_s <= 0 or max_body_bytes <= 0:
            raise ValueError("interval_s, timeout_s and max_body_bytes must be > 0")
        self.url = url
        self._interval = interval_s
        self._timeout = timeout_s
        self._max_body = max_body_bytes
        self._pool = _pool(url, verify, timeout_s)
        self._clock = clock
        self._snapshot: VllmSnapshot | None = None
        self._last_error: str | None = None
        self._errors: dict[str, int] = {}
        self._repairs: dict[str, int] = {}
        self._body_bytes = 0
        self._trims_due = 0
        self._worker = PeriodicWorker(
            "inferwatch-vllm-scraper", self.scrape_once, interval_s=interval_s, join_timeout_s=timeout_s + 5
        )

    def snapshot(self) -> VllmSnapshot | None:
        """The latest scrape's result, or None before the first scrape finished."""
        return self._snapshot

    def start(self) -> None:
        """Scrape once now (so readiness is honest), then keep scraping in the background."""
        self.scrape_once()
        self._worker.start()

    def stop(self) -> None:
        """Stop the background worker and close the HTTP connection."""
        self._worker.stop()
        self._pool.clear()

    def scrape_once(self) -> VllmSnapshot:
        """Fetch, parse and translate once; publish and return the snapshot (never raises VllmScrapeError)."""
        started = self._clock()
        engine = EMPTY
        error: str | None = None
        try:
            engine = self._translate(self._fetch(started))
        except VllmScrapeError as err:
            self._errors[err.reason] = self._errors.get(err.reason, 0) + 1
            error = str(err)
        finished = self._clock()
        snap = VllmSnapshot(
            taken_at=finished,
            up=error is None,
            duration_s=finished - started,
            engine=engine,
            error=error,
            errors_total=tuple(sorted(self._errors.items())),
            repairs_total=tuple(sorted(self._repairs.items())),
        )
        if error is not None and error != self._last_error:
            log.warning("vLLM scrape failed url=%s reason=%s", self.url, error)
        elif error is None and (self._last_error is not None or self._snapshot is None):
            log.info("vLLM scrape ok url=%s families=%d", self.url, len(engine))
        self._last_error = error
        self._snapshot = snap
        # After an oversized answer give the freed heap back, now and after the next two scrapes: by
        # then its snapshot and the text rendered from it have been replaced and freed too.
        if self._body_bytes >= memory.TRIM_AFTER_BYTES:
            self._trims_due = 3
        if self._trims_due:
            self._trims_due -= 1
            release_freed_memory()
        return snap

    def _translate(self, text: str) -> EngineExposition:
        """The engine families of one answer: by line when it can be proved exact, else parsed and repaired."""
        by_line = translate_text(text)
        if by_line is not None:
            return by_line
        return EngineExposition.of_families(translate_families(self._parse(text)))

    def _parse(self, text: str) -> list[Metric]:
        """Parse and repair one answer, counting each repair and logging its kind the first time it is seen."""
        families, repairs = repair_families(parse_exposition(text))
        escapes = invalid_escapes(text)
        if escapes:
            repairs["invalid_escape"] = escapes
        for reason, count in repairs.items():
            if reason not in self._repairs:
                log.warning("vLLM answer repaired url=%s reason=%s count=%d (logged once per reason; "
                            "counted in %s)", self.url, reason, count, contract.VLLM_SCRAPE_REPAIRS.name)  # fmt: skip
            self._repairs[reason] = self._repairs.get(reason, 0) + count
        return families

    def _fetch(self, started: float) -> str:
        """The body of one GET, within the time limit and the size limit."""
        deadline = started + self._timeout
        body = bytearray()  # one growing buffer, not hundreds of socket-read chunks left in the heap
        self._body_bytes = 0
        try:
            resp = self._pool.request(
                "GET", self.url, headers={"Accept": "text/plain"}, preload_content=False, decode_content=True
            )
        except urllib3.exceptions.HTTPError as err:
            raise _scrape_error(err, self._timeout) from err
        complete = False
        try:
            if resp.status != 200:
                raise VllmScrapeError("http_status", f"HTTP {resp.status}")
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self._max_body:
                raise VllmScrapeError("too_large", f"body of {declared} bytes exceeds the {self._max_body}-byte limit")
            for chunk in resp.stream(READ_CHUNK_BYTES):
                self._body_bytes += len(chunk)
                if self._body_bytes > self._max_body:
                    raise VllmScrapeError("too_large", f"body exceeds the {self._max_body}-byte limit")
                # A server that trickles bytes defeats per-read timeouts; bound the whole exchange.
                if self._clock() > deadline:
                    raise VllmScrapeError("timeout", f"scrape exceeded {self._timeout}s")
                body += chunk
            complete = True
        except urllib3.exceptions.HTTPError as err:
            raise _scrape_error(err, self._timeout) from err
        finally:
            if not complete:  # refused or cut short: the connection is not reused
                resp.close()
            resp.release_conn()
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise VllmScrapeError("not_utf8", f"body is not UTF-8: {err}") from err


def _pool(url: str, verify: bool | str, timeout_s: float) -> urllib3.PoolManager:
    """One keep-alive connection to the engine: no retries and no redirects (a failure is counted, not hidden).

    The TLS context is made only for an https URL: the system's CA store, parsed, costs a sidecar
    several MB of memory it does not need for the usual http://localhost endpoint.
    """
    context: ssl.SSLContext | None = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            # Said once here, not by urllib3 at every scrape: the setting asks for it.
            log.warning("vLLM endpoint %s: TLS certificate not verified (exporter.vllm_tls_verify: false)", url)
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    return urllib3.PoolManager(
        num_pools=1, maxsize=1, retries=False, timeout=urllib3.Timeout(total=timeout_s), ssl_context=context
    )


def _scrape_error(err: urllib3.exceptions.HTTPError, timeout_s: float) -> VllmScrapeError:
    """The scrape error of a failed exchange: a time limit reached, or any other connection failure.

    urllib3's NewConnectionError (refused, unreachable) derives from its connect timeout; it is a
    connection failure all the same.
    """
    if isinstance(err, urllib3.exceptions.TimeoutError) and not isinstance(err, urllib3.exceptions.NewConnectionError):
        return VllmScrapeError("timeout", f"timed out after {timeout_s}s ({type(err).__name__})")
    return VllmScrapeError("connection", f"{type(err).__name__}: {err}")


class VllmCollector(Collector):
    """Prometheus collector of the vLLM pass-through; `collect()` reads the scraper's snapshot only."""

    def __init__(self, scraper: VllmScraper, *, engine_families: bool = True) -> None:
        """Serve `scraper`'s snapshots; `engine_families` False: the contract's series only (the exporter
        joins the snapshot's engine text to them, `engine_text`)."""
        self._scraper = scraper
        self._engine_families = engine_families

    def collect(self) -> Iterator[Metric]:
        """`inferwatch_vllm_up`, the scrape duration and (when up) the translated engine families."""
        snap = self._scraper.snapshot()
        yield families.single(contract.VLLM_UP, 1 if snap is not None and snap.up else 0)
        if snap is None:
            return
        yield families.single(contract.VLLM_SCRAPE_DURATION, snap.duration_s)
        errors = families.family(contract.VLLM_SCRAPE_ERRORS)
        for reason, count in snap.errors_total:
            errors.add_metric([reason], count)
        yield errors
        repairs = families.family(contract.VLLM_SCRAPE_REPAIRS)
        for reason, count in snap.repairs_total:
            repairs.add_metric([reason], count)
        yield repairs
        if self._engine_families:
            yield from snap.engine.families()


def engine_text(snapshot: object, openmetrics_format: bool) -> bytes:
    """The engine families of a `VllmSnapshot` as served, in the text format or OpenMetrics (no `# EOF`)."""
    if not isinstance(snapshot, VllmSnapshot):
        return b""
    return snapshot.engine.render(openmetrics_format)
