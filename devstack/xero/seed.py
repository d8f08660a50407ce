"""Seeding an organisation with NZ- or AU-style defaults: tax rates, chart of accounts, themes, currencies,
tracking categories (each with an archived entry of its kind: account 999, tax rate TAX001, option East)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from devstack.xero.store import Record, Tenant, new_id

_TAX_RATES: dict[str, list[tuple[str, str, str, str]]] = {
    # (TaxType, Name, rate, ReportTaxType)
    "NZ": [
        ("OUTPUT2", "15% GST on Income", "15", "OUTPUT"),
        ("INPUT2", "15% GST on Expenses", "15", "INPUT"),
        ("ZERORATED", "Zero Rated", "0", "OUTPUT"),
        ("NONE", "No GST", "0", "NONE"),
        ("TAX001", "12.5% GST on Income (before Oct 2010)", "12.5", "OUTPUT"),
    ],
    "AU": [
        ("OUTPUT", "GST on Income", "10", "OUTPUT"),
        ("INPUT", "GST on Expenses", "10", "INPUT"),
        ("EXEMPTOUTPUT", "GST Free Income", "0", "EXEMPTOUTPUT"),
        ("BASEXCLUDED", "BAS Excluded", "0", "BASEXCLUDED"),
        ("NONE", "No GST", "0", "NONE"),
        ("TAX001", "GST on Income (old code)", "10", "OUTPUT"),
    ],
}

_ACCOUNTS = [
    # (Code, Name, Type, Class, sales-or-purchase tax key, extra)
    (
        "090",
        "Business Bank Account",
        "BANK",
        "ASSET",
        None,
        {"BankAccountNumber": "0211112222333", "BankAccountType": "BANK"},
    ),
    ("200", "Sales", "REVENUE", "REVENUE", "out", {}),
    ("260", "Other Revenue", "REVENUE", "REVENUE", "out", {}),
    ("300", "Purchases", "DIRECTCOSTS", "EXPENSE", "in", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "in", {}),
    ("400", "Advertising", "OVERHEADS", "EXPENSE", "in", {}),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", None, {"SystemAccount": "DEBTORS"}),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", None, {"SystemAccount": "CREDITORS"}),
    ("820", "GST", "CURRLIAB", "LIABILITY", None, {"SystemAccount": "GST"}),
    ("880", "Owner Funds Introduced", "EQUITY", "EQUITY", None, {}),
    ("999", "Archived Sundry", "EXPENSE", "EXPENSE", "in", {"Status": "ARCHIVED"}),
]

# User-made tax rates get TaxType TAX001…; the seeded one is archived, so reference data has one to skip.
_ARCHIVED_TAX_TYPES = {"TAX001"}
# (Name, [(option, status)]): two categories, Xero's limit of active ones; "East" archived.
_TRACKING = [
    ("Region", [("North", "ACTIVE"), ("South", "ACTIVE"), ("East", "ARCHIVED")]),
    ("Department", [("Sales", "ACTIVE"), ("Operations", "ACTIVE")]),
]

_CURRENCIES = {"NZD": "New Zealand Dollar", "AUD": "Australian Dollar", "USD": "United States Dollar"}


def build_tenant(
    now: datetime,
    name: str = "Demo Company (NZ)",
    country: str = "NZ",
    currencies: list[str] | None = None,
    tenant_id: str | None = None,
) -> Tenant:
    """A fresh organisation. `country` picks NZ (15% GST) or AU (10% GST) defaults."""
    country = country.upper()
    if country not in _TAX_RATES:
        raise ValueError(f"country must be one of {sorted(_TAX_RATES)}")
    base = "NZD" if country == "NZ" else "AUD"
    tenant = Tenant(
        tenant_id=tenant_id or new_id(),
        organisation={
            "OrganisationID": "",
            "Name": name,
            "LegalName": f"{name} Limited",
            "PaysTax": True,
            "Version": country,
            "OrganisationType": "COMPANY",
            "BaseCurrency": base,
            "CountryCode": country,
            "IsDemoCompany": False,
            "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 31,
            "FinancialYearEndMonth": 3 if country == "NZ" else 6,
            "SalesTaxBasis": "INVOICE" if country == "NZ" else "ACCRUALS",
            "SalesTaxPeriod": "TWOMONTHS" if country == "NZ" else "QUARTERLY1",
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Inclusive",
            "CreatedDateUTC": now,
            "OrganisationEntityType": "COMPANY",
            "Timezone": "NEWZEALANDSTANDARDTIME" if country == "NZ" else "AUSEASTERNSTANDARDTIME",
            "ShortCode": "!" + new_id()[:5],
            "Edition": "BUSINESS",
            "Class": "PREMIUM",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {},
        },
    )
    tenant.organisation["OrganisationID"] = tenant.tenant_id
    for code in [base, *(currencies if currencies is not None else ["USD"])]:
        tenant.currencies[code] = {"Code": code, "Description": _CURRENCIES.get(code, code)}
    for tax_type, tax_name, rate, report in _TAX_RATES[country]:
        tenant.tax_rates[tax_type] = {
            "Name": tax_name,
            "TaxType": tax_type,
            "ReportTaxType": report,
            "Status": "ARCHIVED" if tax_type in _ARCHIVED_TAX_TYPES else "ACTIVE",
            "EffectiveRate": Decimal(rate),
            "DisplayTaxRate": Decimal(rate),
            "CanApplyToAssets": True,
            "CanApplyToEquity": True,
            "CanApplyToExpenses": True,
            "CanApplyToLiabilities": True,
            "CanApplyToRevenue": True,
            "TaxComponents": [
                {"Name": "GST", "Rate": Decimal(rate), "IsCompound": False, "IsNonRecoverable": False}
            ],
        }
    out_tax, in_tax = ("OUTPUT2", "INPUT2") if country == "NZ" else ("OUTPUT", "INPUT")
    for code, acc_name, acc_type, acc_class, tax_key, extra in _ACCOUNTS:
        account_id = new_id()
        account: Record = {
            "AccountID": account_id,
            "Code": code,
            "Name": acc_name,
            "Type": acc_type,
            "Class": acc_class,
            "Status": "ACTIVE",
            "TaxType": {"out": out_tax, "in": in_tax}.get(tax_key or "", "NONE"),
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "HasAttachments": False,
            "UpdatedDateUTC": now,
            "AddToWatchlist": False,
        }
        account.update(extra)
        if acc_type == "BANK":
            account["CurrencyCode"] = base
        tenant.accounts[account_id] = account
    for order, theme_name in enumerate(["Standard", "Special Projects"]):
        theme_id = new_id()
        tenant.branding_themes[theme_id] = {
            "BrandingThemeID": theme_id,
            "Name": theme_name,
            "Type": "INVOICE",
            "SortOrder": order,
            "CreatedDateUTC": now,
        }
    for category_name, options in _TRACKING:
        category_id = new_id()
        tenant.tracking_categories[category_id] = {
            "TrackingCategoryID": category_id,
            "Name": category_name,
            "Status": "ACTIVE",
            "Options": [{"TrackingOptionID": new_id(), "Name": n, "Status": st} for n, st in options],
        }
    return tenant


def default_items() -> list[dict[str, Any]]:
    return [
        {
            "Code": "WIDGET",
            "Name": "Widget",
            "Description": "A standard widget",
            "SalesDetails": {"UnitPrice": "25.00", "AccountCode": "200"},
            "PurchaseDetails": {"UnitPrice": "12.50", "AccountCode": "300"},
        },
        {
            "Code": "CONSULT",
            "Name": "Consulting hour",
            "Description": "Consulting, per hour",
            "SalesDetails": {"UnitPrice": "150.00", "AccountCode": "200"},
        },
    ]


def default_contacts() -> list[dict[str, Any]]:
    return [
        {"Name": "Ridgeway University", "ContactNumber": "CUST-001", "EmailAddress": "ap@ridgeway.example"},
        {"Name": "PowerDirect", "AccountNumber": "SUP-001", "EmailAddress": "billing@powerdirect.example"},
    ]
