"""Security roles and privileges: the businessunit, role, privilege and intersect tables, the role
messages (AddPrivilegesRole, ReplacePrivilegesRole, RemovePrivilegeRole, RetrieveRolePrivilegesRole),
role assignment (`systemuserroles_association`), and the privilege check every Web API request of a
user who is not a System Administrator passes. README "Security roles and privileges" cites sources.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from devstack.dataverse import metadata as md
from devstack.dataverse.query import QueryOptions
from devstack.dataverse.store import EmulatorState, ODataError, Ref, Transaction

if TYPE_CHECKING:
    from devstack.dataverse.webapi import ApiRequest

# AccessRights (SDK enum) and PrivilegeDepthMask (roleprivileges.privilegedepthmask).
ACCESS_RIGHTS = {
    "Read": 1,
    "Write": 2,
    "Append": 4,
    "AppendTo": 16,
    "Create": 32,
    "Delete": 65536,
    "Share": 262144,
    "Assign": 524288,
}
DEPTH_MASKS = {"Basic": 1, "Local": 2, "Deep": 4, "Global": 8}
DEPTH_NAMES = {mask: name for name, mask in DEPTH_MASKS.items()}
PRIVILEGE_DENIED = "0x80040220"  # PrivilegeDenied (Web service error codes)
INVALID_PRIVILEGE_DEPTH = "0x8004140b"  # InvalidPrivilegeDepth
INVALID_ARGUMENT = "0x80040203"  # assumed: the code for a bad argument to a message
SYSTEM_ADMINISTRATOR_ROLE_ID = "5ad0e000-0000-4000-8000-00000000ad01"
_NAMESPACE = uuid.UUID("c8b1e1f0-5d2a-4c3e-9f4b-7a6d5e4c3b2a")
_ALL_RIGHTS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo")
# Privilege base names of the standard tables ("prvRead" + base); custom tables use their SchemaName.
BASE_NAMES = {
    "account": "Account",
    "contact": "Contact",
    "invoice": "Invoice",
    "product": "Product",
    "pricelevel": "PriceLevel",
    "transactioncurrency": "TransactionCurrency",
    "systemuser": "User",
    "businessunit": "BusinessUnit",
    "serviceendpoint": "ServiceEndpoint",
    "sdkmessage": "SdkMessage",
    "sdkmessagefilter": "SdkMessageFilter",
    "sdkmessageprocessingstep": "SdkMessageProcessingStep",
    "sdkmessageprocessingstepimage": "SdkMessageProcessingStepImage",
    "systemform": "SystemForm",
    "savedquery": "Query",
    "role": "Role",
}
# Which rights a table's privileges cover when its ownership does not say it all (assumed).
RIGHTS_BY_TABLE: dict[str, tuple[str, ...]] = {
    "sdkmessage": ("Read",),
    "sdkmessagefilter": ("Read",),
    "serviceendpoint": ("Create", "Read", "Write", "Delete"),
    "sdkmessageprocessingstep": ("Create", "Read", "Write", "Delete"),
    "sdkmessageprocessingstepimage": ("Create", "Read", "Write", "Delete"),
    "systemform": ("Create", "Read", "Write", "Delete"),
    "savedquery": ("Create", "Read", "Write", "Delete"),
    "businessunit": ("Create", "Read", "Write", "Delete", "Append", "AppendTo"),
}
# Tables with no privileges of their own: their checks go to another table (assumed, see README).
PARENTAL = {
    "invoicedetail": "invoice",
    "privilege": "role",
    "roleprivileges": "role",
    "systemuserroles": "role",
}
PARENTAL_RIGHT = {"Create": "Write", "Delete": "Write"}
# Privileges that belong to no table: customization and role assignment (global only).
MISC_PRIVILEGES = (
    "prvReadEntity",
    "prvCreateEntity",
    "prvWriteEntity",
    "prvReadAttribute",
    "prvCreateAttribute",
    "prvWriteAttribute",
    "prvReadRelationship",
    "prvCreateRelationship",
    "prvReadOptionSet",
    "prvCreateOptionSet",
    "prvPublishCustomizations",
    "prvAssignRole",
)
READ_ONLY_TABLES = frozenset({"privilege", "roleprivileges", "systemuserroles"})
ROLE_OPERATIONS = frozenset(
    {"AddPrivilegesRole", "ReplacePrivilegesRole", "RemovePrivilegeRole", "RetrieveRolePrivilegesRole"}
)
_FILTER_NAV = re.compile(r"\b([A-Za-z_]\w*)/")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class Need:
    """One privilege a request needs; `table` is None for privileges of no table."""

    privilege: str
    table: str | None = None
    right: str = ""


def privilege_name(state: EmulatorState, table: str, right: str) -> tuple[str, str]:
    """The privilege checked for `right` on `table`, and the table it belongs to."""
    if table in PARENTAL:
        return privilege_name(state, PARENTAL[table], PARENTAL_RIGHT.get(right, right))
    definition = state.tables[table]
    base = BASE_NAMES.get(table) or definition.schema_name or table
    return f"prv{right}{base}", table


def _rights_and_depths(table: md.Table) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if table.logical_name in PARENTAL:
        return (), ()
    if table.ownership == "UserOwned":
        return (*_ALL_RIGHTS, "Assign", "Share"), ("Basic", "Local", "Deep", "Global")
    rights = RIGHTS_BY_TABLE.get(table.logical_name, _ALL_RIGHTS)
    if table.ownership == "BusinessOwned":
        return rights, ("Local", "Deep", "Global")
    return rights, ("Global",)  # organization-owned tables have organization-level privileges only


def put_row(state: EmulatorState, table: str, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
    definition = state.tables[table]
    now = datetime.now(UTC)
    row: dict[str, Any] = dict.fromkeys(definition.attributes)
    row.update({definition.primary_id: row_id, "createdon": now, "modifiedon": now})
    row["versionnumber"] = state.next_version()
    row.update(values)
    state.rows[table][row_id] = row
    return row


def add_table_privileges(state: EmulatorState, table: md.Table) -> None:
    """The privileges Dataverse creates with a table: one per access right, depths by ownership."""
    rights, depths = _rights_and_depths(table)
    for right in rights:
        name, _ = privilege_name(state, table.logical_name, right)
        _add_privilege(state, name, ACCESS_RIGHTS[right], depths)


def _add_privilege(state: EmulatorState, name: str, access: int, depths: Iterable[str]) -> None:
    allowed = set(depths)
    values = {
        "name": name,
        "accessright": access,
        **{f"canbe{depth.lower()}": depth in allowed for depth in DEPTH_MASKS},
        "canbeentityreference": False,
        "canbeparententityreference": False,
    }
    put_row(state, "privilege", stable_id("privilege", name), values)


def _intersect_table(logical: str, entity_set: str, columns: dict[str, str]) -> md.Table:
    primary = logical.removesuffix("s") + "id"
    table = md.Table(logical, entity_set, primary, primary, schema_name=logical, ownership="None")
    table.add(md.Attribute(primary, md.UNIQUEID, read_only=True))
    for name, kind in {**columns, "createdon": md.DATETIME, "modifiedon": md.DATETIME}.items():
        table.add(md.Attribute(name, kind, read_only=name in {"createdon", "modifiedon"}))
    table.add(md.Attribute("versionnumber", md.BIGINT, read_only=True))
    return table


def security_tables() -> list[md.Table]:
    unit = md.make_table(
        "businessunit",
        "businessunits",
        "name",
        {"divisionname": md.STRING, "isdisabled": md.BOOLEAN},
        {"parentbusinessunitid": {"parentbusinessunitid": "businessunit"}},
        state=False,
    )
    role = md.make_table(
        "role",
        "roles",
        "name",
        {"isinherited": md.PICKLIST, "ismanaged": md.BOOLEAN},
        {"businessunitid": {"businessunitid": "businessunit"}},
        state=False,
        choices={
            "isinherited": {
                0: "Team privileges only",
                1: "Direct User (Basic) access level and Team privileges",
            }
        },
    )
    role.attributes["ismanaged"].read_only = True
    privilege = md.make_table(
        "privilege",
        "privileges",
        "name",
        {
            "accessright": md.INTEGER,
            **dict.fromkeys(
                ("canbebasic", "canbelocal", "canbedeep", "canbeglobal", "canbeentityreference"), md.BOOLEAN
            ),
            "canbeparententityreference": md.BOOLEAN,
        },
        state=False,
    )
    role_privileges = _intersect_table(
        "roleprivileges",
        "roleprivilegescollection",
        {"roleid": md.UNIQUEID, "privilegeid": md.UNIQUEID, "privilegedepthmask": md.INTEGER},
    )
    user_roles = _intersect_table(
        "systemuserroles", "systemuserrolescollection", {"systemuserid": md.UNIQUEID, "roleid": md.UNIQUEID}
    )
    assign = "systemuserroles_association"
    role.many_navs[assign] = md.ManyToManyNavigation(
        assign, "systemuser", "systemuserroles", "roleid", "systemuserid"
    )
    grants = "roleprivileges_association"
    role.many_navs[grants] = md.ManyToManyNavigation(
        grants, "privilege", "roleprivileges", "roleid", "privilegeid"
    )
    privilege.many_navs[grants] = md.ManyToManyNavigation(
        grants, "role", "roleprivileges", "privilegeid", "roleid"
    )
    tables = [unit, role, privilege, role_privileges, user_roles]
    for table in tables:
        table.object_type_code = md.STANDARD_OBJECT_TYPE_CODES.get(table.logical_name)
        table.ownership = md.STANDARD_OWNERSHIP.get(table.logical_name, table.ownership)
    return tables


def install(
    state: EmulatorState, business_unit_id: str, organization_name: str, admins: Iterable[str]
) -> None:
    """Tables, every table's privileges, the root business unit and System Administrator, held by
    `admins` (the connector's application user; seeded users get it too)."""
    for table in security_tables():
        state.add_table(table)
    user = state.tables["systemuser"]
    user.add(md.Attribute("businessunitid", md.LOOKUP, targets=("businessunit",)))
    user.single_navs["businessunitid"] = md.SingleNavigation(
        "businessunitid", "businessunitid", "businessunit"
    )
    assign = "systemuserroles_association"
    user.many_navs[assign] = md.ManyToManyNavigation(
        assign, "role", "systemuserroles", "systemuserid", "roleid"
    )
    for table in list(state.tables.values()):
        add_table_privileges(state, table)
    for name in MISC_PRIVILEGES:
        _add_privilege(state, name, 0, ("Global",))
    put_row(state, "businessunit", business_unit_id, {"name": organization_name})
    unit = Ref("businessunit", business_unit_id)
    put_row(
        state, "role", SYSTEM_ADMINISTRATOR_ROLE_ID, {"name": "System Administrator", "businessunitid": unit}
    )
    for user_id in admins:
        grant_role(state, None, user_id, SYSTEM_ADMINISTRATOR_ROLE_ID)
    state.before_write.append(_before_write)
    state.after_write.append(_after_write)


def grant_role(state: EmulatorState, tx: Transaction | None, user_id: str, role_id: str) -> bool:
    """Assign a role; False when the user already holds it."""
    rows = state.rows["systemuserroles"]
    if any(r["systemuserid"] == user_id and r["roleid"] == role_id for r in rows.values()):
        return False
    row_id = stable_id("systemuserroles", user_id, role_id)
    if tx is not None:
        tx.remember("systemuserroles", row_id)
    put_row(state, "systemuserroles", row_id, {"systemuserid": user_id, "roleid": role_id})
    user = state.rows["systemuser"].get(user_id)
    if user is not None and user.get("businessunitid") is None:
        user["businessunitid"] = state.rows["role"][role_id].get("businessunitid")
    return True


def _before_write(
    state: EmulatorState,
    tx: Transaction,
    table: str,
    row_id: str,
    row: dict[str, Any],
    pre: dict[str, Any] | None,
) -> None:
    if table == "role" and row and pre is None and not isinstance(row.get("businessunitid"), Ref):
        raise ODataError(400, "A security role needs a business unit (businessunitid).", INVALID_ARGUMENT)
    if table == "role" and not row and row_id == SYSTEM_ADMINISTRATOR_ROLE_ID:
        raise ODataError(400, "The System Administrator role cannot be deleted.", INVALID_ARGUMENT)


def _after_write(
    state: EmulatorState,
    tx: Transaction,
    table: str,
    row_id: str,
    row: dict[str, Any],
    pre: dict[str, Any] | None,
) -> None:
    """Deleting a role, user or privilege removes its intersect rows, as disassociation does."""
    columns = {"role": ("roleid",), "systemuser": ("systemuserid",), "privilege": ("privilegeid",)}.get(table)
    if row or columns is None:
        return
    for intersect in ("roleprivileges", "systemuserroles"):
        rows = state.rows[intersect]
        for key in [k for k, r in rows.items() if any(r.get(c) == row_id for c in columns)]:
            tx.remember(intersect, key)
            del rows[key]


@dataclass
class Check:
    user: str
    privilege: str
    allowed: bool
    method: str
    path: str


class Security:
    """The privilege check, and the checks made so far (for tests: which privileges a run used)."""

    MAX_CHECKS = 200_000

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.checks.clear()

    def summary(self, user: str | None = None) -> dict[str, dict[str, list[str]]]:
        """Per user: the privileges checked and allowed (`used`) and those refused (`denied`)."""
        with self._lock:
            checks = [c for c in self.checks if user is None or c.user == user]
        result: dict[str, dict[str, set[str]]] = {}
        for check in checks:
            entry = result.setdefault(check.user, {"used": set(), "denied": set()})
            entry["used" if check.allowed else "denied"].add(check.privilege)
        return {u: {k: sorted(v) for k, v in e.items()} for u, e in result.items()}

    # ---- who holds what -------------------------------------------------------------------------
    @staticmethod
    def roles_of(state: EmulatorState, user_id: str) -> set[str]:
        return {r["roleid"] for r in state.rows["systemuserroles"].values() if r["systemuserid"] == user_id}

    @staticmethod
    def held(state: EmulatorState, roles: set[str]) -> dict[str, int]:
        """Privilege name → the union of depth masks the roles give it."""
        names = {row_id: row["name"] for row_id, row in state.rows["privilege"].items()}
        held: dict[str, int] = {}
        for row in state.rows["roleprivileges"].values():
            if row["roleid"] in roles and row["privilegeid"] in names:
                name = names[row["privilegeid"]]
                held[name] = held.get(name, 0) | int(row.get("privilegedepthmask") or 0)
        return held

    def enforced(self, state: EmulatorState, user_id: str) -> bool:
        """Checked: every systemuser who does not hold System Administrator. A token for a user id with
        no systemuser row (load and throttling tests make these up) is not checked."""
        if user_id not in state.rows["systemuser"]:
            return False
        return SYSTEM_ADMINISTRATOR_ROLE_ID not in self.roles_of(state, user_id)

    def require(self, state: EmulatorState, request: ApiRequest, needs: list[Need]) -> None:
        user = request.user_id
        with state.lock:  # other requests may be assigning roles or adding tables meanwhile
            if not needs or not user or not self.enforced(state, user):
                return
            roles = self.roles_of(state, user)
            held = self.held(state, roles)
        for need in dict.fromkeys(needs):
            mask = held.get(need.privilege, 0)
            # Rows carry no owner here, so only Create is satisfied by Basic (the caller's own rows) on
            # user- and business-owned tables; Local or deeper reaches every row of the one business unit.
            ownership = state.tables[need.table].ownership if need.table else "OrganizationOwned"
            enough = mask >= 1 if need.right == "Create" or ownership == "OrganizationOwned" else mask >= 2
            self._record(Check(user, need.privilege, enough, request.method, request.path))
            if not enough:
                raise self._denied(state, user, roles, len(held), need)

    def _record(self, check: Check) -> None:
        with self._lock:
            if len(self.checks) < self.MAX_CHECKS:
                self.checks.append(check)

    @staticmethod
    def _denied(state: EmulatorState, user: str, roles: set[str], count: int, need: Need) -> ODataError:
        privilege_id = stable_id("privilege", need.privilege)
        where = ""
        if need.table is not None:
            table = state.tables[need.table]
            where = f" on OTC={table.object_type_code} for entity '{table.logical_name}'"
        return ODataError(
            403,
            f"Principal user (Id={user}, type=8, roleCount={len(roles)}, privilegeCount={count}, "
            f"accessMode=0), is missing {need.privilege} privilege (Id={privilege_id}){where}. "
            f"context.Caller={user}",
            PRIVILEGE_DENIED,
        )


# ---- what a request needs -----------------------------------------------------------------------------
def table_need(state: EmulatorState, table: str, right: str) -> Need:
    name, owner = privilege_name(state, table, right)
    return Need(name, owner, right)


def read_needs(state: EmulatorState, table: md.Table, options: QueryOptions) -> list[Need]:
    """Read on the table, on every table an $expand reaches and on every table a $filter path reads."""
    needs = [table_need(state, table.logical_name, "Read")]
    for nav_name in _FILTER_NAV.findall(options.filter_text or ""):
        nav = table.single_navs.get(nav_name)
        if nav is not None:
            needs.append(table_need(state, nav.target, "Read"))
    for nav_name, nested in options.expand.items():
        target = nav_target(table, nav_name)
        if target is not None:
            needs += read_needs(state, state.tables[target], nested)
    return needs


def nav_target(table: md.Table, nav_name: str) -> str | None:
    if nav_name in table.single_navs:
        return table.single_navs[nav_name].target
    if nav_name in table.collection_navs:
        return table.collection_navs[nav_name].child_table
    if nav_name in table.many_navs:
        return table.many_navs[nav_name].target_table
    return None


def write_needs(state: EmulatorState, table: md.Table, right: str, body: dict[str, Any]) -> list[Need]:
    """Create or Write on the table; Append on it and AppendTo on the target of every lookup set."""
    if table.logical_name in READ_ONLY_TABLES:
        verb = {"Create": "Create", "Write": "Update", "Delete": "Delete"}.get(right, right)
        raise ODataError(
            400,
            f"The '{verb}' method does not support entities of type '{table.logical_name}'. "
            "MessageProcessorCache returned MessageProcessor.Empty.",
            INVALID_ARGUMENT,
        )
    needs = [table_need(state, table.logical_name, right)]
    for key, value in body.items():
        if key.endswith("@odata.bind") and value is not None:
            nav = table.single_navs.get(key[: -len("@odata.bind")])
            if nav is not None:
                needs += link_needs(state, table.logical_name, nav.target)
        elif key in table.collection_navs and isinstance(value, list):
            child = state.tables[table.collection_navs[key].child_table]
            for item in value:
                if isinstance(item, dict):
                    needs += write_needs(state, child, "Create", item)
                    needs += link_needs(state, child.logical_name, table.logical_name)
    return needs


def link_needs(state: EmulatorState, child: str, parent: str) -> list[Need]:
    """Setting a lookup on `child` to a `parent` row: Append on the child, AppendTo on the parent. A
    table whose privileges have no Append / AppendTo (the platform's sdk tables) is not checked."""
    needs = []
    for table, right in ((child, "Append"), (parent, "AppendTo")):
        owner = PARENTAL.get(table, table)
        if right in _rights_and_depths(state.tables[owner])[0]:
            needs.append(table_need(state, table, right))
    return needs


def metadata_needs(name: str, method: str, rest: str | None) -> list[Need]:
    verb = {"GET": "Read", "POST": "Create", "PUT": "Write", "PATCH": "Write"}.get(method, "Write")
    if name == "EntityDefinitions":
        kind = "Attribute" if rest and rest.startswith("Attributes") else "Entity"
        return [Need(f"prv{verb}{kind}")]
    if name == "RelationshipDefinitions":
        return [Need(f"prv{'Read' if method == 'GET' else 'Create'}Relationship")]
    return [Need(f"prv{'Read' if method == 'GET' else 'Create'}OptionSet")]
