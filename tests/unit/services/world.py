"""A small world for the service tests: one connection, one Xero organisation, one Dynamics org."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from connector.domain.dynamics import ConnectionSettings, XeroDetails
from connector.domain.xero_records import XeroInvoice
from tests.fakes.dataverse import FakeDataverse
from tests.fakes.xero import FakeXero

# --- a small world for the service tests ----------------------------------------------------------------

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TENANT_ID = "tenant-1"


@dataclass
class World:
    """One connection, one Xero organisation, one Dynamics org, and a clock."""

    dataverse: FakeDataverse
    xero: FakeXero
    connection: ConnectionSettings
    clock: list[datetime]

    def now(self) -> datetime:
        return self.clock[0]

    def xero_for(self, connection: ConnectionSettings) -> FakeXero:
        assert connection.id == self.connection.id, "the service asked for another organisation"
        return self.xero


def make_world(connection: ConnectionSettings) -> World:
    dataverse = FakeDataverse()
    dataverse.connections[connection.id] = connection
    return World(dataverse, FakeXero(today=NOW.date(), now=NOW), connection, [NOW])


def details_for(
    xero_invoice: XeroInvoice, invoice_id: UUID, connection_id: UUID, **overrides: object
) -> XeroDetails:
    """Xero details as sync_invoice leaves them right after creating `xero_invoice`."""
    values: dict[str, object] = {
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"details-{invoice_id}"),
        "invoice_id": invoice_id,
        "connection_id": connection_id,
        "export_status": "Yes",
        "xero_invoice_id": xero_invoice.invoice_id,
        "xero_invoice_number": xero_invoice.invoice_number,
        "xero_status": xero_invoice.status,
        "amount_paid": xero_invoice.amount_paid,
        "amount_due": xero_invoice.amount_due,
        "amount_credited": xero_invoice.amount_credited,
        "total": xero_invoice.total,
        "total_tax": xero_invoice.total_tax,
        "due_date": xero_invoice.due_date,
    }
    values.update(overrides)
    return XeroDetails.model_validate(values)
