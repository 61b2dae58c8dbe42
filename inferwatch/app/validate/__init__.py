"""Validation of generated artifacts with the domain's own tools, looked up by artifact kind.

`VALIDATORS` maps every ArtifactKind to one function ``(tools, root, rel) -> [CheckResult]`` that
checks the file ``root/rel`` (the whole generated tree lies under ``root``, so relative
references resolve). A kind without a validator cannot be built: `check_file` refuses it and a
test fails. Registering a kind is one line in VALIDATORS; the validators live one concern per
module beside this one, the schemas they check against in `schemas/` (see `reference`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inferwatch.app.chart.check import check_chart_file
from inferwatch.app.validate.documents import check_document
from inferwatch.app.validate.grafana import check_dashboard_and_lint
from inferwatch.app.validate.kubernetes import check_kubernetes
from inferwatch.app.validate.promtool import check_alertmanager_config, check_prometheus_config, check_rule_file
from inferwatch.artifacts import ArtifactKind, CheckResult
from inferwatch.errors import ValidationFailedError
from inferwatch.tools import Toolbox

Validator = Callable[[Toolbox, Path, str], list[CheckResult]]

VALIDATORS: dict[ArtifactKind, Validator] = {
    ArtifactKind.PROMETHEUS_RULES: check_rule_file,
    ArtifactKind.PROMETHEUS_CONFIG: check_prometheus_config,
    ArtifactKind.ALERTMANAGER_CONFIG: check_alertmanager_config,
    ArtifactKind.KUBERNETES: check_kubernetes,
    ArtifactKind.GRAFANA_DASHBOARD: check_dashboard_and_lint,
    ArtifactKind.DOCUMENT: check_document,
    ArtifactKind.HELM_CHART: check_chart_file,
}


class NoValidatorError(ValidationFailedError):
    """An artifact kind has no validator: nothing of that kind may be written unchecked."""


def check_file(tools: Toolbox, root: Path, rel: str, kind: ArtifactKind) -> list[CheckResult]:
    """Validate ``root/rel`` with the validator registered for ``kind``; one result per tool run."""
    validator = VALIDATORS.get(kind)
    if validator is None:
        raise NoValidatorError(f"{rel}: no validator is registered for artifact kind {kind.value!r}")
    return validator(tools, root, rel)
