"""The report as a FinOps FOCUS CSV (1.3 by default, 1.2 on request) and its metadata file.

One row per ledger line (inferwatch.slo.cost.ledger): GPU time of one GPU model (one price-list
entry, so ListCost = ListUnitPrice x PricingQuantity holds on every row, no blended prices) held
by one namespace for one model, or nobody's. Rows name their cluster in ResourceId, SubAccountId
and x_Cluster, so the files of several clusters combine without colliding.

- The resource is the cluster's pool of GPUs of one model (ResourceId
  ``<cluster>/gpu-pool/<GPU model>``), the sub account the namespace (``<cluster>/<namespace>``);
  GPU time nobody held has no sub account (SubAccountId null, as FOCUS asks of charges not
  related to one).
- FOCUS 1.3 split cost allocation describes the split: every row carries AllocatedMethodId
  ``inferwatch-gpu-share``, its AllocatedRatio of the pool's GPU-hours (the rows of one pool add
  up to 1), the namespace or namespace/model in AllocatedResourceId (null on the idle row: the
  unallocated portion) and the model in AllocatedTags. The namespace stays the sub account too,
  which is what finance groups by; that is the one place the rows differ from the origin charge.
- Tags: the namespace's labels (kube-state-metrics) and ``inferwatch/``-prefixed keys.

The version is named beside the data, as FOCUS metadata asks (Schema.FocusVersion): the
``.focus-metadata.json`` file next to the CSV holds the DataGenerator, the DatasetInstance and
the Schema (SchemaId, FocusVersion, CreationDate, ColumnDefinition).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from inferwatch.config import CostReportSettings, Pricing
from inferwatch.slo.cost.focus import DataType, focus_spec
from inferwatch.slo.cost.ledger import Line, LineKind, apportion
from inferwatch.slo.cost.model import WEEK_HOURS, CostReport

SERVICE_NAME = "GPU inference (vLLM on Kubernetes)"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
GPU_HOURS_UNIT = "GPU-Hours"  # FOCUS UnitFormat: <singular-unit>-<plural-time-units>
SKU_METER = "GPU time"
ALLOCATION_METHOD = "inferwatch-gpu-share"  # documented in docs/cost.md
DATA_GENERATOR = "inferwatch"
# The revision of the columns inferwatch writes; with the FOCUS version it is the DataGeneratorVersion
# (FOCUS: it changes whenever FocusVersion does).
SCHEMA_REVISION = "3"
SCHEMA_CREATED = "2026-12-06T00:00:00Z"  # when this column set was defined (SCHEMA_REVISION)
_NAMESPACE = uuid.UUID("6b1c0e5e-8f5d-4b8e-9a55-2f6f4f2b1c11")  # for deterministic ids
RATIO_STEPS = 10**9  # AllocatedRatio is written with 9 decimals, the ratios of one pool adding up to 1

_COMMON = (
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
    "ContractedCost",
    "ContractedUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "InvoiceId",
    "InvoiceIssuerName",
)
_PROVIDERS = {
    "1.2": ("ProviderName", "PublisherName"),
    "1.3": ("ServiceProviderName", "HostProviderName", "ProviderName", "PublisherName"),
}
_REST = (
    "ServiceCategory",
    "ServiceSubcategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SkuMeter",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
)
_ALLOCATION = (
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
)

# inferwatch's own columns (FOCUS: custom columns carry the x_ prefix and come after FOCUS's).
CUSTOM_COLUMNS: dict[str, DataType] = {
    "x_Cluster": DataType.STRING,
    "x_Namespace": DataType.STRING,
    "x_Model": DataType.STRING,
    "x_GpuModel": DataType.STRING,
    "x_CostKind": DataType.STRING,  # held | idle | idle share
    "x_Tenant": DataType.STRING,  # the llm-d router's fairness_id; "" = none reported (or not split)
    "x_LoraAdapter": DataType.STRING,  # the LoRA adapter; "" = none running (or not split)
    "x_BusyGpuHours": DataType.DECIMAL,
    "x_UnusedGpuHours": DataType.DECIMAL,
    "x_UnusedCost": DataType.DECIMAL,
    "x_PromptTokens": DataType.DECIMAL,
    "x_GenerationTokens": DataType.DECIMAL,
    "x_EnergyKwh": DataType.DECIMAL,
    "x_EnergyCost": DataType.DECIMAL,
    "x_P95TimeToFirstTokenSeconds": DataType.DECIMAL,
    "x_JoulesPerThousandTokens": DataType.DECIMAL,
    "x_ObservedHours": DataType.DECIMAL,
    "x_ClusterObservedHours": DataType.DECIMAL,
    "x_PeriodHours": DataType.DECIMAL,
}


@dataclass(frozen=True)
class FocusIdentity:
    """Who is who in the FOCUS file: the version and the participating entities."""

    version: str
    billing_account: str
    service_provider: str
    host_provider: str
    invoice_issuer: str

    @classmethod
    def of(cls, pricing: Pricing, settings: CostReportSettings, version: str | None = None) -> FocusIdentity:
        """From the configuration (``version`` overrides ``cost_report.focus_version``)."""
        return cls(
            version or str(settings.focus_version),
            pricing.billing_account,
            pricing.provider,
            settings.host_provider or pricing.provider,
            settings.invoice_issuer or pricing.provider,
        )


def csv_columns(version: str = "1.3") -> tuple[str, ...]:
    """The CSV header: FOCUS columns of ``version``, then inferwatch's ``x_`` columns."""
    focus = (*_COMMON, *_PROVIDERS[version], *_REST, *(_ALLOCATION if version == "1.3" else ()))
    return (*focus, *CUSTOM_COLUMNS)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A name cell safe to open in a spreadsheet: a leading formula character is quoted with ``'``."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _hours(v: float) -> str:
    """Recorded hours: a whole number plainly (168), others to 0.0001 h, no trailing zeros (165.8333)."""
    return f"{round(v, 4):.4f}".rstrip("0").rstrip(".")


def _number(v: Decimal | float | int | None, decimals: int | None = None) -> str:
    """FOCUS NumericFormat: fixed point, no separators; empty (null) when unknown."""
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return ""
        v = Decimal(repr(v))
    if decimals is not None:
        v = Decimal(v).quantize(Decimal(1).scaleb(-decimals))
    text = format(v, "f")
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def _json(obj: Mapping[str, Any] | None) -> str:
    return "" if not obj else json.dumps(obj, sort_keys=True, ensure_ascii=False)


def _ratios(lines: tuple[Line, ...]) -> dict[int, float]:
    """Each line's AllocatedRatio of its pool (cluster, GPU model): 9 decimals, adding up to 1 per pool."""
    pools: dict[tuple[str, str], list[int]] = {}
    for i, ln in enumerate(lines):
        pools.setdefault((ln.cluster, ln.sku.gpu_model), []).append(i)
    out: dict[int, float] = {}
    for members in pools.values():
        weights = [float(lines[i].gpu_hours) for i in members]
        if sum(weights) <= 0:
            continue
        for i, steps in zip(members, apportion(RATIO_STEPS, weights), strict=True):
            out[i] = steps / RATIO_STEPS
    return out


def _description(report: CostReport, ln: Line) -> str:
    gpu = ln.sku.label
    if ln.kind is LineKind.IDLE:
        return f"{gpu} GPU time nobody held"
    who = f"{ln.namespace}/{ln.model}" if ln.model else f"namespace {ln.namespace}"
    if ln.kind is LineKind.IDLE_SHARE:
        text = f"Share of idle {gpu} GPU time charged to {who}"
    elif not ln.model:
        text = f"{gpu} GPU time held by namespace {ln.namespace}, not attributed to a model"
    else:
        text = f"{gpu} GPU time held by {who}"
    if (ln.cluster, ln.namespace, ln.model) in report.adapter_models:
        text += f", LoRA adapter {ln.adapter}" if ln.adapter else ", no LoRA adapter running"
    if (ln.cluster, ln.namespace) in report.tenant_namespaces:
        text += f", tenant {ln.tenant}" if ln.tenant else ", no tenant reported"
    return text


def _allocated_tags(ln: Line) -> dict[str, str]:
    """What an allocated portion is of: the model, the tenant, the LoRA adapter (where known)."""
    tags = {"inferwatch/model": ln.model, "inferwatch/tenant": ln.tenant, "inferwatch/lora-adapter": ln.adapter}
    return {k: v for k, v in tags.items() if v}


def _joules_per_thousand(report: CostReport, ln: Line) -> float | None:
    """The model's GPU joules per 1,000 tokens over the week (the model's figure, on each of its rows)."""
    model = report.model_by_key.get((ln.cluster, ln.namespace, ln.model)) if ln.model else None
    return None if model is None else model.joules_per_thousand_tokens


def _row(report: CostReport, ln: Line, ratio: float | None, who: FocusIdentity) -> dict[str, str]:
    idle = ln.kind is LineKind.IDLE
    cost = _number(ln.cost, 2)
    unit_price = _number(ln.sku.unit_price)
    start, end = f"{report.week.start:%Y-%m-%dT%H:%M:%SZ}", f"{report.week.end:%Y-%m-%dT%H:%M:%SZ}"
    sku_id = f"gpu-hour/{ln.sku.gpu_model or 'unknown'}"
    pool = f"{ln.cluster}/gpu-pool/{ln.sku.gpu_model or 'unknown'}"
    tags: dict[str, Any] = {"inferwatch/cluster": ln.cluster}
    if not idle:
        tags.update(report.namespace_labels.get((ln.cluster, ln.namespace), {}))
        tags["inferwatch/namespace"] = ln.namespace
    if who.version == "1.2":
        tags.update(_allocated_tags(ln))
    energy_cost = ln.energy_cost(report.prices)
    row = {
        "BillingAccountId": who.billing_account,
        "BillingAccountName": who.billing_account,
        "BillingCurrency": report.currency,
        "BillingPeriodStart": start,
        "BillingPeriodEnd": end,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": _description(report, ln),
        "ChargeFrequency": "Usage-Based",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ListUnitPrice": unit_price,
        "ContractedCost": cost,
        "ContractedUnitPrice": unit_price,
        "PricingCategory": "Standard",
        "PricingQuantity": _number(ln.gpu_hours),
        "PricingUnit": GPU_HOURS_UNIT,
        "ConsumedQuantity": _number(ln.gpu_hours),
        "ConsumedUnit": GPU_HOURS_UNIT,
        "InvoiceId": f"{who.billing_account}/{report.week.label}",
        "InvoiceIssuerName": who.invoice_issuer,
        "ServiceProviderName": who.service_provider,
        "HostProviderName": who.host_provider,
        "ProviderName": who.service_provider,
        "PublisherName": who.service_provider,
        "ServiceCategory": SERVICE_CATEGORY,
        "ServiceSubcategory": SERVICE_SUBCATEGORY,
        "ServiceName": SERVICE_NAME,
        "SkuId": sku_id,
        "SkuPriceId": f"{sku_id}/{report.currency}/{unit_price}",
        "SkuMeter": SKU_METER,
        "ResourceId": pool,
        "ResourceName": f"{ln.sku.label} GPUs of cluster {ln.cluster}",
        "ResourceType": "GPU pool",
        "SubAccountId": "" if idle else f"{ln.cluster}/{ln.namespace}",
        "SubAccountName": "" if idle else ln.namespace,
        "SubAccountType": "" if idle else "Kubernetes Namespace",
        "Tags": _json(tags),
        "AllocatedMethodId": ALLOCATION_METHOD if ratio is not None else "",
        "AllocatedMethodDetails": ""
        if ratio is None
        else _json(
            {"Elements": [{"AllocatedRatio": ratio, "UsageQuantity": float(ln.gpu_hours), "UsageUnit": GPU_HOURS_UNIT}]}
        ),
        "AllocatedResourceId": ""
        if idle or ratio is None
        else "/".join(p for p in (ln.cluster, ln.namespace, ln.model) if p),
        "AllocatedResourceName": "" if idle or ratio is None else "/".join(p for p in (ln.namespace, ln.model) if p),
        "AllocatedTags": _json(_allocated_tags(ln)) if ratio is not None else "",
        "x_Cluster": ln.cluster,
        "x_Namespace": ln.namespace,
        "x_Model": ln.model,
        "x_GpuModel": ln.sku.gpu_model,
        "x_CostKind": str(ln.kind),
        "x_Tenant": ln.tenant,
        "x_LoraAdapter": ln.adapter,
        "x_BusyGpuHours": _number(ln.busy_gpu_hours),
        "x_UnusedGpuHours": _number(ln.unused_gpu_hours),
        "x_UnusedCost": _number(ln.unused_cost, 2) if ln.kind is LineKind.HELD else "",
        "x_PromptTokens": str(ln.prompt_tokens),
        "x_GenerationTokens": str(ln.generation_tokens),
        "x_EnergyKwh": _number(ln.energy_kwh) if ln.kind is LineKind.HELD else "",
        "x_EnergyCost": _number(energy_cost, 2) if energy_cost is not None and ln.kind is LineKind.HELD else "",
        "x_P95TimeToFirstTokenSeconds": _number(report.model_p95_ttft.get((ln.cluster, ln.namespace, ln.model)), 4),
        "x_JoulesPerThousandTokens": _number(_joules_per_thousand(report, ln), 3),
        "x_ObservedHours": "" if idle else _hours(report.ns_observed_hours.get((ln.cluster, ln.namespace), 0)),
        "x_ClusterObservedHours": _hours(report.coverage.get(ln.cluster, 0)),
        "x_PeriodHours": str(WEEK_HOURS),
    }
    strings = {c for c in row if c in CUSTOM_COLUMNS and CUSTOM_COLUMNS[c] is DataType.STRING}
    strings |= {
        "SubAccountId",
        "SubAccountName",
        "ResourceId",
        "ResourceName",
        "AllocatedResourceId",
        "AllocatedResourceName",
    }
    return {k: _text(v) if k in strings else v for k, v in row.items()}


def render_csv(report: CostReport, who: FocusIdentity) -> str:
    """The FOCUS CSV of ``who.version``: one Usage row per ledger line."""
    columns = csv_columns(who.version)
    ratios = _ratios(report.lines) if who.version == "1.3" else {}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for i, ln in enumerate(report.lines):
        writer.writerow(_row(report, ln, ratios.get(i), who))
    return buf.getvalue()


def custom_column_types() -> dict[str, DataType]:
    """FOCUS data type of each ``x_`` column (for the validator)."""
    return dict(CUSTOM_COLUMNS)


_METADATA_TYPES = {
    DataType.STRING: "STRING",
    DataType.DECIMAL: "DECIMAL",
    DataType.DATETIME: "DATETIME",
    DataType.JSON: "JSON",
}


def render_metadata(report: CostReport, who: FocusIdentity, csv_name: str) -> str:
    """The FOCUS metadata beside the CSV: DataGenerator, DatasetInstance and Schema (with FocusVersion).

    Deterministic (a re-run writes the same bytes): the ids are UUIDs derived from the billing
    account and the column set, and CreationDate is when this column set was defined.
    """
    spec = focus_spec(who.version)
    columns = csv_columns(who.version)
    definitions = []
    for name in columns:
        col = spec.column(name)
        data_type = col.data_type if col is not None else CUSTOM_COLUMNS[name]
        definition: dict[str, Any] = {"ColumnName": name, "DataType": _METADATA_TYPES[data_type]}
        if data_type is DataType.STRING:
            definition["StringEncoding"] = "UTF-8"
        if name == "Tags":
            definition["ProviderTagPrefixes"] = ["inferwatch/"]
        if col is not None and col.deprecated:
            definition["Deprecated"] = True
        definitions.append(definition)
    instance = str(uuid.uuid5(_NAMESPACE, f"dataset:{who.billing_account}:weekly-gpu-cost"))
    schema: dict[str, Any] = {
        "SchemaId": str(uuid.uuid5(_NAMESPACE, f"schema:{who.version}:{','.join(columns)}")),
        "FocusVersion": who.version,
        "CreationDate": SCHEMA_CREATED,
        "DataGeneratorVersion": f"{SCHEMA_REVISION}+focus{who.version}",
    }
    if who.version == "1.3":
        schema["DatasetInstanceId"] = instance
    schema["ColumnDefinition"] = definitions
    metadata = {
        "DataGenerator": {"DataGenerator": DATA_GENERATOR},
        "DatasetInstance": [
            {
                "DatasetInstanceId": instance,
                "DatasetInstanceName": f"{who.billing_account} weekly GPU cost",
                "FocusDatasetId": "CostAndUsage",
            }
        ],
        "Schema": schema,
        "x_Data": {"Files": [csv_name], "BillingPeriodStart": f"{report.week.start:%Y-%m-%dT%H:%M:%SZ}"},
        "x_Source": {"FocusSpecification": dict(spec.source)},
    }
    return json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
