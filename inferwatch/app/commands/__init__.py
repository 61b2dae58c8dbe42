"""The click commands of `inferwatch`, one module per command group, loaded lazily by inferwatch.app.cli."""
