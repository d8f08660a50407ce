"""What a user does in the Sales UI, as the platform sees it: separate saves, each its own operation.

Creating an invoice with lines is one Create of the invoice, then one Create per line (each line
re-prices the invoice: an Update of the totals). Mark paid / cancel change state (messages per
`EmulatorOptions.ui_state_messages`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devstack.dataverse.seed import SALES_USER_ID
from devstack.dataverse.store import ODataError, Ref

if TYPE_CHECKING:
    from devstack.dataverse.emulator import Emulator


class UiActions:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.emulator.state

    def perform(
        self, method: str, invoice_id: str | None, action: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        if invoice_id is None:
            return self.create_invoice(data)
        if method == "DELETE":
            return self.delete(invoice_id)
        if method == "PATCH":
            return self.edit(invoice_id, data)
        handlers = {
            "date-delivered": lambda: self.edit(invoice_id, {"datedelivered": data.get("date") or _today()}),
            "mark-paid": lambda: self.set_state(invoice_id, 2, 100002 if data.get("partial") else 100001),
            "cancel": lambda: self.set_state(invoice_id, 3, 100003),
            "reactivate": lambda: self.set_state(invoice_id, 0, 1),
            "lines": lambda: self.add_line(invoice_id, data),
        }
        if action not in handlers:
            raise ODataError(404, f"Unknown UI action '{action}'.")
        return handlers[action]()

    def _user(self) -> str:
        return SALES_USER_ID if SALES_USER_ID in self.state.rows["systemuser"] else self.emulator.app_user_id

    def create_invoice(self, data: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        customer_kind = "account" if data.get("account_id") else "contact"
        customer_id = data.get("account_id") or data.get("contact_id")
        if not customer_id:
            raise ODataError(400, "An invoice needs account_id or contact_id.")
        currency = data.get("currency", "USD")
        currency_id = next(
            (
                row_id
                for row_id, row in state.rows["transactioncurrency"].items()
                if row.get("isocurrencycode") == currency or row_id == currency
            ),
            None,
        )
        if currency_id is None:
            raise ODataError(400, f"Unknown currency {currency!r}; seed first.")
        body: dict[str, Any] = {
            "name": data.get("name", "New invoice"),
            f"customerid_{customer_kind}@odata.bind": f"/{customer_kind}s({customer_id})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency_id})",
        }
        price_levels = list(state.rows["pricelevel"])
        if price_levels:
            body["pricelevelid@odata.bind"] = f"/pricelevels({price_levels[0]})"
        for source, column in (
            ("description", "description"),
            ("date_delivered", "datedelivered"),
            ("due_date", "duedate"),
            ("invoice_number", "invoicenumber"),
        ):
            if data.get(source) is not None:
                body[column] = data[source]
        body.update(data.get("columns", {}))
        invoice_table = state.tables["invoice"]
        with state.transaction(user_id=self._user()) as tx:
            invoice_id = self.emulator.api.create_from_body(tx, invoice_table, body)
        line_ids: list[str] = []
        for line in data.get("lines", []):
            line_ids.append(self.add_line(invoice_id, line, line_ids)["id"])
        return {"id": invoice_id, "line_ids": line_ids, **self._totals(invoice_id)}

    def add_line(
        self, invoice_id: str, line: dict[str, Any], earlier: list[str] | None = None
    ) -> dict[str, Any]:
        state = self.state
        changes: dict[str, Any] = {"invoiceid": Ref("invoice", invoice_id)}
        if line.get("write_in") is not None:
            changes.update(isproductoverridden=True, productdescription=line["write_in"])
        else:
            product_id = line.get("product_id") or next(
                (
                    row_id
                    for row_id, row in state.rows["product"].items()
                    if row.get("productnumber") == line.get("product_number")
                ),
                None,
            )
            if product_id is None:
                raise ODataError(400, "A line needs product_id, product_number or write_in.")
            changes.update(isproductoverridden=False, productid=Ref("product", product_id))
        if line.get("price") is not None:
            changes.update(priceperunit=Decimal(str(line["price"])), ispriceoverridden=True)
        for source, column in (
            ("quantity", "quantity"),
            ("discount", "manualdiscountamount"),
            ("tax", "tax"),
        ):
            if line.get(source) is not None:
                changes[column] = Decimal(str(line[source]))
        changes.setdefault("quantity", Decimal(1))
        if line.get("description") is not None:
            changes["description"] = line["description"]
        if line.get("producttypecode") is not None:
            changes["producttypecode"] = int(line["producttypecode"])
        if line.get("parent") is not None and earlier is not None:
            changes["parentbundleidref"] = Ref("invoicedetail", earlier[int(line["parent"])])
        with state.transaction(user_id=self._user()) as tx:
            line_id = state.create(tx, "invoicedetail", changes)
        return {"id": line_id, **self._totals(invoice_id)}

    def edit(self, invoice_id: str, columns: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        with state.transaction(user_id=self._user()) as tx:
            changes = state.changes_from_body(tx, state.tables["invoice"], dict(columns))
            state.update_split(tx, "invoice", invoice_id, changes)
        return {"id": invoice_id, **self._totals(invoice_id)}

    def set_state(self, invoice_id: str, state_code: int, status_code: int) -> dict[str, Any]:
        state = self.state
        messages = self.emulator.options.ui_state_messages
        with state.transaction(user_id=self._user()) as tx:
            pre = dict(state.get("invoice", invoice_id))
            before = len(tx.events)
            state.update(tx, "invoice", invoice_id, {"statecode": state_code, "statuscode": status_code})
            if "Update" not in messages:
                del tx.events[before]
            inputs = {"State": state_code, "Status": status_code}
            for message in messages:
                if message != "Update":
                    tx.emit(
                        message,
                        "invoice",
                        invoice_id,
                        pre,
                        {"statecode": state_code, "statuscode": status_code},
                        inputs,
                    )
        return {"id": invoice_id, **self._totals(invoice_id)}

    def delete(self, invoice_id: str) -> dict[str, Any]:
        with self.state.transaction(user_id=self._user()) as tx:
            self.state.delete(tx, "invoice", invoice_id)
        return {"id": invoice_id, "deleted": True}

    def _totals(self, invoice_id: str) -> dict[str, Any]:
        row = self.state.rows["invoice"].get(invoice_id) or {}
        return {
            key: str(row.get(key))
            for key in ("totallineitemamount", "totaltax", "totalamount", "statecode", "statuscode")
        }


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def parse_day(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
