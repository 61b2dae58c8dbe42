"""The SLO engine (burn-rate rules, error budgets, status) and cost-per-token attribution."""
