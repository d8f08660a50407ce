"""Counting what the connector did: Xero and Dataverse requests between two marks, blob round trips,
queue depth, quiescence and the host process's memory. Everything is read from the emulators and
Azurite, never from the connector's own account of itself."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.storage.queue import QueueServiceClient

from devstack.local_platform import LocalPlatform

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def xero_kind(entry: dict[str, Any]) -> str:
    """`GET /Invoices?where` style: method, path with ids folded, and the filters that matter."""
    path = _GUID.sub("{id}", str(entry.get("path", ""))).removeprefix("/api.xro/2.0")
    query = str(entry.get("query") or "").lower()
    filters = [name for name in ("where", "ids", "page") if f"{name}=" in query]
    return f"{entry.get('method')} {path}" + (f"?{','.join(filters)}" if filters else "")


def dataverse_kind(entry: dict[str, Any]) -> str:
    """`PATCH xc_xerodetails` style: method and entity set (or `$batch`)."""
    path = str(entry.get("path", "")).strip("/")
    head = re.split(r"[(/?]", path, maxsplit=1)[0] or path
    return f"{entry.get('method')} {head}"


@dataclass(frozen=True)
class Mark:
    at: float
    xero_seq: int
    xero_dropped: int
    dataverse_len: int
    blobs: dict[str, int]


@dataclass
class Window:
    """What happened between two marks."""

    seconds: float
    xero: int
    xero_429: int
    xero_kinds: Counter[str]
    dataverse: int
    dataverse_throttled: int
    dataverse_kinds: Counter[str]
    blobs: Counter[str]  # blob requests per container
    xero_log_dropped: int = 0  # entries the Xero log let go in the window: `xero` is then a floor

    def __add__(self, other: Window) -> Window:
        return Window(
            self.seconds + other.seconds,
            self.xero + other.xero,
            self.xero_429 + other.xero_429,
            self.xero_kinds + other.xero_kinds,
            self.dataverse + other.dataverse,
            self.dataverse_throttled + other.dataverse_throttled,
            self.dataverse_kinds + other.dataverse_kinds,
            self.blobs + other.blobs,
            self.xero_log_dropped + other.xero_log_dropped,
        )

    @classmethod
    def empty(cls) -> Window:
        return cls(0.0, 0, 0, Counter(), 0, 0, Counter(), Counter())

    def limiter_round_trips(self, service: str = "xero") -> int:
        """Blob requests to a limiter's container: Xero's call budget, or Dataverse's ("dataverse")."""
        return self.blobs.get(limiter_container(service), 0)


def limiter_container(service: str) -> str:
    """The connector's own name for a limiter's container; `<service>-rate-limits` if it has none."""
    import importlib

    module = {
        "xero": "connector.adapters.storage.rate_limit",
        "dataverse": "connector.adapters.dataverse.budget",
    }
    try:
        return str(importlib.import_module(module[service]).DEFAULT_CONTAINER)
    except (ImportError, AttributeError, KeyError):
        return f"{service}-rate-limits"


class BlobCounter:
    """Counts blob requests per container made anywhere in this process, by wrapping the Azure SDK's
    HTTP transports (every retry is a request of its own). Only sees a connector running in-process."""

    def __init__(self, blob_port: int) -> None:
        self.blob_port = blob_port
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    def _note(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.port != self.blob_port:
            return
        segments = [s for s in parts.path.split("/") if s]
        container = segments[1] if len(segments) > 1 else "(service)"
        with self._lock:
            self._counts[container] += 1

    def install(self) -> BlobCounter:
        from azure.core.pipeline.transport import RequestsTransport

        self._wrap(RequestsTransport, is_async=False)
        try:
            from azure.core.pipeline.transport import AioHttpTransport

            self._wrap(AioHttpTransport, is_async=True)
        except ImportError:  # aiohttp is not installed: nobody can use the async transport
            pass
        return self

    def _wrap(self, cls: Any, *, is_async: bool) -> None:
        original = cls.send
        note = self._note

        def send(transport: Any, request: Any, **kwargs: Any) -> Any:
            note(str(request.url))
            return original(transport, request, **kwargs)

        async def send_async(transport: Any, request: Any, **kwargs: Any) -> Any:
            note(str(request.url))
            return await original(transport, request, **kwargs)

        cls.send = send_async if is_async else send
        self._undo.append(lambda: setattr(cls, "send", original))

    def uninstall(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Meter:
    """Marks and windows over one platform and one Xero organisation."""

    def __init__(self, platform: LocalPlatform, tenant_id: str, blobs: BlobCounter | None = None) -> None:
        assert platform.xero is not None and platform.dataverse is not None
        self.platform = platform
        self.tenant_id = tenant_id
        self.blobs = blobs
        self._xero = platform.xero
        self._dataverse = platform.dataverse

    def mark(self) -> Mark:
        state = self._xero.state
        with state.lock:
            seq, dropped = state.request_seq, state.request_log_dropped
        blobs = self.blobs.snapshot() if self.blobs is not None else {}
        return Mark(time.monotonic(), seq, dropped, len(self._dataverse.emulator.request_log), blobs)

    def since(self, start: Mark, end: Mark | None = None) -> Window:
        end = end or self.mark()
        xero = [
            e
            for e in self._xero.state.requests_since(start.xero_seq, self.tenant_id)
            if e["seq"] <= end.xero_seq
        ]
        dataverse = self._dataverse.emulator.request_log[start.dataverse_len : end.dataverse_len]
        blobs = Counter(end.blobs)
        blobs.subtract(start.blobs)
        return Window(
            seconds=end.at - start.at,
            xero=len(xero),
            xero_429=sum(1 for e in xero if e.get("status") == 429),
            xero_kinds=Counter(xero_kind(e) for e in xero),
            dataverse=len(dataverse),
            dataverse_throttled=sum(1 for e in dataverse if e.get("throttled")),
            dataverse_kinds=Counter(dataverse_kind(e) for e in dataverse),
            blobs=+blobs,
            xero_log_dropped=end.xero_dropped - start.xero_dropped,
        )


class Queues:
    """Depth of the connector's queues in Azurite (invisible messages included: being processed or
    put back with a delay), and of their poison queues."""

    def __init__(self, connection_string: str, names: list[str]) -> None:
        self._service = QueueServiceClient.from_connection_string(connection_string)
        self.names = names

    def _depth(self, name: str) -> int:
        try:
            properties = self._service.get_queue_client(name).get_queue_properties()
        except Exception:  # not created yet: nothing in it
            return 0
        return int(properties.approximate_message_count or 0)

    def busy(self) -> int:
        return sum(self._depth(name) for name in self.names)

    def poisoned(self) -> dict[str, int]:
        """Messages in each poison queue that has any."""
        depths = {name: self._depth(f"{name}-poison") for name in self.names}
        return {name: n for name, n in depths.items() if n}

    def close(self) -> None:
        self._service.close()


def _webhooks_idle(platform: LocalPlatform) -> bool:
    assert platform.xero is not None and platform.dataverse is not None
    return platform.dataverse.emulator.webhooks.wait_idle(0) and platform.xero.emulator.webhooks.flush(0)


def settle(
    platform: LocalPlatform, meter: Meter, queues: Queues, quiet: float = 1.5, timeout: float = 600
) -> bool:
    """Wait until the connector is done: both emulators' webhooks delivered, every queue empty, and
    neither emulator asked anything for `quiet` seconds. False on timeout."""
    deadline = time.monotonic() + timeout
    last = meter.mark()
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = meter.mark()
        if (now.xero_seq, now.dataverse_len) != (last.xero_seq, last.dataverse_len):
            last, still_since = now, time.monotonic()
            continue
        if time.monotonic() - still_since >= quiet and _webhooks_idle(platform) and queues.busy() == 0:
            return True
    return False


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def memory_mb(pid: int) -> tuple[float, float] | None:
    """(current RSS, peak RSS) of a process in MB, from /proc (Linux); None elsewhere or when gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    if "VmRSS" not in found or "VmHWM" not in found:
        return None
    return int(found["VmRSS"]) / 1024, int(found["VmHWM"]) / 1024


@dataclass
class Sampler:
    """Calls `sample()` every `every` seconds on a thread while in `running()`."""

    sample: Callable[[], None]
    every: float = 5.0
    _stop: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def running(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.wait(self.every):
                self.sample()

        thread = threading.Thread(target=loop, name="bench-sampler", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=10)
            self.sample()
