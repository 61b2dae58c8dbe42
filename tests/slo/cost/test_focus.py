"""Mutation tests of the FOCUS validator: for every rule, a file it must reject and a near miss it must accept.

The base is the report's own CSV (tests/slo/cost/sample.py) in FOCUS 1.3 and 1.2, which conforms.
Each case changes it the way a broken generator would (ListCost a cent off the product, currency
ABC, a tag key twice, 30 February, a blended ratio …), and the validator must name the rule; the
near miss changes it in a way the spec allows (4E0, 29 February 2028, a tag key differing only in
case, a correction in 1.2 …), and the validator must accept it. Every rule the validator knows has
its case (test_every_rule_has_a_case).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from inferwatch.slo.cost.focus import focus_spec, rule_ids, validate_focus_csv
from inferwatch.slo.cost.focus_csv import FocusIdentity, custom_column_types, render_csv
from tests.slo.cost.sample import PRICING, SETTINGS, sample_report

Rows = list[dict[str, str]]
Mutation = Callable[[Rows, list[str]], None]


def _base(version: str) -> tuple[Rows, list[str]]:
    text = render_csv(sample_report(), FocusIdentity.of(PRICING, SETTINGS, version))
    reader = csv.DictReader(io.StringIO(text))
    return list(reader), list(reader.fieldnames or [])


def _write(rows: Rows, header: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return buf.getvalue()


def _problems(version: str, mutate: Mutation, raw: Callable[[str], str] | None = None) -> list[str]:
    rows, header = _base(version)
    mutate(rows, header)
    text = _write(rows, header)
    return validate_focus_csv(raw(text) if raw else text, version, custom_column_types())


def _held(rows: Rows) -> dict[str, str]:
    return next(r for r in rows if r["x_CostKind"] == "held" and r["x_Model"])


def setting(**cells: str) -> Mutation:
    """Set cells of the first held row (adding a column the file lacks)."""

    def mutate(rows: Rows, header: list[str]) -> None:
        for k in cells:
            if k not in header:
                header.insert(header.index("x_Cluster"), k)
        _held(rows).update(cells)

    return mutate


UNPRICED = dict.fromkeys(
    ("SkuId", "SkuPriceId", "SkuMeter", "ListUnitPrice", "ContractedUnitPrice", "PricingQuantity", "PricingUnit"), ""
) | dict.fromkeys(("PricingCategory", "ConsumedQuantity", "ConsumedUnit"), "")


def correction(**cells: str) -> Mutation:
    """The first held row as a correction of a previous period, then ``cells``."""
    return setting(ChargeClass="Correction", **cells)


def header(change: Callable[[list[str]], None]) -> Mutation:
    """Change the header only."""
    return lambda rows, hdr: change(hdr)


def every_row(**cells: str) -> Mutation:
    """Set cells of every row."""

    def mutate(rows: Rows, hdr: list[str]) -> None:
        for row in rows:
            row.update(cells)

    return mutate


def ratio(delta: float) -> Mutation:
    """Move the first held row's AllocatedRatio by ``delta``."""

    def mutate(rows: Rows, hdr: list[str]) -> None:
        row = _held(rows)
        details = json.loads(row["AllocatedMethodDetails"])
        details["Elements"][0]["AllocatedRatio"] += delta
        row["AllocatedMethodDetails"] = json.dumps(details)

    return mutate


def tags(text: str) -> Mutation:
    """Replace the first held row's Tags with ``text`` (raw JSON)."""
    return setting(Tags=text)


def nothing(rows: Rows, hdr: list[str]) -> None:
    """The base file, unchanged."""


def both(*mutations: Mutation) -> Mutation:
    """Several mutations, one after the other."""

    def mutate(rows: Rows, hdr: list[str]) -> None:
        for m in mutations:
            m(rows, hdr)

    return mutate


@dataclass(frozen=True)
class Case:
    """A rule, mutations it must reject and near misses it must accept, in the versions that have it."""

    rule: str
    rejects: tuple[Mutation, ...]
    accepts: tuple[Mutation, ...]
    versions: tuple[str, ...] = ("1.2", "1.3")
    raw: Callable[[str], str] | None = None  # change the CSV text itself
    raw_accept: Callable[[str], str] | None = None


def _drop_rows(text: str) -> str:
    return text.splitlines(keepends=True)[0]


def _extra_value(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join([lines[0], lines[1].rstrip("\n") + ",surplus\n", *lines[2:]])


def _tags_key(key: str) -> Mutation:
    def mutate(rows: Rows, hdr: list[str]) -> None:
        row = _held(rows)
        t = json.loads(row["Tags"])
        t[key] = "x"
        row["Tags"] = json.dumps(t)

    return mutate


def _no_allocation(rows: Rows, hdr: list[str]) -> None:
    for row in rows:
        row.update(
            dict.fromkeys(
                (
                    "AllocatedMethodId",
                    "AllocatedMethodDetails",
                    "AllocatedResourceId",
                    "AllocatedResourceName",
                    "AllocatedTags",
                ),
                "",
            )
        )


CASES = (
    Case("duplicate-column", (header(lambda h: h.append("Tags")),), (header(lambda h: h.append("x_Tags")),)),
    Case(
        "mandatory-column",
        (header(lambda h: h.remove("ListCost")),),
        (header(lambda h: h.remove("SkuMeter")),),  # Conditional
    ),
    Case("unknown-column", (header(lambda h: h.append("Models")),), (header(lambda h: h.append("x_Models")),)),
    Case("row-width", (nothing,), (nothing,), raw=_extra_value),
    Case("not-null", (setting(BilledCost=""), setting(ServiceName="")), (setting(ChargeDescription=""),)),
    Case(
        "allowed-values",
        (setting(ChargeCategory="Chargeback"), setting(PricingCategory="standard")),
        (setting(ChargeFrequency="Recurring"),),
    ),
    Case(
        "numeric-format",
        (
            setting(BilledCost="1,000.00"),
            setting(BilledCost="35.2E+7"),
            setting(BilledCost="+1"),
            setting(BilledCost="1e3"),
            setting(BilledCost="$5"),
        ),
        (setting(BilledCost="3.36E2"), setting(ListUnitPrice="4E0"), setting(EffectiveCost="-0.5")),
    ),
    Case(
        "datetime-format",
        (
            setting(BillingPeriodStart="2026-02-30T00:00:00Z"),
            setting(ChargePeriodStart="2026-11-09"),
            setting(ChargePeriodStart="2026-11-09T00:00:00+00:00"),
        ),
        (setting(BillingPeriodStart="2024-02-29T00:00:00Z"),),
    ),
    Case(
        "currency-format",
        (every_row(BillingCurrency="ABC"), every_row(BillingCurrency="XAU"), every_row(BillingCurrency="eur")),
        (every_row(BillingCurrency="JPY"),),
    ),
    Case(
        "unit-format",
        (setting(PricingUnit="GPU hour"), setting(ConsumedUnit="gpu-hours")),
        (setting(PricingUnit="1000 GPU-Hours"),),
    ),
    Case(
        "key-value-format",
        (tags('{"team": "a", "team": "b"}'), tags('{"team": {"name": "a"}}'), tags('["team"]'), tags("team=a")),
        (tags('{"team": "a", "Team": "b", "flag": true, "none": null, "n": 1}'),),
    ),
    Case(
        "json-object-format",
        (
            setting(AllocatedMethodDetails='{"Elements": [{"AllocatedRatio": 1}, null]}'),
            setting(AllocatedMethodDetails='{"Elements": [{"AllocatedRatio": "half"}]}'),
            setting(AllocatedMethodDetails='{"Ratio": 1}'),
            setting(AllocatedMethodDetails='{"Elements": [{"AllocatedRatio": 1, "UsageQuantity": 2}]}'),
            setting(AllocatedMethodDetails='{"Elements": [{"AllocatedRatio": 1}], "Elements": []}'),
        ),
        (ratio(0.0),),
        versions=("1.3",),
    ),
    Case("no-rows", (nothing,), (nothing,), raw=_drop_rows),
    Case(
        "ListCost-product",
        (setting(ListCost="336.01"), correction(ListCost="336.01")),
        (setting(PricingQuantity="83.998", ListCost="335.99", ContractedCost="335.99"),),
        ("1.3",),
    ),
    # 1.2 lets a correction differ from the product (1.3 does not: the case above).
    Case("ListCost-product", (setting(ListCost="336.01"),), (correction(ListCost="336.01"),), ("1.2",)),
    Case("ContractedCost-product", (setting(ContractedCost="999.00"),), (setting(ContractedUnitPrice="4.000"),)),
    Case("usage-priced", (setting(SkuId="", SkuMeter=""), setting(PricingCategory="")), (correction(**UNPRICED),)),
    Case("tax-unpriced", (setting(ChargeCategory="Tax"),), (setting(ChargeCategory="Tax", **UNPRICED),)),
    Case("sku-price-gate-null", (correction(SkuPriceId=""),), (correction(**UNPRICED),), ("1.3",)),
    Case("sku-price-gate-not-null", (correction(ListUnitPrice=""),), (correction(),), ("1.3",)),
    Case(
        "consumed-usage-only",
        (setting(ChargeCategory="Adjustment"),),
        (setting(ChargeCategory="Adjustment", ConsumedQuantity="", ConsumedUnit=""),),
    ),
    Case("PricingUnit-with-PricingQuantity", (setting(PricingUnit=""),), (correction(**UNPRICED),)),
    Case(
        "ConsumedUnit-with-ConsumedQuantity",
        (setting(ConsumedUnit=""),),
        (setting(ConsumedUnit="", ConsumedQuantity=""),),
    ),
    Case(
        "CommitmentDiscountUnit-with-Quantity",
        (setting(CommitmentDiscountUnit="GPU-Hours", CommitmentDiscountQuantity=""),),
        (setting(CommitmentDiscountUnit="GPU-Hours", CommitmentDiscountQuantity="10"),),
    ),
    Case(
        "RegionName-with-RegionId",
        (setting(RegionName="Frankfurt", RegionId=""),),
        (setting(RegionName="Frankfurt", RegionId="eu-central"),),
    ),
    Case(
        "SubAccountName-with-SubAccountId",
        (setting(SubAccountName=""),),
        (setting(SubAccountId="", SubAccountName="", SubAccountType=""),),
    ),
    Case("SubAccountType-with-SubAccountId", (setting(SubAccountType=""),), (setting(SubAccountType="Team"),)),
    # A row moved out of its pool (ResourceId) would leave the pool's ratios short: drop the split too.
    Case(
        "ResourceType-with-ResourceId",
        (setting(ResourceType=""),),
        (both(_no_allocation, setting(ResourceId="", ResourceType="", ResourceName="")),),
    ),
    Case(
        "BillingAccountType-with-BillingAccountId",
        (setting(BillingAccountType=""),),
        (every_row(BillingAccountType="Internal"),),
    ),
    Case(
        "CommitmentDiscountCategory-with-Id",
        (setting(CommitmentDiscountCategory="Spend", CommitmentDiscountId=""),),
        (setting(CommitmentDiscountCategory="Spend", CommitmentDiscountId="cd-1"),),
    ),
    Case(
        "CommitmentDiscountStatus-with-Id",
        (setting(CommitmentDiscountStatus="Used", CommitmentDiscountId=""),),
        (setting(CommitmentDiscountStatus="Used", CommitmentDiscountId="cd-1"),),
    ),
    Case(
        "CommitmentDiscountType-with-Id",
        (setting(CommitmentDiscountType="Savings Plan", CommitmentDiscountId=""),),
        (setting(CommitmentDiscountType="Savings Plan", CommitmentDiscountId="cd-1"),),
    ),
    Case(
        "AllocatedResourceName-with-Id",
        (setting(AllocatedResourceName=""),),
        (setting(AllocatedResourceName="renamed"),),
        ("1.3",),
    ),
    Case(
        "ResourceName-needs-ResourceId",
        (setting(ResourceId="", ResourceType=""),),
        (both(_no_allocation, setting(ResourceId="", ResourceType="", ResourceName="")),),
    ),
    Case("SkuMeter-needs-SkuId", (correction(**{**UNPRICED, "SkuMeter": "GPU time"}),), (correction(**UNPRICED),)),
    Case(
        "CapacityReservationStatus-needs-Id",
        (setting(CapacityReservationStatus="Used", CapacityReservationId=""),),
        (setting(CapacityReservationStatus="Used", CapacityReservationId="cr-1"),),
    ),
    Case("allocation-needs-method", (setting(AllocatedMethodId=""),), (_no_allocation,), ("1.3",)),
    Case("AllocatedTags-not-in-Tags", (_tags_key("inferwatch/model"),), (_tags_key("inferwatch/models"),), ("1.3",)),
    Case("allocated-ratios-sum-to-one", (ratio(0.01), ratio(-0.000002)), (ratio(0.0000004),), ("1.3",)),
    Case(
        "ChargeFrequency-not-usage-based-for-purchase",
        (setting(ChargeCategory="Purchase", ConsumedQuantity="", ConsumedUnit=""),),
        (setting(ChargeCategory="Purchase", ConsumedQuantity="", ConsumedUnit="", ChargeFrequency="One-Time"),),
    ),
    Case(
        "ServiceSubcategory-parent",
        (setting(ServiceSubcategory="Containers"),),
        (setting(ServiceSubcategory="Machine Learning"),),
    ),
    Case(
        "BillingPeriod-order",
        (setting(BillingPeriodStart="2026-11-16T00:00:00Z"),),
        (setting(BillingPeriodStart="2026-11-15T23:59:59Z"),),
    ),
    Case(
        "ChargePeriod-order",
        (setting(ChargePeriodEnd="2026-11-09T00:00:00Z"),),
        (setting(ChargePeriodEnd="2026-11-09T00:00:01Z"),),
    ),
)
PARAMS = [(v, c) for c in CASES for v in c.versions]


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_the_reports_csv_conforms(version: str) -> None:
    assert _problems(version, nothing) == []


@pytest.mark.parametrize(("version", "case"), PARAMS, ids=[f"{v}-{c.rule}" for v, c in PARAMS])
def test_each_rule_rejects_what_breaks_it_and_accepts_a_near_miss(version: str, case: Case) -> None:
    for i, mutate in enumerate(case.rejects):
        problems = _problems(version, mutate, case.raw)
        assert any(f"[{case.rule}]" in p for p in problems), f"reject case {i} of {case.rule} passed: {problems}"
    for i, mutate in enumerate(case.accepts):
        assert _problems(version, mutate, case.raw_accept) == [], f"near miss {i} of {case.rule} was rejected"


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_every_rule_has_a_case(version: str) -> None:
    covered = {c.rule for c in CASES if version in c.versions}
    assert covered == set(rule_ids(version))


def test_the_specs_are_the_ratified_column_sets_with_their_source() -> None:
    v12, v13 = focus_spec("1.2"), focus_spec("1.3")
    assert (len(v12.columns), len(v13.columns)) == (57, 65)
    assert {"ServiceProviderName", "HostProviderName"} <= set(v13.mandatory) - set(v12.mandatory)
    # Deprecated in 1.3, not renamed: still Mandatory.
    assert {c.name for c in v13.columns if c.deprecated} == {"ProviderName", "PublisherName"}
    assert {"ProviderName", "PublisherName"} <= set(v13.mandatory)
    assert v13.source["commit"].startswith("4f52032") and v12.source["commit"].startswith("7296e31")
    assert v13.source["licence"] == "CC-BY-4.0"
    assert v13.subcategories["AI and Machine Learning"][2] == "Generative AI"
