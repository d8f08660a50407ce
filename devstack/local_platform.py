"""The whole local platform: Azurite, the Xero and Dataverse emulators, and the Functions host, in one
process by default, or as several host processes behind one front end (`host_processes`), as instances
of one app run in Azure."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.asgi_server import BackgroundServer
from devstack.azurite import Azurite, start_azurite
from devstack.dataverse.emulator import Emulator as DataverseEmulator
from devstack.dataverse.emulator import EmulatorOptions as DataverseOptions
from devstack.dataverse.emulator import create_app as create_dataverse_app
from devstack.dataverse.testing import DataverseEmulatorHandle
from devstack.free_ports import free_port
from devstack.host.app import LocalFunctionsHost
from devstack.host.balancer import balancer_app
from devstack.host.config import QueueOptions, load_local_settings
from devstack.host.process import HostProcess
from devstack.host.queues import PROCESSING_LEASE_SECONDS
from devstack.oidc import OidcProvider, start_oidc_provider
from devstack.paths import REPO_ROOT
from devstack.xero.app import create_app as create_xero_app
from devstack.xero.testing import XeroEmulatorHandle


@dataclass(frozen=True)
class PlatformPorts:
    host: int = 7071
    xero: int = 4010
    dataverse: int = 5050
    blob: int = 10000
    queue: int = 10001
    oidc: int = 9400  # the OpenID provider playing Entra ID for the admin console

    @classmethod
    def free(cls) -> PlatformPorts:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port(), free_port())


def load_settings_file() -> None:
    """local.settings.json if the developer made one, else the example: what `func start` would read."""
    own = REPO_ROOT / "local.settings.json"
    load_local_settings(own if own.exists() else REPO_ROOT / "local.settings.json.example")


@dataclass
class LocalPlatform:
    ports: PlatformPorts = field(default_factory=PlatformPorts)
    data_dir: Path | None = None
    xero_options: dict[str, Any] = field(default_factory=dict)
    dataverse_options: dict[str, Any] = field(default_factory=dict)
    queue_options: QueueOptions | None = None  # host.json's, unless given (in-process host only)
    # 0: the host runs in this process. N: N host processes (host.json's queue options, timers under a
    # lease) behind a round-robin front end on `ports.host`; `hosts` holds them, to kill and restart.
    host_processes: int = 0
    host_env: dict[str, str] = field(default_factory=dict)  # extra settings for the host processes
    # Settings for one host process, by instance name, once the emulators are up (e.g. its own Xero URL).
    host_env_for: Callable[[LocalPlatform, str], dict[str, str]] | None = None
    queue_lease_seconds: float = PROCESSING_LEASE_SECONDS
    hosts: list[HostProcess] = field(default_factory=list)
    azurite: Azurite | None = None
    xero: XeroEmulatorHandle | None = None
    dataverse: DataverseEmulatorHandle | None = None
    oidc: OidcProvider | None = None
    host_url: str = ""
    _servers: list[BackgroundServer] = field(default_factory=list)
    _own_dir: bool = False
    _environ: dict[str, str] | None = None

    def start(self) -> LocalPlatform:
        self._environ = dict(os.environ)  # the settings it sets are undone by stop()
        load_settings_file()
        if self.data_dir is None:
            self.data_dir, self._own_dir = Path(tempfile.mkdtemp(prefix="devstack-")), True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        assert self.data_dir is not None
        self.azurite = start_azurite(
            self.data_dir / "azurite", queue_port=self.ports.queue, blob_port=self.ports.blob
        )

        xero_app, xero_emulator = create_xero_app(**self.xero_options)
        xero_server = self._serve(xero_app, self.ports.xero)
        self.xero = XeroEmulatorHandle(xero_server.base_url, xero_emulator)

        dataverse_emulator = DataverseEmulator(DataverseOptions(**self.dataverse_options))
        dataverse_server = self._serve(create_dataverse_app(dataverse_emulator), self.ports.dataverse)
        self.dataverse = DataverseEmulatorHandle(dataverse_emulator, dataverse_server.base_url)

        self._start_console_sign_in()
        xero_url = xero_server.base_url
        os.environ.update(
            {
                "AzureWebJobsStorage": self.azurite.connection_string,
                "DATAVERSE_URL": dataverse_server.base_url,
                "DATAVERSE_STATIC_TOKEN": self.dataverse.token,
                "XERO_API_BASE_URL": f"{xero_url}/api.xro/2.0",
                "XERO_CONNECTIONS_BASE_URL": xero_url,
                "XERO_IDENTITY_BASE_URL": xero_url,
                "XERO_LOGIN_BASE_URL": xero_url,
            }
        )
        from connector.bootstrap import use_app
        from connector.settings import get_settings

        get_settings.cache_clear()
        use_app(None)
        if self.host_processes > 0:
            self._start_host_processes()
            return
        host = LocalFunctionsHost(load_settings_file=False, queue_options=self.queue_options)
        self.host_url = self._serve(host.asgi_app(), self.ports.host).base_url

    def _start_console_sign_in(self) -> None:
        """The admin console's sign-in: a real OpenID provider standing in for Entra ID (devstack/oidc)."""
        assert self.data_dir is not None
        self.oidc = start_oidc_provider(self.ports.oidc, self.data_dir / "oidc")
        os.environ.update(self.oidc.settings)
        os.environ.setdefault("CONSOLE_SESSION_KEY", secrets.token_urlsafe(32))

    def _start_host_processes(self) -> None:
        assert self.data_dir is not None
        for index in range(self.host_processes):
            instance = f"host-{index + 1}"
            own = self.host_env_for(self, instance) if self.host_env_for is not None else {}
            self.hosts.append(
                HostProcess(
                    instance=instance,
                    log_path=self.data_dir / "hosts" / f"{instance}.log",
                    env={**self.host_env, **own},
                    queue_lease_seconds=self.queue_lease_seconds,
                )
            )
        for host in self.hosts:
            host.spawn()
        for host in self.hosts:
            host.wait_ready()
        front = balancer_app(lambda: [host.url for host in self.hosts if host.alive])
        self.host_url = self._serve(front, self.ports.host).base_url

    def _serve(self, app: Any, port: int) -> BackgroundServer:
        server = BackgroundServer(app, port).start()
        self._servers.append(server)
        return server

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self.xero is not None:
            self.xero.emulator.webhooks.stop()
            self.xero.control.close()
        if self.dataverse is not None:
            self.dataverse.close()
            self.dataverse.emulator.webhooks.close()
        if self.oidc is not None:
            self.oidc.stop()
        if self.azurite is not None:
            self.azurite.stop()
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self._environ is not None:
            os.environ.clear()
            os.environ.update(self._environ)

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
