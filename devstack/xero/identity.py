"""Identity: /connect/token (authorization_code with optional PKCE, refresh_token with rotation + grace,
client_credentials), /connect/revocation, /connections, a minimal consent page at
/identity/connect/authorize, and a control route for an organisation revoking the app's access."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import uuid
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from devstack.xero.emulator import DEFAULT_SCOPE, Emulator
from devstack.xero.store import AccessToken, Client


async def _form(request: Request) -> dict[str, list[str]]:
    """application/x-www-form-urlencoded without python-multipart."""
    return parse_qs((await request.body()).decode(), keep_blank_values=True)


def _first(form: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in form.items()}


def _oauth_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def unauthorized(detail: str = "AuthenticationUnsuccessful") -> JSONResponse:
    correlation = str(uuid.uuid4())
    return JSONResponse(
        {
            "Type": None,
            "Title": "Unauthorized",
            "Status": 401,
            "Detail": detail,
            "Instance": correlation,
            "Extensions": {},
        },
        status_code=401,
        headers={"xero-correlation-id": correlation, "WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def forbidden(detail: str = "AuthorizationUnsuccessful") -> JSONResponse:
    correlation = str(uuid.uuid4())
    return JSONResponse(
        {
            "Type": None,
            "Title": "Forbidden",
            "Status": 403,
            "Detail": detail,
            "Instance": correlation,
            "Extensions": {},
        },
        status_code=403,
        headers={"xero-correlation-id": correlation},
    )


def bearer(emulator: Emulator, request: Request) -> AccessToken | None:
    """The live access token behind the Authorization header, or None."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    token = emulator.state.access_tokens.get(header[7:].strip())
    if token is None or token.expires_at <= emulator.clock.timestamp():
        return None
    return token


def _client_auth(emulator: Emulator, request: Request, form: dict[str, str]) -> Client | None:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
    client = emulator.state.clients.get(client_id or "")
    if client is None or not secrets.compare_digest(client.client_secret, secret or ""):
        return None
    return client


def _pkce_ok(code: dict[str, object], verifier: str | None) -> bool:
    """RFC 7636 §4.6: a code issued with a challenge is redeemed only with its verifier. Assumed for
    Xero, whose identity service documents PKCE for public clients; here it applies to any client."""
    challenge = code.get("code_challenge")
    if not challenge:
        return True
    if not verifier:
        return False
    if code.get("code_challenge_method") == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return secrets.compare_digest(str(challenge), verifier)


def routes(emulator: Emulator) -> list[Route]:
    state = emulator.state

    async def token(request: Request) -> Response:
        form = _first(await _form(request))
        with state.lock:
            client = _client_auth(emulator, request, form)
            if client is None:
                return _oauth_error("invalid_client", 400)
            grant = form.get("grant_type")
            now = emulator.clock.timestamp()
            if grant == "authorization_code":
                code = state.auth_codes.pop(form.get("code", ""), None)
                if code is None or code["client_id"] != client.client_id or code["expires_at"] < now:
                    return _oauth_error("invalid_grant")
                if code.get("redirect_uri") and form.get("redirect_uri") != code["redirect_uri"]:
                    return _oauth_error("invalid_grant")
                if not _pkce_ok(code, form.get("code_verifier")):
                    return _oauth_error("invalid_grant")
                return JSONResponse(emulator.issue_tokens(client, code["scope"]))
            if grant == "refresh_token":
                old = state.refresh_tokens.get(form.get("refresh_token", ""))
                if old is None or old.client_id != client.client_id or old.expires_at < now:
                    return _oauth_error("invalid_grant")
                if (
                    old.rotated_at is not None
                    and now - old.rotated_at > emulator.options.refresh_token_grace_seconds
                ):
                    return _oauth_error("invalid_grant")
                if old.rotated_at is None:
                    old.rotated_at = now  # single use from here on, apart from the grace period
                return JSONResponse(emulator.issue_tokens(client, old.scope))
            if grant == "client_credentials":
                if client.custom_connection_tenant is None:
                    return _oauth_error("unauthorized_client")
                scope = (
                    form["scope"].split()
                    if form.get("scope")
                    else [s for s in DEFAULT_SCOPE if s != "offline_access"]
                )
                return JSONResponse(emulator.issue_tokens(client, scope, with_refresh=False))
            return _oauth_error("unsupported_grant_type")

    async def revocation(request: Request) -> Response:
        form = _first(await _form(request))
        with state.lock:
            if _client_auth(emulator, request, form) is None:
                return _oauth_error("invalid_client")
            state.refresh_tokens.pop(form.get("token", ""), None)
        return Response(status_code=200)

    async def connections(request: Request) -> Response:
        with state.lock:
            access = bearer(emulator, request)
            if access is None:
                return unauthorized()
            client = state.clients[access.client_id]
            found = list(client.connections.values())
            if request.query_params.get("authEventId"):
                found = [c for c in found if c["authEventId"] == request.query_params["authEventId"]]
            headers = emulator.limiter.acquire(None).headers
        return JSONResponse(found, headers=headers)

    async def delete_connection(request: Request) -> Response:
        with state.lock:
            access = bearer(emulator, request)
            if access is None:
                return unauthorized()
            client = state.clients[access.client_id]
            if client.connections.pop(request.path_params["id"], None) is None:
                return Response("The resource you're looking for cannot be found", status_code=404)
        return Response(status_code=204)

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        posted = await _form(request) if request.method == "POST" else {}
        params.update(_first(posted))
        client = state.clients.get(params.get("client_id", ""))
        if client is None or params.get("response_type", "code") != "code" or not params.get("redirect_uri"):
            return HTMLResponse("<h1>Invalid authorisation request</h1>", status_code=400)
        if request.method == "GET":
            options = "".join(
                f'<label><input type="checkbox" name="tenant_id" value="{t.tenant_id}"> '
                f"{html.escape(t.organisation['Name'])}</label><br>"
                for t in state.tenants.values()
            )
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
            )
            page = (
                "<html><body><h1>Xero emulator: allow access</h1>"
                f'<form method="post">{hidden}{options}<button type="submit">Allow access</button>'
                "</form></body></html>"
            )
            return HTMLResponse(page)
        chosen = posted.get("tenant_id") or [str(params.get("tenant_id", ""))]
        with state.lock:
            chosen = [t for t in chosen if t in state.tenants]
            if not chosen:
                return HTMLResponse("<h1>Pick at least one organisation</h1>", status_code=400)
            auth_event = str(uuid.uuid4())
            for tenant_id in chosen:
                emulator.connect(client, tenant_id, auth_event)
            code = secrets.token_urlsafe(24)
            scope = params.get("scope", " ".join(DEFAULT_SCOPE)).split()
            state.auth_codes[code] = {
                "client_id": client.client_id,
                "redirect_uri": params["redirect_uri"],
                "scope": scope,
                "expires_at": emulator.clock.timestamp() + 300,
                "code_challenge": params.get("code_challenge"),
                "code_challenge_method": params.get("code_challenge_method") or "plain",
            }
        query = {"code": code, "scope": " ".join(scope)}
        if params.get("state"):
            query["state"] = params["state"]
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(params["redirect_uri"] + separator + urlencode(query), status_code=302)

    async def revoke_access(request: Request) -> Response:
        """Control API: the organisation's admin disconnects the app in Xero. Its connection to the
        tenant goes, and so does every token of the app: calls answer 401 and refreshes invalid_grant."""
        tenant_id = request.path_params["tenant"]
        with state.lock:
            revoked = 0
            for client in state.clients.values():
                gone = [cid for cid, c in client.connections.items() if c["tenantId"] == tenant_id]
                if not gone:
                    continue
                for cid in gone:
                    client.connections.pop(cid)
                for tokens in (state.refresh_tokens, state.access_tokens):
                    for value in [k for k, t in tokens.items() if t.client_id == client.client_id]:
                        tokens.pop(value)
                revoked += 1
        return JSONResponse({"revoked_clients": revoked})

    return [
        Route("/_emulator/tenants/{tenant}/revoke-access", revoke_access, methods=["POST"]),
        Route("/connect/token", token, methods=["POST"]),
        Route("/connect/revocation", revocation, methods=["POST"]),
        Route("/connections", connections, methods=["GET"]),
        Route("/Connections", connections, methods=["GET"]),
        Route("/connections/{id}", delete_connection, methods=["DELETE"]),
        Route("/Connections/{id}", delete_connection, methods=["DELETE"]),
        Route("/identity/connect/authorize", authorize, methods=["GET", "POST"]),
    ]
