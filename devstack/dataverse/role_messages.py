"""The role messages and role assignment, on the intersect tables `roleprivileges` and `systemuserroles`:
AddPrivilegesRole, ReplacePrivilegesRole, RemovePrivilegeRole, RetrieveRolePrivilegesRole, and
`systemuserroles_association/$ref` (associate, disassociate)."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from devstack.dataverse import metadata as md
from devstack.dataverse.security import (
    DEPTH_MASKS,
    DEPTH_NAMES,
    INVALID_ARGUMENT,
    INVALID_PRIVILEGE_DEPTH,
    grant_role,
    put_row,
    stable_id,
)
from devstack.dataverse.store import EmulatorState, ODataError, Transaction

if TYPE_CHECKING:
    from devstack.dataverse.webapi import ApiRequest, ApiResponse

ASSOCIABLE = frozenset({"systemuserroles_association"})
_REF_TARGET = re.compile(r"(?:^|/)(?P<set>[A-Za-z_]\w*)\((?P<id>[0-9a-fA-F-]{36})\)/?$")


def _guid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ODataError(400, f"{what} must be a GUID, not '{value}'.", INVALID_ARGUMENT) from None


def _privilege(state: EmulatorState, privilege_id: str) -> dict[str, Any]:
    row = state.rows["privilege"].get(privilege_id)
    if row is None:
        raise ODataError(404, f"privilege With Id = {privilege_id} Does Not Exist", "0x80040217")
    return row


def _depth_mask(privilege: dict[str, Any], depth: Any) -> int:
    """`Depth` is the PrivilegeDepth enum member's name; a number is refused [3p]."""
    if not isinstance(depth, str) or depth not in DEPTH_MASKS:
        raise ODataError(
            400,
            f"Cannot convert the literal '{depth}' to the expected type "
            "'Microsoft.Dynamics.CRM.PrivilegeDepth'.",
            "0x80060888",
        )
    if not privilege.get(f"canbe{depth.lower()}"):
        raise ODataError(400, "Invalid privilege depth.", INVALID_PRIVILEGE_DEPTH)
    return DEPTH_MASKS[depth]


def _requested(state: EmulatorState, body: dict[str, Any]) -> list[tuple[str, int]]:
    items = body.get("Privileges")
    if not isinstance(items, list):
        raise ODataError(400, "Privileges must be a list of RolePrivilege.", INVALID_ARGUMENT)
    wanted: list[tuple[str, int]] = []
    for item in items:
        if not isinstance(item, dict):
            raise ODataError(400, "Each RolePrivilege must be an object.", INVALID_ARGUMENT)
        privilege_id = _guid(item.get("PrivilegeId"), "PrivilegeId")
        wanted.append((privilege_id, _depth_mask(_privilege(state, privilege_id), item.get("Depth"))))
    return wanted


def _grants(state: EmulatorState, role_id: str) -> dict[str, str]:
    """privilege id → intersect row id, for one role."""
    return {r["privilegeid"]: k for k, r in state.rows["roleprivileges"].items() if r["roleid"] == role_id}


def _set_grant(state: EmulatorState, tx: Transaction, role_id: str, privilege_id: str, mask: int) -> None:
    row_id = stable_id("roleprivileges", role_id, privilege_id)
    tx.remember("roleprivileges", row_id)
    rows = state.rows["roleprivileges"]
    if row_id in rows:
        rows[row_id]["privilegedepthmask"] = mask
        rows[row_id]["versionnumber"] = state.next_version()
        return
    put_row(
        state,
        "roleprivileges",
        row_id,
        {"roleid": role_id, "privilegeid": privilege_id, "privilegedepthmask": mask},
    )


def role_operation(
    state: EmulatorState, request: ApiRequest, tx: Transaction, role_id: str, operation: str
) -> ApiResponse:
    from devstack.dataverse.webapi import API_PREFIX, ApiResponse

    state.get("role", role_id)
    if operation == "RetrieveRolePrivilegesRole":
        if request.method != "GET":
            raise ODataError(405, "RetrieveRolePrivilegesRole is a function: use GET.", "0x80060888")
        return ApiResponse.json(
            200,
            {
                "@odata.context": f"{request.base_url}{API_PREFIX}$metadata#"
                "Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRoleResponse",
                "RolePrivileges": role_privileges(state, role_id),
            },
        )
    if request.method != "POST":
        raise ODataError(405, f"{operation} is an action: use POST.", "0x80060888")
    body = request.json()
    current = _grants(state, role_id)
    rows = state.rows["roleprivileges"]
    if operation == "RemovePrivilegeRole":
        reference = body.get("Privilege")
        raw = body.get("PrivilegeId") or (
            reference.get("privilegeid") if isinstance(reference, dict) else None
        )
        privilege_id = _guid(raw, "PrivilegeId")
        if privilege_id in current:
            tx.remember("roleprivileges", current[privilege_id])
            del rows[current[privilege_id]]
        return ApiResponse(204)
    wanted = _requested(state, body)
    if operation == "ReplacePrivilegesRole":
        for row_id in current.values():
            tx.remember("roleprivileges", row_id)
            del rows[row_id]
        current = {}
    for privilege_id, mask in wanted:
        # AddPrivilegesRole never lowers a depth the role already has [3p].
        existing = rows[current[privilege_id]]["privilegedepthmask"] if privilege_id in current else 0
        _set_grant(state, tx, role_id, privilege_id, max(mask, existing))
    return ApiResponse(204)


def role_privileges(state: EmulatorState, role_id: str) -> list[dict[str, Any]]:
    role = state.get("role", role_id)
    unit = role.get("businessunitid")
    result = []
    for row in state.rows["roleprivileges"].values():
        if row["roleid"] != role_id:
            continue
        privilege = state.rows["privilege"].get(row["privilegeid"]) or {}
        mask = int(row.get("privilegedepthmask") or 0)
        result.append(
            {
                "Depth": DEPTH_NAMES.get(max(m for m in DEPTH_NAMES if m & mask) if mask else 1, "Basic"),
                "PrivilegeId": row["privilegeid"],
                "BusinessUnitId": unit.id if unit is not None else None,
                "PrivilegeName": privilege.get("name"),
            }
        )
    return sorted(result, key=lambda item: str(item["PrivilegeName"]))


def _ref_target(state: EmulatorState, nav: md.ManyToManyNavigation, raw: Any) -> str:
    match = _REF_TARGET.search(str(raw or "").split("?")[0])
    target = state.tables[nav.target_table]
    if match is None or match.group("set") != target.entity_set:
        raise ODataError(
            400, f"@odata.id must point to a {nav.target_table} record, not '{raw}'.", "0x80060888"
        )
    target_id = match.group("id").lower()
    state.get(nav.target_table, target_id)
    return target_id


def associate(
    state: EmulatorState, request: ApiRequest, tx: Transaction, table: md.Table, row_id: str, nav_path: str
) -> ApiResponse:
    """POST …/nav/$ref {"@odata.id"}; DELETE …/nav(<id>)/$ref or …/nav/$ref?$id=<url>."""
    from devstack.dataverse.webapi import ApiResponse

    name, _, key = nav_path.partition("(")
    nav = table.many_navs[name]
    if name not in ASSOCIABLE:
        raise ODataError(
            400, f"Records are not associated through {name}: use the role messages.", INVALID_ARGUMENT
        )
    state.get(table.logical_name, row_id)
    if request.method == "POST":
        target_id = _ref_target(state, nav, request.json().get("@odata.id"))
    elif request.method == "DELETE":
        target_id = key.rstrip(")") if key else _ref_target(state, nav, request.query.get("$id"))
        target_id = _guid(target_id, "The related record id")
    else:
        raise ODataError(405, "Use POST to associate and DELETE to disassociate.", "0x80060888")
    user_id, role_id = (row_id, target_id) if table.logical_name == "systemuser" else (target_id, row_id)
    if request.method == "POST":
        if not grant_role(state, tx, user_id, role_id):
            raise ODataError(400, "Cannot insert duplicate key.", "0x80040237")
        return ApiResponse(204)
    rows = state.rows["systemuserroles"]
    for key_id in [k for k, r in rows.items() if r["systemuserid"] == user_id and r["roleid"] == role_id]:
        tx.remember("systemuserroles", key_id)
        del rows[key_id]
    return ApiResponse(204)
