"""The admin console (O6): server-rendered pages under /api/console, signed in with Microsoft Entra ID.

Not under /api/admin: the Functions host reserves routes starting with "admin" for its own API
(Azure/azure-functions-host#1781), and so function names starting with it.
"""

from __future__ import annotations

import azure.functions as func

from connector.entrypoints.admin import consent, pages
from connector.entrypoints.admin.web import ROUTE_PREFIX, Handler, Kind, handle

bp = func.Blueprint()

# (function name, route under /api/console, method, who may call it, handler)
ROUTES: list[tuple[str, str, str, Kind, Handler]] = [
    ("console_home", "", "GET", "page", pages.home),
    ("console_style", "/style.css", "GET", "public", pages.style),
    ("console_signin", "/signin", "GET", "public", consent.signin),
    ("console_signin_callback", "/signin/callback", "GET", "public", consent.signin_callback),
    ("console_signout", "/signout", "POST", "public", consent.signout),
    ("console_xero_connect", "/xero/connect", "POST", "action", consent.connect),
    ("console_xero_callback", "/xero/callback", "GET", "page", consent.xero_callback),
    ("console_xero_pick", "/xero/pick", "GET", "page", consent.pick),
    ("console_xero_picked", "/xero/picked", "POST", "action", consent.pick_post),
    ("console_xero_custom", "/xero/custom", "POST", "action", consent.custom),
    ("console_connection", "/connections/{connection_id}", "GET", "page", pages.connection),
    ("console_reconnect", "/connections/{connection_id}/reconnect", "POST", "action", consent.reconnect),
    ("console_default", "/connections/{connection_id}/default", "POST", "action", pages.make_default),
    ("console_settings", "/connections/{connection_id}/settings", "POST", "action", pages.save_settings),
    ("console_disconnect", "/connections/{connection_id}/disconnect", "POST", "action", pages.disconnect),
    ("console_sync", "/connections/{connection_id}/sync", "POST", "action", pages.sync_connection),
    ("console_retry", "/connections/{connection_id}/retry", "POST", "action", pages.retry),
    ("console_sync_all", "/sync", "POST", "action", pages.sync_all),
    ("console_poison_replay", "/poison/replay", "POST", "action", pages.replay),
]


def _endpoint(kind: Kind, handler: Handler):  # type: ignore[no-untyped-def]
    async def endpoint(req: func.HttpRequest) -> func.HttpResponse:
        return await handle(kind, handler, req)

    return endpoint


for _name, _route, _method, _kind, _handler in ROUTES:
    bp.function_name(_name)(
        bp.route(route=ROUTE_PREFIX + _route, methods=[_method], auth_level=func.AuthLevel.ANONYMOUS)(
            _endpoint(_kind, _handler)
        )
    )
