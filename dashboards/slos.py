"""The SLOs dashboard: every SLO Prometheus records at the top (inferwatch.yaml's and InferenceSLO objects'),
one row for the SLOs picked in the `slo` variable, and one row per configured SLO with SLI, budget, burn
rates and alert state."""

from __future__ import annotations

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import normalized as n
from inferwatch.conventions import slo as c
from inferwatch.dashboards import links, variables
from inferwatch.dashboards.model import BAD, GOOD, WARN, DashboardSpec, Link, Panel, Query, Row, StateText, Step
from inferwatch.promql import format_number as num
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.model import SLO, LatencySLI
from inferwatch.slo.windows import BurnRateWindow, format_duration, windows_for

NS = f'{n.NAMESPACE}=~"$namespace"'


def _sli_text(slo: SLO) -> str:
    if isinstance(slo.sli, LatencySLI):
        return f"{slo.sli.kind.upper()} <= {num(slo.sli.threshold)} s"
    return "finished without error"


def _factors(windows: tuple[BurnRateWindow, ...], severity: str) -> str:
    return ", ".join(num(w.factor) for w in windows if w.severity == severity)


def _legend(slo: SLO) -> str:
    return " ".join("{{" + label + "}}" for label in slo.group_by) or slo.name


def _row(slo: SLO, runbook_base_url: str) -> Row:
    sel = f'{c.SLO_LABEL}="{slo.name}",{NS}'
    legend = _legend(slo)
    windows = windows_for(slo.period)
    factors = sorted({w.factor for w in windows})
    what = f"{num(slo.objective_percent)} % of requests {_sli_text(slo)} over {slo.window}"
    runbooks = (
        Link(f"Runbook: {c.ALERT_PAGE}", f"{runbook_base_url}/{c.ALERT_PAGE}.md"),
        Link(f"Runbook: {c.ALERT_TICKET}", f"{runbook_base_url}/{c.ALERT_TICKET}.md"),
    )
    burn_steps = [Step(None, GOOD)] + [Step(f, BAD if f >= 6 else WARN) for f in factors]
    window_list = ", ".join(format_duration(w) for w in sorted({x for w in windows for x in (w.short, w.long)}))
    return Row(
        f"{slo.name}: {what}",
        (
            Panel(
                "stat",
                f"SLI over {slo.window}",
                f"Share of good events of {slo.name} over its {slo.window} window ({_sli_text(slo)}), from "
                f'`{c.BURN_RATE}{{window="{slo.window}"}}` (high is good; green from the objective '
                f"{num(slo.objective_percent)} %).",
                "percentunit",
                (Query(f'1 - {c.BURN_RATE}{{{sel},{c.WINDOW_LABEL}="{slo.window}"}} * {slo.error_budget!r}', legend),),
                width=4,
                height=6,
                thresholds=(Step(None, BAD), Step(slo.objective, GOOD)),
            ),
            Panel(
                "stat",
                "Error budget remaining",
                f"Share of the {slo.window} error budget ({num(slo.error_budget * 100)} % of events) left, from "
                f"`{c.ERROR_BUDGET_REMAINING}` (negative: overspent).",
                "percentunit",
                (Query(f"{c.ERROR_BUDGET_REMAINING}{{{sel}}}", legend),),
                width=4,
                height=6,
                thresholds=(Step(None, BAD), Step(0, WARN), Step(0.25, GOOD)),
            ),
            Panel(
                "stat",
                "Window recorded",
                f"Share of the {slo.window} window in which the SLO's recording ran, from "
                f'`{c.RECORDING_COVERAGE}{{window="{slo.window}"}}` (high is good). Below 100 %, the SLI and '
                "the budget rest on a gap (Prometheus down or restarting): its events are counted from the "
                "counters, but a pod restarted inside it lost its events before the restart.",
                "percentunit",
                (
                    Query(
                        f'{c.RECORDING_COVERAGE}{{{c.SLO_LABEL}="{slo.name}",{c.WINDOW_LABEL}="{slo.window}"}}',
                        slo.name,
                    ),
                ),
                width=4,
                height=6,
                thresholds=(Step(None, WARN), Step(1, GOOD)),
            ),
            Panel(
                "timeseries",
                "Error budget remaining over time",
                f"The budget left over time, from `{c.ERROR_BUDGET_REMAINING}`; shaded red below zero.",
                "percentunit",
                (Query(f"{c.ERROR_BUDGET_REMAINING}{{{sel}}}", legend),),
                thresholds=(Step(None, BAD), Step(0, GOOD)),
                threshold_style="line+area",
                width=6,
                height=6,
            ),
            Panel(
                "state-timeline",
                "Alert state",
                f"{c.ALERT_PAGE} and {c.ALERT_TICKET} for {slo.name}, from `{n.SLO_ALERT_STATE}` (recorded from "
                "ALERTS). Open the runbook links when it is not ok.",
                "none",
                (Query(f"{n.SLO_ALERT_STATE}{{{sel}}}", legend),),
                width=6,
                height=6,
                mappings=(StateText(0, "ok", GOOD), StateText(1, "ticket", WARN), StateText(2, "page", BAD)),
                thresholds=(Step(None, GOOD), Step(1, WARN), Step(2, BAD)),
                links=runbooks,
            ),
            Panel(
                "timeseries",
                "Burn rates",
                f"Error ratio over each window divided by the error budget, from `{c.BURN_RATE}` (windows "
                f"{window_list}, {slo.window}). Lines: the alerts' factors "
                f"{', '.join(num(f) for f in factors)} (page at {_factors(windows, 'page')}x, "
                f"ticket at {_factors(windows, 'ticket')}x, each over its long and short "
                "window). 1 spends the budget exactly over the SLO window.",
                "short",
                (Query(f"{c.BURN_RATE}{{{sel}}}", "{{window}} " + legend),),
                thresholds=tuple(burn_steps),
                threshold_style="dashed",
                width=24,
                height=8,
                links=runbooks,
            ),
        ),
    )


def _overview(slos: list[SLO]) -> Row:
    return Row(
        "Overview",
        (
            Panel(
                "table",
                "Every SLO",
                f"Every SLO series and its error budget left, from `{c.ERROR_BUDGET_REMAINING}`: those of "
                "inferwatch.yaml (rows below) and those of InferenceSLO objects, named <namespace>/<name> "
                "(`kubectl get inferenceslo -A` shows their objectives).",
                "percentunit",
                (Query(f"{c.ERROR_BUDGET_REMAINING}{{{NS}}}", "budget remaining"),),
                width=24,
                height=max(8, 3 + len(slos) * 2),
                links=(links.INFERENCE, links.COST),
            ),
        ),
    )


def _picked() -> Row:
    """Budget and burn rates of the SLOs picked in the `slo` variable, whichever source defined them."""
    sel = f'{c.SLO_LABEL}=~"$slo",{NS}'
    return Row(
        "Picked SLOs ($slo)",
        (
            Panel(
                "timeseries",
                "Error budget remaining of the picked SLOs",
                f"The budget left over time of the SLOs picked above (InferenceSLOs included), from "
                f"`{c.ERROR_BUDGET_REMAINING}`; shaded red below zero.",
                "percentunit",
                (Query(f"{c.ERROR_BUDGET_REMAINING}{{{sel}}}", "{{slo}}"),),
                thresholds=(Step(None, BAD), Step(0, GOOD)),
                threshold_style="line+area",
                width=12,
                height=8,
            ),
            Panel(
                "timeseries",
                "Burn rates of the picked SLOs",
                f"Error ratio over each window divided by the error budget, from `{c.BURN_RATE}`; 1 spends the "
                "budget exactly over the SLO window (each SLO's alert factors are in its rule, and in its row "
                "below for inferwatch.yaml's SLOs).",
                "short",
                (Query(f"{c.BURN_RATE}{{{sel}}}", "{{slo}} {{window}}"),),
                thresholds=(Step(None, GOOD), Step(1, WARN)),
                threshold_style="dashed",
                width=12,
                height=8,
            ),
        ),
    )


def dashboard(config: InferwatchConfig) -> DashboardSpec:
    """The SLOs dashboard of ``config`` (one row per SLO of its `slos:` section)."""
    slos, _ = slos_from_specs(config.slos, config.source)
    return DashboardSpec(
        name=links.SLOS_UID,
        title="inferwatch / SLOs",
        description="Error budgets and multiwindow burn rates of every SLO, with the alerts' own factors.",
        variables=(*variables.COMMON, variables.SLO),
        rows=(_overview(slos), _picked(), *(_row(s, config.runbook_base_url) for s in slos)),
    )
