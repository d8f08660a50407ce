"""Accounts and contacts: the Xero ContactID and balances the connector keeps on them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import DataverseBase
from connector.adapters.dataverse.http import odata_string
from connector.adapters.dataverse.mapping import ENTITY_SET, customer_columns, customer_from_json
from connector.domain.dynamics import Customer
from connector.ports import CustomerKind


class CustomerRows(DataverseBase):
    async def get_customer(self, kind: CustomerKind, customer_id: UUID) -> Customer:
        params = {"$select": ",".join(customer_columns(self.schema, kind))}
        row = await self.get_json(f"{ENTITY_SET[kind]}({customer_id})", params)
        return customer_from_json(self.schema, kind, row)

    async def find_customers_by_xero_contact_id(self, xero_contact_id: str) -> list[Customer]:
        """B3: the accounts and contacts that remember this Xero ContactID."""
        found: list[Customer] = []
        kinds: tuple[CustomerKind, ...] = ("account", "contact")
        for kind in kinds:
            params = {
                "$select": ",".join(customer_columns(self.schema, kind)),
                "$filter": f"{self.schema.p('xerocontactid')} eq {odata_string(xero_contact_id)}",
            }
            rows = (await self.get_json(ENTITY_SET[kind], params))["value"]
            found.extend(customer_from_json(self.schema, kind, row) for row in rows)
        return found

    async def update_customer_xero(
        self,
        kind: CustomerKind,
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
    ) -> None:
        """B3 / I5: remember the Xero ContactID and balances. Only the given values are written."""
        body: dict[str, Any] = {}
        if xero_contact_id is not None:
            body[self.schema.p("xerocontactid")] = xero_contact_id
        if amount_owed is not None:
            body[self.schema.p("amountowed")] = str(amount_owed)
        if amount_overdue is not None:
            body[self.schema.p("amountoverdue")] = str(amount_overdue)
        if body:
            await self._patch(f"{ENTITY_SET[kind]}({customer_id})", body)
