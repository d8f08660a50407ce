"""Organisation settings that change: tracking categories and their options (spec operations
createTrackingCategory … deleteTrackingOptions), the tracking on document lines, and the edits a Xero
user makes to accounts and tax rates. Error wording here is the emulator's own (assumed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devstack.xero.store import Outcome, Record, Tenant, new_id

MAX_ACTIVE_CATEGORIES = 2  # Xero: two active tracking categories per organisation
MAX_OPTIONS = 100  # per category
MAX_NAME = 100  # TrackingCategory.Name / TrackingOption.Name maxLength in the spec
MAX_LINE_TRACKING = 2
STATUSES = ("ACTIVE", "ARCHIVED")


def category_view(category: Record, include_archived: bool) -> Record:
    options = [o for o in category["Options"] if include_archived or o["Status"] == "ACTIVE"]
    return {
        "TrackingCategoryID": category["TrackingCategoryID"],
        "Name": category["Name"],
        "Status": category["Status"],
        "Options": [option_view(o) for o in options],
    }


def option_view(option: Record) -> Record:
    return {
        "TrackingOptionID": option["TrackingOptionID"],
        "Name": option["Name"],
        "Status": option["Status"],
    }


def _find_by_name(records: Any, name: str) -> Record | None:
    return next((r for r in records if r["Name"].casefold() == name.strip().casefold()), None)


def _name_problem(what: str, name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return f"The tracking {what} name must be specified"
    if len(name.strip()) > MAX_NAME:
        return f"The tracking {what} name must be {MAX_NAME} characters or fewer"
    return None


class TrackingBook:
    """Tracking categories and options of one organisation."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.categories = tenant.tracking_categories

    def category(self, category_id: str) -> Record | None:
        return self.categories.get(category_id.lower())

    def _active_count(self, other_than: Record | None = None) -> int:
        return sum(1 for c in self.categories.values() if c["Status"] == "ACTIVE" and c is not other_than)

    def _check_category(self, element: Record, existing: Record | None, errors: list[str]) -> None:
        name = element.get("Name", existing["Name"] if existing else None)
        problem = _name_problem("category", name)
        if problem:
            errors.append(problem)
            return
        clash = _find_by_name(self.categories.values(), str(name))
        if clash is not None and clash is not existing:
            errors.append(f"The tracking category name {str(name).strip()} is already in use")
        status = element.get("Status", existing["Status"] if existing else "ACTIVE")
        if status not in STATUSES:
            errors.append("Tracking category status must be ACTIVE or ARCHIVED")
        elif status == "ACTIVE" and self._active_count(existing) >= MAX_ACTIVE_CATEGORIES:
            errors.append(f"You can only have {MAX_ACTIVE_CATEGORIES} active tracking categories")

    def create_category(self, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        self._check_category(element, None, outcome.errors)
        if outcome.errors:
            return outcome
        category_id = new_id()
        record: Record = {
            "TrackingCategoryID": category_id,
            "Name": str(element["Name"]).strip(),
            "Status": element.get("Status") or "ACTIVE",
            "Options": [],
        }
        self.categories[category_id] = record  # options come through createTrackingOptions
        outcome.record, outcome.created = record, True
        return outcome

    def update_category(self, category_id: str, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        record = self.category(category_id)
        if record is None:
            outcome.errors.append("Tracking category could not be found")
            return outcome
        self._check_category(element, record, outcome.errors)
        if outcome.errors:
            return outcome
        if "Name" in element:
            record["Name"] = str(element["Name"]).strip()
        if element.get("Status"):
            record["Status"] = element["Status"]
        outcome.record = record
        return outcome

    def delete_category(self, category_id: str) -> Outcome:
        outcome = Outcome(element={"TrackingCategoryID": category_id})
        record = self.category(category_id)
        if record is None:
            outcome.errors.append("Tracking category could not be found")
        elif _used(self.tenant, record["TrackingCategoryID"], None):
            outcome.errors.append(
                f"The tracking category {record['Name']} has been used on transactions and cannot be "
                "deleted; archive it instead"
            )
        else:
            del self.categories[record["TrackingCategoryID"]]
            outcome.record = dict(record, Status="DELETED")
        return outcome

    def create_option(self, category_id: str, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        record = self.category(category_id)
        if record is None:
            outcome.errors.append("Tracking category could not be found")
            return outcome
        outcome.record = self._add_option(record, element, outcome.errors)
        outcome.created = outcome.record is not None
        return outcome

    def _add_option(self, category: Record, element: Record, errors: list[str]) -> Record | None:
        name = element.get("Name")
        problem = _name_problem("option", name)
        if problem:
            errors.append(problem)
            return None
        if _find_by_name(category["Options"], str(name)) is not None:
            errors.append(f"The tracking option {str(name).strip()} already exists in {category['Name']}")
            return None
        if len(category["Options"]) >= MAX_OPTIONS:
            errors.append(f"A tracking category can have at most {MAX_OPTIONS} options")
            return None
        status = element.get("Status") or "ACTIVE"
        if status not in STATUSES:
            errors.append("Tracking option status must be ACTIVE or ARCHIVED")
            return None
        option: Record = {"TrackingOptionID": new_id(), "Name": str(name).strip(), "Status": status}
        category["Options"].append(option)
        return option

    def _option(self, category: Record, option_id: str) -> Record | None:
        return next((o for o in category["Options"] if o["TrackingOptionID"] == option_id.lower()), None)

    def update_option(self, category_id: str, option_id: str, element: Record) -> Outcome:
        outcome = Outcome(element=element)
        category = self.category(category_id)
        option = self._option(category, option_id) if category else None
        if category is None or option is None:
            outcome.errors.append("Tracking option could not be found")
            return outcome
        if "Name" in element:
            problem = _name_problem("option", element["Name"])
            clash = None if problem else _find_by_name(category["Options"], str(element["Name"]))
            if problem or (clash is not None and clash is not option):
                outcome.errors.append(
                    problem or f"The tracking option {element['Name']} already exists in {category['Name']}"
                )
        if element.get("Status") and element["Status"] not in STATUSES:
            outcome.errors.append("Tracking option status must be ACTIVE or ARCHIVED")
        if outcome.errors:
            return outcome
        if "Name" in element:
            option["Name"] = str(element["Name"]).strip()
        if element.get("Status"):
            option["Status"] = element["Status"]
        outcome.record = option
        return outcome

    def delete_option(self, category_id: str, option_id: str) -> Outcome:
        outcome = Outcome(element={"TrackingOptionID": option_id})
        category = self.category(category_id)
        option = self._option(category, option_id) if category else None
        if category is None or option is None:
            outcome.errors.append("Tracking option could not be found")
        elif _used(self.tenant, category["TrackingCategoryID"], option["TrackingOptionID"]):
            outcome.errors.append(
                f"The tracking option {option['Name']} has been used on transactions and cannot be "
                "deleted; archive it instead"
            )
        else:
            category["Options"].remove(option)
            outcome.record = dict(option, Status="DELETED")
        return outcome


def _used(tenant: Tenant, category_id: str, option_id: str | None) -> bool:
    for doc in [*tenant.invoices.values(), *tenant.credit_notes.values()]:
        for line in doc.get("LineItems", []):
            for tracking in line.get("Tracking") or []:
                if tracking.get("TrackingCategoryID") == category_id and (
                    option_id is None or tracking.get("TrackingOptionID") == option_id
                ):
                    return True
    return False


def resolve_line_tracking(tenant: Tenant, raw: Any, errors: list[str]) -> list[Record]:
    """A line's `Tracking` checked against the organisation's categories: each category and option
    must exist and be ACTIVE, at most two categories, each once. Returns the stored form, with ids."""
    if not raw:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        errors.append("Tracking must be a list of tracking categories and options")
        return []
    if len(raw) > MAX_LINE_TRACKING:
        errors.append(f"A line item can have at most {MAX_LINE_TRACKING} tracking categories")
        return []
    resolved: list[Record] = []
    for given in raw:
        category = _category_of(tenant, given)
        label = given.get("Name") or given.get("TrackingCategoryID")
        if category is None:
            errors.append(f"Tracking category '{label}' does not exist")
            continue
        if category["Status"] != "ACTIVE":
            errors.append(f"Tracking category '{category['Name']}' is archived and cannot be used")
            continue
        if any(r["TrackingCategoryID"] == category["TrackingCategoryID"] for r in resolved):
            errors.append(f"Tracking category '{category['Name']}' is used more than once on a line")
            continue
        option = _option_of(category, given)
        option_label = given.get("Option") or given.get("TrackingOptionID")
        if option is None:
            errors.append(
                f"Tracking option '{option_label}' does not exist in tracking category '{category['Name']}'"
            )
            continue
        if option["Status"] != "ACTIVE":
            errors.append(
                f"Tracking option '{option['Name']}' in tracking category '{category['Name']}' is archived "
                "and cannot be used"
            )
            continue
        resolved.append(
            {
                "TrackingCategoryID": category["TrackingCategoryID"],
                "TrackingOptionID": option["TrackingOptionID"],
                "Name": category["Name"],
                "Option": option["Name"],
            }
        )
    return resolved


def _category_of(tenant: Tenant, given: Record) -> Record | None:
    if given.get("TrackingCategoryID"):
        return tenant.tracking_categories.get(str(given["TrackingCategoryID"]).lower())
    if isinstance(given.get("Name"), str):
        return _find_by_name(tenant.tracking_categories.values(), given["Name"])
    return None


def _option_of(category: Record, given: Record) -> Record | None:
    if given.get("TrackingOptionID"):
        wanted = str(given["TrackingOptionID"]).lower()
        return next((o for o in category["Options"] if o["TrackingOptionID"] == wanted), None)
    if isinstance(given.get("Option"), str):
        return _find_by_name(category["Options"], given["Option"])
    return None


# ---- what a Xero user changes in Settings (the API's own account writes are not modelled) ---------------
ACCOUNT_EDITABLE = {"Name", "Status", "TaxType", "Description", "EnablePaymentsToAccount"}


def edit_account(tenant: Tenant, code: str, changes: Record, now: datetime) -> Outcome:
    """Change an account found by code, or add one when `Type` is given and the code is new."""
    outcome = Outcome(element=changes)
    errors = outcome.errors
    account = tenant.account_by_code(code)
    unknown = set(changes) - ACCOUNT_EDITABLE - ({"Type", "Class"} if account is None else set())
    if unknown:
        errors.append(f"These account fields cannot be changed here: {sorted(unknown)}")
    if account is None and not changes.get("Type"):
        errors.append(f"No account has code {code}; give Type (and Name) to add one")
    if changes.get("Status") not in (None, "ACTIVE", "ARCHIVED"):
        errors.append("Account status must be ACTIVE or ARCHIVED")
    if account is not None and account.get("SystemAccount") and changes.get("Status") == "ARCHIVED":
        errors.append("System accounts cannot be archived")
    if changes.get("TaxType") and changes["TaxType"] not in tenant.tax_rates:
        errors.append(f"The TaxType code '{changes['TaxType']}' does not exist")
    if errors:
        return outcome
    if account is None:
        account = {
            "AccountID": new_id(),
            "Code": code,
            "Name": changes.get("Name") or code,
            "Class": changes.get("Class") or "EXPENSE",
            "Status": "ACTIVE",
            "TaxType": "NONE",
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "HasAttachments": False,
            "AddToWatchlist": False,
        }
        tenant.accounts[account["AccountID"]] = account
        outcome.created = True
    account.update({k: v for k, v in changes.items() if k != "Class"})
    account["UpdatedDateUTC"] = now
    outcome.record = account
    return outcome


def edit_tax_rate(tenant: Tenant, tax_type: str, changes: Record) -> Outcome:
    """Rename, archive or re-activate a tax rate (TaxRate has no UpdatedDateUTC in the spec)."""
    outcome = Outcome(element=changes)
    rate = tenant.tax_rates.get(tax_type)
    if rate is None:
        outcome.errors.append(f"The TaxType code '{tax_type}' does not exist")
    elif set(changes) - {"Name", "Status"}:
        outcome.errors.append("Only Name and Status of a tax rate can be changed here")
    elif changes.get("Status") not in (None, "ACTIVE", "ARCHIVED", "DELETED"):
        outcome.errors.append("Tax rate status must be ACTIVE, ARCHIVED or DELETED")
    else:
        rate.update(changes)
        outcome.record = rate
    return outcome
