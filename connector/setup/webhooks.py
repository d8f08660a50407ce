"""C6: register the Dataverse webhook (service endpoint + steps) for invoices, their Xero details and the
connections' "Is default". Idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import odata_string

WEBHOOK_CONTRACT = 8
AUTH_WEBHOOK_KEY = 4  # the key travels as ?code= in every webhook URL (and so in HTTP logs)
AUTH_HTTP_HEADER = 5  # the secret travels in a header: the default
STAGE_POST_OPERATION = 40
MODE_ASYNC = 1
IMAGE_PRE = 0
IMAGE_POST = 1
# The message property an image is taken from: Id for Create, Target for Update and Delete.
IMAGE_PROPERTY = {"Create": "Id"}
# What can make an unsynced invoice eligible or change what is sent. Not duedate or totaltax: the
# connector writes Xero's figures there (I7), and each such write would come back as a webhook of its own.
# Changes to a synced invoice travel through export status "Ready to update" (the Xero details step).
STANDARD_UPDATE_COLUMNS = (
    "name",
    "invoicenumber",
    "description",
    "datedelivered",
    "customerid",
    "transactioncurrencyid",
    "totalamount",
    "statecode",
    "statuscode",
)
DELETE_IMAGE_COLUMNS = ("name", "invoicenumber", "customerid", "totalamount", "statecode", "statuscode")


@dataclass(frozen=True)
class EndpointAuth:
    type: int
    value: str


def header_auth(header: str, secret: str) -> EndpointAuth:
    """HttpHeader auth: Dataverse's <settings> list of the headers to send with every webhook."""
    setting = f'<setting name="{escape(header, quote=True)}" value="{escape(secret, quote=True)}" />'
    return EndpointAuth(AUTH_HTTP_HEADER, f"<settings>{setting}</settings>")


@dataclass(frozen=True)
class StepSpec:
    message: str
    filtering_attributes: str | None = None
    pre_image: str | None = None  # comma-separated columns
    post_image: str | None = None
    entity: str = "invoice"

    def name(self, endpoint: str) -> str:
        return f"{endpoint}: {self.message} of {self.entity}"


@dataclass
class RegistrationReport:
    endpoint_id: UUID | None = None
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def invoice_steps(client: DataverseClient) -> list[StepSpec]:
    s = client.schema
    # Not the connection lookup: the sync path itself sets it on new invoices, and a step on it would
    # answer every such write with a webhook of its own (a connection changed later is caught by the sweep).
    custom = (
        s.p("invoicetype"),
        s.p("lineamounttypes"),
        s.lookup("invoice_branding_theme").logical_name,
    )
    return [
        StepSpec("Create"),
        StepSpec("Update", ",".join((*STANDARD_UPDATE_COLUMNS, *custom))),
        StepSpec("SetState"),
        StepSpec("SetStateDynamicEntity"),
        StepSpec(
            "Delete", pre_image=",".join((*DELETE_IMAGE_COLUMNS, s.lookup("invoice_connection").logical_name))
        ),
        # I10: setting export status back to "No" (or to "Ready to update") retries at once. The post
        # image carries the invoice, which the changed columns alone do not.
        StepSpec(
            "Update",
            filtering_attributes=s.p("exportstatus"),
            post_image=",".join((s.p("exportstatus"), s.lookup("details_invoice").logical_name)),
            entity=s.table("xero_details").logical_name,
        ),
    ]


def connection_steps(client: DataverseClient) -> list[StepSpec]:
    """C1: "Is default" set on a connection in Dynamics (on an existing record, or on a new one) clears it
    on the others. The post image carries the column, so only a connection made default costs a message."""
    is_default = client.schema.p("isdefault")
    table = client.schema.table("connection").logical_name
    return [
        StepSpec("Update", filtering_attributes=is_default, post_image=is_default, entity=table),
        StepSpec("Create", post_image=is_default, entity=table),
    ]


class WebhookRegistrar:
    def __init__(self, client: DataverseClient, name: str = "xero-connector") -> None:
        self.client = client
        self.name = name

    async def _one(self, entity_set: str, params: dict[str, str]) -> dict[str, Any] | None:
        rows = (await self.client.get_json(entity_set, {**params, "$top": "1"}))["value"]
        return rows[0] if rows else None

    async def _create(self, entity_set: str, body: dict[str, Any], id_column: str) -> UUID:
        response = await self.client.transport.send(
            "POST",
            entity_set,
            json_body=body,
            headers={"Prefer": "return=representation"},
            params={"$select": id_column},
        )
        return UUID(str(response.json()[id_column]))

    async def _ensure_endpoint(self, url: str, auth: EndpointAuth, report: RegistrationReport) -> UUID:
        body = {
            "name": self.name,
            "url": url,
            "contract": WEBHOOK_CONTRACT,
            "authtype": auth.type,
            "authvalue": auth.value,
            "messageformat": 2,
        }
        existing = await self._one(
            "serviceendpoints",
            {
                "$select": "serviceendpointid,url,authtype,contract",
                "$filter": f"contract eq {WEBHOOK_CONTRACT} and name eq {odata_string(self.name)}",
            },
        )
        if existing is None:
            report.created.append(f"service endpoint {self.name}")
            return await self._create("serviceendpoints", body, "serviceendpointid")
        endpoint_id = UUID(existing["serviceendpointid"])
        # authvalue cannot be read back, so it is always rewritten (the key may have been rotated).
        await self.client.transport.send(
            "PATCH", f"serviceendpoints({endpoint_id})", json_body=body, headers={"If-Match": "*"}
        )
        report.updated.append(f"service endpoint {self.name}")
        return endpoint_id

    async def _message_ids(self, message: str, entity: str) -> tuple[str, str]:
        found = await self._one(
            "sdkmessages", {"$select": "sdkmessageid", "$filter": f"name eq {odata_string(message)}"}
        )
        message_filter = await self._one(
            "sdkmessagefilters",
            {
                "$select": "sdkmessagefilterid",
                "$filter": f"primaryobjecttypecode eq {odata_string(entity)} and "
                f"sdkmessageid/name eq {odata_string(message)}",
            },
        )
        if found is None or message_filter is None:
            raise LookupError(f"Dataverse has no sdkmessage/filter for {message} of {entity}")
        return found["sdkmessageid"], message_filter["sdkmessagefilterid"]

    async def _ensure_step(self, endpoint_id: UUID, spec: StepSpec, report: RegistrationReport) -> None:
        name = spec.name(self.name)
        message_id, filter_id = await self._message_ids(spec.message, spec.entity)
        body: dict[str, Any] = {
            "name": name,
            "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({endpoint_id})",
            "sdkmessageid@odata.bind": f"/sdkmessages({message_id})",
            "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({filter_id})",
            "stage": STAGE_POST_OPERATION,
            "mode": MODE_ASYNC,
            "rank": 1,
            "supporteddeployment": 0,
            "asyncautodelete": True,
            "filteringattributes": spec.filtering_attributes,
        }
        existing = await self._one(
            "sdkmessageprocessingsteps",
            {
                "$select": "sdkmessageprocessingstepid,filteringattributes,stage,mode,_eventhandler_value",
                "$filter": f"name eq {odata_string(name)} and _eventhandler_value eq {endpoint_id}",
            },
        )
        if existing is None:
            step_id = await self._create("sdkmessageprocessingsteps", body, "sdkmessageprocessingstepid")
            report.created.append(f"step {name}")
        else:
            step_id = UUID(existing["sdkmessageprocessingstepid"])
            if (existing.get("filteringattributes") or None) != spec.filtering_attributes or existing.get(
                "mode"
            ) != MODE_ASYNC:
                await self.client.transport.send(
                    "PATCH",
                    f"sdkmessageprocessingsteps({step_id})",
                    json_body=body,
                    headers={"If-Match": "*"},
                )
                report.updated.append(f"step {name}")
            else:
                report.unchanged.append(f"step {name}")
        if spec.pre_image:
            await self._ensure_image(step_id, spec, "PreImage", IMAGE_PRE, spec.pre_image, report)
        if spec.post_image:
            await self._ensure_image(step_id, spec, "PostImage", IMAGE_POST, spec.post_image, report)

    async def _ensure_image(
        self,
        step_id: UUID,
        spec: StepSpec,
        alias: str,
        image_type: int,
        columns: str,
        report: RegistrationReport,
    ) -> None:
        body = {
            "name": alias,
            "entityalias": alias,
            "imagetype": image_type,
            "messagepropertyname": IMAGE_PROPERTY.get(spec.message, "Target"),
            "attributes": columns,
            "sdkmessageprocessingstepid@odata.bind": f"/sdkmessageprocessingsteps({step_id})",
        }
        existing = await self._one(
            "sdkmessageprocessingstepimages",
            {
                "$select": "sdkmessageprocessingstepimageid,attributes",
                "$filter": (
                    f"_sdkmessageprocessingstepid_value eq {step_id} and entityalias eq {odata_string(alias)}"
                ),
            },
        )
        what = f"{alias} of {spec.name(self.name)}"
        if existing is None:
            await self._create("sdkmessageprocessingstepimages", body, "sdkmessageprocessingstepimageid")
            report.created.append(what)
        elif existing.get("attributes") != columns:
            image_id = existing["sdkmessageprocessingstepimageid"]
            await self.client.transport.send(
                "PATCH",
                f"sdkmessageprocessingstepimages({image_id})",
                json_body=body,
                headers={"If-Match": "*"},
            )
            report.updated.append(what)
        else:
            report.unchanged.append(what)

    async def run(self, url: str, key: str, *, header: str | None = None) -> RegistrationReport:
        """With `header`, Dataverse sends the secret in that HTTP header; without, as WebhookKey (?code=)."""
        report = RegistrationReport()
        auth = header_auth(header, key) if header else EndpointAuth(AUTH_WEBHOOK_KEY, key)
        report.endpoint_id = await self._ensure_endpoint(url, auth, report)
        for spec in (*invoice_steps(self.client), *connection_steps(self.client)):
            await self._ensure_step(report.endpoint_id, spec, report)
        return report
