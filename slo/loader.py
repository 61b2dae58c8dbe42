"""Loading SLO definitions from files: inferwatch.yaml (`slos:`), a bare list, or OpenSLO v1 documents.

Every problem names the file, the SLO and the field; all problems of all files are collected
before one ConfigError (exit 2) is raised, so a user fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from inferwatch.config.slo import SLOSpec
from inferwatch.config.yamlfile import MAX_CONFIG_BYTES, MAX_NESTING
from inferwatch.errors import ConfigError, FieldProblem
from inferwatch.slo.model import SLO, SpecWarning, compile_slo
from inferwatch.slo.openslo import API_VERSION, OpenSLOProblems, is_openslo, to_specs

# A few hundred bytes of nested YAML aliases (a "billion laughs" document) expand to gigabytes once
# anything walks the values; SLO files are small, so a document that would expand beyond this
# many nodes is refused before it is constructed.
MAX_EXPANDED_NODES = 100_000


class YAMLAliasBombError(yaml.YAMLError):
    """A document that, its aliases expanded, holds more than MAX_EXPANDED_NODES nodes."""


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Number of nodes ``node`` stands for once every alias is expanded (shared nodes counted once each use)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a node reached again while being sized (a recursive structure) counts once
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[key] = min(size, MAX_EXPANDED_NODES + 1)
    return memo[key]


class YAMLTooDeepError(yaml.YAMLError):
    """A document nested more than MAX_NESTING levels deep (PyYAML builds it by recursion)."""


def _check_nesting(text: str) -> None:
    """Refuse nesting deeper than MAX_NESTING from the event stream, before the recursive composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                mark = event.start_mark
                where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
                raise YAMLTooDeepError(f"{where}nested more than {MAX_NESTING} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents whose aliases expand beyond MAX_EXPANDED_NODES, and a mapping
    naming the same key twice (YAML says keys are unique; PyYAML would let the last one win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges a mapping in; its keys may be overridden
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error names it
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r:.80}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_document(self, node: yaml.Node) -> object:
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise YAMLAliasBombError(
                f"more than {MAX_EXPANDED_NODES} YAML nodes once its aliases are expanded: refusing to build it"
            )
        return super().construct_document(node)


def _load_documents(text: str) -> list[Any]:
    _check_nesting(text)
    return [d for d in yaml.load_all(text, Loader=_BoundedLoader) if d is not None]


def _slo_label(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"SLO {name!r}" if isinstance(name, str) and name else f"SLO #{index + 1}"


def validate_specs(raws: Sequence[tuple[str, Any]], source: str) -> tuple[list[SLOSpec], list[FieldProblem]]:
    """Validate raw spec mappings (label, data) into SLOSpec; problems are prefixed with file and SLO."""
    specs: list[SLOSpec] = []
    problems: list[FieldProblem] = []
    for label, raw in raws:
        try:
            specs.append(SLOSpec.model_validate(raw))
        except ValidationError as err:
            for e in err.errors():
                field = ".".join(str(p) for p in e["loc"]) or "(spec)"
                msg = str(e["msg"]).removeprefix("Value error, ")
                problems.append(FieldProblem(f"{source}: {label}: {field}", msg))
    return specs, problems


def read_spec_file(path: Path) -> tuple[list[tuple[str, Any]], list[FieldProblem]]:
    """Raw SLO specs (label, mapping) from one file, and the problems that stop reading it."""
    source = str(path)
    try:
        # Like inferwatch.yaml, an SLO file is a few kilobytes: a larger one is refused unread (PyYAML
        # takes minutes and gigabytes over megabytes of YAML).
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            return [], [FieldProblem(source, f"larger than {MAX_CONFIG_BYTES} bytes; not an SLO file")]
        docs = _load_documents(raw.decode("utf-8"))
    except OSError as err:
        return [], [FieldProblem(source, f"cannot read file: {err.strerror}")]
    except UnicodeDecodeError as err:
        byte = err.object[err.start]
        return [], [FieldProblem(source, f"not UTF-8: byte offset {err.start} (0x{byte:02x}) cannot be decoded")]
    except (YAMLAliasBombError, YAMLTooDeepError) as err:
        return [], [FieldProblem(source, str(err))]
    except yaml.YAMLError as err:
        return [], [FieldProblem(source, f"not valid YAML: {err}")]
    if docs and all(is_openslo(d) for d in docs):
        try:
            return [(f"SLO {name!r}", spec) for name, spec in to_specs(docs)], []
        except OpenSLOProblems as err:
            return [], [FieldProblem(f"{source}: {p.path}", p.message) for p in err.problems]
    if len(docs) != 1:
        return [], [
            FieldProblem(
                source,
                "expected one YAML document, or only OpenSLO documents "
                f"(apiVersion: {API_VERSION} exactly, kind: SLO or SLI)",
            )
        ]
    data = docs[0]
    if isinstance(data, dict):
        # an inferwatch.yaml (or a file holding only `slos:`), or a single SLO definition
        data = [data] if "sli" in data else data.get("slos", [])
    if not isinstance(data, list):
        return [], [FieldProblem(f"{source}: slos", "must be a list of SLO definitions")]
    return [(_slo_label(raw, i), raw) for i, raw in enumerate(data)], []


def load_slos(
    sources: Sequence[tuple[str, list[tuple[str, Any]]]], early: Sequence[FieldProblem] = ()
) -> tuple[list[SLO], list[SpecWarning]]:
    """Validate and compile raw specs of several sources; names must be unique across all of them.

    Raises ConfigError (exit 2) listing every problem, each naming file, SLO and field.
    """
    problems = list(early)
    slos: list[SLO] = []
    warnings: list[SpecWarning] = []
    seen: dict[str, str] = {}
    for source, raws in sources:
        specs, spec_problems = validate_specs(raws, source)
        problems += spec_problems
        for spec in specs:
            if spec.name in seen:
                problems.append(
                    FieldProblem(
                        f"{source}: SLO {spec.name!r}: name",
                        f"already defined in {seen[spec.name]}; names must be unique",
                    )
                )
                continue
            seen[spec.name] = source
            slo, ws = compile_slo(spec, source)
            slos.append(slo)
            warnings += ws
    if problems:
        raise ConfigError(", ".join(dict.fromkeys(s for s, _ in sources)) or "SLO files", problems)
    return slos, warnings


def load_slo_files(paths: Sequence[Path]) -> tuple[list[SLO], list[SpecWarning]]:
    """Read, validate and compile the SLOs of ``paths`` (inferwatch.yaml, SLO lists or OpenSLO)."""
    sources: list[tuple[str, list[tuple[str, Any]]]] = []
    early: list[FieldProblem] = []
    for path in paths:
        raws, problems = read_spec_file(path)
        sources.append((str(path), raws))
        early += problems
    return load_slos(sources, early)


def slos_from_specs(specs: Sequence[SLOSpec], source: str) -> tuple[list[SLO], list[SpecWarning]]:
    """Compile already-validated specs (the loaded config's `slos:`)."""
    return load_slos([(source, [(f"SLO {s.name!r}", s.model_dump()) for s in specs])])
