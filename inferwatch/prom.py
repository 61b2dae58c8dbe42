"""Reading aggregated results from Prometheus through prometheus-api-client, with bounded retries.

Every CLI command that queries Prometheus goes through PrometheusReader, so "Prometheus is
unreachable" is one error type (exit 3) with the URL and the number of attempts in it. An HTTP
500, like 502-504, is retried and then reported as unavailable; an answer that is not the
Prometheus API's JSON (a proxy's HTML login page, say) is exit 3 too, naming the URL.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from inferwatch.config import PrometheusSettings
from inferwatch.errors import ExitCode, InferwatchError, PrometheusUnavailableError

log = logging.getLogger(__name__)


class QueryError(InferwatchError):
    """Prometheus answered but rejected a query (a bug in inferwatch's PromQL, or a bad label)."""

    exit_code = ExitCode.FAILURE


@dataclass(frozen=True)
class Sample:
    """One instant-vector element: its labels and value."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class RangeSeries:
    """One range-vector series: its labels and (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


# Server-side failures worth another attempt: Prometheus answers 500 for internal errors (and
# proxies for their own), 502-504 while it restarts or is overloaded.
RETRIED_STATUSES = (500, 502, 503, 504)


def _to_float(raw: str) -> float:
    value = float(raw)
    return value if math.isfinite(value) else math.nan


class PrometheusReader:
    """Instant and range queries against one Prometheus, with retries and clear errors."""

    def __init__(self, settings: PrometheusSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        retry = Retry(
            total=settings.retries,
            connect=settings.retries,
            read=settings.retries,
            backoff_factor=settings.retry_backoff_s,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods=("GET", "POST"),
            raise_on_status=False,
        )
        self._session = session or requests.Session()
        self._client = PrometheusConnect(
            url=settings.url, retry=retry, session=self._session, timeout=settings.timeout_s, method="POST"
        )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.settings.url} did not answer {what} "
                f"after {self.settings.retries + 1} attempt(s): {type(err).__name__}"
            ) from None
        except PrometheusApiClientException as err:
            text = str(err)
            if any(f"HTTP Status Code {c}" in text for c in RETRIED_STATUSES):
                raise PrometheusUnavailableError(
                    f"Prometheus at {self.settings.url} failed {what} "
                    f"after {self.settings.retries + 1} attempt(s): {text[:300]}"
                ) from None
            raise QueryError(f"Prometheus at {self.settings.url} rejected {what}: {text[:500]}") from None
        except (ValueError, KeyError, TypeError, IndexError) as err:
            # requests' JSONDecodeError is a ValueError; the others: JSON without the API's shape
            raise PrometheusUnavailableError(
                f"not a Prometheus API answer from {self.settings.url} ({what}): {type(err).__name__}"
            ) from None

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        """Evaluate ``expr`` at ``at`` (default: now); returns its instant-vector elements."""
        params = {"time": f"{at.timestamp():.3f}"} if at is not None else None

        def run() -> list[Sample]:
            data = self._client.custom_query(expr, params=params)
            return [Sample(dict(r.get("metric", {})), _to_float(r["value"][1])) for r in data]

        result: list[Sample] = self._call(f"query {expr!r}", run)
        return result

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[RangeSeries]:
        """Evaluate ``expr`` over [start, end] every ``step_s`` seconds."""

        def run() -> list[RangeSeries]:
            data = self._client.custom_query_range(expr, start_time=start, end_time=end, step=f"{step_s:g}s")
            return [
                RangeSeries(dict(r.get("metric", {})), [(float(t), _to_float(v)) for t, v in r["values"]]) for r in data
            ]

        result: list[RangeSeries] = self._call(f"range query {expr!r}", run)
        return result

    def _status(self, page: str) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            resp = self._session.get(f"{self.settings.url}/api/v1/status/{page}", timeout=self.settings.timeout_s)
            if resp.status_code != 200:
                raise PrometheusApiClientException(f"HTTP Status Code {resp.status_code} ({resp.text[:200]!r})")
            data: dict[str, Any] = resp.json()["data"]
            return data

        result: dict[str, Any] = self._call(page, fetch)
        return result

    def build_info(self) -> dict[str, str]:
        """Prometheus's /api/v1/status/buildinfo (version, revision, …)."""
        return {str(k): str(v) for k, v in self._status("buildinfo").items()}

    def runtime_info(self) -> dict[str, Any]:
        """Prometheus's /api/v1/status/runtimeinfo (storageRetention, …)."""
        return self._status("runtimeinfo")
