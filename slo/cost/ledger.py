"""The report's ledger: GPU-hours priced at list price, one line per cluster, namespace, model and GPU model.

Every money figure of the weekly report is a sum of ledger lines, and every line is
``list price x GPU-hours`` rounded to the cent. The GPU-hours come from the first-level cost
rules (inferwatch.conventions.cost ``SKU_*``), which read the same normalized inputs at the same
evaluation, hour by hour (:class:`WeekData`); so held + idle hours are the GPUs that existed, a
namespace's models plus its part that served no model are the namespace, and the header, the
tables, the charts, the savings and the FOCUS rows add up to the cent, because they are the
same lines added up in different ways.

Lines:

- ``held``: GPU time pods of a namespace held on GPUs of one model (a SKU). ``model`` is the vLLM
  model the pods served, or ``""``: pods that reported no vLLM model while they held the GPUs
  (not vLLM servers, or the minutes before a pod's first scrape) — the "not attributed to a
  model" line, so a namespace's models always add up to the namespace;
- ``idle``: GPU time of one GPU model nobody held (whole GPUs and unheld MIG slices);
- ``idle share``: under ``idle_policy: share``, each idle line spread over the cluster's
  namespaces by their held cost, and within a namespace over its lines by held cost.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

HOURS_QUANTUM = Decimal("0.000001")  # GPU-hours and kWh are written with 6 decimals
CENT = Decimal("0.01")
ZERO = Decimal(0)
_QUANTA = 10**6  # HOURS_QUANTUM steps per unit, for apportioning
FULL_HOUR = 1.0 - 1e-9  # an hour recorded at every evaluation (its share is 1, up to rounding)


def quantity(value: float) -> Decimal:
    """A non-negative amount (GPU-hours, kWh) rounded to 6 decimals; NaN and float noise below 0 are 0."""
    if not math.isfinite(value) or value <= 0:
        return ZERO
    return Decimal(repr(value)).quantize(HOURS_QUANTUM, ROUND_HALF_EVEN)


def price(value: float) -> Decimal:
    """A configured price as the exact decimal it was written as (4.0 stays 4.0, 0.1 stays 0.1)."""
    return Decimal(repr(float(value)))


def money(unit_price: Decimal, amount: Decimal) -> Decimal:
    """``unit_price x amount`` rounded half-even to the cent: what a line costs."""
    return (unit_price * amount).quantize(CENT, ROUND_HALF_EVEN)


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split the integer ``total`` over ``weights`` by the largest-remainder method.

    The parts add up to ``total`` exactly and each is within one unit of its exact share; all
    weights zero (or none positive) puts everything on the first part.
    """
    if not weights:
        return []
    positive = [w if math.isfinite(w) and w > 0 else 0.0 for w in weights]
    whole = sum(positive)
    if whole <= 0:
        return [total, *([0] * (len(weights) - 1))]
    exact = [total * w / whole for w in positive]
    parts = [math.floor(x) for x in exact]
    left = total - sum(parts)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: max(left, 0)]:
        parts[i] += 1
    return parts


def apportion_decimal(total: Decimal, weights: Sequence[float], quantum: Decimal = HOURS_QUANTUM) -> list[Decimal]:
    """:func:`apportion` for a decimal amount in steps of ``quantum``."""
    steps = int((total / quantum).to_integral_value(ROUND_HALF_EVEN))
    return [quantum * part for part in apportion(steps, weights)]


class LineKind(StrEnum):
    """What a ledger line's GPU time was."""

    HELD = "held"
    IDLE = "idle"
    IDLE_SHARE = "idle share"


@dataclass(frozen=True)
class Sku:
    """A price-list entry: one GPU-hour of one GPU model (``""``: GPUs requested, model unknown)."""

    gpu_model: str
    unit_price: Decimal

    @property
    def label(self) -> str:
        """The GPU model, or what the price of an unknown model is for."""
        return self.gpu_model or "GPU (model unknown)"


@dataclass(frozen=True)
class PriceList:
    """GPU-hour list prices by GPU model (the `pricing:` section), and the energy price."""

    by_model: Mapping[str, Decimal]
    default: Decimal
    energy_kwh: Decimal | None = None

    def sku(self, gpu_model: str) -> Sku:
        """The SKU of ``gpu_model``: its listed price, else the default price."""
        return Sku(gpu_model, self.by_model.get(gpu_model, self.default))


@dataclass(frozen=True)
class Line:
    """One ledger line (one FOCUS row): GPU time of one SKU, its price, and what ran on it."""

    kind: LineKind
    cluster: str
    namespace: str  # "" for an idle line
    model: str  # "" = not attributed to a model (held, idle share) or none (idle)
    sku: Sku
    gpu_hours: Decimal
    busy_gpu_hours: Decimal | None = None  # None: utilization unknown (idle, GPUs only requested)
    energy_kwh: Decimal = ZERO
    prompt_tokens: int = 0
    generation_tokens: int = 0
    tenant: str = ""  # the llm-d router's fairness_id the line is attributed to ("": none reported)
    adapter: str = ""  # the LoRA adapter the line is attributed to ("": none running)

    @property
    def cost(self) -> Decimal:
        """List price x GPU-hours, to the cent (FOCUS ListCost = BilledCost)."""
        return money(self.sku.unit_price, self.gpu_hours)

    @property
    def unused_gpu_hours(self) -> Decimal | None:
        """Held GPU-hours the GPUs were not busy (None where utilization is unknown)."""
        if self.busy_gpu_hours is None or self.kind is not LineKind.HELD:
            return None
        return max(self.gpu_hours - self.busy_gpu_hours, ZERO)

    @property
    def unused_cost(self) -> Decimal:
        """What the held-but-not-busy GPU time cost (0 where unknown): the saving of packing it."""
        unused = self.unused_gpu_hours
        return ZERO if unused is None else money(self.sku.unit_price, unused)

    @property
    def usage_cost(self) -> Decimal:
        """The busy part of the cost (cost - unused cost; the whole cost where utilization is unknown)."""
        return self.cost - self.unused_cost

    @property
    def tokens(self) -> int:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    def energy_cost(self, prices: PriceList) -> Decimal | None:
        """The energy priced (None when no energy price is configured)."""
        return None if prices.energy_kwh is None else money(prices.energy_kwh, self.energy_kwh)


Hours = Collection[int]


@dataclass(frozen=True)
class Hourly:
    """One series' values per hour of the week (0 = Monday 00:00-01:00 UTC); hours without data absent."""

    values: Mapping[int, float]

    def total(self, hours: Hours | None = None) -> float:
        """The sum over ``hours`` (every hour with data when None)."""
        if hours is None:
            return sum(v for v in self.values.values() if math.isfinite(v))
        return sum(v for h, v in self.values.items() if h in hours and math.isfinite(v))


Keyed = Mapping[tuple[str, ...], Hourly]
NO_DATA = Hourly({})


@dataclass(frozen=True)
class WeekData:
    """What the week's hourly queries answered, keyed by label values (cluster first)."""

    coverage: Mapping[str, frozenset[int]]  # cluster -> hours with cost data
    held: Keyed  # (cluster, namespace, gpu_model) -> GPU-hours
    busy: Keyed  # (cluster, namespace, gpu_model)
    energy: Keyed  # (cluster, namespace, gpu_model) -> kWh
    model_held: Keyed  # (cluster, namespace, model, gpu_model)
    model_busy: Keyed
    idle: Keyed  # (cluster, gpu_model)
    prompt: Keyed  # (cluster, namespace, model) -> tokens
    generation: Keyed
    # cluster -> hour -> share of the hour the cost rules recorded (0-1]; an hour missing from
    # `coverage` has none. Empty: every hour in `coverage` counts as recorded in full.
    recorded: Mapping[str, Mapping[int, float]] = field(default_factory=dict)

    @property
    def clusters(self) -> tuple[str, ...]:
        """Every cluster with data."""
        return tuple(sorted(self.coverage))

    def share(self, cluster: str, hour: int) -> float:
        """The share of ``hour`` the cluster's cost rules recorded (0 without data)."""
        if hour not in self.coverage.get(cluster, frozenset()):
            return 0.0
        return self.recorded.get(cluster, {}).get(hour, 1.0)

    def full_hours(self, cluster: str) -> frozenset[int]:
        """The hours the cluster's cost rules recorded at every evaluation."""
        return frozenset(h for h in self.coverage.get(cluster, frozenset()) if self.share(cluster, h) >= FULL_HOUR)

    def recorded_hours(self, cluster: str, hours: Iterable[int] | None = None) -> float:
        """The hours the cluster's cost rules recorded (in ``hours``, or all week): partly recorded ones in part."""
        chosen = self.coverage.get(cluster, frozenset()) if hours is None else hours
        return sum(self.share(cluster, h) for h in chosen)

    def gap_hours(self, cluster: str) -> tuple[int, ...]:
        """The hours of the cluster's recording that rest on a gap: between its first and last hour with
        data, those not recorded in full (Prometheus down or restarting, evaluations missed). The first
        and last hour are left out: a recording that starts or ends within an hour (an install, the
        week so far) is a partial week, not a gap."""
        hours = self.coverage.get(cluster, frozenset())
        if len(hours) < 3:
            return ()
        first, last = min(hours), max(hours)
        return tuple(h for h in range(first + 1, last) if self.share(cluster, h) < FULL_HOUR)


def _tokens(value: float) -> int:
    return round(value) if math.isfinite(value) and value > 0 else 0


def _held_lines(data: WeekData, prices: PriceList, hours: Mapping[str, Hours | None]) -> list[Line]:
    """Held lines: per (cluster, namespace, GPU model) its models' lines and the rest."""
    out: list[Line] = []
    models_of: dict[tuple[str, ...], list[str]] = {}
    for k in data.model_held:
        models_of.setdefault((k[0], k[1], k[3]), []).append(k[2])
    for cluster, ns, gpu_model in sorted(set(data.held) | set(models_of)):
        h = hours.get(cluster)
        sku = prices.sku(gpu_model)
        models = sorted(models_of.get((cluster, ns, gpu_model), []))
        held = {m: data.model_held[(cluster, ns, m, gpu_model)].total(h) for m in models}
        busy = {m: data.model_busy.get((cluster, ns, m, gpu_model), NO_DATA).total(h) for m in models}
        held[""] = data.held.get((cluster, ns, gpu_model), NO_DATA).total(h) - sum(held.values())
        busy[""] = data.busy.get((cluster, ns, gpu_model), NO_DATA).total(h) - sum(busy.values())
        names = [*models, ""]
        qty = {m: quantity(held[m]) for m in names}
        energy = quantity(data.energy.get((cluster, ns, gpu_model), NO_DATA).total(h))
        kwh = dict(zip(names, apportion_decimal(energy, [float(qty[m]) for m in names]), strict=True))
        for m in names:
            if qty[m] == 0 and kwh[m] == 0:
                continue
            known = gpu_model != ""  # GPUs only requested (kube-state-metrics) have no busy time
            out.append(
                Line(
                    LineKind.HELD,
                    cluster,
                    ns,
                    m,
                    sku,
                    qty[m],
                    min(quantity(busy[m]), qty[m]) if known else None,
                    kwh[m],
                )
            )
    return out


def _with_tokens(lines: list[Line], data: WeekData, prices: PriceList, hours: Mapping[str, Hours | None]) -> list[Line]:
    """Tokens of each model, spread over its lines by GPU-hours (a model with no GPU time gets a 0-hour line)."""
    out = list(lines)
    index: dict[tuple[str, str, str], list[int]] = {}
    for i, ln in enumerate(out):
        index.setdefault((ln.cluster, ln.namespace, ln.model), []).append(i)
    for cluster, ns, model in sorted(set(data.prompt) | set(data.generation)):
        h = hours.get(cluster)
        prompt = _tokens(data.prompt.get((cluster, ns, model), NO_DATA).total(h))
        generation = _tokens(data.generation.get((cluster, ns, model), NO_DATA).total(h))
        if prompt == 0 and generation == 0:
            continue
        idx = index.get((cluster, ns, model), [])
        if not idx:
            out.append(Line(LineKind.HELD, cluster, ns, model, prices.sku(""), ZERO, ZERO))
            idx = [len(out) - 1]
        weights = [float(out[i].gpu_hours) for i in idx]
        for i, p, g in zip(idx, apportion(prompt, weights), apportion(generation, weights), strict=True):
            ln = out[i]
            out[i] = replace(ln, prompt_tokens=p, generation_tokens=g)
    return out


def _idle_lines(data: WeekData, prices: PriceList, hours: Mapping[str, Hours | None]) -> list[Line]:
    out = []
    for (cluster, gpu_model), series in sorted(data.idle.items()):
        qty = quantity(series.total(hours.get(cluster)))
        if qty > 0:
            out.append(Line(LineKind.IDLE, cluster, "", "", prices.sku(gpu_model), qty))
    return out


def share_hours(cents: Decimal, idle: Line) -> Decimal:
    """The GPU-hours of ``idle``'s GPU model that cost ``cents``: a share line keeps its list price."""
    if idle.sku.unit_price <= 0:
        return ZERO
    hours = (cents / idle.sku.unit_price).quantize(HOURS_QUANTUM, ROUND_HALF_EVEN)
    # price x hours rounds back to the cents (any price under 10,000 per GPU-hour: 6 decimals of hours).
    return hours if money(idle.sku.unit_price, hours) == cents else quantity(float(cents / idle.sku.unit_price))


def _shared(lines: list[Line]) -> list[Line]:
    """``idle_policy: share``: each idle line's cost spread over its cluster's held lines by held cost.

    The cents are split (largest remainder), not the hours, so the shares add up to the idle line
    to the cent; each share line is the GPU-hours of the idle GPU model those cents buy.
    """
    out = [ln for ln in lines if ln.kind is not LineKind.IDLE]
    for idle in (ln for ln in lines if ln.kind is LineKind.IDLE):
        held = [ln for ln in out if ln.kind is LineKind.HELD and ln.cluster == idle.cluster and ln.cost > 0]
        if not held:
            out.append(idle)  # nobody to share it with: it stays idle
            continue
        # By namespace first, then within the namespace by model (models on several GPU models count once).
        per_ns: dict[str, dict[str, Decimal]] = {}
        for ln in held:
            models = per_ns.setdefault(ln.namespace, {})
            models[ln.model] = models.get(ln.model, ZERO) + ln.cost
        names = sorted(per_ns)
        ns_cents = apportion_decimal(idle.cost, [float(sum(per_ns[ns].values())) for ns in names], CENT)
        for ns, cents in zip(names, ns_cents, strict=True):
            ordered = sorted(per_ns[ns])
            shares = apportion_decimal(cents, [float(per_ns[ns][m]) for m in ordered], CENT)
            for model, share in zip(ordered, shares, strict=True):
                if share > 0:
                    out.append(Line(LineKind.IDLE_SHARE, idle.cluster, ns, model, idle.sku, share_hours(share, idle)))
    return out


def build_lines(
    data: WeekData, prices: PriceList, share_idle: bool, hours: Mapping[str, Hours | None] | None = None
) -> tuple[Line, ...]:
    """The ledger of ``data`` over ``hours`` (per cluster; every hour with data when None or absent)."""
    h: Mapping[str, Hours | None] = hours or {}
    lines = _with_tokens(_held_lines(data, prices, h), data, prices, h) + _idle_lines(data, prices, h)
    if share_idle:
        lines = _shared(lines)
    order = {LineKind.HELD: 0, LineKind.IDLE_SHARE: 1, LineKind.IDLE: 2}
    return tuple(sorted(lines, key=lambda ln: (ln.cluster, order[ln.kind], ln.namespace, ln.model, ln.sku.gpu_model)))


def total(lines: Sequence[Line] | Collection[Line], attr: str = "cost") -> Decimal:
    """The sum of one Decimal attribute of ``lines`` (cost by default)."""
    return sum((getattr(ln, attr) for ln in lines), ZERO)
