"""Shared test support: starting and stopping the real external processes on loopback."""
