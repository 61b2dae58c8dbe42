"""The reference schemas the validators check against, shipped inside the package as data.

`app/validate/schemas/` holds the CustomResourceDefinitions of prometheus-operator, KServe and KEDA
and Grafana's dashboard JSON schema, each folder with its LICENSE and SOURCE.txt (all Apache-2.0;
SOURCE.txt says where each file comes from and how KServe's were re-encoded). `reference_path` is
the one way to find them, in a checkout and in an installed wheel alike: the application's
validators read them, and so does the local stack's Kubernetes control plane (which installs the
CRDs), so the function lives in the core, not in the application layer.
"""

from __future__ import annotations

from pathlib import Path

from inferwatch.errors import ToolMissingError

REFERENCE_DIR = Path(__file__).resolve().parent / "app" / "validate" / "schemas"
# The folders of CustomResourceDefinitions, searched by API group.
CRD_DIRS = ("prometheus-operator-crds", "kserve-crds", "keda-crds")
GRAFANA_DASHBOARD_SCHEMA = ("grafana-dashboard-jsonschema", "main", "dashboard.jsonschema.json")


def reference_path(*parts: str) -> Path:
    """The bundled reference file or folder ``parts`` (e.g. ``"keda-crds"``); ToolMissingError when
    the installation lacks it."""
    path = REFERENCE_DIR.joinpath(*parts)
    if not path.exists():
        raise ToolMissingError(f"the reference schema {'/'.join(parts)} is missing from {REFERENCE_DIR}: reinstall")
    return path


def crd_files(group: str = "") -> list[Path]:
    """Every bundled CRD file of API ``group`` (``<group>_<plural>.yaml`` or ``.json``); all of them
    when ``group`` is empty."""
    pattern = f"{group}_*" if group else "*"
    return sorted(f for d in CRD_DIRS for f in reference_path(d).glob(pattern) if f.suffix in (".yaml", ".json"))
