"""One console request: its session, who is signed in, the posted form, and the response with the
security headers every page carries (a strict CSP, no framing, no referrer, no caching)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

import azure.functions as func
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from connector.bootstrap import get_app

if TYPE_CHECKING:
    from connector.bootstrap import AdminConsole
from connector.entrypoints.admin.session import Session, SessionCodec
from connector.errors import AuthorisationError, ConnectorError, NotFoundError
from connector.settings import Settings
from connector.telemetry import get_logger, log_step

HERE = Path(__file__).resolve().parent
ROUTE_PREFIX = "console"
logger = get_logger("entrypoints.admin")

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True
)

Kind = Literal["public", "page", "action"]


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "—"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(settings: Settings) -> dict[str, str]:
    # Form posts that answer with a redirect to Xero's consent page are checked against form-action too.
    csp = (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        f"form-action 'self' {origin(settings.xero_login_base_url)}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


@dataclass
class Request:
    req: func.HttpRequest
    settings: Settings
    console: AdminConsole
    session: Session
    base_url: str  # absolute, e.g. https://app.azurewebsites.net/api/console
    form: dict[str, list[str]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """The console's path, for links."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def user(self) -> dict[str, Any] | None:
        return self.session.user

    @property
    def who(self) -> str:
        user = self.user or {}
        return str(user.get("username") or user.get("name") or "someone")

    def field(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    def fields(self, name: str) -> list[str]:
        return list(self.form.get(name, []))

    def render(self, template: str, status: int = 200, **values: Any) -> func.HttpResponse:
        page = _templates.get_template(template).render(
            base=self.base,
            user=self.user,
            csrf=self.session.csrf if self.user else "",
            flashes=self.session.take_flash(),
            when=when,
            **values,
        )
        return func.HttpResponse(page, status_code=status, mimetype="text/html", charset="utf-8")

    def message(self, status: int, heading: str, text: str, link: str | None = None) -> func.HttpResponse:
        return self.render("message.html", status, heading=heading, text=text, link=link, link_text=None)

    def redirect(self, location: str) -> func.HttpResponse:
        return func.HttpResponse(status_code=303, headers={"Location": location})

    def back(self, path: str, message: str | None = None) -> func.HttpResponse:
        if message:
            self.session.flash(message)
        return self.redirect(self.base + path)


def field_error(errors: dict[str, str]) -> Callable[[str], Markup]:
    def error(name: str) -> Markup:
        return Markup('<span class="error">{}</span>').format(errors[name]) if name in errors else Markup("")

    return error


def base_url(req: func.HttpRequest, settings: Settings) -> str:
    if settings.console_base_url:
        return settings.console_base_url.rstrip("/")
    return f"{origin(req.url)}/api/{ROUTE_PREFIX}"


def _not_configured(settings: Settings) -> func.HttpResponse:
    missing = [
        name
        for name, value in (
            ("ENTRA_CLIENT_ID", settings.entra_client_id),
            ("ENTRA_CLIENT_SECRET", settings.entra_client_secret),
            ("ENTRA_TENANT_ID or ENTRA_AUTHORITY", settings.entra_tenant_id or settings.entra_authority),
            ("CONSOLE_SESSION_KEY", settings.console_session_key),
        )
        if not value
    ]
    text = "The console is not set up yet. Set " + ", ".join(missing) + " in the app settings."
    return func.HttpResponse(text, status_code=503, mimetype="text/plain", headers=security_headers(settings))


Handler = Callable[[Request], Awaitable[func.HttpResponse]]


async def handle(kind: Kind, handler: Handler, req: func.HttpRequest) -> func.HttpResponse:
    """Session in, checks by kind, the handler, then the cookie and security headers out."""
    app = get_app()
    settings, console = app.settings, app.console
    if console is None or console.signin is None or settings.console_session_key is None:
        return _not_configured(settings)
    url = base_url(req, settings)
    codec = SessionCodec(
        settings.console_session_key.get_secret_value(), settings.console_session_minutes * 60, url
    )
    request = Request(req, settings, console, codec.load(req.headers.get("cookie")), url)
    if req.method == "POST":
        request.form = parse_qs(req.get_body().decode("utf-8", errors="replace"), keep_blank_values=True)
    response = _refusal(kind, request) or await _run(handler, request)
    headers = security_headers(settings)
    if request.session.changed:
        headers["Set-Cookie"] = codec.header(request.session, time.time())
    for name, value in headers.items():
        response.headers[name] = value
    return response


async def _run(handler: Handler, request: Request) -> func.HttpResponse:
    """The handler; what goes wrong is said in plain words (never with a token or a traceback)."""
    try:
        return await handler(request)
    except (NotFoundError, NotFound):
        return request.message(404, "Not found", "There is no such connection.", request.base)
    except AuthorisationError as exc:
        return request.message(400, "Xero refused", f"{exc}.", request.base)
    except ConnectorError as exc:
        log_step(logger, "console.failed", logging.WARNING, reason=str(exc))
        return request.message(
            502, "Try again", f"Xero or Dataverse did not answer as expected: {exc}.", request.base
        )


class NotFound(LookupError):
    """The path names no connection."""


def _refusal(kind: Kind, request: Request) -> func.HttpResponse | None:
    """No session: pages send the browser to sign in, actions get 401. A POST without its CSRF token:
    403. Signed in without the admin role: 403."""
    if kind == "public":
        return None
    user = request.user
    if user is None:
        if kind == "action":
            return func.HttpResponse("Sign in first.", status_code=401, mimetype="text/plain")
        path = urlsplit(request.req.url).path
        return request.redirect(f"{request.base}/signin?next={quote(path, safe='/')}")
    if kind == "action" and not request.session.csrf_ok(request.field("csrf")):
        log_step(logger, "console.csrf_refused", path=urlsplit(request.req.url).path)
        return request.message(403, "Refused", "This form has expired or did not come from the console.")
    if request.settings.console_admin_role not in user.get("roles", []):
        return request.message(
            403,
            "No access",
            f"You are signed in as {request.who}, who does not hold the console's "
            f"{request.settings.console_admin_role} role. Ask a directory admin to assign it.",
        )
    return None
