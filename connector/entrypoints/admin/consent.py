"""Signing in to the console (OpenID Connect) and connecting Xero organisations (Xero's consent)."""

from __future__ import annotations

import hmac
import secrets
import time
from uuid import UUID

import azure.functions as func

from connector.domain.connection_rules import pkce_pair
from connector.entrypoints.admin.web import NotFound, Request, logger
from connector.errors import AuthorisationError
from connector.telemetry import log_step

NOT_OURS = (
    "This answer does not belong to a request started here, or it was already used. Nothing was stored."
)


# --- Sign-in ---------------------------------------------------------------------------------------


async def signin(request: Request) -> func.HttpResponse:
    assert request.console.signin is not None
    wanted = request.req.params.get("next") or ""
    # Only back into the console: never an open redirect.
    next_path = wanted if wanted.startswith(request.base + "/") or wanted == request.base else request.base
    auth_uri, flow = request.console.signin.begin(request.base_url + "/signin/callback")
    request.session.set("oidc", flow)
    request.session.set("next", next_path)
    return func.HttpResponse(status_code=302, headers={"Location": auth_uri})


async def signin_callback(request: Request) -> func.HttpResponse:
    assert request.console.signin is not None
    flow = request.session.pop("oidc")
    next_path = request.session.pop("next") or request.base
    if not isinstance(flow, dict):
        return request.message(400, "Sign-in failed", NOT_OURS, request.base)
    try:
        identity = request.console.signin.finish(flow, dict(request.req.params))
    except AuthorisationError as exc:
        log_step(logger, "console.signin_failed", reason=str(exc))
        return request.message(400, "Sign-in failed", f"The sign-in did not complete: {exc}.", request.base)
    user = {
        "subject": identity.subject,
        "name": identity.name,
        "username": identity.username,
        "roles": list(identity.roles),
    }
    request.session.sign_in(user, time.time())
    log_step(
        logger,
        "console.signed_in",
        user=identity.username,
        admin=request.settings.console_admin_role in identity.roles,
    )
    return request.redirect(str(next_path))


async def signout(request: Request) -> func.HttpResponse:
    if request.user is not None and not request.session.csrf_ok(request.field("csrf")):
        return request.message(403, "Refused", "This form has expired or did not come from the console.")
    request.session.data = {}
    request.session.changed = True
    return request.message(200, "Signed out", "You have signed out of the console.", request.base)


# --- Xero's consent ----------------------------------------------------------------------------------


def _consent(request: Request, intent: str, target: str | None = None) -> func.HttpResponse:
    state = secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    request.session.set("xero", {"state": state, "verifier": verifier, "intent": intent, "target": target})
    url = request.console.consent_url(request.base_url + "/xero/callback", state, challenge)
    return request.redirect(url)


async def connect(request: Request) -> func.HttpResponse:
    if not request.field("continue"):
        request.session.pop("xero_queue")
    return _consent(request, "connect")


async def reconnect(request: Request) -> func.HttpResponse:
    connection = await request.console.connection(connection_id(request))
    return _consent(request, "reconnect", str(connection.id))


async def xero_callback(request: Request) -> func.HttpResponse:
    started = request.session.pop("xero")
    state = request.req.params.get("state") or ""
    if not isinstance(started, dict) or not state or not hmac.compare_digest(str(started["state"]), state):
        log_step(logger, "console.xero_callback_refused", reason="state does not match")
        return request.message(400, "Not connected", NOT_OURS, request.base)
    if request.req.params.get("error") or not request.req.params.get("code"):
        error = request.req.params.get("error") or "no code"
        return request.message(
            400, "Not connected", f"Xero did not authorise the connection ({error}).", request.base
        )
    redirect_uri = request.base_url + "/xero/callback"
    pending = await request.console.authorise(
        request.req.params["code"], redirect_uri, str(started["verifier"])
    )
    if started.get("intent") == "reconnect":
        try:
            connection = await request.console.reconnect(pending, UUID(str(started["target"])))
        except AuthorisationError as exc:
            await request.console.discard(pending)
            return request.message(400, "Not reconnected", str(exc), request.base)
        log_step(logger, "console.reconnected", connection=connection.name, by=request.who)
        return request.back(
            f"/connections/{connection.id}",
            f"Reconnected {connection.name}. Its waiting invoices are on their way to Xero.",
        )
    queue = request.session.pop("xero_queue")
    if isinstance(queue, list) and queue:
        return await _connect_picked(request, pending, [dict(item) for item in queue])
    request.session.set("xero_pending", pending)
    return request.back("/xero/pick")


async def pick(request: Request) -> func.HttpResponse:
    pending = request.session.data.get("xero_pending")
    if not isinstance(pending, str):
        return request.back("", "Start with Connect to Xero.")
    organisations = await request.console.organisations(pending)
    connected = {summary.connection.tenant_id for summary in await request.console.summaries()}
    return request.render("pick.html", organisations=organisations, connected=connected)


async def pick_post(request: Request) -> func.HttpResponse:
    pending = request.session.pop("xero_pending")
    if not isinstance(pending, str):
        return request.back("", "Start with Connect to Xero.")
    organisations = {o.tenant_id: o for o in await request.console.organisations(pending)}
    chosen = [
        {"tenant_id": t, "name": organisations[t].name}
        for t in request.fields("tenant_id")
        if t in organisations
    ]
    if not chosen:
        request.session.set("xero_pending", pending)
        return request.back("/xero/pick", "Pick at least one organisation.")
    return await _connect_picked(request, pending, chosen)


async def _connect_picked(request: Request, pending: str, chosen: list[dict[str, str]]) -> func.HttpResponse:
    """This authorisation goes to the first organisation; each other one gets its own consent, since
    one token set shared by several connections would break at its first rotation."""
    first, rest = chosen[0], chosen[1:]
    try:
        connected = await request.console.connect_organisation(pending, first["tenant_id"])
    except AuthorisationError as exc:
        await request.console.discard(pending)
        return request.message(400, "Not connected", str(exc), request.base)
    verb = "Connected" if connected.created else "Reconnected"
    request.session.flash(f"{verb} {connected.connection.name}.")
    if rest:
        request.session.set("xero_queue", rest)
        return request.render("next_consent.html", name=rest[0]["name"])
    return request.back(f"/connections/{connected.connection.id}")


async def custom(request: Request) -> func.HttpResponse:
    name = (request.field("name") or "").strip()
    if not name or len(name) > 100:
        return request.back("", "Give the custom connection a name of up to 100 characters.")
    try:
        connected = await request.console.connect_custom(name)
    except AuthorisationError as exc:
        return request.message(400, "Not connected", str(exc), request.base)
    return request.back(f"/connections/{connected.connection.id}", f"Connected {connected.connection.name}.")


def connection_id(request: Request) -> UUID:
    try:
        return UUID(request.req.route_params.get("connection_id", ""))
    except ValueError:
        raise NotFound from None
