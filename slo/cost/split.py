"""Ledger lines split by tenant and by LoRA adapter: every part is a ledger line, so every figure still adds up.

The weights come from the recorded attribution series (inferwatch.slo.cost.attribution) integrated
over the week: a namespace's tenants (the llm-d router's ``fairness_id``) by their share of its
held cost, and the rest ``""`` (no tenant reported); a model's running LoRA adapters by theirs, and
the rest ``""`` (no adapter running). A line of a namespace with tenants and a model with adapters
is split by both shares multiplied: the router's tenants and vLLM's adapter lists are read apart.

- A held line's GPU-hours, busy hours, kWh and tokens are apportioned (largest remainder, in their
  own steps), so the parts add up to the line's GPU time exactly; each part is priced like any line
  (list price x GPU-hours, to the cent).
- An idle-share line's cents are apportioned, each part the GPU-hours those cents buy (as the idle
  share itself is made), so the parts add up to the share to the cent and the bill stays the same
  under either idle policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from inferwatch.slo.cost.ledger import CENT, ZERO, Line, LineKind, apportion, apportion_decimal, share_hours

Key = tuple[str, ...]
# Per key, each name ("" = unattributed) and its weight.
Weights = Mapping[Key, Sequence[tuple[str, float]]]
_WHOLE = (("", 1.0),)


def _normal(parts: Sequence[tuple[str, float]] | None) -> list[tuple[str, float]]:
    clean = [(name, w if math.isfinite(w) and w > 0 else 0.0) for name, w in parts or ()]
    whole = sum(w for _, w in clean)
    return [(name, w / whole) for name, w in clean] if whole > 0 else list(_WHOLE)


def _parts(ln: Line, tenants: Weights, adapters: Weights) -> list[tuple[str, str, float]]:
    by_tenant = _normal(tenants.get((ln.cluster, ln.namespace)))
    by_adapter = _normal(adapters.get((ln.cluster, ln.namespace, ln.model)) if ln.model else None)
    return [(t, a, wt * wa) for t, wt in by_tenant for a, wa in by_adapter]


def _split(ln: Line, parts: list[tuple[str, str, float]]) -> list[Line]:
    if len(parts) == 1:
        return [replace(ln, tenant=parts[0][0], adapter=parts[0][1])]
    weights = [w for _, _, w in parts]
    if ln.kind is LineKind.IDLE_SHARE:
        cents = apportion_decimal(ln.cost, weights, CENT)
        return [
            replace(ln, gpu_hours=share_hours(c, ln), tenant=t, adapter=a)
            for (t, a, _), c in zip(parts, cents, strict=True)
            if c > 0
        ]
    hours = apportion_decimal(ln.gpu_hours, weights)
    busy = apportion_decimal(ln.busy_gpu_hours, weights) if ln.busy_gpu_hours is not None else None
    kwh = apportion_decimal(ln.energy_kwh, weights)
    prompt, generation = apportion(ln.prompt_tokens, weights), apportion(ln.generation_tokens, weights)
    out = []
    for i, (tenant, adapter, _) in enumerate(parts):
        if hours[i] == ZERO and kwh[i] == ZERO and prompt[i] == 0 and generation[i] == 0:
            continue
        out.append(
            replace(
                ln,
                gpu_hours=hours[i],
                busy_gpu_hours=None if busy is None else min(busy[i], hours[i]),
                energy_kwh=kwh[i],
                prompt_tokens=prompt[i],
                generation_tokens=generation[i],
                tenant=tenant,
                adapter=adapter,
            )
        )
    return out


def split_lines(lines: Sequence[Line], tenants: Weights, adapters: Weights) -> tuple[Line, ...]:
    """Every held and idle-share line split by its namespace's tenants and its model's adapters.

    ``tenants`` is keyed (cluster, namespace), ``adapters`` (cluster, namespace, model); a key
    absent (or with no positive weight) leaves its lines whole. Idle lines are nobody's: never split.
    """
    out: list[Line] = []
    for ln in lines:
        out += [ln] if ln.kind is LineKind.IDLE else _split(ln, _parts(ln, tenants, adapters))
    return tuple(out)
