"""Hypothesis strategies that damage a YAML input the way users (and fuzzers) do.

Shared by the property tests over the config loader (tests/test_config_fuzz.py) and the OpenSLO
loader (tests/slo/test_openslo_fuzz.py): one value replaced by a hostile one, a key removed or
added, a value replaced by a tree of YAML aliases, or raw bytes spliced into the file.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["0s", "7d", "8d", "99999999999d", "{{ $value }}", "\x1b[31m", "1e308", "-0", ".inf", "2.2"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path below ``node`` (not the empty path)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def alias_tree(depth: int) -> list[Any]:
    """Nine references to the same list, ``depth`` levels deep: yaml.safe_dump writes it as anchors and
    aliases (a "billion laughs" document of a few hundred bytes that expands to 9**(depth+1) strings)."""
    node: list[Any] = ["lol"] * 9
    for _ in range(depth):
        node = [node] * 9
    return node


def splice_bytes(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with one to four short runs of random bytes inserted."""
    out = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(out)))
        out[pos:pos] = draw(st.binary(min_size=1, max_size=4))
    return bytes(out)


def mutate_tree(draw: st.DrawFn, data: Any, kinds: list[str]) -> Any:
    """A deep copy of ``data`` with one mutation of a kind drawn from ``kinds``
    ("replace", "delete", "add", "alias") at a path drawn from ``data``'s paths."""
    data = copy.deepcopy(data)
    kind = draw(st.sampled_from(kinds))
    path = draw(st.sampled_from(paths(data)))
    parent: Any = data
    for key in path[:-1]:
        parent = parent[key]
    if kind == "replace":
        parent[path[-1]] = draw(values)
    elif kind == "alias":
        parent[path[-1]] = alias_tree(draw(st.integers(1, 8)))
    elif kind == "delete":
        del parent[path[-1]]
    else:
        target = parent[path[-1]]
        if isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif isinstance(target, list):
            target.append(draw(values))
        else:
            parent[path[-1]] = {draw(st.text(min_size=1, max_size=12)): draw(values)}
    return data


def dump(data: Any) -> bytes:
    """One YAML document, as a user's editor would save it."""
    return yaml.safe_dump(data, allow_unicode=True).encode()


def dump_all(documents: list[Any]) -> bytes:
    """Several YAML documents separated by `---`."""
    return yaml.safe_dump_all(documents, allow_unicode=True).encode()
