"""Loading SLO definitions from files: inferwatch.yaml (`slos:`), a bare list, or OpenSLO v1 documents.

Every problem names the file, the SLO and the field; all problems of all files are collected
before one ConfigError (exit 2) is raised, so a user fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from inferwatch.slo.model import SLO, SpecWarning, compile_slo
from inferwatch.slo.openslo import OpenSLOProblems, is_openslo, to_specs
from pydantic import ValidationError

from inferwatch.config.slo import SLOSpec
from inferwatch.errors import ConfigError, FieldProblem

# A few hundred bytes of nested YAML aliases (a "billion laughs" document) expand to gigabytes once
# anything walks the values; SLO files are small, so a document that would expand beyond this
# many nodes is refused before it is constructed.
MAX_EXPANDED_NODES = 100_000


class YAMLAliasBombError(yaml.YAMLError):
    """A document whose aliases expand it beyond MAX_EXPANDED_NODES."""


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


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents whose aliases expand beyond MAX_EXPANDED_NODES."""

    def construct_document(self, node: yaml.Node) -> object:
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise YAMLAliasBombError(
                f"its aliases expand it beyond {MAX_EXPANDED_NODES} YAML nodes: refusing to expand them"
            )
        return super().construct_document(node)


def _load_documents(text: str) -> list[Any]:
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
        docs = _load_documents(path.read_text())
    except OSError as err:
        return [], [FieldProblem(source, f"cannot read file: {err.strerror}")]
    except UnicodeDecodeError:
        return [], [FieldProblem(source, "not UTF-8 text")]
    except YAMLAliasBombError as err:
        return [], [FieldProblem(source, str(err))]
    except yaml.YAMLError as err:
        return [], [FieldProblem(source, f"not valid YAML: {err}")]
    if docs and all(is_openslo(d) for d in docs):
        try:
            return [(f"SLO {name!r}", spec) for name, spec in to_specs(docs)], []
        except OpenSLOProblems as err:
            return [], [FieldProblem(f"{source}: {p.path}", p.message) for p in err.problems]
    if len(docs) != 1:
        return [], [FieldProblem(source, "expected one YAML document (or only OpenSLO documents)")]
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
