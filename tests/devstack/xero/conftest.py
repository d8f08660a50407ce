"""One emulator per test module, reset between tests; every response is checked against the spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.paths import xero_spec_dir
from devstack.xero.testing import (
    SdkClients,
    SeededOrganisation,
    XeroEmulatorHandle,
    make_sdk_clients,
    running_xero_emulator,
)

SPEC_PRESENT = (xero_spec_dir() / "xero_accounting.yaml").is_file()


@pytest.fixture(scope="module")
def emulator() -> Iterator[XeroEmulatorHandle]:
    with running_xero_emulator(validate_responses=True, rate_limit_per_minute=1000) as handle:
        yield handle


@pytest.fixture
def xero(emulator: XeroEmulatorHandle) -> Iterator[XeroEmulatorHandle]:
    emulator.reset()
    emulator.set_limits(rate_limit_per_minute=1000, rate_limit_concurrent=5, rate_limit_time_scale=1.0)
    yield emulator
    violations = list(emulator.state.spec_violations)
    assert violations == [], f"responses that do not match the Xero spec: {violations}"


@pytest.fixture
def org(xero: XeroEmulatorHandle) -> SeededOrganisation:
    return xero.seed_organisation()


class Sdk:
    """xero-python clients for one seeded organisation, with the token store the SDK reads and writes."""

    def __init__(self, xero: XeroEmulatorHandle, org: SeededOrganisation) -> None:
        self.tenant_id = org.tenant_id
        self.token: dict[str, Any] = org.token
        self.saved: list[dict[str, Any]] = []
        clients: SdkClients = make_sdk_clients(
            xero.base_url, lambda: self.token, self._save, org.client_id, org.client_secret
        )
        self.api_client = clients.api_client
        self.accounting = clients.accounting
        self.identity = clients.identity

    def _save(self, token: dict[str, Any]) -> None:
        self.token = token
        self.saved.append(token)


@pytest.fixture
def sdk(xero: XeroEmulatorHandle, org: SeededOrganisation) -> Sdk:
    return Sdk(xero, org)


@pytest.fixture
def needs_spec() -> None:
    if not SPEC_PRESENT:
        pytest.skip(f"Xero OpenAPI spec not found under {xero_spec_dir()} (set XERO_SPEC_DIR)")
