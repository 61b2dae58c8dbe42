"""`python -m inferwatch` runs the CLI."""

from inferwatch.cli import main

main()
