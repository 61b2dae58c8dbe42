"""`python -m inferwatch` runs the CLI."""

from inferwatch.app.cli import main

main()
