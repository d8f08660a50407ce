"""Routes under /api.xro/2.0 for organisation settings: TaxRates, Accounts, BrandingThemes, Organisation,
Currencies (read-only), and TrackingCategories with their options (read and write)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from devstack.xero.accounting import Call, endpoint, filtered, save_batch
from devstack.xero.emulator import Emulator
from devstack.xero.responses import not_found, post_data_invalid
from devstack.xero.settings import TrackingBook, category_view, option_view
from devstack.xero.store import Outcome, Record, Tenant

TAX_FIELDS = {"Name", "TaxType", "Status", "ReportTaxType", "EffectiveRate", "DisplayTaxRate"}
ACCOUNT_FIELDS = {
    "AccountID",
    "Code",
    "Name",
    "Type",
    "Status",
    "Class",
    "TaxType",
    "BankAccountNumber",
    "EnablePaymentsToAccount",
    "SystemAccount",
    "CurrencyCode",
    "UpdatedDateUTC",
}
TRACKING_FIELDS = {"TrackingCategoryID", "Name", "Status", "Options"}


def routes(emulator: Emulator) -> list[Route]:
    state = emulator.state

    def simple_list(
        key: str,
        getter: Callable[[Tenant], list[Record]],
        fields: set[str] | None,
        modified_since: bool = False,
    ) -> Callable[[Call], Response]:
        def run(call: Call) -> Response:
            with state.lock:
                records = getter(call.tenant)
                if fields is not None:
                    records = filtered(call, records, fields, lambda r: r, modified_since)
                return call.envelope(key, records)

        return run

    def simple_get(key: str, getter: Callable[[Tenant, str], Record | None]) -> Callable[[Call], Response]:
        def run(call: Call) -> Response:
            with state.lock:
                record = getter(call.tenant, call.request.path_params["id"])
                return call.envelope(key, [record]) if record else not_found()

        return run

    # ---- tracking categories ------------------------------------------------------------------------------
    def categories_list(call: Call) -> Response:
        archived = call.flag("includeArchived")
        with state.lock:
            records = [
                category_view(c, archived)
                for c in call.tenant.tracking_categories.values()
                if archived or c["Status"] == "ACTIVE"
            ]
            records = filtered(call, records, TRACKING_FIELDS, lambda r: r, modified_since=False)
            return call.envelope("TrackingCategories", records)

    def category_get(call: Call) -> Response:
        with state.lock:
            category = TrackingBook(call.tenant).category(call.request.path_params["id"])
            if category is None:
                return not_found()
            return call.envelope("TrackingCategories", [category_view(category, include_archived=True)])

    def tracking_write(
        key: str,
        change: Callable[[TrackingBook, Call, Record], Outcome],
        view: Callable[[Record], Record],
        with_body: bool = True,
    ) -> Callable[[Call], Any]:
        """One write on a category or option: 404 for an unknown path id, else Xero's batch answer."""

        async def run(call: Call) -> Response:
            elements: list[Any] = [{}]
            if with_body:
                body, problem = await call.body(None)
                if problem:
                    return problem
                if not isinstance(body, dict):
                    return post_data_invalid("JSON for post data was invalid: expected an object")
                listed = body.get("Options") if key == "Options" else None
                elements = listed if isinstance(listed, list) else [body]
            with state.lock:
                book = TrackingBook(call.tenant)
                params = call.request.path_params
                category = book.category(params["id"]) if "id" in params else None
                if "id" in params and category is None:
                    return not_found()
                if "option" in params and not any(
                    o["TrackingOptionID"] == params["option"].lower()
                    for o in (category or {}).get("Options", [])
                ):
                    return not_found()
                return save_batch(call, key, elements, lambda e: change(book, call, e), view)

        return run

    def whole(record: Record) -> Record:
        return category_view(record, include_archived=True)

    def path_id(call: Call, name: str = "id") -> str:
        return str(call.request.path_params[name])

    def r(path: str, fn: Callable[[Call], Any], method: str) -> Route:
        return Route("/api.xro/2.0" + path, endpoint(emulator, fn), methods=[method])

    categories = "/TrackingCategories"
    options = categories + "/{id}/Options"
    return [
        r("/TaxRates", simple_list("TaxRates", lambda t: list(t.tax_rates.values()), TAX_FIELDS), "GET"),
        r("/TaxRates/{id}", simple_get("TaxRates", lambda t, k: t.tax_rates.get(k)), "GET"),
        r(
            "/Accounts",
            simple_list("Accounts", lambda t: list(t.accounts.values()), ACCOUNT_FIELDS, modified_since=True),
            "GET",
        ),
        r("/Accounts/{id}", simple_get("Accounts", lambda t, k: t.accounts.get(k.lower())), "GET"),
        r(
            "/BrandingThemes",
            simple_list("BrandingThemes", lambda t: list(t.branding_themes.values()), None),
            "GET",
        ),
        r(
            "/BrandingThemes/{id}",
            simple_get("BrandingThemes", lambda t, k: t.branding_themes.get(k.lower())),
            "GET",
        ),
        r("/Organisation", simple_list("Organisations", lambda t: [t.organisation], None), "GET"),
        r(
            "/Currencies",
            simple_list("Currencies", lambda t: list(t.currencies.values()), {"Code", "Description"}),
            "GET",
        ),
        r(categories, categories_list, "GET"),
        r(categories, tracking_write(categories[1:], lambda b, c, e: b.create_category(e), whole), "PUT"),
        r(categories + "/{id}", category_get, "GET"),
        r(
            categories + "/{id}",
            tracking_write(categories[1:], lambda b, c, e: b.update_category(path_id(c), e), whole),
            "POST",
        ),
        r(
            categories + "/{id}",
            tracking_write(categories[1:], lambda b, c, e: b.delete_category(path_id(c)), whole, False),
            "DELETE",
        ),
        r(
            options,
            tracking_write("Options", lambda b, c, e: b.create_option(path_id(c), e), option_view),
            "PUT",
        ),
        r(
            options + "/{option}",
            tracking_write(
                "Options", lambda b, c, e: b.update_option(path_id(c), path_id(c, "option"), e), option_view
            ),
            "POST",
        ),
        r(
            options + "/{option}",
            tracking_write(
                "Options",
                lambda b, c, e: b.delete_option(path_id(c), path_id(c, "option")),
                option_view,
                False,
            ),
            "DELETE",
        ),
    ]
