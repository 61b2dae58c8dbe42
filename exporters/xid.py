"""Xid and ECC events of the GPUs, from one NVML event set.

NVML delivers Xid critical errors (and ECC error events) through an event set a thread waits
on; there is no counter to read. `XidWatcher` registers every GPU that supports the events,
counts Xid codes per GPU UUID, and tells the sampler when an ECC event arrived so it re-reads the
ECC counters at its next tick instead of at the slow cadence.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pynvml

from inferwatch.exporters import nvml
from inferwatch.exporters.nvml import NvmlApi

log = logging.getLogger(__name__)

EVENT_WAIT_MS = 500
# After an event wait fails for another reason than a timeout, wait this long before the next one.
RETRY_PAUSE_S = 1.0


class XidWatcher:
    """Counts Xid events per GPU from an NVML event set (see the module docstring)."""

    def __init__(self, api: NvmlApi, *, on_ecc: Callable[[str], None]) -> None:
        """`on_ecc(gpu_uuid)` is called for each ECC error event."""
        self._api = api
        self._on_ecc = on_ecc
        self._event_set: Any = None
        self._uuids: set[str] = set()
        self._lock = threading.Lock()
        self._counts: dict[str, dict[int, int]] = {}
        self._closed = threading.Event()

    @property
    def watching(self) -> bool:
        """True while the event set delivers the events of at least one GPU."""
        return self._event_set is not None

    def register(self, gpus: Sequence[tuple[str, Any]]) -> bool:
        """Register the (uuid, handle) GPUs that support the events; False when none could be."""
        self._closed.clear()
        self._uuids.clear()
        try:
            self._event_set = self._api.nvmlEventSetCreate()
        except pynvml.NVMLError as err:
            log.warning("no NVML event set (%s): Xid errors will not be counted", err)
            return False
        for uuid, handle in gpus:
            try:
                wanted = int(self._api.nvmlDeviceGetSupportedEventTypes(handle)) & nvml.WATCHED_EVENTS
                if wanted:
                    self._api.nvmlDeviceRegisterEvents(handle, wanted, self._event_set)
                    self._uuids.add(uuid)
            except pynvml.NVMLError as err:
                log.warning("GPU %s: cannot register Xid/ECC events: %s", uuid, err)
        if not self._uuids:
            self._api.nvmlEventSetFree(self._event_set)
            self._event_set = None
        return self.watching

    def counts(self, uuid: str) -> tuple[tuple[int, int], ...]:
        """(xid, events) of GPU `uuid`, by Xid code."""
        with self._lock:
            return tuple(sorted(self._counts.get(uuid, {}).items()))

    def all_counts(self) -> Mapping[str, tuple[tuple[int, int], ...]]:
        """(xid, events) of every GPU that had one."""
        with self._lock:
            return {uuid: tuple(sorted(c.items())) for uuid, c in self._counts.items()}

    def poll(self, timeout_ms: int = EVENT_WAIT_MS) -> int:
        """Wait up to `timeout_ms` for one event and count it; returns how many were handled (0 or 1)."""
        if self._event_set is None:
            return 0
        try:
            event = self._api.nvmlEventSetWait(self._event_set, timeout_ms)
        except pynvml.NVMLError as err:
            if nvml.error_code(err) != pynvml.NVML_ERROR_TIMEOUT:
                log.warning("waiting for NVML events failed: %s", err)
                self._closed.wait(RETRY_PAUSE_S)  # not a busy loop on a persistent failure
            return 0
        try:
            uuid = nvml.as_text(self._api.nvmlDeviceGetUUID(event.device))
        except pynvml.NVMLError as err:
            log.warning("NVML event 0x%x from an unreadable device: %s", int(event.eventType), err)
            return 0
        if uuid not in self._uuids:
            return 0
        kind, data = int(event.eventType), int(event.eventData)
        if kind & nvml.EVENT_XID:
            with self._lock:
                per_gpu = self._counts.setdefault(uuid, {})
                per_gpu[data] = per_gpu.get(data, 0) + 1
            log.error("GPU %s: Xid %d", uuid, data)
        if kind & (nvml.EVENT_ECC_SINGLE | nvml.EVENT_ECC_DOUBLE):
            log.warning("GPU %s: ECC error event 0x%x; re-reading ECC counters next tick", uuid, kind)
            self._on_ecc(uuid)
        return 1

    def close(self) -> None:
        """Free the event set (a wait in progress ends with its timeout)."""
        self._closed.set()
        if self._event_set is None:
            return
        try:
            self._api.nvmlEventSetFree(self._event_set)
        except pynvml.NVMLError as err:
            log.warning("freeing the NVML event set failed: %s", err)
        self._event_set = None
