"""The application layer: the `inferwatch` command line, the build pipeline, the validators and the Helm
chart packaging, on top of the areas (docs/design.md draws the layers).

The package itself imports nothing: `inferwatch exporter run` loads only the exporter's command.
"""
