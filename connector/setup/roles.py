"""C5: the two security roles. "Xero Connector – Integration" holds exactly what the connector's own
Web API calls need; "Xero Connector – Finance" lets finance users follow the sync and retry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from connector.adapters.dataverse.client import DataverseClient
from connector.adapters.dataverse.http import odata_string
from connector.adapters.dataverse.schema import ConnectorSchema
from connector.setup.components import CustomizationReport, stable_id

INTEGRATION_ROLE = "Xero Connector – Integration"
FINANCE_ROLE = "Xero Connector – Finance"
DEPTH = "Global"  # organization: the connector reaches every invoice, whoever owns it
# Privilege base names of standard tables (prv<Right><base>); custom tables use their SchemaName.
BASE_NAMES = {
    "account": "Account",
    "contact": "Contact",
    "invoice": "Invoice",
    "product": "Product",
    "transactioncurrency": "TransactionCurrency",
    "serviceendpoint": "ServiceEndpoint",
    "sdkmessage": "SdkMessage",
    "sdkmessagefilter": "SdkMessageFilter",
    "sdkmessageprocessingstep": "SdkMessageProcessingStep",
    "sdkmessageprocessingstepimage": "SdkMessageProcessingStepImage",
}
PRIVILEGES_PER_QUERY = 15  # names per $filter, to keep the URL short
REFERENCE_KEYS = ("tax_type", "account_code", "branding_theme", "tracking_category", "tracking_option")


@dataclass(frozen=True)
class Grant:
    table: str  # logical name
    rights: tuple[str, ...]  # Create Read Write Delete Append AppendTo
    why: str


# What the connector's own calls do to each table (connector/adapters/dataverse/*, and webhook registration
# in connector/setup/webhooks.py). Nothing is ever deleted. Keys are schema table keys or standard tables.
TABLE_RIGHTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("invoice", ("Read", "Write"), "snapshots and sweeps read invoices and their lines; totals, state, "
     "Date Delivered and the connection are written"),
    ("product", ("Read",), "invoice lines expand their product"),
    ("transactioncurrency", ("Read",), "invoices expand their currency"),
    ("account", ("Read", "Write"), "the customer is read; the Xero contact id and balances are written"),
    ("contact", ("Read", "Write"), "the customer is read; the Xero contact id and balances are written"),
    ("connection", ("Create", "Read", "Write"), "connect creates it; every handler reads it; the default "
     "flag, reconnect state and defaults are written"),
    ("xero_details", ("Create", "Read", "Write"), "created by a create-only upsert, claimed, written back"),
    ("sync_history", ("Create", "Read"), "one row per attempt; the admin console reads them"),
    *((key, ("Create", "Read", "Write"), "imported from Xero by key (upsert), read to validate invoices")
      for key in REFERENCE_KEYS),
    ("serviceendpoint", ("Create", "Read", "Write"), "register-webhooks creates or rewrites the endpoint"),
    ("sdkmessage", ("Read",), "register-webhooks finds the messages"),
    ("sdkmessagefilter", ("Read",), "register-webhooks finds the message filters"),
    ("sdkmessageprocessingstep", ("Create", "Read", "Write"), "register-webhooks creates or updates steps"),
    ("sdkmessageprocessingstepimage", ("Create", "Read", "Write"), "register-webhooks adds step images"),
)  # fmt: skip
# The lookups the connector's writes set (`nav@odata.bind`): each needs Append on the table holding the
# lookup and AppendTo on the table it points at. The step lookups of webhook registration are left out:
# the platform's sdk tables have no Append privileges.
BOUND_LOOKUPS = (
    "invoice_connection",
    "details_invoice",
    "details_connection",
    "history_invoice",
    "history_connection",
    *(f"{key}_connection" for key in REFERENCE_KEYS),
    "tracking_option_category",
    "connection_default_sales_account",
    "connection_default_purchase_account",
    "connection_default_branding_theme",
    "connection_default_tracking_1",
    "connection_default_tracking_2",
)


def integration_grants(schema: ConnectorSchema) -> list[Grant]:
    """The rights of TABLE_RIGHTS, plus Append / AppendTo for every lookup in BOUND_LOOKUPS, for the
    tables and lookups this schema has."""
    tables = _custom_tables(schema)
    rights: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for key, table_rights, why in TABLE_RIGHTS:
        if key in CUSTOM_KEYS and key not in tables:
            continue
        table = tables.get(key, key)
        rights.setdefault(table, []).extend(table_rights)
        reasons[table] = why
    for key in BOUND_LOOKUPS:
        try:
            lookup = schema.lookup(key)
        except KeyError:
            continue
        rights.setdefault(lookup.referencing, []).append("Append")
        rights.setdefault(lookup.referenced, []).append("AppendTo")
    order = ("Create", "Read", "Write", "Append", "AppendTo")
    return [
        Grant(table, tuple(r for r in order if r in held), reasons.get(table, "lookups point at it"))
        for table, held in rights.items()
    ]


CUSTOM_KEYS = ("connection", "xero_details", "sync_history", *REFERENCE_KEYS)


def _custom_tables(schema: ConnectorSchema) -> dict[str, str]:
    """Table key → logical name, for the connector's tables this schema has."""
    found = {}
    for key in CUSTOM_KEYS:
        try:
            found[key] = schema.table(key).logical_name
        except KeyError:
            continue
    return found


def finance_grants(schema: ConnectorSchema) -> list[Grant]:
    t = _custom_tables(schema)
    grants = [
        Grant(t["xero_details"], ("Read", "Write"), "follow exports; set Export status to retry (the form "
              "keeps the other columns read-only)"),
        Grant(t["sync_history"], ("Read",), "see what happened"),
        Grant(t["connection"], ("Read",), "see which connection an invoice uses"),
    ]  # fmt: skip
    for key in REFERENCE_KEYS:
        if key in t:
            grants.append(Grant(t[key], ("Read",), "the Xero tab and line form show these lookups"))
    return grants


def privilege_names(schema: ConnectorSchema, grants: Iterable[Grant]) -> list[str]:
    schema_names = {table.logical_name: table.schema_name for table in schema.tables}
    names = []
    for grant in grants:
        base = BASE_NAMES.get(grant.table) or schema_names[grant.table]
        names += [f"prv{right}{base}" for right in grant.rights]
    return sorted(set(names))


@dataclass(frozen=True)
class RoleSpec:
    name: str
    grants: tuple[Grant, ...]

    def role_id(self, schema: ConnectorSchema) -> UUID:
        return stable_id(schema.prefix, "role", self.name)


def role_specs(schema: ConnectorSchema) -> list[RoleSpec]:
    return [
        RoleSpec(INTEGRATION_ROLE, tuple(integration_grants(schema))),
        RoleSpec(FINANCE_ROLE, tuple(finance_grants(schema))),
    ]


class RoleWriter:
    """Creates the roles in the root business unit and adds what they lack. Privileges someone added
    are reported, and removed only with `force`."""

    def __init__(
        self, client: DataverseClient, solution: str, force: bool, report: CustomizationReport
    ) -> None:
        self.client = client
        self.headers = {"MSCRM.SolutionUniqueName": solution}
        self.force = force
        self.report = report

    async def _privilege_ids(self, names: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(names), PRIVILEGES_PER_QUERY):
            chunk = names[start : start + PRIVILEGES_PER_QUERY]
            where = " or ".join(f"name eq {odata_string(name)}" for name in chunk)
            rows = await self.client.get_json("privileges", {"$select": "privilegeid,name", "$filter": where})
            found.update({row["name"]: row["privilegeid"] for row in rows["value"]})
        missing = sorted(set(names) - set(found))
        if missing:
            raise LookupError(f"Dataverse has no privilege {', '.join(missing)}: provision the schema first")
        return found

    async def _root_business_unit(self) -> str:
        params = {"$select": "businessunitid", "$filter": "_parentbusinessunitid_value eq null"}
        rows = (await self.client.get_json("businessunits", params))["value"]
        if not rows:
            raise LookupError("Dataverse has no root business unit")
        return str(rows[0]["businessunitid"])

    async def _find_role(self, spec: RoleSpec, unit: str) -> str | None:
        params = {
            "$select": "roleid",
            "$filter": f"name eq {odata_string(spec.name)} and _businessunitid_value eq {unit}",
        }
        rows = (await self.client.get_json("roles", params))["value"]
        return str(rows[0]["roleid"]) if rows else None

    async def ensure(self, spec: RoleSpec, unit: str) -> str:
        schema = self.client.schema
        label = f"role {spec.name}"
        role_id = await self._find_role(spec, unit)
        created = role_id is None
        if role_id is None:
            role_id = str(spec.role_id(schema))
            body = {
                "roleid": role_id,
                "name": spec.name,
                "businessunitid@odata.bind": f"/businessunits({unit})",
            }
            await self.client.transport.send("POST", "roles", json_body=body, headers=self.headers)
        wanted = await self._privilege_ids(privilege_names(schema, spec.grants))
        held = await self.role_privileges(role_id)
        missing = [pid for name, pid in wanted.items() if held.get(name, ("", ""))[1] != DEPTH]
        extra = {name: pid for name, (pid, _) in held.items() if name not in wanted}
        if missing:
            privileges = [{"PrivilegeId": pid, "Depth": DEPTH} for pid in missing]
            await self._call(role_id, "AddPrivilegesRole", {"Privileges": privileges})
        if extra and self.force:
            for pid in extra.values():
                await self._call(role_id, "RemovePrivilegeRole", {"PrivilegeId": pid})
        elif extra:
            self.report.notes.append(
                f"{label} also holds {', '.join(sorted(extra))}, which the connector does not need "
                "(--force removes them)"
            )
        self._report(label, created, len(missing), len(extra) if self.force else 0)
        return role_id

    def _report(self, label: str, created: bool, added: int, removed: int) -> None:
        if created:
            self.report.created.append(f"{label} ({added} privileges)")
        elif added or removed:
            self.report.updated.append(f"{label} (+{added} −{removed} privileges)")
        else:
            self.report.unchanged.append(label)

    async def _call(self, role_id: str, action: str, body: dict[str, Any]) -> None:
        path = f"roles({role_id})/Microsoft.Dynamics.CRM.{action}"
        await self.client.transport.send("POST", path, json_body=body, headers=self.headers)

    async def role_privileges(self, role_id: str) -> dict[str, tuple[str, str]]:
        """Privilege name → (id, depth) the role holds now."""
        path = f"roles({role_id})/Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRole()"
        rows = (await self.client.get_json(path))["RolePrivileges"]
        return {str(row["PrivilegeName"]): (str(row["PrivilegeId"]), str(row["Depth"])) for row in rows}

    async def run(self) -> dict[str, str]:
        """Role name → role id."""
        unit = await self._root_business_unit()
        return {spec.name: await self.ensure(spec, unit) for spec in role_specs(self.client.schema)}


async def find_user(client: DataverseClient, user: str) -> str:
    """A systemuser by id, by application (client) id, or by full name."""
    try:
        wanted = str(UUID(user))
    except ValueError:
        where = f"fullname eq {odata_string(user)}"
    else:
        where = f"systemuserid eq {wanted} or applicationid eq {wanted}"
    rows = (await client.get_json("systemusers", {"$select": "systemuserid,fullname", "$filter": where}))[
        "value"
    ]
    if len(rows) != 1:
        found = ", ".join(str(row.get("fullname")) for row in rows) or "none"
        raise LookupError(f"expected one Dataverse user matching {user!r}, found {found}")
    return str(rows[0]["systemuserid"])


async def assign_role(client: DataverseClient, user: str, role_id: str) -> tuple[str, bool]:
    """Give the user the role (systemuserroles_association). Returns (user id, whether it was new)."""
    user_id = await find_user(client, user)
    path = f"systemusers({user_id})/systemuserroles_association"
    held = await client.get_json(path, {"$select": "roleid", "$filter": f"roleid eq {role_id}"})
    if held["value"]:
        return user_id, False
    body = {"@odata.id": f"{client.transport.api_url}roles({role_id})"}
    await client.transport.send("POST", f"{path}/$ref", json_body=body)
    return user_id, True
