"""Grafana dashboards generated with grafanalib from the normalized inferwatch:* series.

Public surface, one module each: `generate.artifacts` (the build generator), `lint.check_dashboard`
(the build's validator of GRAFANA_DASHBOARD artifacts) and `preview.render_previews` /
`preview.PreviewResult` (previews without Grafana). The package itself imports nothing, so
loading the validator does not load grafanalib or matplotlib.
"""
