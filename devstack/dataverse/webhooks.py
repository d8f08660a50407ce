"""Webhook steps: match committed operations to registered steps and POST RemoteExecutionContext JSON.

Delivery is asynchronous, after commit, on one worker thread (so deliveries keep their order).
Follows reference §1.3–1.5: key/value lists, `__type` annotations, `/Date(ms)/` dates, images as
registered, OwningExtension, the 256 KB size-exceeded rule, one retry on 502–504, failures logged as
asyncoperation-like records (statuscode 31). Optionally a seeded share of deliveries is POSTed twice,
as an at-least-once asynchronous service may do.
"""

from __future__ import annotations

import html
import json
import queue
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from devstack.dataverse import metadata as md
from devstack.dataverse.store import EmulatorState, Event, Ref

CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"
SIZE_LIMIT = 256 * 1024
SIZE_EXCEEDED_HEADER = "x-ms-dynamics-msg-size-exceeded"
WEBHOOK_CONTRACT = 8
AUTH_WEBHOOK_KEY, AUTH_HTTP_HEADER, AUTH_QUERY_STRING = 4, 5, 6
RETRY_STATUSES = {502, 503, 504}
IMAGE_PROPERTY = {
    "Create": "Id",
    "Update": "Target",
    "Delete": "Target",
    "SetState": "EntityMoniker",
    "SetStateDynamicEntity": "EntityMoniker",
}
_SETTING = re.compile(r"<setting\s+name=\"([^\"]*)\"\s+value=\"([^\"]*)\"\s*/>")
_DATE_STRING = re.compile(r"\"/Date\((-?\d+(?:[+-]\d{4})?)\)/\"")


@dataclass
class Identity:
    organization_id: str
    organization_name: str
    organization_domain: str
    business_unit_id: str


@dataclass
class Delivery:
    """One webhook POST as sent (with retries), for tests and the control API."""

    step_id: str
    step_name: str
    message: str
    entity: str
    record_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    size_exceeded: bool
    status_code: int | None = None
    attempts: int = 0
    error: str | None = None
    sent_at: datetime | None = None
    duplicate_of: str | None = None  # the delivery this one repeats (same body and headers)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def duplicate(self) -> Delivery:
        return Delivery(
            self.step_id,
            self.step_name,
            self.message,
            self.entity,
            self.record_id,
            self.url,
            dict(self.headers),
            self.body,
            self.size_exceeded,
            duplicate_of=self.id,
        )

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self, include_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "step_id": self.step_id,
            "step_name": self.step_name,
            "message": self.message,
            "entity": self.entity,
            "record_id": self.record_id,
            "url": self.url,
            "headers": self.headers,
            "size_exceeded": self.size_exceeded,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "ok": self.ok,
            "error": self.error,
            "duplicate": self.duplicate_of is not None,
            "duplicate_of": self.duplicate_of,
        }
        if include_body:
            data["body"] = json.loads(self.body)
        return data


def wcf_date(value: datetime | date) -> str:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({int(value.timestamp() * 1000)})/"


def entity_reference(table: str, row_id: str, name: str | None = None) -> dict[str, Any]:
    return {
        "__type": f"EntityReference:{CONTRACTS}",
        "Id": row_id,
        "KeyAttributes": [],
        "LogicalName": table,
        "Name": name,
        "RowVersion": None,
    }


class ContextBuilder:
    """Builds RemoteExecutionContext dictionaries from emulator events."""

    def __init__(self, state: EmulatorState, identity: Identity) -> None:
        self.state = state
        self.identity = identity

    def typed(self, table: md.Table, column: str, value: Any) -> Any:
        attribute = table.attributes.get(column)
        if value is None:
            return None
        if isinstance(value, Ref):
            target = self.state.rows.get(value.table, {}).get(value.id)
            name = target.get(self.state.tables[value.table].primary_name) if target else None
            return entity_reference(value.table, value.id, name)
        kind = attribute.kind if attribute else None
        if kind == md.MONEY:
            return {"__type": f"Money:{CONTRACTS}", "Value": float(value)}
        if kind in {md.PICKLIST, md.STATE, md.STATUS}:
            return {"__type": f"OptionSetValue:{CONTRACTS}", "Value": value}
        if isinstance(value, datetime | date):
            return wcf_date(value)
        if isinstance(value, Decimal):
            return float(value)
        return value

    def entity(
        self, table_name: str, row_id: str, values: dict[str, Any], columns: list[str] | None = None
    ) -> dict[str, Any]:
        table = self.state.tables[table_name]
        chosen = [key for key in values if columns is None or key in columns or key == table.primary_id]
        attributes = [
            {"key": key, "value": self.typed(table, key, values[key])}
            for key in chosen
            if table.attributes.get(key, md.Attribute(key, md.STRING)).readable
        ]
        formatted = []
        for key in chosen:
            value = values[key]
            attribute = table.attributes.get(key)
            if attribute is not None and attribute.kind == md.MONEY and isinstance(value, Decimal):
                formatted.append({"key": key, "value": f"{value:,.2f}"})
        version = values.get("versionnumber")
        return {
            "__type": f"Entity:{CONTRACTS}",
            "Attributes": attributes,
            "EntityState": None,
            "FormattedValues": formatted,
            "Id": row_id,
            "KeyAttributes": [],
            "LogicalName": table_name,
            "RelatedEntities": [],
            "RowVersion": str(version) if version is not None else None,
        }

    def input_parameters(self, event: Event) -> list[dict[str, Any]]:
        if event.message == "Delete":
            return [{"key": "Target", "value": entity_reference(event.table, event.id)}]
        if event.message in {"SetState", "SetStateDynamicEntity"}:
            post = event.post or {}
            return [
                {"key": "EntityMoniker", "value": entity_reference(event.table, event.id)},
                {
                    "key": "State",
                    "value": {"__type": f"OptionSetValue:{CONTRACTS}", "Value": post.get("statecode")},
                },
                {
                    "key": "Status",
                    "value": {"__type": f"OptionSetValue:{CONTRACTS}", "Value": post.get("statuscode")},
                },
            ]
        target = dict(event.target)
        if event.message == "Create":
            target = {key: value for key, value in (event.post or {}).items() if value is not None}
        else:
            target["modifiedby"] = Ref("systemuser", event.user_id) if event.user_id else None
        params: list[dict[str, Any]] = [
            {"key": "Target", "value": self.entity(event.table, event.id, target)}
        ]
        if event.message == "Update":
            params.append({"key": "ConcurrencyBehavior", "value": 0})
        params.append({"key": "SuppressDuplicateDetection", "value": False})
        return params

    def images(self, event: Event, step_id: str, kind: str) -> list[dict[str, Any]]:
        """Pre (imagetype 0/2) or post (1/2) images registered on the step."""
        wanted = {0, 2} if kind == "pre" else {1, 2}
        source = event.pre if kind == "pre" else event.post
        images = []
        for image in self.state.rows["sdkmessageprocessingstepimage"].values():
            ref = image.get("sdkmessageprocessingstepid")
            if not isinstance(ref, Ref) or ref.id != step_id or image.get("imagetype") not in wanted:
                continue
            if source is None:
                continue
            columns = [c.strip() for c in (image.get("attributes") or "").split(",") if c.strip()] or None
            values = {key: value for key, value in source.items() if value is not None or columns}
            images.append(
                {
                    "key": image.get("entityalias") or "image",
                    "value": self.entity(event.table, event.id, values, columns),
                }
            )
        return images

    def context(self, event: Event, step: dict[str, Any]) -> dict[str, Any]:
        table = self.state.tables[event.table]
        mode = step.get("mode") or 0
        post_images = self.images(event, step["sdkmessageprocessingstepid"], "post")
        if mode == 1 and event.post is not None:
            name_values = {table.primary_name: event.post.get(table.primary_name), table.primary_id: event.id}
            post_images.append(
                {
                    "key": "AsynchronousStepPrimaryName",
                    "value": self.entity(event.table, event.id, name_values),
                }
            )
        output = [{"key": "id", "value": event.id}] if event.message == "Create" else []
        base: dict[str, Any] = {
            "BusinessUnitId": self.identity.business_unit_id,
            "CorrelationId": event.correlation_id,
            "Depth": event.depth,
            "InitiatingUserAzureActiveDirectoryObjectId": "00000000-0000-0000-0000-000000000000",
            "InitiatingUserId": event.user_id,
            "InputParameters": self.input_parameters(event),
            "IsExecutingOffline": False,
            "IsInTransaction": mode == 0,
            "IsOfflinePlayback": False,
            "IsolationMode": 1,
            "MessageName": event.message,
            "Mode": mode,
            "OperationCreatedOn": wcf_date(event.at),
            "OperationId": str(uuid.uuid4()),
            "OrganizationId": self.identity.organization_id,
            "OrganizationName": self.identity.organization_name,
            "OutputParameters": output,
            "OwningExtension": {
                "Id": step["sdkmessageprocessingstepid"],
                "KeyAttributes": [],
                "LogicalName": "sdkmessageprocessingstep",
                "Name": step.get("name"),
                "RowVersion": None,
            },
            "PostEntityImages": post_images,
            "PreEntityImages": self.images(event, step["sdkmessageprocessingstepid"], "pre"),
            "PrimaryEntityId": event.id,
            "PrimaryEntityName": event.table,
            "RequestId": None,
            "SecondaryEntityName": "none",
            "SharedVariables": [],
            "Stage": step.get("stage") or 40,
            "UserAzureActiveDirectoryObjectId": "00000000-0000-0000-0000-000000000000",
            "UserId": event.user_id,
        }
        parent = {
            **base,
            "ParentContext": None,
            "Stage": 30,
            "PostEntityImages": [],
            "PreEntityImages": [],
            "OwningExtension": base["OwningExtension"],
        }
        return {**base, "ParentContext": parent}


def serialise(context: dict[str, Any]) -> bytes:
    """JSON as Dataverse writes it: WCF dates with escaped slashes (`"\\/Date(ms)\\/"`)."""
    text = json.dumps(context, separators=(",", ":"))
    return _DATE_STRING.sub(lambda match: f'"\\/Date({match.group(1)})\\/"', text).encode()


def auth_settings(authvalue: str | None) -> dict[str, str]:
    """`<settings><setting name="k" value="v"/></settings>` (HttpHeader / HttpQueryString auth)."""
    return {html.unescape(name): html.unescape(value) for name, value in _SETTING.findall(authvalue or "")}


class WebhookDispatcher:
    """Finds steps for committed events and delivers them on a background thread."""

    def __init__(
        self,
        state_source: Callable[[], EmulatorState],
        identity: Identity,
        timeout: float = 60.0,
        retry_delay: float = 0.2,
    ) -> None:
        self.state_source = state_source
        self.identity = identity
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.deliveries: list[Delivery] = []
        self.async_operations: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[Delivery, dict[str, Any]] | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._duplicate_rate = 0.0
        self._duplicate_seed = 0
        self._duplicate_delay = 0.05
        self._duplicate_random = random.Random(0)
        self._duplicates_considered = 0
        self._duplicates_sent = 0
        self._timers: set[threading.Timer] = set()
        self._thread = threading.Thread(target=self._run, name="dataverse-webhooks", daemon=True)
        self._thread.start()

    # ---- duplicates ---------------------------------------------------------------------------
    def set_duplicates(self, rate: Any, seed: Any = 0, delay: Any = 0.05) -> None:
        """POST `rate` of deliveries twice, `delay` seconds apart, chosen by `random.Random(seed)`."""
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
            raise ValueError("delay must be between 0 and 60 seconds")
        with self._idle:
            self._duplicate_rate, self._duplicate_seed, self._duplicate_delay = (
                float(rate),
                seed,
                float(delay),
            )
            self._duplicate_random = random.Random(seed)
            self._duplicates_considered = self._duplicates_sent = 0

    def stop_duplicates(self) -> None:
        with self._idle:
            self._duplicate_rate = 0.0

    def duplicates_json(self) -> dict[str, Any]:
        with self._idle:
            return {
                "rate": self._duplicate_rate,
                "seed": self._duplicate_seed,
                "delay": self._duplicate_delay,
                "considered": self._duplicates_considered,
                "duplicated": self._duplicates_sent,
            }

    def _maybe_duplicate(self, delivery: Delivery, step: dict[str, Any]) -> None:
        # Drawn on the single worker thread, in delivery order, so a seed repeats the same choices.
        with self._idle:
            if self._duplicate_rate <= 0 or delivery.duplicate_of is not None:
                return
            self._duplicates_considered += 1
            if self._duplicate_random.random() >= self._duplicate_rate:
                return
            self._duplicates_sent += 1
            self._pending += 1
            copy = delivery.duplicate()
            timer = threading.Timer(self._duplicate_delay, self._enqueue_duplicate, (copy, step))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def _enqueue_duplicate(self, delivery: Delivery, step: dict[str, Any]) -> None:
        with self._idle:
            self._timers.discard(threading.current_thread())
        self._queue.put((delivery, step))

    # ---- matching -----------------------------------------------------------------------------
    def steps_for(self, state: EmulatorState, event: Event) -> list[dict[str, Any]]:
        matched = []
        for step in state.rows["sdkmessageprocessingstep"].values():
            if step.get("statecode") not in (0, None):
                continue
            message_ref, filter_ref = step.get("sdkmessageid"), step.get("sdkmessagefilterid")
            message = state.rows["sdkmessage"].get(message_ref.id) if isinstance(message_ref, Ref) else None
            if message is None or message.get("name") != event.message:
                continue
            if isinstance(filter_ref, Ref):
                message_filter = state.rows["sdkmessagefilter"].get(filter_ref.id) or {}
                if message_filter.get("primaryobjecttypecode") != event.table:
                    continue
            if event.message == "Update" and step.get("filteringattributes"):
                wanted = {name.strip().lower() for name in step["filteringattributes"].split(",")}
                changed = set(event.target) - {"modifiedon", state.tables[event.table].primary_id}
                if not wanted & changed:
                    continue
            matched.append(step)
        return sorted(matched, key=lambda step: step.get("rank") or 0)

    def on_commit(self, events: list[Event]) -> None:
        state = self.state_source()
        with state.lock:
            prepared: list[tuple[Delivery, dict[str, Any]]] = []
            for event in events:
                for step in self.steps_for(state, event):
                    item = self._prepare(state, event, step)
                    if item is not None:
                        prepared.append(item)
        for delivery, step in prepared:
            with self._idle:
                self._pending += 1
            self._queue.put((delivery, step))

    def _prepare(
        self, state: EmulatorState, event: Event, step: dict[str, Any]
    ) -> tuple[Delivery, dict[str, Any]] | None:
        handler = step.get("eventhandler")
        endpoint = state.rows["serviceendpoint"].get(handler.id) if isinstance(handler, Ref) else None
        if endpoint is None or endpoint.get("contract") != WEBHOOK_CONTRACT or not endpoint.get("url"):
            return None
        context = ContextBuilder(state, self.identity).context(event, step)
        body = serialise(context)
        headers = {
            "Content-Type": "application/json",
            "x-ms-dynamics-organization": self.identity.organization_domain,
            "x-ms-dynamics-entity-name": event.table,
            "x-ms-dynamics-request-name": event.message,
            "x-ms-correlation-request-id": event.correlation_id,
        }
        if len(body) > SIZE_LIMIT:
            for key in ("InputParameters", "PreEntityImages", "PostEntityImages", "ParentContext"):
                context.pop(key, None)
            body = serialise(context)
            headers[SIZE_EXCEEDED_HEADER] = "true"
        url = str(endpoint["url"])
        auth_type, auth_value = endpoint.get("authtype"), endpoint.get("authvalue")
        query: dict[str, str] = {}
        if auth_type == AUTH_WEBHOOK_KEY and auth_value:
            query["code"] = str(auth_value)
        elif auth_type == AUTH_QUERY_STRING:
            query.update(auth_settings(auth_value))
        elif auth_type == AUTH_HTTP_HEADER:
            headers.update(auth_settings(auth_value))
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        delivery = Delivery(
            step["sdkmessageprocessingstepid"],
            str(step.get("name")),
            event.message,
            event.table,
            event.id,
            url,
            headers,
            body,
            SIZE_EXCEEDED_HEADER in headers,
        )
        return delivery, dict(step)

    # ---- delivery -----------------------------------------------------------------------------
    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                delivery, step = item
                try:
                    self._deliver(client, delivery, step)
                    self._maybe_duplicate(delivery, step)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()

    def _deliver(self, client: httpx.Client, delivery: Delivery, step: dict[str, Any]) -> None:
        for attempt in (1, 2):  # "the WebHook service will make one more attempt" on 502/503/504
            delivery.attempts = attempt
            delivery.sent_at = datetime.now(UTC)
            try:
                response = client.post(delivery.url, content=delivery.body, headers=delivery.headers)
                delivery.status_code, delivery.error = response.status_code, None
            except httpx.HTTPError as exc:
                delivery.status_code, delivery.error = None, f"{type(exc).__name__}: {exc}"
                break
            if response.status_code not in RETRY_STATUSES or attempt == 2:
                break
            threading.Event().wait(self.retry_delay)
        self.deliveries.append(delivery)
        if not delivery.ok or not step.get("asyncautodelete"):
            self.async_operations.append(
                {
                    "asyncoperationid": str(uuid.uuid4()),
                    "name": delivery.step_name,
                    "operationtype": 1,
                    "statecode": 3,
                    "statuscode": 30 if delivery.ok else 31,
                    "errorcode": None if delivery.ok else -2147220970,
                    "friendlymessage": None if delivery.ok else "Webhook delivery failed",
                    "message": delivery.error or (None if delivery.ok else f"HTTP {delivery.status_code}"),
                    "_owningextensionid_value": delivery.step_id,
                    "regardingobjectid": delivery.record_id,
                    "completedon": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has been attempted; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def clear(self) -> None:
        self.deliveries.clear()
        self.async_operations.clear()
        with self._idle:
            self._duplicates_considered = self._duplicates_sent = 0

    def close(self) -> None:
        with self._idle:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        self._queue.put(None)
