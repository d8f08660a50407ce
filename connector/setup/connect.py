"""`python -m connector connect`: Xero's consent from a terminal (C2), through the same use cases as the
console, so connecting an organisation again updates its connection record instead of adding one.

Without a browser on the machine: print the consent URL, open it anywhere, and either let this command
listen on a local redirect (--listen) or paste the address Xero sent the browser back to.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.storage.queues import StorageQueueSender, queue_service_from_settings
from connector.adapters.storage.watermarks import blob_watermark_store
from connector.bootstrap import console_dependencies
from connector.domain.connection_rules import XeroOrganisation, pkce_pair
from connector.errors import AuthorisationError
from connector.services import connect_xero
from connector.services.connect_xero import Connected, ConsoleDependencies
from connector.settings import Settings

DEFAULT_LISTEN_PORT = 8765


@dataclass(frozen=True)
class Consent:
    url: str
    state: str
    verifier: str
    redirect_uri: str


def start_consent(deps: ConsoleDependencies, redirect_uri: str) -> Consent:
    state, (verifier, challenge) = secrets.token_urlsafe(24), pkce_pair()
    return Consent(deps.xero.consent_url(redirect_uri, state, challenge), state, verifier, redirect_uri)


def read_answer(consent: Consent, answer: str) -> str:
    """The code from the address Xero redirected to, once its state is checked."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.strip()).query).items()}
    if not hmac.compare_digest(query.get("state", ""), consent.state):
        raise AuthorisationError(
            "that answer does not belong to this consent (state differs); nothing was stored"
        )
    if "code" not in query:
        raise AuthorisationError(f"Xero did not authorise the connection ({query.get('error', 'no code')})")
    return query["code"]


def listen_for_answer(port: int, timeout: float = 300.0) -> str:
    """Serve one request on 127.0.0.1:`port` (the redirect URI) and return its full path."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Xero answered; you can close this window.")

        def log_message(self, *_: object) -> None:  # the path carries the code: keep it out of logs
            return

    server = HTTPServer(("127.0.0.1", port), Handler)
    server.timeout = timeout
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    server.server_close()
    if not received:
        raise AuthorisationError(f"no answer from Xero within {timeout:.0f} s")
    return f"http://127.0.0.1:{port}{received[0]}"


def deps_for(settings: Settings, client: DataverseClient) -> ConsoleDependencies:
    queues = StorageQueueSender(queue_service_from_settings(settings), settings.queue_names)
    deps = console_dependencies(settings, client, queues, blob_watermark_store(settings))
    return deps


async def connect_with_code(
    deps: ConsoleDependencies,
    code: str,
    redirect_uri: str,
    verifier: str,
    choose: Callable[[list[XeroOrganisation]], XeroOrganisation],
    name: str | None,
) -> Connected:
    """Exchange the code once, then connect the one organisation `choose` picks (it may ask the user)."""
    pending = deps.xero.authorise(code, redirect_uri, verifier)
    organisations = deps.xero.organisations(pending)
    if not organisations:
        deps.xero.discard(pending)
        raise AuthorisationError("Xero's authorisation covers no organisation")
    chosen = choose(organisations)
    return await connect_xero.connect_organisation(deps, pending, chosen.tenant_id, name)
