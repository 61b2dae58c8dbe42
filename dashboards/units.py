"""Grafana unit ids the panels use (numbers in their texts are written by inferwatch.promql.format_number)."""

from __future__ import annotations

TOKENS_PER_SECOND = "suffix: tok/s"
# Currencies Grafana has a unit for; any other ISO code is shown as a suffix.
_GRAFANA_CURRENCIES = frozenset(
    [
        "USD",
        "GBP",
        "EUR",
        "JPY",
        "RUB",
        "UAH",
        "BRL",
        "DKK",
        "ISK",
        "NOK",
        "SEK",
        "CZK",
        "CHF",
        "PLN",
        "BTC",
        "INR",
        "KRW",
        "IDR",
        "PHP",
        "VND",
        "TRY",
        "MYR",
        "XPF",
        "BGN",
        "PYG",
        "UYU",
        "ILS",
    ]
)


def currency_unit(code: str) -> str:
    """Grafana's unit for an amount of ``code`` (ISO 4217)."""
    return f"currency{code}" if code in _GRAFANA_CURRENCIES else f"suffix: {code}"
