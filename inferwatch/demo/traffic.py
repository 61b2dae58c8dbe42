"""The demo's load generator: an OpenAI-compatible client sending the scenario's traffic to the simulators.

Each model receives Poisson arrivals at the scenario's rate for the current hour (the day curve
the history follows), spread over its data-parallel ranks, a share of them to its LoRA adapter,
with the scenario's mix of prompt lengths. During the incident the incident model receives three
times its rate, every prompt `incident_prompt_tokens` long (a new retrieval-augmented client
stuffing whole documents into prompts): its time to first token climbs past the threshold.

Answers are streamed, so the generator measures each request's time per output token (the time
between its first and last token over the tokens after the first, vLLM's definition) and records
it in the rank's `EngineFamilies`: llm-d-inference-sim does not emit that histogram itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from inferwatch.demo.engine_families import EngineFamilies
from inferwatch.demo.scenario import Model, Scenario, request_rate

log = logging.getLogger(__name__)

INCIDENT_RATE_FACTOR = 3.0
LORA_SHARE = 0.25
MAX_IN_FLIGHT = 256
_WORDS = ("the", "quick", "model", "serves", "tokens", "from", "a", "cache", "while", "gpus", "hum", "along")


def prompt_text(tokens: int, rng: random.Random) -> str:
    """A prompt of ``tokens`` words (the simulator counts whitespace-separated words as tokens)."""
    return " ".join(rng.choice(_WORDS) for _ in range(tokens))


@dataclass
class ModelStats:
    """What the generator sent to one model and what came back."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class Endpoint:
    """Where one model is served: the base URL of each data-parallel rank, and where each rank's
    measured vLLM families are recorded (one per rank, in the same order)."""

    model: Model
    rank_urls: tuple[str, ...]
    rank_families: tuple[EngineFamilies, ...]


@dataclass
class Timeline:
    """When live traffic started (unix time) and when the incident runs (seconds after that)."""

    started_at: float
    incident_start_s: float
    incident_end_s: float

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since live traffic started."""
        return (time.time() if now is None else now) - self.started_at

    def in_incident(self, now: float | None = None) -> bool:
        """Whether the incident is running at ``now``."""
        return self.incident_start_s <= self.elapsed(now) < self.incident_end_s

    def phase(self, now: float | None = None) -> str:
        """`quiet`, `incident` or `recovery`."""
        e = self.elapsed(now)
        if e < self.incident_start_s:
            return "quiet"
        return "incident" if e < self.incident_end_s else "recovery"


@dataclass
class LoadGenerator:
    """Sends the scenario's traffic on a background thread (its own asyncio loop) until stopped."""

    scenario: Scenario
    endpoints: Sequence[Endpoint]
    timeline: Timeline
    seed: int = 14
    stats: dict[str, ModelStats] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sending."""
        for ep in self.endpoints:
            self.stats.setdefault(ep.model.pod, ModelStats())
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="load-generator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for requests in flight (bounded)."""
        self._stop.set()
        # A Ctrl-C can land between creating the thread and starting it: only a started thread is joined.
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=30)

    def rate(self, model: Model, now: float) -> float:
        """Requests per second ``model`` gets at ``now`` (the incident multiplies the incident model's)."""
        r = request_rate(model, now)
        if model.incident_prompt_tokens and self.timeline.in_incident(now):
            r *= INCIDENT_RATE_FACTOR
        return r

    def prompt_tokens(self, model: Model, now: float, rng: random.Random) -> int:
        """How long the next prompt to ``model`` is."""
        if model.incident_prompt_tokens and self.timeline.in_incident(now):
            return model.incident_prompt_tokens
        x = rng.random()
        for p in model.prompts:
            if x < p.share:
                return p.tokens
            x -= p.share
        return model.prompts[-1].tokens

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=32)
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
            sem = asyncio.Semaphore(MAX_IN_FLIGHT)
            tasks = [
                asyncio.create_task(self._drive(client, sem, ep, random.Random(self.seed + i)))
                for i, ep in enumerate(self.endpoints)
            ]
            await asyncio.gather(*tasks)

    async def _drive(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, ep: Endpoint, rng: random.Random) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        rank = 0
        while not self._stop.is_set():
            now = time.time()
            rate = self.rate(ep.model, now)
            await asyncio.sleep(min(rng.expovariate(rate) if rate > 0 else 1.0, 5.0))
            if self._stop.is_set():
                break
            model_name = ep.model.model
            if ep.model.lora and rng.random() < LORA_SHARE:
                model_name = ep.model.lora[0]
            body = {
                "model": model_name,
                "prompt": prompt_text(self.prompt_tokens(ep.model, time.time(), rng), rng),
                "max_tokens": ep.model.output_tokens,
                # Exactly max_tokens tokens (finish reason `length`), as the history assumes.
                "ignore_eos": True,
                "stream": True,
            }
            index = rank % len(ep.rank_urls)
            url = ep.rank_urls[index] + "/v1/completions"
            rank += 1
            task = asyncio.create_task(
                self._send(client, sem, url, body, self.stats[ep.model.pod], ep.rank_families[index])
            )
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=20)

    async def _send(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        url: str,
        body: dict[str, object],
        stats: ModelStats,
        families: EngineFamilies,
    ) -> None:
        async with sem:
            stats.sent += 1
            try:
                async with client.stream("POST", url, json=body) as resp:
                    if resp.status_code != 200:
                        stats.failed += 1
                        text = (await resp.aread()).decode(errors="replace")
                        stats.last_error = f"HTTP {resp.status_code}: {text[:200]}"
                        return
                    token_times = [time.monotonic() async for line in resp.aiter_lines() if _is_token(line)]
            except httpx.HTTPError as err:
                stats.failed += 1
                stats.last_error = f"{type(err).__name__}: {err}"
                return
            stats.ok += 1
            if len(token_times) > 1:
                families.observe((token_times[-1] - token_times[0]) / (len(token_times) - 1))


def _is_token(line: str) -> bool:
    """Whether a server-sent event line of a streamed completion carries a token (non-empty text)."""
    if not line.startswith("data: {"):
        return False
    choices = json.loads(line.removeprefix("data: ")).get("choices") or [{}]
    return bool(choices[0].get("text"))


def total_sent(stats: dict[str, ModelStats]) -> int:
    """Requests sent to every model."""
    return sum(s.sent for s in stats.values())


Clock = Callable[[], float]
