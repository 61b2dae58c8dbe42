"""The FinOps FOCUS column specs (data, one file per version) and a validator for FOCUS CSV files.

Each version's columns and cross-column rules are data with their source cited
(focus-1.3-columns.yaml, focus-1.2-columns.yaml; ISO 4217 codes in iso-4217-currencies.yaml);
this module reads them and checks a CSV: the header (every Mandatory column present, every other
column a FOCUS column of that version or prefixed ``x_``), every value (data type and format:
NumericFormat with E-notation, real UTC date-times, ISO 4217 national currencies, UnitFormat,
KeyValueFormat with unique keys, JsonObjectFormat; allowed values; nullability), and the rules
across columns (ListCost = ListUnitPrice x PricingQuantity, the SkuPriceId gate, columns null
together, split cost allocation ratios adding up to 1, …). Every problem names its rule id, so a
test can prove each rule rejects what breaks it (tests/slo/cost/test_focus.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache, cached_property
from importlib import resources
from typing import Any

import yaml

from inferwatch.errors import ExitCode, InferwatchError

CUSTOM_PREFIX = "x_"
VERSIONS = ("1.2", "1.3")


class DataType(StrEnum):
    """FOCUS data types."""

    STRING = "String"
    DECIMAL = "Decimal"
    DATETIME = "DateTime"
    JSON = "JSON"


class FeatureLevel(StrEnum):
    """Whether a FOCUS dataset must carry the column."""

    MANDATORY = "Mandatory"
    CONDITIONAL = "Conditional"
    RECOMMENDED = "Recommended"


@dataclass(frozen=True)
class FocusColumn:
    """One FOCUS column's content constraints."""

    name: str
    level: FeatureLevel
    data_type: DataType
    nulls: bool
    format: str = ""
    allowed: tuple[str, ...] = ()
    deprecated: bool = False
    source: str = ""


@dataclass(frozen=True)
class Rule:
    """A requirement across columns of a row (or rows of the file), as written in the spec file."""

    id: str
    kind: str
    data: Mapping[str, Any]

    @property
    def targets(self) -> tuple[str, ...]:
        """The columns the rule constrains."""
        cols = self.data.get("columns") or [self.data["column"]]
        return tuple(cols)


@dataclass(frozen=True)
class FocusSpec:
    """The columns and rules of one FOCUS version."""

    version: str
    columns: tuple[FocusColumn, ...]
    rules: tuple[Rule, ...]
    subcategories: Mapping[str, tuple[str, ...]]
    source: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> FocusColumn | None:
        """The FOCUS column called ``name``, or None."""
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, FocusColumn]:
        return {c.name: c for c in self.columns}

    @property
    def mandatory(self) -> tuple[str, ...]:
        """Names of the columns every FOCUS dataset carries."""
        return tuple(c.name for c in self.columns if c.level is FeatureLevel.MANDATORY)


class FocusValidationError(InferwatchError):
    """A CSV does not conform to the FOCUS column spec (an inferwatch bug when the report wrote it)."""

    exit_code = ExitCode.VALIDATION_FAILED

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("not a FOCUS file:\n" + "\n".join(f"  {p}" for p in problems[:50]))


def _read(name: str) -> Any:
    return yaml.safe_load(resources.files("inferwatch.slo.cost").joinpath(name).read_text(encoding="utf-8"))


@cache
def focus_spec(version: str = "1.3") -> FocusSpec:
    """The FOCUS column spec of ``version`` shipped with inferwatch (1.2 or 1.3)."""
    if version not in VERSIONS:
        raise ValueError(f"FOCUS {version} is not known; inferwatch writes {', '.join(VERSIONS)}")
    data = _read(f"focus-{version}-columns.yaml")
    columns = tuple(
        FocusColumn(
            name=c["name"],
            level=FeatureLevel(c["level"]),
            data_type=DataType(c["type"]),
            nulls=bool(c["nulls"]),
            format=c.get("format", ""),
            allowed=tuple(c.get("allowed", ())),
            deprecated=bool(c.get("deprecated", False)),
            source=c.get("source", ""),
        )
        for c in data["columns"]
    )
    rules = tuple(Rule(r["id"], r["kind"], r) for r in data["rules"])
    subcategories = {k: tuple(v) for k, v in data["subcategories"].items()}
    return FocusSpec(str(data["focus_version"]), columns, rules, subcategories, data.get("source", {}))


@cache
def currencies() -> tuple[frozenset[str], frozenset[str]]:
    """ISO 4217 codes (List one), and those of them that name no national currency."""
    data = _read("iso-4217-currencies.yaml")
    return frozenset(data["codes"]), frozenset(data["not_national"])


# --- value formats (specification/attributes/*.md) ---------------------------------------------

# NumericFormat: integer, decimal or E-notation "mEn" (35.2E-7); no "+", no separators, the
# exponent signed only when negative.
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?(E-?\d+)?$")
_DATETIME = "%Y-%m-%dT%H:%M:%SZ"
_DATETIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# UnitFormat: "Hours", "GPU-Hours", "1000 Tokens", "GB/Hour", "Units/3 Months".
_BASE = r"[A-Z][A-Za-z]*"
_UNIT = re.compile(rf"^(\d+ )?{_BASE}(-{_BASE})?(/(\d+ )?{_BASE})?$")


def parse_datetime(value: str) -> datetime | None:
    """A FOCUS date-time as a datetime, or None unless it is a real instant in YYYY-MM-DDTHH:mm:ssZ."""
    if not _DATETIME_SHAPE.match(value):
        return None
    try:
        return datetime.strptime(value, _DATETIME)
    except ValueError:
        return None


def parse_decimal(value: str) -> Decimal | None:
    """A FOCUS numeric value as a Decimal, or None unless it is in NumericFormat."""
    if not _NUMERIC.match(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


class DuplicateKeyError(ValueError):
    """A JSON object has a key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise DuplicateKeyError(k)
        seen[k] = v
    return seen


def parse_json_object(value: str) -> tuple[dict[str, Any] | None, str]:
    """A JSON object with unique keys (at every level), or None and what is wrong."""
    try:
        obj = json.loads(value, object_pairs_hook=_unique_keys)
    except DuplicateKeyError as err:
        return None, f"key {str(err)!r} appears twice"
    except ValueError:
        return None, "is not JSON"
    if not isinstance(obj, dict):
        return None, "is not a JSON object"
    return obj, ""


def _json_object_problem(obj: Any) -> str:
    """JsonObjectFormat: arrays of one type, without nulls or repeated elements (at any depth)."""
    if isinstance(obj, dict):
        return next((p for p in (_json_object_problem(v) for v in obj.values()) if p), "")
    if isinstance(obj, list):
        if any(x is None for x in obj):
            return "an array holds null"
        if len({type(x).__name__ for x in obj}) > 1:
            return "an array mixes types"
        if len({json.dumps(x, sort_keys=True) for x in obj}) != len(obj):
            return "an array repeats an element"
        return next((p for p in (_json_object_problem(v) for v in obj) if p), "")
    return ""


def _allocated_method_details(obj: dict[str, Any]) -> str:
    """AllocatedMethodDetails: {"Elements": [{"AllocatedRatio": n, "UsageUnit": …, "UsageQuantity": n}, …]}."""
    elements = obj.get("Elements")
    if not isinstance(elements, list) or not elements:
        return "needs an Elements array"
    for e in elements:
        if not isinstance(e, dict) or not isinstance(e.get("AllocatedRatio"), int | float):
            return "each element needs a numeric AllocatedRatio"
        if "UsageQuantity" in e and "UsageUnit" not in e:
            return "an element with UsageQuantity needs UsageUnit"
    return ""


def _format_problem(col_format: str, column: str, value: str) -> tuple[str, str]:
    """(rule id, what is wrong) for one non-null value of a formatted column, or ("", "")."""
    national, not_national = currencies()
    if col_format == "Numeric" and parse_decimal(value) is None:
        return "numeric-format", f"{value!r} is not a FOCUS number (digits, '-', one '.', E-notation like 4E0)"
    if col_format == "DateTime" and parse_datetime(value) is None:
        return "datetime-format", f"{value!r} is not a real UTC date-time YYYY-MM-DDTHH:mm:ssZ"
    if col_format == "NationalCurrency" and (value not in national or value in not_national):
        return "currency-format", f"{value!r} is not an ISO 4217 national currency code"
    if col_format == "Unit" and not _UNIT.match(value):
        return "unit-format", f"{value!r} is not in FOCUS UnitFormat (e.g. 'Hours', 'GPU-Hours', '1000 Tokens')"
    if col_format in ("KeyValue", "JsonObject"):
        obj, problem = parse_json_object(value)
        rule = "key-value-format" if col_format == "KeyValue" else "json-object-format"
        if obj is None:
            return rule, f"{value!r} {problem}"
        if col_format == "KeyValue" and any(isinstance(v, dict | list) for v in obj.values()):
            return rule, f"{value!r}: KeyValueFormat values are strings, numbers, booleans or null"
        if col_format == "JsonObject":
            problem = _json_object_problem(obj)
            if not problem and column == "AllocatedMethodDetails":
                problem = _allocated_method_details(obj)
            if problem:
                return rule, f"{value!r}: {problem}"
    return "", ""


def _type_format(data_type: DataType) -> str:
    return {DataType.DECIMAL: "Numeric", DataType.DATETIME: "DateTime", DataType.JSON: "KeyValue"}.get(data_type, "")


# --- rules across columns --------------------------------------------------------------------------

Row = Mapping[str, str]


def _holds(row: Row, condition: Mapping[str, Any], header: set[str]) -> bool:
    """Whether every column of ``condition`` is in the file and has the stated value in ``row``."""
    for col, want in condition.items():
        if col not in header:
            return False
        value = row.get(col) or ""
        if want is None and value:
            return False
        if want == "!null" and not value:
            return False
        if isinstance(want, str) and want.startswith("!") and want != "!null" and value == want[1:]:
            return False
        if isinstance(want, str) and not want.startswith("!") and value != want:
            return False
    return True


def _any_holds(row: Row, rule: Rule, header: set[str]) -> bool:
    return any(_holds(row, cond, header) for cond in rule.data.get("when", []))


def _product_problem(row: Row, rule: Rule) -> str:
    """``column`` = product of ``factors`` to the precision the column is written with."""
    unless = rule.data.get("unless")
    if unless and _holds(row, unless, set(row)):
        return ""
    value = parse_decimal(row.get(rule.data["column"]) or "")
    factors = [parse_decimal(row.get(f) or "") for f in rule.data["factors"]]
    if value is None or any(f is None for f in factors):
        return ""
    product = Decimal(1)
    for f in factors:
        product *= f  # type: ignore[operator]
    # Half a unit of the last decimal the value is written with: 335.99 stands for 335.985 ... 335.995.
    exponent = value.as_tuple().exponent
    tolerance = Decimal(5).scaleb(int(exponent) - 1) if isinstance(exponent, int) else Decimal(0)
    if abs(value - product) > tolerance:
        names = " x ".join(f"{f} {row.get(f)}" for f in rule.data["factors"])
        return f"{row.get(rule.data['column'])} is not {names} = {product}"
    return ""


def _row_problems(row: Row, rule: Rule, header: set[str], spec: FocusSpec) -> list[str]:
    """What ``row`` breaks of one rule (a row-level rule)."""
    d, kind = rule.data, rule.kind
    present = [c for c in rule.targets if c in header]
    if kind == "product" and rule.targets[0] in header:
        problem = _product_problem(row, rule)
        return [f"{rule.targets[0]}: {problem}"] if problem else []
    if kind == "not_null_when" and _any_holds(row, rule, header):
        return [f"{c}: must not be null here" for c in present if not row.get(c)]
    if kind == "null_when" and _any_holds(row, rule, header):
        return [f"{c}: must be null here ({row.get(c)!r})" for c in present if row.get(c)]
    paired = kind == "null_iff" and d["column"] in header and d["other"] in header
    if paired and bool(row.get(d["column"])) != bool(row.get(d["other"])):
        return [f"{d['column']}: null exactly when {d['other']} is null"]
    if kind == "not_value_when" and present and _any_holds(row, rule, header) and row.get(d["column"]) == d["value"]:
        return [f"{d['column']}: must not be {d['value']!r} here"]
    if kind == "parent" and d["column"] in header and row.get(d["column"]):
        parent = row.get(d["other"]) or ""
        if row.get(d["column"]) not in spec.subcategories.get(parent, ()):
            return [f"{d['column']}: {row.get(d['column'])!r} is not a subcategory of {d['other']} {parent!r}"]
    if kind == "disjoint_keys" and row.get(d["column"]) and row.get(d["other"]):
        mine, _ = parse_json_object(row[d["column"]])
        theirs, _ = parse_json_object(row[d["other"]])
        shared = sorted(set(mine or {}) & set(theirs or {}))
        if shared:
            return [f"{d['column']}: repeats {d['other']} keys {', '.join(shared)}"]
    if kind == "before":
        start, end = parse_datetime(row.get(d["column"]) or ""), parse_datetime(row.get(d["other"]) or "")
        if start and end and not start < end:
            return [f"{d['column']} {row.get(d['column'])} is not before {d['other']} {row.get(d['other'])}"]
    return []


def _ratio_sums(rows: Sequence[Row], rule: Rule, header: set[str]) -> list[str]:
    """Split cost allocation: the AllocatedRatio of every split of one origin charge add up to 1."""
    d = rule.data
    if d["column"] not in header or not all(g in header for g in d["group"]):
        return []
    sums: dict[tuple[str, ...], Decimal] = {}
    for row in rows:
        obj, _ = parse_json_object(row.get(d["column"]) or "")
        if obj is None or not isinstance(obj.get("Elements"), list):
            continue
        key = tuple(row.get(g) or "" for g in d["group"])
        ratios = [
            Decimal(repr(e["AllocatedRatio"]))
            for e in obj["Elements"]
            if isinstance(e, dict) and isinstance(e.get("AllocatedRatio"), int | float)
        ]
        sums[key] = sums.get(key, Decimal(0)) + sum(ratios, Decimal(0))
    return [
        f"[{rule.id}] {d['column']}: ratios of {' / '.join(k)} add up to {s}, not 1"
        for k, s in sorted(sums.items())
        if abs(s - 1) > Decimal("0.000001")
    ]


# --- the validator ------------------------------------------------------------------------------


def _header_problems(header: list[str], spec: FocusSpec) -> list[str]:
    problems = []
    if len(set(header)) != len(header):
        problems.append("[duplicate-column] header: a column appears twice")
    problems += [
        f"[mandatory-column] header: mandatory column {n} is missing" for n in spec.mandatory if n not in header
    ]
    problems += [
        f"[unknown-column] header: {n} is neither a FOCUS {spec.version} column nor prefixed {CUSTOM_PREFIX}"
        for n in header
        if spec.column(n) is None and not n.startswith(CUSTOM_PREFIX)
    ]
    return problems


def _value_problems(row: Row, header: list[str], spec: FocusSpec, custom: Mapping[str, DataType]) -> list[str]:
    problems = []
    for name in header:
        value = row.get(name) or ""
        col = spec.column(name)
        if value == "":
            if col is not None and not col.nulls:
                problems.append(f"[not-null] {name}: must not be null")
            continue
        if col is not None and col.allowed and value not in col.allowed:
            problems.append(f"[allowed-values] {name}: {value!r} is not one of {', '.join(col.allowed)}")
            continue
        fmt = (col.format or _type_format(col.data_type)) if col else _type_format(custom.get(name, DataType.STRING))
        rule, problem = _format_problem(fmt, name, value)
        if problem:
            problems.append(f"[{rule}] {name}: {problem}")
    return problems


def validate_focus_csv(
    text: str, version: str = "1.3", custom_types: Mapping[str, DataType] | None = None
) -> list[str]:
    """Every problem of a FOCUS CSV against the ``version`` spec (empty when it conforms).

    ``custom_types`` gives the data type of the file's own ``x_`` columns, so they are checked
    too (FOCUS: custom columns follow the same numeric, date-time and JSON formats). Each
    problem starts with its rule id in brackets.
    """
    spec = focus_spec(version)
    custom = dict(custom_types or {})
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    present = set(header)
    problems = _header_problems(header, spec)
    rows = list(reader)
    row_rules = [r for r in spec.rules if r.kind != "ratio_sum"]
    for line, row in enumerate(rows, start=2):
        if None in row:
            problems.append(f"[row-width] row {line}: more values than columns")
        problems += [f"row {line} {p}" for p in _value_problems(row, header, spec, custom)]
        for rule in row_rules:
            problems += [f"row {line} [{rule.id}] {p}" for p in _row_problems(row, rule, present, spec)]
    for rule in (r for r in spec.rules if r.kind == "ratio_sum"):
        problems += _ratio_sums(rows, rule, present)
    if not rows:
        problems.append("[no-rows] the file has no rows")
    return problems


def check_focus_csv(text: str, version: str = "1.3", custom_types: Mapping[str, DataType] | None = None) -> None:
    """Raise FocusValidationError listing every problem unless ``text`` is a conforming FOCUS CSV."""
    problems = validate_focus_csv(text, version, custom_types)
    if problems:
        raise FocusValidationError(problems)


_FORMAT_RULES = {
    "Numeric": "numeric-format",
    "DateTime": "datetime-format",
    "NationalCurrency": "currency-format",
    "Unit": "unit-format",
    "KeyValue": "key-value-format",
    "JsonObject": "json-object-format",
}


def rule_ids(version: str = "1.3") -> tuple[str, ...]:
    """Every rule id the validator can report for ``version`` (header, value and cross-column rules)."""
    spec = focus_spec(version)
    formats = {c.format for c in spec.columns}
    fixed = ("duplicate-column", "mandatory-column", "unknown-column", "row-width", "not-null", "allowed-values")
    checked = tuple(rule for fmt, rule in _FORMAT_RULES.items() if fmt in formats)
    return (*fixed, *checked, "no-rows", *(r.id for r in spec.rules))
