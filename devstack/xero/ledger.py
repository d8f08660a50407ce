"""Payments, credit-note allocations, contacts and items, and the read views with computed fields."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from devstack.xero.documents import IGNORED_INPUT, Emit, mark_paid_if_settled
from devstack.xero.money import ZERO
from devstack.xero.serialize import parse_date, to_decimal
from devstack.xero.store import Outcome, Record, Tenant, new_id

CONTACT_READ_ONLY = IGNORED_INPUT | {
    "ContactID",
    "IsCustomer",
    "IsSupplier",
    "Balances",
    "Website",
    "Discount",
}


class Ledger:
    """Everything that is not an invoice/credit-note save, for one tenant."""

    def __init__(self, tenant: Tenant, now: datetime, today: date, emit: Emit):
        self.tenant = tenant
        self.now = now
        self.today = today
        self.emit = emit

    # ---- payments -----------------------------------------------------------------------------------------
    def create_payment(self, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        errors = outcome.errors
        invoice = self._payment_invoice(element)
        if invoice is None:
            errors.append(
                "Invoice could not be found; a payment needs an Invoice (InvoiceID or InvoiceNumber)"
            )
            return outcome
        if invoice["Status"] != "AUTHORISED":
            errors.append("Payments can only be made against Authorised documents")
        account = self._payment_account(element.get("Account") or {})
        if account is None:
            errors.append("Account could not be found; a payment needs an Account (AccountID or Code)")
        elif not (account["Type"] == "BANK" or account.get("EnablePaymentsToAccount")):
            errors.append("Payments can only be made to BANK accounts or accounts with payments enabled")
        try:
            amount = to_decimal(element.get("Amount"))
            paid_on = parse_date(element.get("Date")) or self.today
        except (ValueError, ArithmeticError):
            errors.append("Payment Amount or Date is not valid")
            return outcome
        if amount is None or amount <= ZERO:
            errors.append("Payment amount must be greater than zero")
        elif amount > invoice.get("AmountDue", ZERO):
            errors.append("Payment amount exceeds the amount outstanding on this document")
        if errors or account is None or amount is None:
            return outcome
        payment: Record = {
            "PaymentID": new_id(),
            "Date": paid_on,
            "Amount": amount,
            "BankAmount": amount,
            "CurrencyRate": Decimal(str(element.get("CurrencyRate") or 1)),
            "Reference": element.get("Reference"),
            "IsReconciled": bool(element.get("IsReconciled") or False),
            "Status": "AUTHORISED",
            "PaymentType": "ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
            "UpdatedDateUTC": self.now,
            "HasAccount": True,
            "HasValidationErrors": False,
            "Account": {"AccountID": account["AccountID"], "Code": account.get("Code")},
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        }
        self.tenant.payments[payment["PaymentID"]] = payment
        invoice["AmountPaid"] += amount
        invoice["AmountDue"] -= amount
        invoice["Payments"].append({"PaymentID": payment["PaymentID"]})
        mark_paid_if_settled(invoice, paid_on)
        invoice["UpdatedDateUTC"] = self.now
        self.emit("INVOICE", "UPDATE", invoice["InvoiceID"])
        outcome.record = payment
        outcome.created = True
        return outcome

    def delete_payment(self, payment_id: str, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        payment = self.tenant.payments.get(payment_id.lower())
        if payment is None:
            outcome.errors.append("Payment could not be found")
            return outcome
        if element.get("Status") != "DELETED":
            outcome.errors.append("Only Status DELETED can be set on an existing payment")
            return outcome
        if payment["Status"] == "DELETED":
            outcome.errors.append("This payment has already been deleted")
            return outcome
        payment["Status"] = "DELETED"
        payment["UpdatedDateUTC"] = self.now
        invoice = self.tenant.invoices[payment["Invoice"]["InvoiceID"]]
        invoice["AmountPaid"] -= payment["Amount"]
        invoice["AmountDue"] += payment["Amount"]
        invoice["Payments"] = [p for p in invoice["Payments"] if p["PaymentID"] != payment["PaymentID"]]
        mark_paid_if_settled(invoice, self.today)
        invoice["UpdatedDateUTC"] = self.now
        self.emit("INVOICE", "UPDATE", invoice["InvoiceID"])
        outcome.record = payment
        return outcome

    def _payment_invoice(self, element: Record) -> Record | None:
        ref = element.get("Invoice") or {}
        if ref.get("InvoiceID"):
            return self.tenant.invoices.get(str(ref["InvoiceID"]).lower())
        number = ref.get("InvoiceNumber") or element.get("InvoiceNumber")
        if number:
            return next(
                (
                    i
                    for i in self.tenant.invoices.values()
                    if i.get("InvoiceNumber") == number and i["Status"] != "DELETED"
                ),
                None,
            )
        return None

    def _payment_account(self, ref: Record) -> Record | None:
        if ref.get("AccountID"):
            return self.tenant.accounts.get(str(ref["AccountID"]).lower())
        return self.tenant.account_by_code(ref.get("Code"))

    # ---- allocations --------------------------------------------------------------------------------------
    def allocate(self, credit_note_id: str, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        errors = outcome.errors
        note = self.tenant.credit_notes.get(credit_note_id.lower())
        if note is None:
            errors.append("Credit note could not be found")
            return outcome
        invoice_ref = element.get("Invoice") or {}
        invoice = self.tenant.invoices.get(str(invoice_ref.get("InvoiceID") or "").lower())
        if invoice is None:
            errors.append("Invoice could not be found")
            return outcome
        try:
            amount = to_decimal(element.get("Amount"))
            on = parse_date(element.get("Date")) or self.today
        except (ValueError, ArithmeticError):
            errors.append("Allocation Amount or Date is not valid")
            return outcome
        if note["Status"] != "AUTHORISED":
            errors.append("Only AUTHORISED credit notes can be allocated")
        if invoice["Status"] != "AUTHORISED":
            errors.append("Credit notes can only be allocated to AUTHORISED invoices")
        if {note["Type"], invoice["Type"]} not in ({"ACCRECCREDIT", "ACCREC"}, {"ACCPAYCREDIT", "ACCPAY"}):
            errors.append("The credit note type does not match the invoice type")
        if note["Contact"]["ContactID"] != invoice["Contact"]["ContactID"]:
            errors.append("The credit note and the invoice must be for the same contact")
        if note["CurrencyCode"] != invoice["CurrencyCode"]:
            errors.append("The credit note and the invoice must be in the same currency")
        if amount is None or amount <= ZERO:
            errors.append("Allocation amount must be greater than zero")
        elif amount > note["RemainingCredit"]:
            errors.append("The amount allocated exceeds the remaining credit on the credit note")
        elif amount > invoice["AmountDue"]:
            errors.append("The amount allocated exceeds the amount due on the invoice")
        if errors or amount is None:
            return outcome
        allocation: Record = {
            "AllocationID": new_id(),
            "Amount": amount,
            "Date": on,
            "IsDeleted": False,
            "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber")},
            "CreditNote": {
                "CreditNoteID": note["CreditNoteID"],
                "CreditNoteNumber": note.get("CreditNoteNumber"),
            },
        }
        note["Allocations"].append(allocation)
        note["AmountCredited"] += amount
        note["AmountDue"] -= amount
        note["RemainingCredit"] = note["AmountDue"]
        invoice["AmountCredited"] += amount
        invoice["AmountDue"] -= amount
        invoice["CreditNotes"].append(
            {"CreditNoteID": note["CreditNoteID"], "AllocationID": allocation["AllocationID"]}
        )
        mark_paid_if_settled(invoice, on)
        mark_paid_if_settled(note, on)
        note["UpdatedDateUTC"] = invoice["UpdatedDateUTC"] = self.now
        self.emit("CREDITNOTE", "UPDATE", note["CreditNoteID"])
        self.emit("INVOICE", "UPDATE", invoice["InvoiceID"])
        outcome.record = allocation
        outcome.created = True
        return outcome

    def delete_allocation(self, credit_note_id: str, allocation_id: str) -> Record | None:
        note = self.tenant.credit_notes.get(credit_note_id.lower())
        if note is None:
            return None
        allocation = next(
            (a for a in note["Allocations"] if a["AllocationID"] == allocation_id.lower()), None
        )
        if allocation is None or allocation["IsDeleted"]:
            return None
        allocation["IsDeleted"] = True
        invoice = self.tenant.invoices[allocation["Invoice"]["InvoiceID"]]
        for doc in (note, invoice):
            doc["AmountCredited"] -= allocation["Amount"]
            doc["AmountDue"] += allocation["Amount"]
            mark_paid_if_settled(doc, self.today)
            doc["UpdatedDateUTC"] = self.now
        note["RemainingCredit"] = note["AmountDue"]
        invoice["CreditNotes"] = [
            c for c in invoice["CreditNotes"] if c.get("AllocationID") != allocation["AllocationID"]
        ]
        self.emit("CREDITNOTE", "UPDATE", note["CreditNoteID"])
        self.emit("INVOICE", "UPDATE", invoice["InvoiceID"])
        return dict(allocation)

    # ---- contacts -----------------------------------------------------------------------------------------
    def find_contact(self, key: str) -> Record | None:
        """GET /Contacts/{ContactID|ContactNumber}: a GUID is an ID, anything else a ContactNumber."""
        found = self.tenant.contacts.get(key.lower())
        if found is not None:
            return found
        return next((c for c in self.tenant.contacts.values() if c.get("ContactNumber") == key), None)

    def save_contact(
        self, element: Record, *, contact_id: str | None, allow_create: bool, allow_update: bool
    ) -> Outcome:
        outcome = Outcome(element=element)
        errors = outcome.errors
        wanted_id = contact_id or element.get("ContactID")
        existing: Record | None = None
        if wanted_id:
            existing = self.tenant.contacts.get(str(wanted_id).lower())
            if existing is None:
                errors.append("Contact could not be found")
                return outcome
        elif allow_update and element.get("ContactNumber"):
            existing = next(
                (
                    c
                    for c in self.tenant.contacts.values()
                    if c.get("ContactNumber") == element["ContactNumber"]
                ),
                None,
            )
        if existing is not None and not allow_update:
            errors.append("Contact already exists; use POST to update it")
            return outcome
        if existing is None and not allow_create:
            errors.append("Contact could not be found")
            return outcome
        name = element.get("Name", existing["Name"] if existing else None)
        if not name or not str(name).strip():
            errors.append("The contact name must be specified")
            return outcome
        for other in self.tenant.contacts.values():
            if (
                other is not existing
                and other.get("ContactStatus") == "ACTIVE"
                and other["Name"].casefold() == str(name).strip().casefold()
            ):
                errors.append(
                    f"The contact name {name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts."
                )
                return outcome
        for key in ("ContactNumber", "AccountNumber"):
            if element.get(key) and len(str(element[key])) > 50:
                errors.append(f"{key} must be 50 characters or fewer")
        if element.get("DefaultCurrency") and element["DefaultCurrency"] not in self.tenant.currencies:
            errors.append(f"Organisation is not subscribed to currency {element['DefaultCurrency']}")
        if errors:
            return outcome
        record: Record = (
            dict(existing)
            if existing
            else {"ContactID": new_id(), "ContactStatus": "ACTIVE", "HasAttachments": False}
        )
        for key, value in element.items():
            if key not in CONTACT_READ_ONLY:
                record[key] = value
        record["Name"] = str(name).strip()
        record["UpdatedDateUTC"] = self.now
        self.tenant.contacts[record["ContactID"]] = record
        self.emit("CONTACT", "CREATE" if existing is None else "UPDATE", record["ContactID"])
        outcome.record = record
        outcome.created = existing is None
        return outcome

    # ---- items --------------------------------------------------------------------------------------------
    def save_item(self, element: Record, *, allow_create: bool, allow_update: bool) -> Outcome:
        outcome = Outcome(element=element)
        errors = outcome.errors
        code = element.get("Code")
        existing = None
        if element.get("ItemID"):
            existing = self.tenant.items.get(str(element["ItemID"]).lower())
            if existing is None:
                errors.append("Item could not be found")
                return outcome
        elif code:
            existing = self.tenant.item_by_code(code)
        if not code and existing is None:
            errors.append("Item code must be specified")
            return outcome
        if existing is not None and not allow_update:
            errors.append(f"Item code '{code}' already exists")
            return outcome
        if len(str(code or (existing and existing["Code"]))) > 30:
            errors.append("Item code must be 30 characters or fewer")
        if element.get("Name") and len(str(element["Name"])) > 50:
            errors.append("Item name must be 50 characters or fewer")
        for details_key in ("SalesDetails", "PurchaseDetails"):
            details = element.get(details_key) or {}
            if details.get("AccountCode") and self.tenant.account_by_code(details["AccountCode"]) is None:
                errors.append(f"Account code '{details['AccountCode']}' is not a valid code")
            if details.get("TaxType") and details["TaxType"] not in self.tenant.tax_rates:
                errors.append(f"The TaxType code '{details['TaxType']}' does not exist")
        if errors:
            return outcome
        record: Record = (
            dict(existing) if existing else {"ItemID": new_id(), "IsSold": True, "IsPurchased": True}
        )
        for key, value in element.items():
            if key in IGNORED_INPUT or key == "ItemID":
                continue
            if key in ("SalesDetails", "PurchaseDetails") and isinstance(value, dict):
                value = {
                    k: (to_decimal(v) if k == "UnitPrice" else v) for k, v in value.items() if v is not None
                }
            record[key] = value
        record.setdefault("IsTrackedAsInventory", False)
        record["UpdatedDateUTC"] = self.now
        self.tenant.items[record["ItemID"]] = record
        outcome.record = record
        outcome.created = existing is None
        return outcome

    # ---- views --------------------------------------------------------------------------------------------
    def contact_summary(self, contact_id: str) -> Record:
        contact = self.tenant.contacts.get(contact_id, {"ContactID": contact_id})
        keys = (
            "ContactID",
            "ContactNumber",
            "AccountNumber",
            "ContactStatus",
            "Name",
            "FirstName",
            "LastName",
            "EmailAddress",
        )
        summary = {k: contact[k] for k in keys if contact.get(k) is not None}
        summary["HasValidationErrors"] = False
        return summary

    def contact_view(self, contact: Record, summary_only: bool = False) -> Record:
        view = dict(contact)
        receivable = [
            i for i in self.tenant.invoices.values() if i["Contact"]["ContactID"] == contact["ContactID"]
        ]
        view["IsCustomer"] = any(i["Type"] == "ACCREC" for i in receivable)
        view["IsSupplier"] = any(i["Type"] == "ACCPAY" for i in receivable)
        view["HasValidationErrors"] = False
        if summary_only:
            for key in ("Addresses", "Phones", "ContactPersons", "ContactGroups", "PaymentTerms"):
                view.pop(key, None)
            return view
        view["Balances"] = self.balances(contact["ContactID"])
        return view

    def balances(self, contact_id: str) -> Record:
        """Outstanding: AmountDue of approved documents less unused credit. Overdue: due before today."""
        sums = {"ACCREC": [ZERO, ZERO], "ACCPAY": [ZERO, ZERO]}
        for inv in self.tenant.invoices.values():
            if inv["Contact"]["ContactID"] != contact_id or inv["Status"] != "AUTHORISED":
                continue
            bucket = sums[inv["Type"]]
            bucket[0] += inv["AmountDue"]
            if inv.get("DueDate") is not None and inv["DueDate"] < self.today:
                bucket[1] += inv["AmountDue"]
        for note in self.tenant.credit_notes.values():
            if note["Contact"]["ContactID"] == contact_id and note["Status"] == "AUTHORISED":
                sums["ACCREC" if note["Type"] == "ACCRECCREDIT" else "ACCPAY"][0] -= note["RemainingCredit"]
        return {
            "AccountsReceivable": {"Outstanding": sums["ACCREC"][0], "Overdue": sums["ACCREC"][1]},
            "AccountsPayable": {"Outstanding": sums["ACCPAY"][0], "Overdue": sums["ACCPAY"][1]},
        }

    def invoice_view(self, invoice: Record, summary_only: bool = False) -> Record:
        view = dict(invoice)
        view["Contact"] = self.contact_summary(invoice["Contact"]["ContactID"])
        view["Payments"] = [self._payment_ref(p["PaymentID"]) for p in invoice["Payments"]]
        notes = []
        for ref in invoice.get("CreditNotes", []):
            note = self.tenant.credit_notes[ref["CreditNoteID"]]
            allocation = next(a for a in note["Allocations"] if a["AllocationID"] == ref["AllocationID"])
            notes.append(
                {
                    "CreditNoteID": note["CreditNoteID"],
                    "CreditNoteNumber": note.get("CreditNoteNumber"),
                    "AppliedAmount": allocation["Amount"],
                    "Total": note["Total"],
                    "Date": note["Date"],
                    "HasErrors": False,
                }
            )
        view["CreditNotes"] = notes
        if summary_only:
            view.pop("LineItems", None)
        return view

    def credit_note_view(self, note: Record) -> Record:
        view = {k: v for k, v in note.items() if k not in ("AmountPaid", "AmountCredited", "AmountDue")}
        view["Contact"] = self.contact_summary(note["Contact"]["ContactID"])
        view["Allocations"] = [self.allocation_view(a) for a in note["Allocations"] if not a["IsDeleted"]]
        view["AppliedAmount"] = note["AmountCredited"]
        view["Payments"] = []
        return view

    def allocation_view(self, allocation: Record) -> Record:
        return {k: v for k, v in allocation.items() if k != "CreditNote"}

    def payment_view(self, payment: Record) -> Record:
        view = dict(payment)
        invoice = self.tenant.invoices[payment["Invoice"]["InvoiceID"]]
        view["Invoice"] = {
            "InvoiceID": invoice["InvoiceID"],
            "InvoiceNumber": invoice.get("InvoiceNumber"),
            "Type": invoice["Type"],
            "Contact": self.contact_summary(invoice["Contact"]["ContactID"]),
            "CurrencyCode": invoice["CurrencyCode"],
            "HasErrors": False,
            "IsDiscounted": invoice["IsDiscounted"],
        }
        return view

    def _payment_ref(self, payment_id: str) -> Record:
        payment = self.tenant.payments[payment_id]
        keys = (
            "PaymentID",
            "Date",
            "Amount",
            "Reference",
            "CurrencyRate",
            "HasAccount",
            "HasValidationErrors",
        )
        return {k: payment[k] for k in keys if payment.get(k) is not None}
