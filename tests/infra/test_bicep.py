"""O5: the Bicep template parses, and declares what the connector needs (checked with pycep-parser,
since the Bicep CLI cannot be installed here)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from devstack.paths import REPO_ROOT

TEMPLATE = REPO_ROOT / "infra" / "main.bicep"


@cache
def template() -> dict[str, Any]:
    parsed: dict[str, Any] = BicepParser().parse(file_path=Path(TEMPLATE))
    return parsed


def resources() -> dict[str, dict[str, Any]]:
    return template()["resources"]


def text(node: object) -> str:
    return json.dumps(node, default=str)


def test_o5_template_declares_every_part_as_a_plain_resource() -> None:
    types = {resource["type"] for resource in resources().values()}
    assert types >= {
        "Microsoft.Web/sites",
        "Microsoft.Web/serverfarms",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/queueServices/queues",
        "Microsoft.Insights/components",
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.KeyVault/vaults",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.Insights/scheduledQueryRules",
    }
    assert "br/public" not in TEMPLATE.read_text()  # no registry modules: checkable offline


def test_o5_flex_consumption_python_plan() -> None:
    plan = text(resources()["plan"])
    assert '"FC1"' in plan and '"FlexConsumption"' in plan
    app = text(resources()["app"])
    assert '"python"' in app and '"3.11"' in app


def test_o5_least_privilege_roles_for_the_identity() -> None:
    roles = text(template()["variables"]["roles"])
    for role_id in (
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner (host, tokens, budgets)
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
        "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
        "3913510d-42f4-4e42-8a64-420c390055eb",  # Monitoring Metrics Publisher
    ):
        assert role_id in roles
    assert "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" not in roles  # never the subscription-wide Owner role


def test_o5_app_settings_match_the_settings_model() -> None:
    from connector.settings import Settings

    declared = set(template()["resources"]["appSettings"]["config"]["properties"])
    required = {
        field.alias
        for field in Settings.model_fields.values()
        if field.is_required() and field.alias is not None
    }
    assert required <= declared
    assert {"AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__credential"} <= declared
    secrets = text(template()["resources"]["appSettings"])
    for secret in ("XERO_WEBHOOK_KEY", "XERO_CLIENT_SECRET", "DATAVERSE_WEBHOOK_SECRET"):
        assert secret in secrets
    assert secrets.count("Microsoft.KeyVault") == 3  # every secret through Key Vault, none inline


def test_o5_storage_has_no_shared_keys_and_the_poison_queues() -> None:
    storage = text(resources()["storage"])
    assert '"allowSharedKeyAccess": false' in storage
    queues = text(template()["variables"]["queues"])
    for queue in ("invoice-sync", "invoice-cancel", "xero-events", "sync-poll"):
        assert queue in queues


@pytest.mark.parametrize("alert", ["sync-failures", "poison-messages", "delete-needs-attention"])
def test_o5_alerts(alert: str) -> None:
    assert alert in text(template()["variables"]["alertQueries"])
