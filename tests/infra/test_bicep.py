"""O5: the Bicep template declares what the connector needs, as a security review expects it (checked with
pycep-parser, since the Bicep CLI cannot be installed here; the policy scan is in test_checkov.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from devstack.paths import REPO_ROOT
from tests.infra.hooks import hook_module
from tests.infra.template import (
    AZURE_YAML,
    PARAMETERS,
    TEMPLATE,
    body,
    of_type,
    resources,
    template,
    text,
    variable,
)

ROLE_IDS = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "keyVaultSecretsUser": "4633458b-17de-408a-b874-0445c86b69e6",
    "keyVaultSecretsOfficer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
KEY_VAULT_REFERENCE = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=\$\{secretUri\}/([a-z0-9-]+)\)$")


def app_settings() -> dict[str, Any]:
    """Every app setting the template can set (the console's sign-in ones only with a client id)."""
    properties = text(body(resources()["appSettings"])["properties"])
    assert '"connectorSettings"' in properties and '"consoleSignInSettings"' in properties
    return {**variable("connectorSettings"), **variable("consoleSignInSettings")}


def role_name(node: dict[str, Any]) -> str:
    """`roles.<name>` as pycep reads it."""
    operands = node["operator"]["operands"]
    assert operands["operand_1"] == "roles"
    return str(operands["operand_2"])


def test_o5_template_declares_every_part_as_a_plain_resource() -> None:
    types = {resource["type"] for resource in resources().values()}
    assert types >= {
        "Microsoft.Web/sites",
        "Microsoft.Web/serverfarms",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/blobServices",
        "Microsoft.Storage/storageAccounts/managementPolicies",
        "Microsoft.Storage/storageAccounts/queueServices/queues",
        "Microsoft.Insights/components",
        "Microsoft.Insights/diagnosticSettings",
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.KeyVault/vaults",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.Insights/scheduledQueryRules",
        "Microsoft.Insights/metricAlerts",
        "Microsoft.Insights/workbooks",
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/privateEndpoints",
    }
    assert "br/public" not in TEMPLATE.read_text()  # no registry modules: checkable offline
    assert not template().get("modules")


def test_o5_flex_consumption_python_plan() -> None:
    plan = text(resources()["plan"])
    assert '"FC1"' in plan and '"FlexConsumption"' in plan
    app = text(resources()["app"])
    assert '"python"' in app and '"3.11"' in app


def test_o5_each_role_assignment_is_scoped_to_a_resource_not_the_group() -> None:
    assignments = of_type("Microsoft.Authorization/roleAssignments")
    assert len(assignments) >= 5
    scoped: dict[str, set[str]] = {}
    for key, assignment in assignments.items():
        config = body(assignment)
        scope = config.get("scope")
        assert isinstance(scope, str), f"{key}: no scope, so it would apply to the whole resource group"
        assert scope in resources(), f"{key}: scope {scope!r} is not a resource of this template"
        assert resources()[scope]["type"] not in {"Microsoft.Resources/resourceGroups"}
        # The name is derived from the scope, so two scopes never collide on one assignment name.
        name_base = config["name"]["function"]["parameters"]["base_string"]["operator"]["operands"]
        assert name_base == {"operand_1": scope, "operand_2": "id"}, key
        assert "resource_group" not in text(config), f"{key} mentions the resource group"
        scoped.setdefault(resources()[scope]["type"], set()).add(key)
    assert set(scoped) == {
        "Microsoft.Storage/storageAccounts",
        "Microsoft.KeyVault/vaults",
        "Microsoft.Insights/components",
    }


def test_o5_only_roles_that_something_uses() -> None:
    roles = variable("roles")
    assert roles == ROLE_IDS
    assert STORAGE_TABLE_DATA_CONTRIBUTOR not in TEMPLATE.read_text()  # nothing in the connector uses tables
    assert "tableServiceUri" not in TEMPLATE.read_text()
    for too_broad in (OWNER, CONTRIBUTOR):
        assert too_broad not in TEMPLATE.read_text()
    assert [role_name(node) for node in variable("appStorageRoles")] == [
        "storageBlobDataOwner",
        "storageQueueDataContributor",
    ]
    assert [role_name(node) for node in variable("developerStorageRoles")] == [
        "storageBlobDataContributor",
        "storageQueueDataContributor",
    ]
    app_vault = text(body(resources()["appVaultRoleAssignment"]))
    assert "keyVaultSecretsUser" in app_vault and "keyVaultSecretsOfficer" not in app_vault
    assert "monitoringMetricsPublisher" in text(body(resources()["appInsightsRoleAssignment"]))


def test_o5_developer_data_plane_roles_only_with_a_principal_id() -> None:
    principal = template()["parameters"]["principalId"]
    assert principal["default"] == ""
    developer = {
        k: v for k, v in of_type("Microsoft.Authorization/roleAssignments").items() if "developer" in k
    }
    assert set(developer) == {"developerStorageRoleAssignments", "developerVaultRoleAssignment"}
    loop = developer["developerStorageRoleAssignments"]["config"]["loop_type"]["detail"]["array_name"]
    assert loop["operator"]["operands"]["condition"]["function"] == {
        "type": "empty",
        "parameters": {"item_to_test": "principalId"},
    }
    assert loop["operator"]["operands"]["true_value"] == []
    condition = developer["developerVaultRoleAssignment"]["config"]["condition"]
    assert text(condition) == text({"operator": {"type": "not", "operands": {"bool_value": {
        "function": {"type": "empty", "parameters": {"item_to_test": "principalId"}}}}}})  # fmt: skip
    for assignment in developer.values():
        assert body(assignment)["properties"]["principalId"] == "principalId"
    parameters = json.loads(PARAMETERS.read_text())["parameters"]
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID=}"  # azd fills it in


def test_o5_health_check_path_is_the_health_function() -> None:
    site_config = body(resources()["app"])["properties"]["siteConfig"]
    assert site_config["healthCheckPath"] == "/api/health"
    routes = [
        match.group(1)
        for path in (REPO_ROOT / "connector").rglob("*.py")
        for match in re.finditer(r'route="([^"]+)"', path.read_text(encoding="utf-8"))
    ]
    assert "health" in routes  # host.json keeps the default "api" route prefix
    assert "routePrefix" not in (REPO_ROOT / "host.json").read_text()


def test_o5_token_storage_redundancy_parameter_defaults_to_zrs() -> None:
    parameter = template()["parameters"]["storageRedundancy"]
    assert parameter["default"] == "Standard_ZRS"
    allowed = next(d["argument"] for d in parameter["decorators"] if d["type"] == "allowed")
    assert "Standard_ZRS" in allowed
    assert not [sku for sku in allowed if sku.endswith("LRS")]  # the only copy of every refresh token
    assert body(resources()["storage"])["sku"] == {"name": "storageRedundancy"}
    assert json.loads(PARAMETERS.read_text())["parameters"]["storageRedundancy"]["value"] == (
        "${STORAGE_REDUNDANCY=Standard_ZRS}"
    )


def test_o5_token_container_has_soft_delete_and_versioning() -> None:
    from connector.settings import Settings

    token_container = Settings.model_fields["token_container"].default
    assert variable("tokenContainer") == token_container
    assert "tokenContainer" in variable("containers")
    assert app_settings()["TOKEN_CONTAINER"] == "tokenContainer"
    service = body(resources()["blobService"])
    assert service["parent"] == "storage"
    properties = service["properties"]
    assert properties["isVersioningEnabled"] is True
    for policy in ("deleteRetentionPolicy", "containerDeleteRetentionPolicy"):
        assert properties[policy] == {"enabled": True, "days": "tokenRecoveryDays"}
    recovery = template()["parameters"]["tokenRecoveryDays"]
    assert recovery["default"] >= 7
    # Old token versions stay as long as deleted blobs do; the busy blobs' versions go after a day.
    rules = {
        rule["name"]: rule for rule in body(resources()["versionCleanup"])["properties"]["policy"]["rules"]
    }
    tokens = rules["tokenVersions"]["definition"]
    assert tokens["filters"]["prefixMatch"] == ["${tokenContainer}/"]
    assert tokens["actions"]["version"]["delete"] == {"daysAfterCreationGreaterThan": "tokenRecoveryDays"}
    short_lived = variable("shortLivedVersionPrefixes")
    assert f"{token_container}/" not in short_lived and "xero-rate-limits/" in short_lived


def test_o5_network_parameter_private_endpoints_off_by_default() -> None:
    vnet_enabled = template()["parameters"]["vnetEnabled"]
    assert vnet_enabled["type"] == "bool" and vnet_enabled["default"] is False

    def switched(node: Any, when_on: Any, when_off: Any) -> None:
        assert node == {
            "operator": {
                "type": "conditional",
                "operands": {"condition": "vnetEnabled", "true_value": when_on, "false_value": when_off},
            }
        }

    storage = body(resources()["storage"])["properties"]
    switched(storage["publicNetworkAccess"], "Disabled", "Enabled")
    switched(storage["networkAcls"]["defaultAction"], "Deny", "Allow")
    assert storage["networkAcls"]["bypass"] == "AzureServices"
    assert storage["allowSharedKeyAccess"] is False and storage["allowBlobPublicAccess"] is False
    vault = body(resources()["vault"])["properties"]
    assert vault["networkAcls"]["bypass"] == "AzureServices"
    assert vault["enableRbacAuthorization"] is True and "accessPolicies" not in vault
    switched(body(resources()["app"])["properties"]["virtualNetworkSubnetId"], "${vnet.id}/subnets/app", None)
    assert resources()["vnet"]["config"]["condition"] == "vnetEnabled"
    delegation = text(body(resources()["vnet"])["properties"]["subnets"])
    assert "Microsoft.App/environments" in delegation  # what Flex Consumption integration needs
    for key in ("privateDnsZones", "privateDnsLinks", "privateEndpoints", "privateDnsGroups"):
        array = resources()[key]["config"]["loop_type"]["detail"]["array_name"]
        switched(array, "privateEndpointServices", [])
    assert variable("privateEndpointServices") == ["blob", "queue"]
    assert json.loads(PARAMETERS.read_text())["parameters"]["vnetEnabled"]["value"] == "${VNET_ENABLED=false}"


def test_o5_no_secret_literal_in_the_template_or_azure_yaml() -> None:
    settings = app_settings()
    secret_like = re.compile(r"SECRET|_KEY$|PASSWORD|TOKEN$", re.IGNORECASE)
    secret_settings = {name: value for name, value in settings.items() if secret_like.search(name)}
    assert set(secret_settings) >= {"XERO_CLIENT_SECRET", "XERO_WEBHOOK_KEY", "DATAVERSE_WEBHOOK_SECRET"}
    for name, value in secret_settings.items():
        assert isinstance(value, str) and KEY_VAULT_REFERENCE.match(value), (
            f"{name} is not a Key Vault reference"
        )
    # No parameter carries a secret, so none can reach the deployment history.
    for name, parameter in template()["parameters"].items():
        assert not re.search(r"secret|password|key$", name, re.IGNORECASE), name
        assert not any(d["type"] == "secure" for d in parameter["decorators"]), name
    source = TEMPLATE.read_text()
    for leak in ("listKeys(", "AccountKey=", "SharedAccessSignature", "sig=", "?code=", "connectionString"):
        assert leak not in source, leak
    local_values = json.loads((REPO_ROOT / "local.settings.json.example").read_text())["Values"]
    local_secrets = [value for name, value in local_values.items() if secret_like.search(name)]
    assert local_secrets  # the check below means something
    azure_yaml = AZURE_YAML.read_text()
    for document in (source, azure_yaml, PARAMETERS.read_text()):
        for value in local_secrets:
            assert value not in document
    # azure.yaml: only the service, the infra and the hooks, which read secrets at run time.
    config = yaml.safe_load(azure_yaml)
    assert set(config) == {"name", "metadata", "services", "infra", "hooks"}
    assert not re.search(r"(?i)(secret|password|key)\s*[:=]", azure_yaml.split("hooks:", 1)[1])


def test_o5_outputs_are_named_the_azd_way_and_feed_the_hooks() -> None:
    outputs = template()["outputs"]
    for name in outputs:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
    assert set(outputs) >= {
        "AZURE_LOCATION",
        "AZURE_TENANT_ID",
        "SERVICE_API_NAME",
        "SERVICE_API_URI",
        "ADMIN_CONSOLE_URL",
        "AZURE_KEY_VAULT_NAME",
        "AZURE_KEY_VAULT_ENDPOINT",
        "ENTRA_REDIRECT_URI",
        "XERO_REDIRECT_URI",
    }
    assert outputs["SERVICE_API_URI"]["value"] == "appUrl"
    assert variable("appUrl") == "https://${app.properties.defaultHostName}"
    # The console's own routes (connector/entrypoints/admin), under CONSOLE_BASE_URL.
    assert variable("consoleUrl") == "${appUrl}/api/console"
    assert variable("entraRedirectUri") == "${consoleUrl}/signin/callback"
    assert variable("xeroRedirectUri") == "${consoleUrl}/xero/callback"
    postdeploy = hook_module("postdeploy")
    needed = {
        "SERVICE_API_URI",
        "DATAVERSE_URL",
        "AZURE_KEY_VAULT_ENDPOINT",
        *postdeploy.FROM_OUTPUTS.values(),
    }
    assert needed <= set(outputs)
    assert outputs["DATAVERSE_WEBHOOK_URL"]["value"] == "${appUrl}" + postdeploy.DATAVERSE_WEBHOOK_ROUTE


def test_o5_app_is_the_azd_api_service_and_the_hooks_are_wired() -> None:
    tags = body(resources()["app"])["tags"]["function"]
    assert tags["type"] == "union" and tags["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
    config = yaml.safe_load(AZURE_YAML.read_text())
    assert config["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    assert config["infra"] == {"provider": "bicep", "path": "infra"}
    for hook in ("postprovision", "postdeploy"):
        posix, windows = config["hooks"][hook]["posix"], config["hooks"][hook]["windows"]
        assert posix["run"] == f"./infra/hooks/run.sh {hook}" and posix["shell"] == "sh"
        assert windows["run"].endswith(f"infra/hooks/{hook}.py") and windows["shell"] == "pwsh"
        assert posix["interactive"] and windows["interactive"]  # the hook may ask for a secret


def test_o5_parameters_file_covers_the_template() -> None:
    parameters = template()["parameters"]
    given = json.loads(PARAMETERS.read_text())["parameters"]
    assert set(given) <= set(parameters)
    required = {name for name, parameter in parameters.items() if "default" not in parameter}
    assert required <= set(given)


def test_o5_app_settings_match_the_settings_model() -> None:
    from connector.settings import Settings

    declared = set(app_settings())
    required = {
        field.alias
        for field in Settings.model_fields.values()
        if field.is_required() and field.alias is not None
    }
    assert required <= declared
    assert {"AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__credential"} <= declared


def test_o5_console_sign_in_settings_only_with_a_client_id() -> None:
    sign_in = variable("consoleSignInSettings")
    assert set(sign_in) == {"ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET"}
    assert sign_in["ENTRA_CLIENT_ID"] == "entraClientId"
    assert template()["parameters"]["entraClientId"]["default"] == ""
    properties = body(resources()["appSettings"])["properties"]["operator"]["operands"]
    assert properties["condition"]["function"]["parameters"] == {"item_to_test": "entraClientId"}
    assert properties["true_value"] == "connectorSettings"


def test_o5_every_vault_reference_is_a_secret_the_hook_stores() -> None:
    referenced = {
        match.group(1)
        for value in app_settings().values()
        if isinstance(value, str) and (match := KEY_VAULT_REFERENCE.match(value))
    }
    stored = {spec.vault_name for spec in hook_module("postprovision").SECRETS}
    assert referenced == stored
    # The app reads them once its identity may: the settings wait for the role assignment.
    assert "appVaultRoleAssignment" in body(resources()["appSettings"])["dependsOn"]


def test_o5_storage_and_vault_names_are_valid_for_any_environment_name() -> None:
    suffix = variable("suffix")["function"]
    assert suffix["type"] == "unique_string"  # 13 lower-case letters and digits
    assert variable("storageName") == "st${suffix}"  # 15 of [a-z0-9]: a valid storage account name
    assert variable("vaultName") == "kv-${suffix}"  # 16, starts with a letter: a valid vault name
    assert body(resources()["storage"])["name"] == "storageName"
    assert body(resources()["vault"])["name"] == "vaultName"


def test_o5_storage_has_no_shared_keys_and_the_poison_queues() -> None:
    storage = text(resources()["storage"])
    assert '"allowSharedKeyAccess": false' in storage
    queues = variable("queues")
    assert queues == ["invoice-sync", "invoice-cancel", "xero-events", "sync-poll"]
    assert body(resources()["poisonQueues"])["name"] == "${queue}-poison"
    assert resources()["poisonQueues"]["config"]["loop_type"]["detail"]["array_name"] == "queues"


@pytest.mark.parametrize(
    ("alert", "kind"),
    [
        ("sync-failures", "metricAlerts"),
        ("poison-messages", "metricAlerts"),
        ("needs-reconnect", "metricAlerts"),
        ("xero-day-budget", "metricAlerts"),
        ("delete-needs-attention", "alertQueries"),
    ],
)
def test_o5_alerts(alert: str, kind: str) -> None:
    assert alert in text(template()["variables"][kind])
