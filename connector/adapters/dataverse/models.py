"""Small records the Dataverse adapter returns besides the domain models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from connector.domain.dynamics import Invoice, XeroDetails


class InvoiceSnapshot(BaseModel):
    """An invoice with everything a sync needs, read in one request."""

    model_config = ConfigDict(frozen=True)

    invoice: Invoice
    xero_details: XeroDetails | None = None
