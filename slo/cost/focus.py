"""The FinOps FOCUS column spec (data in focus-1.2-columns.yaml) and a validator for FOCUS CSV files.

The column list is data with its source cited in the YAML file; this module only reads it and
checks a CSV against it: every Mandatory column present, every other column either a FOCUS
column or a custom column prefixed ``x_``, and each value of the right type (DateTimeFormat,
NumericFormat, KeyValueFormat, CurrencyFormat, UnitFormat), allowed value and nullability.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources

import yaml

from inferwatch.errors import ExitCode, InferwatchError

SPEC_FILE = "focus-1.2-columns.yaml"
CUSTOM_PREFIX = "x_"


class DataType(StrEnum):
    """FOCUS data types (NumericFormat's Decimal; DateTimeFormat; JSON for KeyValueFormat)."""

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
    feature_level: FeatureLevel
    data_type: DataType
    allows_nulls: bool
    allowed_values: tuple[str, ...] = ()
    value_format: str = ""
    not_null_when: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FocusSpec:
    """The columns of one FOCUS version."""

    version: str
    columns: tuple[FocusColumn, ...]

    def column(self, name: str) -> FocusColumn | None:
        """The FOCUS column called ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def mandatory(self) -> tuple[str, ...]:
        """Names of the columns every FOCUS dataset carries."""
        return tuple(c.name for c in self.columns if c.feature_level is FeatureLevel.MANDATORY)


class FocusValidationError(InferwatchError):
    """A CSV does not conform to the FOCUS column spec."""

    exit_code = ExitCode.VALIDATION_FAILED

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("not a FOCUS file:\n" + "\n".join(f"  {p}" for p in problems))


@cache
def focus_spec() -> FocusSpec:
    """The FOCUS column spec shipped with inferwatch."""
    text = resources.files("inferwatch.slo.cost").joinpath(SPEC_FILE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    columns = tuple(
        FocusColumn(
            name=c["name"],
            feature_level=FeatureLevel(c["feature_level"]),
            data_type=DataType(c["data_type"]),
            allows_nulls=bool(c["allows_nulls"]),
            allowed_values=tuple(c.get("allowed_values", ())),
            value_format=c.get("value_format", ""),
            not_null_when=dict(c.get("not_null_when", {})),
        )
        for c in data["columns"]
    )
    return FocusSpec(str(data["focus_version"]), columns)


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# NumericFormat: an integer or decimal; no exponent, no "+", no thousands separators.
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# UnitFormat: "Hours", "GPU-Hours", "1000 Tokens", "GB/Hour", "Units/3 Months".
_BASE = r"[A-Z][A-Za-z]*"
_UNIT = re.compile(rf"^(\d+ )?{_BASE}(-{_BASE})?(/(\d+ )?{_BASE})?$")


def _value_problem(col: FocusColumn | None, data_type: DataType, value: str) -> str | None:
    """What is wrong with one non-null value, or None."""
    if data_type is DataType.DATETIME and not _DATETIME.match(value):
        return f"{value!r} is not a UTC date-time YYYY-MM-DDTHH:MM:SSZ"
    if data_type is DataType.DECIMAL and not _DECIMAL.match(value):
        return f"{value!r} is not a FOCUS numeric value (digits, optional '-', one '.'; no exponent)"
    if data_type is DataType.JSON:
        try:
            obj = json.loads(value)
        except ValueError:
            return f"{value!r} is not JSON"
        if not isinstance(obj, dict):
            return f"{value!r} is not a JSON object (KeyValueFormat)"
        if any(isinstance(v, dict | list) for v in obj.values()):
            return f"{value!r}: KeyValueFormat values are scalars"
    if col is None:
        return None
    if col.allowed_values and value not in col.allowed_values:
        return f"{value!r} is not one of {', '.join(col.allowed_values)}"
    if col.value_format == "CurrencyCode" and not _CURRENCY.match(value):
        return f"{value!r} is not an ISO 4217 currency code"
    if col.value_format == "UnitFormat" and not _UNIT.match(value):
        return f"{value!r} is not in FOCUS UnitFormat (e.g. 'Hours', 'GPU-Hours', '1000 Tokens')"
    return None


def validate_focus_csv(text: str, custom_types: Mapping[str, DataType] | None = None) -> list[str]:
    """Every problem of a FOCUS CSV against the column spec (empty when it conforms).

    ``custom_types`` gives the data type of the file's own ``x_`` columns, so they are checked
    too (FOCUS: custom columns follow the same numeric, date-time and JSON formats).
    """
    spec = focus_spec()
    custom = dict(custom_types or {})
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    problems: list[str] = []
    if len(set(header)) != len(header):
        problems.append("header: a column appears twice")
    for name in spec.mandatory:
        if name not in header:
            problems.append(f"header: mandatory column {name} is missing")
    for name in header:
        if spec.column(name) is None and not name.startswith(CUSTOM_PREFIX):
            problems.append(f"header: {name} is neither a FOCUS {spec.version} column nor prefixed {CUSTOM_PREFIX}")
    rows = 0
    for line, row in enumerate(reader, start=2):
        rows += 1
        if None in row:
            problems.append(f"row {line}: more values than columns")
        for name in header:
            value = row.get(name) or ""
            col = spec.column(name)
            where = f"row {line} {name}"
            if value == "":
                required = col is not None and (
                    not col.allows_nulls
                    or (col.not_null_when and all(row.get(k, "") == v for k, v in col.not_null_when.items()))
                )
                if required:
                    problems.append(f"{where}: must not be null")
                continue
            data_type = col.data_type if col is not None else custom.get(name, DataType.STRING)
            problem = _value_problem(col, data_type, value)
            if problem:
                problems.append(f"{where}: {problem}")
        for start, end in (("BillingPeriodStart", "BillingPeriodEnd"), ("ChargePeriodStart", "ChargePeriodEnd")):
            s, e = row.get(start) or "", row.get(end) or ""
            if _DATETIME.match(s) and _DATETIME.match(e) and not s < e:
                problems.append(f"row {line}: {start} {s} is not before {end} {e}")
    if rows == 0:
        problems.append("no rows")
    return problems


def check_focus_csv(text: str, custom_types: Mapping[str, DataType] | None = None) -> None:
    """Raise FocusValidationError listing every problem unless ``text`` is a conforming FOCUS CSV."""
    problems = validate_focus_csv(text, custom_types)
    if problems:
        raise FocusValidationError(problems)
