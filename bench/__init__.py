"""Benchmarks: each compares inferwatch against a baseline in the same run and records its figures."""
