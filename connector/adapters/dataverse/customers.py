"""Accounts and contacts: the Xero ContactID and balances the connector keeps on them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.base import DataverseBase
from connector.adapters.dataverse.http import odata_string
from connector.adapters.dataverse.mapping import ENTITY_SET, customer_columns, customer_from_json, to_decimal
from connector.domain.dynamics import Customer
from connector.ports import CustomerKind

_BALANCE_FIELDS = ("amount_owed", "amount_overdue", "amount_we_owe", "amount_we_owe_overdue")


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

    async def list_linked_customers(self, page_size: int = 500) -> list[Customer]:
        """B3: every account and contact that remembers a Xero ContactID, with the balances last written
        (one call per page of each)."""
        balances = ("amountowed", "amountoverdue", "amountweowe", "amountweoweoverdue")
        found: list[Customer] = []
        kinds: tuple[CustomerKind, ...] = ("account", "contact")
        for kind in kinds:
            params = {
                "$select": ",".join([*customer_columns(self.schema, kind), *map(self.schema.p, balances)]),
                "$filter": f"{self.schema.p('xerocontactid')} ne null",
            }
            for row in await self.list_all(ENTITY_SET[kind], params, page_size):
                customer = customer_from_json(self.schema, kind, row)
                values = [to_decimal(row.get(self.schema.p(name))) for name in balances]
                found.append(customer.model_copy(update=dict(zip(_BALANCE_FIELDS, values, strict=True))))
        return found

    async def update_customer_xero(
        self,
        kind: CustomerKind,
        customer_id: UUID,
        *,
        xero_contact_id: str | None = None,
        amount_owed: Decimal | None = None,
        amount_overdue: Decimal | None = None,
        amount_we_owe: Decimal | None = None,
        amount_we_owe_overdue: Decimal | None = None,
    ) -> None:
        """B3 / I5: remember the Xero ContactID and balances (theirs to us, ours to a supplier). Only the
        given values are written."""
        body: dict[str, Any] = {}
        if xero_contact_id is not None:
            body[self.schema.p("xerocontactid")] = xero_contact_id
        amounts = zip(
            _BALANCE_FIELDS, (amount_owed, amount_overdue, amount_we_owe, amount_we_owe_overdue), strict=True
        )
        for field, amount in amounts:
            if amount is not None:
                body[self.schema.p(field.replace("_", ""))] = str(amount)
        if body:
            await self._patch(f"{ENTITY_SET[kind]}({customer_id})", body)
