"""Grafana dashboards generated with grafanalib from the normalized inferwatch:* series."""
