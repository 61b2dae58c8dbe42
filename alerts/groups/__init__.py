"""The alert groups, one module each: its alerts built from the configured thresholds (kubernetes-mixin's
one file per group). inferwatch.alerts.catalog lists them in rule-file order."""
