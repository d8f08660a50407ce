"""Dynamics 365 Sales behaviour for invoices: numbering, line pricing, totals, state rules.

- line: baseamount = price × quantity; extendedamount = baseamount − manualdiscountamount + tax;
  an existing product's price comes from the product unless the price is overridden.
- invoice: totallineitemamount = Σ(baseamount − manualdiscountamount); totaltax = Σ tax;
  totalamountlessfreight = totallineitemamount − discountamount; totalamount = that + freight + totaltax.
  Lines inside a bundle (parentbundleidref set) are priced by their bundle line and not summed.
- Paid (2) and Canceled (3) invoices are read-only: only a state change may touch them.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from devstack.dataverse.store import STATE_COLUMNS, EmulatorState, ODataError, Ref, Transaction

VALID_STATUS = {0: {1, 2, 4, 5, 6}, 1: {3, 7, 100003}, 2: {100001, 100002}, 3: {100003}}
DEFAULT_STATUS = {0: 1, 1: 100003, 2: 100001, 3: 100003}
READ_ONLY_STATES = {2, 3}
TOTAL_COLUMNS = (
    "totallineitemamount",
    "totaltax",
    "totalamountlessfreight",
    "totaldiscountamount",
    "totalamount",
)
# Columns the platform itself maintains: changing them never counts as a user edit of a closed invoice.
_SYSTEM_MAINTAINED = {"modifiedon", "versionnumber", *STATE_COLUMNS}

_numbers = itertools.count(1001)
_system_writes: set[int] = set()  # ids of transactions currently doing a system recalculation


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(0)


def before_write(
    state: EmulatorState,
    tx: Transaction,
    table: str,
    row_id: str,
    row: dict[str, Any],
    pre: dict[str, Any] | None,
) -> None:
    if table == "invoice":
        _before_invoice(tx, row, pre)
    elif table == "invoicedetail":
        _before_line(state, row, pre)
    elif table == "contact" and row:
        parts = [row.get("firstname"), row.get("lastname")]
        row["fullname"] = " ".join(part for part in parts if part) or row.get("fullname")


def _before_invoice(tx: Transaction, row: dict[str, Any], pre: dict[str, Any] | None) -> None:
    if not row:
        return  # delete
    if pre is None and not row.get("invoicenumber"):
        row["invoicenumber"] = f"INV-{next(_numbers):05d}-EMU"
    if pre is not None and pre.get("statecode") in READ_ONLY_STATES and id(tx) not in _system_writes:
        edited = [key for key in row if key not in _SYSTEM_MAINTAINED and row.get(key) != pre.get(key)]
        if edited:
            label = "paid" if pre["statecode"] == 2 else "canceled"
            raise ODataError(
                400,
                f"This invoice is {label} and read-only; it can't be edited unless it is reactivated "
                f"(columns: {', '.join(sorted(edited))}).",
                "0x80043b1d",
            )
    if (
        pre is None
        or row.get("statecode") != pre.get("statecode")
        or row.get("statuscode") != pre.get("statuscode")
    ):
        state_code = row.get("statecode") or 0
        if state_code not in VALID_STATUS:
            raise ODataError(400, f"{state_code} is not a valid state code on invoice.", "0x80040203")
        status_changed = pre is None or row.get("statuscode") != pre.get("statuscode")
        if row.get("statuscode") is None or (
            not status_changed and row["statuscode"] not in VALID_STATUS[state_code]
        ):
            row["statuscode"] = DEFAULT_STATUS[state_code]
        if row["statuscode"] not in VALID_STATUS[state_code]:
            raise ODataError(
                400,
                f"{row['statuscode']} is not a valid status code for state code {state_code} on invoice.",
                "0x80040203",
            )
    for column in TOTAL_COLUMNS:
        if row.get(column) is None:
            row[column] = Decimal("0")


def _parent_invoice(state: EmulatorState, row: dict[str, Any]) -> dict[str, Any] | None:
    ref = row.get("invoiceid")
    return state.rows["invoice"].get(ref.id) if isinstance(ref, Ref) else None


def _before_line(state: EmulatorState, row: dict[str, Any], pre: dict[str, Any] | None) -> None:
    invoice = _parent_invoice(state, row or pre or {})
    if invoice is not None and invoice.get("statecode") in READ_ONLY_STATES:
        raise ODataError(
            400, "The invoice is paid or canceled and its products can't be changed.", "0x80043b1d"
        )
    if not row:
        return  # delete
    if row.get("invoiceid") is None:
        raise ODataError(400, "invoicedetail requires invoiceid.", "0x80040200")
    row["isproductoverridden"] = bool(row.get("isproductoverridden"))
    row["producttypecode"] = row.get("producttypecode") or 1
    product_ref = row.get("productid")
    product = state.rows["product"].get(product_ref.id) if isinstance(product_ref, Ref) else None
    if row["isproductoverridden"]:
        row["productid"] = None
        row["productname"] = row.get("productdescription")
    elif product is None:
        raise ODataError(
            400, "An existing-product line needs productid (or set isproductoverridden).", "0x80040200"
        )
    else:
        row["productname"] = product.get("name")
        row["productnumber"] = product.get("productnumber")
        if not row.get("ispriceoverridden") or row.get("priceperunit") is None:
            row["priceperunit"] = _money(product.get("price"))
    quantity = row.get("quantity") if isinstance(row.get("quantity"), Decimal) else Decimal(0)
    row["quantity"] = quantity
    for column in ("priceperunit", "manualdiscountamount", "tax", "volumediscountamount"):
        row[column] = _money(row.get(column))
    row["baseamount"] = row["priceperunit"] * quantity
    row["extendedamount"] = row["baseamount"] - row["manualdiscountamount"] + row["tax"]
    if row.get("sequencenumber") is None and isinstance(row.get("invoiceid"), Ref):
        siblings = [
            line
            for line in state.rows["invoicedetail"].values()
            if isinstance(line.get("invoiceid"), Ref) and line["invoiceid"] == row["invoiceid"]
        ]
        row["sequencenumber"] = len(siblings) + 1
        row["lineitemnumber"] = row.get("lineitemnumber") or row["sequencenumber"]
    parent = row.get("parentbundleidref")
    row["parentbundleid"] = parent.id if isinstance(parent, Ref) else None


def after_write(
    state: EmulatorState,
    tx: Transaction,
    table: str,
    row_id: str,
    row: dict[str, Any],
    pre: dict[str, Any] | None,
) -> None:
    if table != "invoicedetail":
        return
    invoice_ids = {
        ref.id for ref in ((row or {}).get("invoiceid"), (pre or {}).get("invoiceid")) if isinstance(ref, Ref)
    }
    for invoice_id in invoice_ids:
        if invoice_id in state.rows["invoice"]:
            recalculate(state, tx, invoice_id)


def invoice_totals(state: EmulatorState, invoice_id: str) -> dict[str, Decimal]:
    invoice = state.rows["invoice"][invoice_id]
    lines = [
        line
        for line in state.rows["invoicedetail"].values()
        if isinstance(line.get("invoiceid"), Ref)
        and line["invoiceid"].id == invoice_id
        and line.get("parentbundleidref") is None
    ]
    line_total = sum((line["baseamount"] - line["manualdiscountamount"] for line in lines), Decimal(0))
    tax = sum((line["tax"] for line in lines), Decimal(0))
    discount = _money(invoice.get("discountamount"))
    less_freight = line_total - discount
    return {
        "totallineitemamount": line_total,
        "totaltax": tax,
        "totaldiscountamount": discount,
        "totalamountlessfreight": less_freight,
        "totalamount": less_freight + _money(invoice.get("freightamount")) + tax,
    }


def recalculate(state: EmulatorState, tx: Transaction, invoice_id: str) -> None:
    """Line changes re-price the invoice, which the platform records as an Update of the invoice."""
    invoice = state.rows["invoice"][invoice_id]
    totals = invoice_totals(state, invoice_id)
    changed = {key: value for key, value in totals.items() if invoice.get(key) != value}
    if not changed:
        return
    _system_writes.add(id(tx))
    try:
        state.update(tx, "invoice", invoice_id, changed)
    finally:
        _system_writes.discard(id(tx))


def install(state: EmulatorState) -> None:
    state.before_write.append(before_write)
    state.after_write.append(after_write)
