"""The connector's view of Dataverse: one client over its tables, each in its own module.

Every method is one HTTP call unless its docstring says otherwise (paging, batches).
"""

from __future__ import annotations

from typing import Any

from connector.adapters.dataverse.connections import ConnectionRows
from connector.adapters.dataverse.customers import CustomerRows
from connector.adapters.dataverse.history import HistoryRows
from connector.adapters.dataverse.invoices import InvoiceRows
from connector.adapters.dataverse.reference_data import ReferenceDataRows
from connector.adapters.dataverse.xero_details import XeroDetailsRows


class DataverseClient(
    InvoiceRows, XeroDetailsRows, HistoryRows, CustomerRows, ConnectionRows, ReferenceDataRows
):
    """Invoices, Xero details, sync history, customers, connections and reference data."""

    async def __aenter__(self) -> DataverseClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def client_from_settings(settings: Any) -> DataverseClient:
    """A client for the configured org (settings: connector.settings.Settings)."""
    from connector.adapters.dataverse.auth import credential_from_settings

    return DataverseClient(
        settings.dataverse_url, credential_from_settings(settings), prefix=settings.dataverse_publisher_prefix
    )
