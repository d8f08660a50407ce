"""Invoices and credit notes: validation, totals, numbering and the status machine (one module, one job)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from devstack.xero.money import ZERO, LineFigures, document_totals, line_figures, round_unit
from devstack.xero.serialize import parse_date, to_decimal
from devstack.xero.settings import resolve_line_tracking
from devstack.xero.store import Outcome, Record, Tenant, new_id

Emit = Callable[[str, str, str], None]  # (category, event type, resource id)

CREATE_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED"}
NOT_MODIFIABLE = "Invoice not of valid status for modification"
HAS_PAYMENTS = "This document cannot be edited as it has a payment or credit note allocated to it."
# Fields that may still change on a PAID (or part-paid) document, per Xero's help on editing paid invoices.
LOCKED_EDITABLE = {
    "Reference",
    "DueDate",
    "InvoiceNumber",
    "CreditNoteNumber",
    "BrandingThemeID",
    "Contact",
    "Url",
}
LOCKED_LINE_EDITABLE = {"Description", "AccountCode", "Tracking", "LineItemID"}
IGNORED_INPUT = {
    "HasAttachments",
    "HasErrors",
    "HasValidationErrors",
    "ValidationErrors",
    "Warnings",
    "StatusAttributeString",
    "UpdatedDateUTC",
    "IsDiscounted",
}


@dataclass(frozen=True)
class Kind:
    """What differs between invoices and credit notes."""

    name: str  # "Invoice" | "CreditNote"
    id_key: str
    number_key: str
    sales_type: str  # the type whose numbers are unique and auto-generated
    types: frozenset[str]
    prefix: str
    category: str  # webhook eventCategory

    def collection(self, tenant: Tenant) -> dict[str, Record]:
        return tenant.invoices if self.name == "Invoice" else tenant.credit_notes


INVOICE = Kind(
    "Invoice", "InvoiceID", "InvoiceNumber", "ACCREC", frozenset({"ACCREC", "ACCPAY"}), "INV-", "INVOICE"
)
CREDIT_NOTE = Kind(
    "CreditNote",
    "CreditNoteID",
    "CreditNoteNumber",
    "ACCRECCREDIT",
    frozenset({"ACCRECCREDIT", "ACCPAYCREDIT"}),
    "CN-",
    "CREDITNOTE",
)


def is_sales(doc_type: str) -> bool:
    return doc_type in ("ACCREC", "ACCRECCREDIT")


class DocumentBook:
    """Saves invoices or credit notes into one tenant."""

    def __init__(self, tenant: Tenant, kind: Kind, now: datetime, today: date, emit: Emit, unitdp: int = 2):
        self.tenant = tenant
        self.kind = kind
        self.now = now
        self.today = today
        self.emit = emit
        self.unitdp = unitdp

    # ---- lookup -------------------------------------------------------------------------------------------
    def find(self, element: Record, allow_number_match: bool) -> Record | None:
        docs = self.kind.collection(self.tenant)
        doc_id = element.get(self.kind.id_key)
        if doc_id:
            return docs.get(str(doc_id).lower())
        number = element.get(self.kind.number_key)
        if allow_number_match and number:
            for doc in docs.values():
                if doc.get(self.kind.number_key) == number and doc["Status"] != "DELETED":
                    return doc
        return None

    # ---- save ---------------------------------------------------------------------------------------------
    def save(self, element: Record, *, doc_id: str | None, allow_create: bool, allow_update: bool) -> Outcome:
        outcome = Outcome(element=element)
        element = {k: v for k, v in element.items() if k not in IGNORED_INPUT}
        if doc_id:
            element[self.kind.id_key] = doc_id
        existing = self.find(element, allow_number_match=allow_update)
        if element.get(self.kind.id_key) and existing is None:
            outcome.errors.append(f"{self.kind.name} could not be found")
            return outcome
        if existing is not None and not allow_update:
            if existing.get(self.kind.number_key) and element.get(self.kind.number_key):
                outcome.errors.append(f"{_label(self.kind)} # must be unique.")
            else:
                outcome.errors.append(f"{self.kind.name} already exists; use POST to update it")
            return outcome
        if existing is None and not allow_create:
            outcome.errors.append(f"{self.kind.name} could not be found")
            return outcome
        try:
            if existing is None:
                record, pending_contact = self._build_new(element, outcome.errors)
            else:
                record, pending_contact = self._build_update(existing, element, outcome.errors)
        except (ValueError, ArithmeticError) as exc:
            outcome.errors.append(str(exc) or "Invalid value")
            return outcome
        if outcome.errors or record is None:
            return outcome
        if pending_contact is not None:
            self.tenant.contacts[pending_contact["ContactID"]] = pending_contact
            self.emit("CONTACT", "CREATE", pending_contact["ContactID"])
        record["UpdatedDateUTC"] = self.now
        self.kind.collection(self.tenant)[record[self.kind.id_key]] = record
        self._index_number(existing, record)
        outcome.record = record
        outcome.created = existing is None
        self.emit(self.kind.category, "CREATE" if existing is None else "UPDATE", record[self.kind.id_key])
        return outcome

    def _build_new(self, element: Record, errors: list[str]) -> tuple[Record | None, Record | None]:
        doc_type = element.get("Type")
        if doc_type not in self.kind.types:
            errors.append(f"{self.kind.name} Type must be one of {', '.join(sorted(self.kind.types))}")
            return None, None
        status = element.get("Status") or "DRAFT"
        if status not in CREATE_STATUSES:
            errors.append(f"{self.kind.name} status cannot be set to {status} when it is created")
        record: Record = {
            self.kind.id_key: new_id(),
            "Type": doc_type,
            "Status": "DRAFT",
            "LineAmountTypes": "Exclusive",
            "Date": self.today,
            "CurrencyCode": self.tenant.organisation["BaseCurrency"],
            "CurrencyRate": Decimal("1"),
            "AmountPaid": ZERO,
            "AmountCredited": ZERO,
            "Payments": [],
            "HasAttachments": False,
            "HasErrors": False,
            "IsDiscounted": False,
            "SentToContact": False,
        }
        if self.kind is INVOICE:
            record["CreditNotes"] = []
        else:
            record["Allocations"] = []
        contact = self._apply_header(record, element, errors)
        self._apply_lines(record, element.get("LineItems") or [], errors)
        self._apply_number(record, element, errors, existing=None)
        self._apply_status(record, status, errors, created=True)
        self._recompute_due(record)
        return record, contact

    def _build_update(
        self, existing: Record, element: Record, errors: list[str]
    ) -> tuple[Record | None, Record | None]:
        record = copy.deepcopy(existing)
        current = existing["Status"]
        target = element.get("Status") or current
        if current in ("VOIDED", "DELETED"):
            errors.append(NOT_MODIFIABLE)
            return None, None
        locked = current == "PAID" or (current == "AUTHORISED" and _settled(existing) > 0)
        if locked:
            if target != current:
                errors.append(HAS_PAYMENTS if target == "VOIDED" else NOT_MODIFIABLE)
                return None, None
            self._check_locked_edit(existing, element, errors)
            if errors:
                return None, None
        if "Type" in element and element["Type"] != existing["Type"]:
            errors.append(f"The {self.kind.name} Type cannot be changed")
        contact = self._apply_header(record, element, errors)
        if "LineItems" in element:
            if locked:
                self._apply_locked_lines(record, element["LineItems"] or [], errors)
            else:
                self._apply_lines(record, element["LineItems"] or [], errors)
        self._apply_number(record, element, errors, existing=existing)
        if target != current:
            self._transition(record, current, target, errors)
        elif target in ("SUBMITTED", "AUTHORISED"):
            self._check_approvable(record, errors)
        self._recompute_due(record)
        return record, contact

    # ---- pieces -------------------------------------------------------------------------------------------
    def _apply_header(self, record: Record, element: Record, errors: list[str]) -> Record | None:
        pending_contact: Record | None = None
        if "Contact" in element or "Contact" not in record:
            contact, pending_contact, error = self._resolve_contact(element.get("Contact"))
            if error:
                errors.append(error)
            elif contact is not None:
                record["Contact"] = {"ContactID": contact["ContactID"]}
        for key in ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate"):
            if key in element:
                try:
                    record[key] = parse_date(element[key])
                except ValueError:
                    errors.append(f"{key} is not a valid date")
        if record.get("Date") is None:
            record["Date"] = self.today
        if element.get("LineAmountTypes"):
            if element["LineAmountTypes"] not in ("Exclusive", "Inclusive", "NoTax"):
                errors.append("LineAmountTypes must be Exclusive, Inclusive or NoTax")
            else:
                record["LineAmountTypes"] = element["LineAmountTypes"]
        if element.get("CurrencyCode"):
            code = str(element["CurrencyCode"])
            if code not in self.tenant.currencies:
                errors.append(f"Organisation is not subscribed to currency {code}")
            else:
                record["CurrencyCode"] = code
        if element.get("CurrencyRate") is not None:
            record["CurrencyRate"] = to_decimal(element["CurrencyRate"])
        if element.get("BrandingThemeID"):
            theme_id = str(element["BrandingThemeID"]).lower()
            if theme_id not in self.tenant.branding_themes:
                errors.append("Branding theme could not be found")
            else:
                record["BrandingThemeID"] = theme_id
        for key in ("Reference", "Url"):
            if key in element:
                record[key] = element[key]
        if element.get("SentToContact") is not None:
            record["SentToContact"] = bool(element["SentToContact"])
        if (
            record.get("Reference")
            and record["Type"] == "ACCPAY"
            and self.kind is INVOICE
            and "Reference" in element
        ):
            # Xero ignores Reference on bills (it is ACCREC-only); keep it but do not fail.
            pass
        return pending_contact

    def _resolve_contact(self, given: Any) -> tuple[Record | None, Record | None, str | None]:
        """Contact by ID, else by ContactNumber, else by Name (matched case-insensitively, or created)."""
        if not isinstance(given, dict) or not any(
            given.get(k) for k in ("ContactID", "ContactNumber", "Name")
        ):
            return None, None, "A Contact must be specified for this type of transaction"
        contacts = self.tenant.contacts
        if given.get("ContactID"):
            found = contacts.get(str(given["ContactID"]).lower())
            if found is None:
                return None, None, f"The contact with ContactID {given['ContactID']} could not be found"
            return found, None, None
        if given.get("ContactNumber"):
            for contact in contacts.values():
                if contact.get("ContactNumber") == given["ContactNumber"]:
                    return contact, None, None
        name = (given.get("Name") or "").strip()
        if not name:
            return (
                None,
                None,
                f"The contact with ContactNumber {given.get('ContactNumber')} could not be found",
            )
        for contact in contacts.values():
            if contact["Name"].casefold() == name.casefold() and contact.get("ContactStatus") == "ACTIVE":
                return contact, None, None
        created: Record = {
            "ContactID": new_id(),
            "Name": name,
            "ContactStatus": "ACTIVE",
            "UpdatedDateUTC": self.now,
            "HasAttachments": False,
        }
        for key in ("ContactNumber", "EmailAddress", "FirstName", "LastName", "AccountNumber"):
            if given.get(key):
                created[key] = given[key]
        return created, created, None

    def _apply_lines(self, record: Record, lines: list[Any], errors: list[str]) -> None:
        existing_ids = {line["LineItemID"] for line in record.get("LineItems", [])}
        built: list[Record] = []
        figures: list[LineFigures] = []
        sales = is_sales(record["Type"])
        amount_types = record["LineAmountTypes"]
        for raw in lines:
            if not isinstance(raw, dict):
                errors.append("Line items must be objects")
                continue
            line: Record = {
                "LineItemID": str(raw["LineItemID"]).lower()
                if raw.get("LineItemID") and str(raw["LineItemID"]).lower() in existing_ids
                else new_id()
            }
            item = None
            if raw.get("ItemCode"):
                item = self.tenant.item_by_code(raw["ItemCode"])
                if item is None:
                    errors.append(f"Item code '{raw['ItemCode']}' is not valid")
                    continue
                line["ItemCode"] = item["Code"]
                line["Item"] = {"ItemID": item["ItemID"], "Code": item["Code"], "Name": item.get("Name")}
            details = (item or {}).get("SalesDetails" if sales else "PurchaseDetails") or {}
            description = raw.get("Description") or (item or {}).get(
                "Description" if sales else "PurchaseDescription"
            )
            if description:
                line["Description"] = description
            quantity = to_decimal(raw.get("Quantity"))
            unit = to_decimal(raw.get("UnitAmount"))
            if unit is None and details.get("UnitPrice") is not None:
                unit = to_decimal(details["UnitPrice"])
            given_line_amount = to_decimal(raw.get("LineAmount"))
            has_amount = unit is not None or given_line_amount is not None or quantity is not None
            if not has_amount:
                if not description:
                    errors.append("Description is required for a line item without an amount")
                line.update({"LineAmount": ZERO, "TaxAmount": ZERO})
                self._apply_tracking(line, raw, errors)
                built.append(line)
                continue
            if quantity is None:
                quantity = Decimal("1")
            if unit is None:
                unit = (given_line_amount or ZERO) / quantity if quantity else ZERO
            unit = round_unit(unit, self.unitdp)
            account_code = raw.get("AccountCode") or details.get("AccountCode")
            account = self.tenant.account_by_code(account_code)
            if not account_code:
                errors.append("Account code must be specified for a line item with an amount")
            elif account is None or account.get("Status") != "ACTIVE":
                errors.append(f"Account code '{account_code}' is not a valid code for this document.")
            tax_type = (
                raw.get("TaxType") or details.get("TaxType") or (account or {}).get("TaxType") or "NONE"
            )
            if amount_types == "NoTax":
                tax_type = "NONE"
            rate_record = self.tenant.tax_rates.get(tax_type)
            if rate_record is None or rate_record.get("Status") != "ACTIVE":
                errors.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of "
                    "transaction."
                )
                rate = ZERO
            else:
                rate = rate_record["EffectiveRate"]
            discount_rate = to_decimal(raw.get("DiscountRate"))
            discount_amount = to_decimal(raw.get("DiscountAmount"))
            if (discount_rate is not None or discount_amount is not None) and not sales:
                errors.append("Discounts are only available on sales transactions")
            if discount_rate is not None and not (ZERO <= discount_rate <= Decimal(100)):
                errors.append("DiscountRate must be between 0 and 100")
            tax_override = to_decimal(raw.get("TaxAmount"))
            figure = line_figures(
                quantity, unit, rate, amount_types, discount_rate, discount_amount, tax_override=tax_override
            )
            if given_line_amount is not None and abs(given_line_amount - figure.line_amount) > Decimal(
                "0.01"
            ):
                errors.append(
                    f"The line total {given_line_amount} does not match the expected "
                    f"line total {figure.line_amount}"
                )
            line.update(
                {
                    "Quantity": quantity,
                    "UnitAmount": unit,
                    "AccountCode": account_code,
                    "TaxType": tax_type,
                    "TaxAmount": figure.tax_amount,
                    "LineAmount": figure.line_amount,
                }
            )
            if account is not None:
                line["AccountID"] = account["AccountID"]
            if discount_rate is not None:
                line["DiscountRate"] = discount_rate
            if discount_amount is not None:
                line["DiscountAmount"] = discount_amount
            self._apply_tracking(line, raw, errors)
            built.append(line)
            figures.append(figure)
        record["LineItems"] = built
        totals = document_totals(figures)
        record.update(
            {
                "SubTotal": totals.sub_total,
                "TotalTax": totals.total_tax,
                "Total": totals.total,
                "TotalDiscount": totals.total_discount if totals.total_discount else None,
                "IsDiscounted": totals.total_discount != ZERO,
            }
        )

    def _check_locked_edit(self, existing: Record, element: Record, errors: list[str]) -> None:
        """On a paid or part-paid document only a few header fields and line descriptions may change."""
        for key, value in element.items():
            if key in LOCKED_EDITABLE or key in (self.kind.id_key, "Status", "LineItems", "SentToContact"):
                continue
            current = existing.get(key)
            if key in ("Date",):
                value = parse_date(value)
            if value is not None and value != current and str(value) != str(current):
                errors.append(HAS_PAYMENTS)
                return
        lines = element.get("LineItems")
        if lines is None:
            return
        old_lines = existing.get("LineItems", [])
        if len(lines) != len(old_lines):
            errors.append(HAS_PAYMENTS)
            return
        for new, old in zip(lines, old_lines, strict=True):
            for key, value in new.items():
                if key in LOCKED_LINE_EDITABLE or key in IGNORED_INPUT or value is None:
                    continue
                if key in (
                    "Quantity",
                    "UnitAmount",
                    "LineAmount",
                    "TaxAmount",
                    "DiscountRate",
                    "DiscountAmount",
                ):
                    if to_decimal(value) != old.get(key):
                        errors.append(HAS_PAYMENTS)
                        return
                elif value != old.get(key):
                    errors.append(HAS_PAYMENTS)
                    return

    def _apply_tracking(self, line: Record, raw: Record, errors: list[str]) -> None:
        tracking = resolve_line_tracking(self.tenant, raw.get("Tracking"), errors)
        if tracking:
            line["Tracking"] = tracking
        else:
            line.pop("Tracking", None)

    def _apply_locked_lines(self, record: Record, lines: list[Any], errors: list[str]) -> None:
        for new, old in zip(lines, record["LineItems"], strict=False):
            if "Description" in new:
                old["Description"] = new["Description"]
            if "Tracking" in new:
                self._apply_tracking(old, new, errors)
            if new.get("AccountCode") and self.tenant.account_by_code(new["AccountCode"]) is not None:
                old["AccountCode"] = new["AccountCode"]

    def _apply_number(
        self, record: Record, element: Record, errors: list[str], existing: Record | None
    ) -> None:
        number_key = self.kind.number_key
        given = element.get(number_key)
        if given:
            if len(str(given)) > 255:
                errors.append(f"{_label(self.kind)} number must be 255 characters or fewer")
            if record["Type"] == self.kind.sales_type and self._number_taken(
                str(given), record[self.kind.id_key]
            ):
                errors.append(f"{_label(self.kind)} # must be unique.")
            record[number_key] = str(given)
        elif existing is None and record["Type"] == self.kind.sales_type:
            record[number_key] = self._next_number()

    def _number_taken(self, number: str, own_id: str) -> bool:
        holder = self.tenant.numbers[self.kind.name].get(number.casefold())
        return holder is not None and holder != own_id

    def _index_number(self, old: Record | None, new: Record) -> None:
        """Keep `tenant.numbers` to the live sales documents: DELETED ones release their number."""
        index = self.tenant.numbers[self.kind.name]
        doc_id = new[self.kind.id_key]
        if old is not None and old.get(self.kind.number_key):
            key = str(old[self.kind.number_key]).casefold()
            if index.get(key) == doc_id:
                del index[key]
        if (
            new["Type"] == self.kind.sales_type
            and new["Status"] != "DELETED"
            and new.get(self.kind.number_key)
        ):
            index[str(new[self.kind.number_key]).casefold()] = doc_id

    def _next_number(self) -> str:
        while True:
            if self.kind is INVOICE:
                counter = self.tenant.next_invoice_number
                self.tenant.next_invoice_number += 1
            else:
                counter = self.tenant.next_credit_note_number
                self.tenant.next_credit_note_number += 1
            number = f"{self.kind.prefix}{counter:04d}"
            if not self._number_taken(number, ""):
                return number

    def _apply_status(self, record: Record, status: str, errors: list[str], created: bool) -> None:
        if status in ("SUBMITTED", "AUTHORISED"):
            self._check_approvable(record, errors)
        record["Status"] = status if status in CREATE_STATUSES else record["Status"]

    def _check_approvable(self, record: Record, errors: list[str]) -> None:
        if not any(line.get("LineAmount") for line in record.get("LineItems", [])) and not record.get(
            "LineItems"
        ):
            errors.append(f"A {self.kind.name} must have at least one line item to be approved")
        if record.get("Total", ZERO) < ZERO:
            errors.append(f"The {self.kind.name} total cannot be negative")

    def _transition(self, record: Record, current: str, target: str, errors: list[str]) -> None:
        if target == "PAID":
            errors.append(f"{self.kind.name} status cannot be set to PAID; it becomes PAID when fully paid")
        elif target == "DELETED":
            if current not in ("DRAFT", "SUBMITTED"):
                errors.append(
                    f"{NOT_MODIFIABLE}: only DRAFT or SUBMITTED documents can be deleted; void it instead"
                )
        elif target == "VOIDED":
            if current != "AUTHORISED":
                errors.append(f"{NOT_MODIFIABLE}: only AUTHORISED documents can be voided; delete it instead")
        elif target in ("DRAFT", "SUBMITTED"):
            if current not in ("DRAFT", "SUBMITTED"):
                errors.append(f"{NOT_MODIFIABLE}: an {current} document cannot go back to {target}")
        elif target == "AUTHORISED":
            self._check_approvable(record, errors)
        else:
            errors.append(f"Unknown status {target}")
        if not errors:
            record["Status"] = target

    def _recompute_due(self, record: Record) -> None:
        total = record.get("Total", ZERO)
        if record["Status"] in ("VOIDED", "DELETED"):
            record["AmountDue"] = ZERO
        else:
            record["AmountDue"] = total - record.get("AmountPaid", ZERO) - record.get("AmountCredited", ZERO)
        if self.kind is CREDIT_NOTE:
            record["RemainingCredit"] = record["AmountDue"]


def _settled(record: Record) -> Decimal:
    return Decimal(record.get("AmountPaid", ZERO)) + Decimal(record.get("AmountCredited", ZERO))


def _label(kind: Kind) -> str:
    return "Invoice" if kind is INVOICE else "Credit Note"


def mark_paid_if_settled(record: Record, today: date) -> None:
    """AUTHORISED → PAID when AmountDue reaches 0; back to AUTHORISED when it rises again."""
    if record["Status"] == "AUTHORISED" and record["AmountDue"] <= ZERO:
        record["Status"] = "PAID"
        record["FullyPaidOnDate"] = today
    elif record["Status"] == "PAID" and record["AmountDue"] > ZERO:
        record["Status"] = "AUTHORISED"
        record.pop("FullyPaidOnDate", None)
