"""What the controller does for one key of its work queue: an InferenceSLO's rules, its status, or the
chart's configuration — each a small step that either finishes, or raises `Retry` and changes nothing.

Invariants, whatever fails:
- one InferenceSLO is one PrometheusRule, applied in one server-side apply: its rules are all
  there or all the previous generation's, never a mix;
- a spec that fails a check (the schema, its namespace, a threshold off the scraped buckets, a
  window longer than the retention, a rule name taken by an object it does not own) leaves the
  applied rule as it was and says why in the `Ready` condition, naming the field;
- while Prometheus or the API server is away the rule is left as it is and the key is retried
  with back-off; other keys go on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from inferwatch.app.controller import crd
from inferwatch.app.controller.kube import Cluster, ClusterError
from inferwatch.app.controller.model import (
    REASON_API,
    REASON_APPLIED,
    REASON_CONFLICT,
    REASON_PROMETHEUS,
    InferenceSLO,
    Problem,
    PrometheusFacts,
    compile_inference_slo,
    prometheus_problems,
)
from inferwatch.app.controller.objects import (
    FIELD_MANAGER,
    RuleObjectSettings,
    controlled_by,
    generated_rule_specs,
    global_rule_objects,
    owner_reference,
    slo_rule_object,
)
from inferwatch.app.controller.prometheus import PrometheusFactsReader
from inferwatch.app.controller.status import READY, STATE_INVALID, Condition, event_for_transition, figures, rfc3339
from inferwatch.config import InferwatchConfig, parse_config
from inferwatch.errors import ConfigError, PrometheusUnavailableError
from inferwatch.prom import PrometheusReader
from inferwatch.slo.model import SLO
from inferwatch.slo.status import slo_status

log = logging.getLogger(__name__)

COMPONENT = "inferwatch-controller"
CONFIG_KEY = "inferwatch.yaml"
RULES_KEY = "rules.yaml"


class Retry(Exception):
    """The step could not finish (Prometheus or the API server away): nothing changed; try again later."""


def _retryable(err: ClusterError) -> bool:
    # No status: unreachable; 409: a concurrent writer; 429 / 5xx: the server is busy or restarting.
    return err.status == 0 or err.status in (409, 429) or err.status >= 500


@dataclass
class _Memory:
    """What the controller remembers between steps (lost on restart: then recomputed)."""

    applied: dict[str, SLO] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    told: dict[str, tuple[str, str]] = field(default_factory=dict)


class Reconciler:
    """The controller's steps over a `Cluster` and a Prometheus; the runtime calls them from its workers."""

    def __init__(
        self,
        cluster: Cluster,
        reader: PrometheusReader,
        config: InferwatchConfig,
        settings: RuleObjectSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cluster = cluster
        self.facts = PrometheusFactsReader(reader)
        self.reader = reader
        self.config = config
        self.settings = settings or RuleObjectSettings()
        self.clock = clock
        self.items: dict[str, InferenceSLO] = {}
        self._memory = _Memory()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- the objects it sees

    def observe(self, event_type: str, obj: Mapping[str, Any]) -> str | None:
        """Record a watch event; returns the key to reconcile (None for bookmarks)."""
        if event_type == "BOOKMARK":
            return None
        item = InferenceSLO.from_object(obj)
        with self._lock:
            if event_type == "DELETED":
                self.items.pop(item.key, None)
            else:
                self.items[item.key] = item
        return item.key

    def replace_all(self, objs: list[dict[str, Any]]) -> list[str]:
        """After a (re)list: the full set of InferenceSLOs; returns every key, vanished ones included."""
        fresh = {i.key: i for i in (InferenceSLO.from_object(o) for o in objs)}
        with self._lock:
            gone = set(self.items) - set(fresh)
            self.items = fresh
        return sorted(set(fresh) | gone)

    def known(self) -> list[str]:
        """The keys of every InferenceSLO seen."""
        with self._lock:
            return sorted(self.items)

    def applied_keys(self) -> list[str]:
        """The keys whose rules are applied (their status is refreshed on the period)."""
        with self._lock:
            return sorted(self._memory.applied)

    # ---------------------------------------------------------------- one InferenceSLO's rules

    def reconcile(self, key: str) -> None:
        """Bring one InferenceSLO's PrometheusRule and conditions in line with its spec."""
        with self._lock:
            item = self.items.get(key)
        if item is None:
            self._forget(key)
            return
        compiled = compile_inference_slo(item)
        for warning in compiled.warnings:
            self._tell(item, "Warning", "SpecWarning", f"{warning.field}: {warning.message}")
        if compiled.slo is None:
            self._reject(item, list(compiled.problems))
            return
        slo = compiled.slo
        try:
            facts = self.facts.facts(slo)
        except PrometheusUnavailableError as err:
            self._condition(item, "Unknown", REASON_PROMETHEUS, f"cannot check the spec against Prometheus: {err}")
            raise Retry(str(err)) from None
        problems = prometheus_problems(slo, facts, self.config.buckets)
        if problems:
            self._reject(item, problems)
            return
        self._apply(item, slo, facts)

    def _apply(self, item: InferenceSLO, slo: SLO, facts: PrometheusFacts) -> None:
        obj = slo_rule_object(item, slo, self.config, self.settings)
        try:
            existing = self.cluster.get_rule(item.namespace, item.rule_name)
            if existing is not None and not controlled_by(existing, item.uid):
                self._reject(
                    item,
                    [
                        Problem(
                            REASON_CONFLICT,
                            "metadata.name",
                            f"PrometheusRule {item.namespace}/{item.rule_name} exists and is not owned by this "
                            "InferenceSLO; rename the InferenceSLO or delete that PrometheusRule",
                        )
                    ],
                )
                return
            self.cluster.apply_rule(obj, FIELD_MANAGER)
        except ClusterError as err:
            if _retryable(err):
                raise Retry(str(err)) from None
            self._reject(item, [Problem(REASON_API, "", f"the API server refused the PrometheusRule: {err}")])
            return
        with self._lock:
            self._memory.applied[item.key] = slo
        groups = obj["spec"]["groups"]
        rules = sum(len(g["rules"]) for g in groups)
        checked = (
            "threshold on the scraped buckets"
            if facts.boundaries
            else "threshold on the configured buckets (no histogram scraped yet)"
            if facts.boundaries is not None
            else "availability SLI"
        )
        message = f"PrometheusRule {item.rule_name}: {rules} rules in {len(groups)} groups ({checked})"
        self._condition(item, "True", REASON_APPLIED, message)
        if item.status.get("observedGeneration") != item.generation:
            self._tell(item, "Normal", REASON_APPLIED, f"generation {item.generation}: {message}")
        with contextlib.suppress(Retry):  # the period's refresh tries again
            self.refresh(item.key)

    def _reject(self, item: InferenceSLO, problems: list[Problem]) -> None:
        with self._lock:
            self._memory.applied.pop(item.key, None)
        message = "; ".join(str(p) for p in problems)
        kept = " (the PrometheusRule keeps its previous rules)" if item.status.get("prometheusRule") else ""
        self._condition(item, "False", problems[0].reason, message + kept, state=STATE_INVALID)
        self._tell(item, "Warning", problems[0].reason, message)
        log.warning("InferenceSLO %s rejected: %s", item.key, message)

    def _forget(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        with self._lock:
            self._memory.applied.pop(key, None)
            self._memory.states.pop(key, None)
            self._memory.told.pop(key, None)
        # Kubernetes' garbage collector deletes the owned rule too; this covers clusters without one.
        stub = InferenceSLO(namespace, name, "", 0, {}, {})
        try:
            rule = self.cluster.get_rule(namespace, stub.rule_name)
            if (
                rule is not None
                and rule.get("metadata", {}).get("labels", {}).get("inferwatch.io/inferenceslo") == name
            ):
                self.cluster.delete_rule(namespace, stub.rule_name)
        except ClusterError as err:
            if _retryable(err):
                raise Retry(str(err)) from None

    # ---------------------------------------------------------------- status

    def _condition(self, item: InferenceSLO, status: str, reason: str, message: str, state: str | None = None) -> None:
        now = self.clock()
        cond = Condition(READY, status, reason, message, item.generation)
        previous = item.status.get("conditions") or []
        body: dict[str, Any] = {
            "observedGeneration": item.generation,
            "sloName": item.key,
            "conditions": [cond.to_json(previous, now)],
        }
        if status == "True":
            body["prometheusRule"] = item.rule_name
        if state is not None:
            body["state"] = state
            self._transition(item, state)
        self._write_status(item, body)

    def refresh(self, key: str) -> None:
        """Read one applied SLO's budget from Prometheus into its status; an Event when its state changes."""
        with self._lock:
            item = self.items.get(key)
            slo = self._memory.applied.get(key)
        if item is None or slo is None:
            return
        try:
            rows = slo_status(self.reader, [slo])
        except PrometheusUnavailableError as err:
            log.warning("status of %s not refreshed: %s", key, err)
            raise Retry(str(err)) from None
        body = figures(rows)
        body["lastEvaluated"] = rfc3339(self.clock())
        self._transition(item, body["state"])
        self._write_status(item, body)

    def _transition(self, item: InferenceSLO, state: str) -> None:
        with self._lock:
            old = self._memory.states.get(item.key, item.status.get("state"))
            self._memory.states[item.key] = state
        event = event_for_transition(old, state)
        if event is not None:
            self._tell(item, *event, dedupe=False)

    def _write_status(self, item: InferenceSLO, body: Mapping[str, Any]) -> None:
        try:
            self.cluster.patch_slo_status(item.namespace, item.name, body)
        except ClusterError as err:
            if err.status == 404:
                return  # deleted meanwhile
            if _retryable(err):
                raise Retry(str(err)) from None
            log.error("status of InferenceSLO %s refused: %s", item.key, err)

    def _tell(self, item: InferenceSLO, kind: str, reason: str, message: str, dedupe: bool = True) -> None:
        """An Event on the InferenceSLO (once per distinct reason and message unless ``dedupe`` is off)."""
        with self._lock:
            if dedupe and self._memory.told.get(item.key) == (reason, message):
                return
            self._memory.told[item.key] = (reason, message)
        involved = {
            "apiVersion": crd.API_VERSION,
            "kind": crd.KIND,
            "namespace": item.namespace,
            "name": item.name,
            "uid": item.uid,
        }
        try:
            self.cluster.emit_event(involved, kind, reason, message, COMPONENT)
        except ClusterError as err:
            log.warning("Event %s on %s not recorded: %s", reason, item.key, err)

    # ---------------------------------------------------------------- the chart's configuration

    def apply_config(self, configmap: Mapping[str, Any] | None) -> bool:
        """Take the chart's values from the ConfigMap and apply the global rules they generate (owned by
        the ConfigMap); returns whether the configuration changed (then every SLO is reconciled again).

        A ConfigMap that does not validate is refused with a Warning Event naming each field; the rules
        and SLOs go on with the last good configuration.
        """
        if configmap is None:
            return False
        meta = configmap.get("metadata", {})
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        data = configmap.get("data") or {}
        source = f"ConfigMap {namespace}/{name}"
        try:
            config = parse_config(yaml.safe_load(data.get(CONFIG_KEY) or "{}"), source)
            settings = RuleObjectSettings.model_validate(yaml.safe_load(data.get(RULES_KEY) or "{}") or {})
        except (ConfigError, ValidationError, yaml.YAMLError) as err:
            self._tell_configmap(configmap, f"{source} refused, keeping the last good configuration: {err}")
            return False
        owner = owner_reference("v1", "ConfigMap", name, str(meta.get("uid", "")))
        specs = generated_rule_specs(config)
        try:
            for obj in global_rule_objects(config, settings, namespace, owner, specs):
                self.cluster.apply_rule(obj, FIELD_MANAGER)
            off = set(specs) if not settings.enabled else set(settings.disabled) & set(specs)
            for short in sorted(off):
                rule_name = f"{settings.prefix}-{short}"
                if controlled_by(self.cluster.get_rule(namespace, rule_name), owner["uid"]):
                    self.cluster.delete_rule(namespace, rule_name)
        except ClusterError as err:
            raise Retry(str(err)) from None
        changed = (config.model_dump(), settings) != (self.config.model_dump(), self.settings)
        self.config, self.settings = config, settings
        log.info("configuration from %s applied: %d global rule objects", source, len(specs) - len(off))
        return changed

    def _tell_configmap(self, configmap: Mapping[str, Any], message: str) -> None:
        meta = configmap.get("metadata", {})
        involved = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "namespace": str(meta.get("namespace", "")),
            "name": str(meta.get("name", "")),
            "uid": str(meta.get("uid", "")),
        }
        log.error("%s", message)
        try:
            self.cluster.emit_event(involved, "Warning", "ConfigInvalid", message, COMPONENT)
        except ClusterError as err:
            log.warning("Event ConfigInvalid not recorded: %s", err)
