"""Reading inferwatch.yaml safely: bounded size and nesting, strict UTF-8, no duplicate keys, no aliases.

Every refusal is a ConfigError naming the file and where in it (byte offset, or line and column),
so a hostile or broken file ends in exit 2, never a traceback or unbounded memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferwatch.errors import ConfigError, FieldProblem

# inferwatch.yaml is a few kilobytes; a larger file is a mistake (or an attack on the parser).
MAX_CONFIG_BYTES = 1024 * 1024
# The schema nests five levels deep; a deeper document is refused before it is built.
MAX_NESTING = 64


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping naming the same key twice (YAML says keys are unique)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _check_structure(text: str, source: str) -> None:
    """Refuse aliases and nesting deeper than MAX_NESTING from the event stream (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(
                source, [FieldProblem("", f"{_where(event.start_mark)}YAML aliases (*name) are not supported")]
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise ConfigError(
                    source,
                    [FieldProblem("", f"{_where(event.start_mark)}nested more than {MAX_NESTING} levels deep")],
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def read_yaml_mapping(path: Path, source: str) -> Any:
    """The parsed YAML document of ``path`` (not yet validated); raises ConfigError when unreadable."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(source, [FieldProblem("", f"cannot read file: {err.strerror}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [FieldProblem("", f"larger than {MAX_CONFIG_BYTES} bytes; not a configuration")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            source, [FieldProblem("", f"not UTF-8: byte offset {err.start} (0x{raw[err.start]:02x}) cannot be decoded")]
        ) from None
    try:
        _check_structure(text, source)
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.reader.ReaderError as err:
        # A character YAML forbids (a NUL, most C0 controls): name its byte, as for bad UTF-8.
        offset = len(text[: err.position].encode())
        raise ConfigError(
            source, [FieldProblem("", f"byte offset {offset}: character U+{err.character:04X} is not allowed in YAML")]
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(source, [FieldProblem("", f"{_where(mark)}not valid YAML: {problem}")]) from None


def display_path(path: Path) -> str:
    """``path`` as generated headers and messages show it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
