"""Start and stop Azurite (blob + queue) from node_modules."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from devstack.free_ports import free_port, wait_for_port
from devstack.paths import REPO_ROOT

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_binary() -> Path:
    path = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm ci` (make deps) first")
    return path


@dataclass
class Azurite:
    """A running Azurite. `connection_string` points at its blob and queue endpoints."""

    blob_port: int
    queue_port: int
    location: Path
    process: subprocess.Popen[bytes] | None = None
    _own_location: bool = field(default=False, repr=False)
    _log: BinaryIO | None = field(default=None, repr=False)

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
        )

    def start(self) -> Azurite:
        self.location.mkdir(parents=True, exist_ok=True)
        command = [
            str(azurite_binary()),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
            str(self.location),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.blob_port),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(self.queue_port),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(free_port()),
        ]
        # Its own log file: an unread pipe would stall Azurite once the buffer fills.
        self._log = (self.location / "azurite.log").open("ab")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            wait_for_port(self.queue_port)
            wait_for_port(self.blob_port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_location:
            shutil.rmtree(self.location, ignore_errors=True)


def start_azurite(
    location: Path | None = None, queue_port: int | None = None, blob_port: int | None = None
) -> Azurite:
    """Start Azurite on free (or given) loopback ports; a temporary data folder unless `location` is given."""
    own = location is None
    folder = Path(tempfile.mkdtemp(prefix="azurite-")) if location is None else location
    return Azurite(
        blob_port=blob_port or free_port(),
        queue_port=queue_port or free_port(),
        location=folder,
        _own_location=own,
    ).start()
