"""The console's pages and the actions on a connection and on the work (retry, replay, sync now)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import azure.functions as func

from connector.domain.connection_rules import INVOICE_STATUSES, SWITCHES, ConnectionHealth, time_zones
from connector.entrypoints.admin.consent import connection_id
from connector.entrypoints.admin.web import HERE, Request, field_error

STYLE = (HERE / "style.css").read_bytes() if (HERE / "style.css").exists() else b""


async def style(request: Request) -> func.HttpResponse:
    return func.HttpResponse(
        STYLE, status_code=200, mimetype="text/css", headers={"Cache-Control": "max-age=3600"}
    )


def _health_words(summary: Any) -> tuple[str, bool]:
    connection = summary.connection
    if connection.needs_reconnect:
        return "Reconnect needed", True
    if summary.problems:
        return "Misconfigured", True
    if summary.token is None:
        return "No token: connect it", True
    return "Healthy", False


async def home(request: Request) -> func.HttpResponse:
    rows = []
    for summary in await request.console.summaries():
        words, attention = _health_words(summary)
        token = "—"  # noqa: S105  (a label, not a secret)
        if summary.token is not None:
            token = "custom connection" if summary.token.grant == "client_credentials" else "authorised"
        rows.append(
            {"connection": summary.connection, "token": token, "health": words, "attention": attention}
        )
    return request.render("home.html", rows=rows, queues=await request.console.queues())


def _render_connection(
    request: Request,
    health: ConnectionHealth,
    choices: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> func.HttpResponse:
    return request.render(
        "connection.html",
        status,
        health=health,
        choices=choices,
        values=values,
        error=field_error(errors),
        switches=SWITCHES,
        statuses=INVOICE_STATUSES,
        zones=time_zones(),
    )


async def connection(request: Request) -> func.HttpResponse:
    chosen = connection_id(request)
    health = await request.console.health(chosen)
    choices = await request.console.reference_choices(chosen)
    return _render_connection(request, health, choices, health.connection.model_dump(), {})


async def save_settings(request: Request) -> func.HttpResponse:
    chosen = connection_id(request)
    form = {key: values[0] for key, values in request.form.items() if values and key != "csrf"}
    saved, result = await request.console.edit_settings(chosen, form)
    if result.errors:
        health = await request.console.health(chosen)
        choices = await request.console.reference_choices(chosen)
        values: dict[str, Any] = {**saved.model_dump(), **form}
        values.update({key: key in form for key in SWITCHES})
        request.session.flash("Nothing was saved: correct the fields marked below.")
        return _render_connection(request, health, choices, values, result.errors, 400)
    message = "Settings saved." if result.changes else "Nothing to change."
    return request.back(f"/connections/{chosen}", message)


async def make_default(request: Request) -> func.HttpResponse:
    chosen = connection_id(request)
    await request.console.make_default(chosen)
    saved = await request.console.connection(chosen)
    return request.back(f"/connections/{chosen}", f"{saved.name} is now the default connection.")


async def disconnect(request: Request) -> func.HttpResponse:
    chosen = connection_id(request)
    await request.console.disconnect(chosen, request.who)
    return request.back(f"/connections/{chosen}", "Disconnected from Xero; the tokens are removed.")


async def sync_connection(request: Request) -> func.HttpResponse:
    chosen = connection_id(request)
    await request.console.sync_now(chosen)
    return request.back(
        f"/connections/{chosen}",
        "A sync of this connection is queued: its waiting invoices, then its reference data from Xero.",
    )


async def sync_all(request: Request) -> func.HttpResponse:
    await request.console.sync_now(None)
    return request.back("", "A sync of every connection is queued.")


async def retry(request: Request) -> func.HttpResponse:
    chosen = connection_id(request)
    raw = request.field("details_id")
    try:
        details_id = UUID(raw) if raw else None
    except ValueError:
        return request.message(400, "Not retried", "That invoice is not one of this connection's.")
    count = await request.console.retry_failed(chosen, details_id)
    return request.back(f"/connections/{chosen}", f"Sent {count} failed invoice(s) to Xero again.")


async def replay(request: Request) -> func.HttpResponse:
    queue = request.field("queue") or ""
    if queue not in request.settings.queue_names:
        return request.message(400, "Not replayed", "There is no such queue.")
    count = await request.console.replay_poison(queue, request.field("message_id") or None)
    return request.back("", f"Replayed {count} message(s) onto {queue}.")
