"""values.yaml as text: every key of a values model with its description as the comment above it."""

from __future__ import annotations

import textwrap
from typing import Any, get_args

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo


def drop_none(value: Any) -> Any:
    """``value`` with None left out of every mapping, as Helm drops nulls."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def _comment(text: str, pad: str) -> list[str]:
    return [f"{pad}# {line}" for line in textwrap.wrap(text, width=max(40, 110 - len(pad)))]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _description(field: FieldInfo) -> str:
    """A field's description, else the first line of its model's (or list item model's) docstring."""
    if field.description:
        return field.description
    args = get_args(field.annotation)
    model = _model_of(field.annotation) or (_model_of(args[0]) if args else None)
    doc = (model.__doc__ or "").strip().splitlines() if model else []
    return f"{'a list of: ' if args else ''}{doc[0]}" if doc else ""


def _yaml_block(key: str, value: Any, pad: str) -> list[str]:
    text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return [pad + line for line in text.rstrip("\n").splitlines()]


def emit_values(model: type[BaseModel], data: dict[str, Any], pad: str) -> list[str]:
    """values.yaml lines of ``data`` under ``model``: each key under its description, unset ones commented."""
    lines: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if not pad and lines:
            lines.append("")
        lines.extend(_comment(_description(field), pad))
        if key not in data:
            lines.append(f"{pad}# {key}:   (unset)")
            continue
        value = data[key]
        sub = _model_of(field.annotation)
        if sub is not None and isinstance(value, dict):
            # An empty section stays `{}`; its unset settings follow as comments.
            lines.append(f"{pad}{key}:" if value else f"{pad}{key}: {{}}")
            lines.extend(emit_values(sub, value, pad + "  "))
        else:
            lines.extend(_yaml_block(key, value, pad))
    return lines
