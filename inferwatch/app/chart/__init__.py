"""The Helm chart's generated files: `values` (values.yaml and its schema), `package` (the packaging
stage over the generators' output) and `check` (the HELM_CHART validator)."""
