"""A webhook receiver on loopback that records every notification posted to it: the demo's pager, the tests' too.

Alertmanager's webhook payload (version 4) carries a group of alerts, each `firing` or
`resolved`. A *page* is one firing alert in one notification to the `page` receiver; the
receiver keeps every notification in memory and, given a log file, appends it there as JSON
lines, so the pages survive the demo and the output folder can list them. Any JSON object is
recorded (a Slack-style webhook's too), by the path it was posted to.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Notification:
    """One webhook call: when it arrived, the receiver path (`/page`, `/ticket`) and its payload."""

    received_at: float
    path: str
    payload: dict[str, Any]

    @property
    def receiver(self) -> str:
        """`page` or `ticket` (the last part of the path)."""
        return self.path.strip("/").rsplit("/", 1)[-1]

    def firing(self) -> list[dict[str, Any]]:
        """The alerts of this notification that are firing."""
        alerts = self.payload.get("alerts") or []
        return [a for a in alerts if isinstance(a, dict) and a.get("status") == "firing"]


@dataclass(frozen=True)
class Page:
    """One firing alert as a notification to the page receiver delivered it."""

    received_at: float
    alertname: str
    labels: dict[str, str]
    summary: str
    starts_at: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "received_at": self.received_at,
            "alertname": self.alertname,
            "labels": self.labels,
            "summary": self.summary,
            "starts_at": self.starts_at,
        }


class WebhookReceiver:
    """A threaded HTTP server on ``127.0.0.1:port`` recording Alertmanager notifications."""

    def __init__(self, port: int = 0, log_file: Path | None = None) -> None:
        """Bind at once (raises OSError when the port is taken; 0: a free port); `start()` serves."""
        self._lock = threading.Lock()
        self._notifications: list[Notification] = []
        self._log_file = log_file
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self.send_error(413)
                    return
                try:
                    payload = json.loads(self.rfile.read(length))
                except (ValueError, UnicodeDecodeError):
                    self.send_error(400, "not JSON")
                    return
                if not isinstance(payload, dict):
                    self.send_error(400, "not a JSON object")
                    return
                outer._record(Notification(time.time(), self.path, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        """Base URL Alertmanager posts to (append `/page` or `/ticket`)."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        """Serve on a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (when started) and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, notification: Notification) -> None:
        with self._lock:
            self._notifications.append(notification)
            if self._log_file is not None:
                with self._log_file.open("a") as f:
                    f.write(json.dumps({"received_at": notification.received_at, "path": notification.path,
                                        "payload": notification.payload}) + "\n")  # fmt: skip
        for alert in notification.firing():
            log.info("%s received: %s %s", notification.receiver, alert.get("labels", {}).get("alertname"),
                     alert.get("labels", {}))  # fmt: skip

    def notifications(self) -> list[Notification]:
        """Every notification received so far, oldest first."""
        with self._lock:
            return list(self._notifications)

    def pages(self) -> list[Page]:
        """Every firing alert delivered to the page receiver, one entry per notification it was in."""
        return pages_of(self.notifications())

    def payloads(self, path: str) -> list[dict[str, Any]]:
        """The payloads posted to ``path`` (e.g. `/page`), oldest first."""
        return [n.payload for n in self.notifications() if n.path == path]


def pages_of(notifications: list[Notification]) -> list[Page]:
    """The firing alerts that reached the `page` receiver, in the order they arrived."""
    out: list[Page] = []
    for n in notifications:
        if n.receiver != "page":
            continue
        for alert in n.firing():
            labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
            annotations = alert.get("annotations") or {}
            out.append(
                Page(
                    received_at=n.received_at,
                    alertname=labels.get("alertname", ""),
                    labels=labels,
                    summary=str(annotations.get("summary", "")),
                    starts_at=str(alert.get("startsAt", "")),
                )
            )
    return out


def read_notifications(log_file: Path) -> list[Notification]:
    """The notifications a receiver wrote to ``log_file`` (for tests and the output folder)."""
    out: list[Notification] = []
    if not log_file.exists():
        return out
    for line in log_file.read_text().splitlines():
        if line.strip():
            doc = json.loads(line)
            out.append(Notification(float(doc["received_at"]), str(doc["path"]), dict(doc["payload"])))
    return out
