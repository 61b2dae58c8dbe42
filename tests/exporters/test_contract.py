"""The series contract (inferwatch/contract.py) against what the exporter serves and who reads it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from inferwatch.alerts.normalize import normalization_groups
from inferwatch.exporters import nvml
from inferwatch.exporters.attribution import AttributionCollector, KubeletGpuCollector, daemonset_source
from inferwatch.exporters.gpu import GpuCollector, GpuSampleAgeCollector, GpuSampler
from inferwatch.exporters.podresources import (
    ContainerDevices,
    PodResourcesClient,
    PodResourcesCollector,
    PodResourcesWatcher,
)
from inferwatch.exporters.reference import SERIES_DOC_PATH, render
from inferwatch.exporters.server import render_metrics
from inferwatch.exporters.simulated import SimulatedNvml
from inferwatch.exporters.vllm import VllmCollector, VllmScrapeError, VllmScraper
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from tests.exporters.fake_vllm import fake_vllm

# A series twice: served once, the repair counted.
VLLM_BODY = '# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="m"} 1\n' * 2


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Metric]]:
    """One scrape of every source the exporter has, each made to produce every series it can.

    Simulated GPUs (one MIG-enabled, one with an Xid event), a kubelet on a real gRPC socket
    assigning a GPU and a MIG instance, and a vLLM endpoint that failed once before answering with a series twice.
    """
    sim = SimulatedNvml(2, mig_gpus={1: (3, 4)})
    sampler = GpuSampler(sim, interval_s=1.0, slow_interval_s=10.0)
    sampler.open()
    sim.raise_xid(0, 79)
    assert sampler.poll_events(2000) == 1
    sampler.tick()
    sampler.tick()  # the MIG mode is a slow read; instances are read once it is known
    socket_path = tmp_path_factory.mktemp("pr") / "kubelet.sock"
    devices = (sim.gpus[0].uuid, sim.gpus[1].migs[0].uuid)
    kubelet = PodResourcesServer(
        socket_path,
        NodeAllocation(
            (ContainerDevices("llm", "vllm-0", "vllm", GPU_RESOURCE, devices),), allocatable={GPU_RESOURCE: devices}
        ),
    )
    watcher = PodResourcesWatcher(PodResourcesClient(socket_path, timeout_s=5), refresh_s=60)
    with fake_vllm() as vllm:
        scraper = VllmScraper(vllm.url, interval_s=60, timeout_s=5, max_body_bytes=1 << 20)
        vllm.serve("", status=503)
        scraper.scrape_once()
        vllm.serve(VLLM_BODY)
        scraper.scrape_once()
        assert watcher.refresh_once()
        registry = CollectorRegistry()
        for collector in (
            GpuCollector(sampler),
            GpuSampleAgeCollector(sampler),
            VllmCollector(scraper),
            PodResourcesCollector(watcher),
            AttributionCollector(daemonset_source(watcher.snapshot, sampler.snapshot)),
            KubeletGpuCollector(watcher.snapshot, sampler.snapshot),
        ):
            registry.register(collector)
        body, _ = render_metrics(registry, None)
        scraper.stop()
    watcher.stop()
    kubelet.stop()
    sampler.stop()
    yield {f.name: f for f in text_string_to_metric_families(body.decode())}


def _served_name(family: Metric) -> str:
    # The text parser names a counter family without `_total`; its samples carry the suffix.
    return family.name + contract.COUNTER_SUFFIX if family.type == "counter" else family.name


@pytest.mark.parametrize("series", contract.SERIES, ids=lambda s: s.name)
def test_every_contract_series_is_served_as_declared(served: dict[str, Metric], series: contract.Series) -> None:
    fam = served.get(series.family_name)
    assert fam is not None, f"{series.name} is in the contract but not served"
    assert fam.type == ("counter" if series.kind is contract.Kind.COUNTER else "gauge")
    assert fam.documentation == series.help
    assert fam.samples, f"{series.name} has no sample"
    for sample in fam.samples:
        assert sample.name in (series.name, series.family_name + "_created")
        if sample.name == series.name:
            assert set(sample.labels) == set(series.labels), sample
            for label, allowed in series.values.items():
                assert sample.labels[label] in allowed, sample
        if series.kind is contract.Kind.INFO:
            assert sample.value == 1


def test_nothing_served_is_missing_from_the_contract(served: dict[str, Metric]) -> None:
    ours = {_served_name(f) for f in served.values() if f.name.startswith(contract.PREFIX)}
    assert ours - set(contract.BY_NAME) == set()
    assert ours == set(contract.BY_NAME)


def test_the_contract_holds_its_conventions() -> None:
    with pytest.raises(ValueError, match="counters, and only counters"):
        contract.Series("inferwatch_x_bytes", contract.Kind.COUNTER, contract.Unit.BYTES, (), "h", contract.Source.GPU)
    with pytest.raises(ValueError, match="end in its unit"):
        contract.Series("inferwatch_x", contract.Kind.GAUGE, contract.Unit.BYTES, (), "h", contract.Source.GPU)
    with pytest.raises(ValueError, match="start with"):
        contract.Series("x_up", contract.Kind.GAUGE, contract.Unit.NONE, (), "h", contract.Source.GPU)
    with pytest.raises(ValueError, match="labels it does not have"):
        contract.Series("inferwatch_x", contract.Kind.GAUGE, contract.Unit.NONE, (), "", contract.Source.GPU, {"a": ()})


def test_label_values_the_code_produces_are_the_contracts() -> None:
    assert tuple(label for label, _ in nvml.CLOCKS) == contract.CLOCK_DOMAINS
    for reason in contract.VLLM_SCRAPE_ERROR_REASONS:
        assert VllmScrapeError(reason, "x").reason == reason
    with pytest.raises(ValueError, match="unknown scrape error reason"):
        VllmScrapeError("flaky", "x")


def _string_constants(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_exporter_module_spells_a_series_name(repo_root: Path) -> None:
    """Collectors take names from the contract: no string literal in exporters/ names an inferwatch_* series."""
    found = [
        f"{path.name}:{line}: {value!r}"
        for path in sorted((repo_root / "exporters").glob("*.py"))
        for line, value in _string_constants(ast.parse(path.read_text()))
        if re.search(r"\binferwatch_[a-z]", value)
    ]
    assert not found, found


def test_normalization_rules_read_only_contract_series() -> None:
    exprs = " ".join(rule.expr for group in normalization_groups() for rule in group.rules)
    named = set(re.findall(r"\binferwatch_[a-z_]+", exprs))
    assert named, "the normalization layer reads the exporter's series"
    assert named <= set(contract.BY_NAME), named - set(contract.BY_NAME)


def test_the_series_reference_is_generated_from_the_contract(repo_root: Path) -> None:
    page = render()
    for series in contract.SERIES:
        assert f"| `{series.name}` |" in page
    assert (repo_root / SERIES_DOC_PATH).read_text() == page, "run `inferwatch build`"
    assert "(exporter-series.md)" in (repo_root / "docs" / "exporter.md").read_text()
