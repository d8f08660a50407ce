"""O5: the azd hooks. `--dry-run` against the local settings prints what they would do; the secrets part
runs for real against a Key Vault stand-in, and postdeploy against a stand-in for the connector's CLI."""

from __future__ import annotations

import json
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.paths import REPO_ROOT
from tests.infra.fake_vault import FakeVault
from tests.infra.hooks import LOCAL_SETTINGS, hook_module, run_hook

LOCAL_VALUES: dict[str, str] = json.loads(LOCAL_SETTINGS.read_text())["Values"]
LOCAL_SECRETS = [
    LOCAL_VALUES[name] for name in ("XERO_CLIENT_SECRET", "XERO_WEBHOOK_KEY", "DATAVERSE_WEBHOOK_SECRET")
]
AZD_OUTPUTS = {
    "SERVICE_API_URI": "https://dx-func-abc.azurewebsites.net",
    "DATAVERSE_URL": "https://contoso.crm11.dynamics.com",
    "AZURE_KEY_VAULT_ENDPOINT": "https://kv-abc.vault.azure.net/",
    "AZURE_STORAGE_BLOB_ENDPOINT": "https://stabc.blob.core.windows.net/",
    "AZURE_STORAGE_QUEUE_ENDPOINT": "https://stabc.queue.core.windows.net/",
}


def assert_no_secret_in(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in output


# --- --dry-run ---------------------------------------------------------------------------------------


def test_o5_postprovision_dry_run_against_the_local_settings() -> None:
    result = run_hook(
        ["postprovision", "--dry-run", "--local-settings", str(LOCAL_SETTINGS)], env={}, via_wrapper=True
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    vault = "https://<AZURE_KEY_VAULT_NAME>.vault.azure.net/secrets"
    for secret, env in (
        ("xero-client-secret", "XERO_CLIENT_SECRET"),
        ("xero-webhook-key", "XERO_WEBHOOK_KEY"),
        ("dataverse-webhook-secret", "DATAVERSE_WEBHOOK_SECRET"),
    ):
        assert (
            f"[dry-run] PUT {vault}/{secret}?api-version=7.4  (value: ${env}, not shown; only if it differs)"
            in lines
        )
    assert (
        f"[dry-run] PUT {vault}/console-session-key?api-version=7.4  (if absent: generate a random one)"
        in lines
    )
    assert "[dry-run] skip entra-client-secret: ENTRA_CLIENT_ID is not set" in lines
    assert_no_secret_in(result.stdout + result.stderr, LOCAL_SECRETS)


def test_o5_postprovision_dry_run_asks_for_what_the_environment_lacks() -> None:
    result = run_hook(["postprovision", "--dry-run"], env={**AZD_OUTPUTS, "ENTRA_CLIENT_ID": "console-app"})
    assert result.returncode == 0, result.stderr
    vault = "https://kv-abc.vault.azure.net/secrets"
    assert f"[dry-run] GET {vault}/xero-client-secret/?api-version=7.4  (keep it if present)" in result.stdout
    assert "(if absent: ask for the Xero app's client secret)" in result.stdout
    assert f"[dry-run] PUT {vault}/entra-client-secret?api-version=7.4  (if absent: ask for" in result.stdout
    assert "dataverse-webhook-secret?api-version=7.4  (if absent: generate a random one)" in result.stdout


def test_o5_postdeploy_dry_run_against_the_local_settings() -> None:
    result = run_hook(
        ["postdeploy", "--dry-run", "--local-settings", str(LOCAL_SETTINGS)], env={}, via_wrapper=True
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "[dry-run] GET http://127.0.0.1:7071/api/health  (until 200, at most 180 s)"
    python = str(REPO_ROOT / ".venv" / "bin" / "python")
    env = (
        f"DATAVERSE_URL={LOCAL_VALUES['DATAVERSE_URL']} "
        "DATAVERSE_WEBHOOK_SECRET=<$DATAVERSE_WEBHOOK_SECRET, not shown> "
        "XERO_WEBHOOK_KEY=<$XERO_WEBHOOK_KEY, not shown>"
    )
    assert lines[-2:] == [
        f"[dry-run] (cd {REPO_ROOT} && {env} {python} -m connector provision-schema)",
        f"[dry-run] (cd {REPO_ROOT} && {env} {python} -m connector register-webhooks --auth header "
        "--url http://127.0.0.1:7071/api/dataverse/invoices)",
    ]
    assert_no_secret_in(result.stdout + result.stderr, LOCAL_SECRETS)


def test_o5_postdeploy_dry_run_with_the_azd_outputs() -> None:
    result = run_hook(["postdeploy", "--dry-run"], env=AZD_OUTPUTS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    vault = "https://kv-abc.vault.azure.net/secrets"
    assert (
        f"[dry-run] GET {vault}/dataverse-webhook-secret/?api-version=7.4  (for DATAVERSE_WEBHOOK_SECRET)"
        in out
    )
    assert f"[dry-run] GET {vault}/xero-webhook-key/?api-version=7.4  (for XERO_WEBHOOK_KEY)" in out
    assert "AzureWebJobsStorage__queueServiceUri=https://stabc.queue.core.windows.net/" in out
    assert "DATAVERSE_WEBHOOK_SECRET=<Key Vault secret dataverse-webhook-secret, not shown>" in out
    assert (
        "-m connector register-webhooks --auth header --url https://dx-func-abc.azurewebsites.net/api/dataverse/invoices"
        in out
    )
    assert "code=" not in out  # the secret never travels in the URL


@pytest.mark.parametrize(
    ("hook", "env", "message"),
    [
        ("postdeploy", {k: v for k, v in AZD_OUTPUTS.items() if k != "SERVICE_API_URI"}, "SERVICE_API_URI"),
        ("postdeploy", {k: v for k, v in AZD_OUTPUTS.items() if k != "DATAVERSE_URL"}, "DATAVERSE_URL"),
        ("postprovision", {}, "AZURE_KEY_VAULT_ENDPOINT is not set"),
    ],
)
def test_o5_hooks_name_a_missing_input(hook: str, env: dict[str, str], message: str) -> None:
    result = run_hook([hook], env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_o5_wrapper_says_to_make_deps_without_the_virtualenv(tmp_path: Path) -> None:
    hooks = tmp_path / "infra" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "run.sh").write_text((REPO_ROOT / "infra" / "hooks" / "run.sh").read_text())
    result = run_hook(["postdeploy", "--dry-run"], env={}, via_wrapper=True, wrapper=hooks / "run.sh")
    assert result.returncode == 1
    assert "run 'make deps' first" in result.stderr


# --- postprovision against a Key Vault stand-in --------------------------------------------------------


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    fake = FakeVault().start()
    yield fake
    fake.stop()


def secrets_client(vault: FakeVault) -> Any:
    hooklib = hook_module("hooklib")
    scopes: list[str] = []

    def token(scope: str) -> str:
        scopes.append(scope)
        return "test-token"

    client = hooklib.KeyVaultSecrets(vault.endpoint, token, scope="https://vault.azure.net/.default")
    client.scopes = scopes
    return client


def test_o5_postprovision_stores_keeps_and_generates_secrets(vault: FakeVault) -> None:
    postprovision = hook_module("postprovision")
    client = secrets_client(vault)
    inputs = {"XERO_CLIENT_SECRET": "xs-1", "XERO_WEBHOOK_KEY": "wk-1"}
    generated = iter(["generated-a", "generated-b", "generated-c"])

    assert postprovision.store(inputs, client, prompt=None, generate=lambda: next(generated)) == 0
    assert vault.value("xero-client-secret") == "xs-1"
    assert vault.value("xero-webhook-key") == "wk-1"
    assert vault.value("dataverse-webhook-secret") == "generated-a"
    assert vault.value("console-session-key") == "generated-b"
    assert vault.value("entra-client-secret") is None  # no ENTRA_CLIENT_ID: the console has no sign-in
    assert {token for _, _, token in vault.requests} == {"test-token"}
    assert set(client.scopes) == {"https://vault.azure.net/.default"}

    # Again, with one value rotated: only that one is written; generated ones are kept, not regenerated.
    vault.requests.clear()
    rotated = {**inputs, "XERO_WEBHOOK_KEY": "wk-2"}
    assert postprovision.store(rotated, client, prompt=None, generate=lambda: next(generated)) == 0
    puts = [path for method, path, _ in vault.requests if method == "PUT"]
    assert puts == ["/secrets/xero-webhook-key"]
    assert vault.value("dataverse-webhook-secret") == "generated-a"


def test_o5_postprovision_asks_for_a_missing_secret(vault: FakeVault) -> None:
    postprovision = hook_module("postprovision")
    asked: list[str] = []

    def prompt(question: str) -> str:
        asked.append(question)
        return {"XERO_CLIENT_SECRET": " typed-secret ", "ENTRA_CLIENT_SECRET": "entra-typed"}[
            question.rsplit("(", 1)[1].rstrip("): ")
        ]

    inputs = {"XERO_WEBHOOK_KEY": "wk", "ENTRA_CLIENT_ID": "console-app"}
    assert postprovision.store(inputs, secrets_client(vault), prompt=prompt, generate=lambda: "g") == 0
    assert vault.value("xero-client-secret") == "typed-secret"
    assert vault.value("entra-client-secret") == "entra-typed"
    assert len(asked) == 2 and all("(" in question for question in asked)


def test_o5_postprovision_fails_on_a_missing_secret_without_a_terminal(vault: FakeVault) -> None:
    postprovision = hook_module("postprovision")
    hooklib = hook_module("hooklib")
    with pytest.raises(hooklib.HookError, match="XERO_CLIENT_SECRET, XERO_WEBHOOK_KEY"):
        postprovision.store({}, secrets_client(vault), prompt=None, generate=lambda: "g")


def test_o5_generated_secrets_are_long_and_random() -> None:
    values = {hook_module("postprovision").new_secret() for _ in range(20)}
    assert len(values) == 20
    assert all(len(value) >= 64 and value.isascii() and " " not in value for value in values)


def test_o5_key_vault_errors_are_one_plain_line(vault: FakeVault) -> None:
    hooklib = hook_module("hooklib")
    vault.forbidden_tokens.add("no-role")
    client = hooklib.KeyVaultSecrets(
        vault.endpoint, lambda scope: "no-role", scope="https://vault.azure.net/.default", role_wait=0
    )
    with pytest.raises(hooklib.HookError) as raised:
        client.set("xero-webhook-key", "value", content_type="test")
    assert str(raised.value) == (
        "could not store secret xero-webhook-key: HTTP 403 Caller is not authorized to perform action on "
        "resource. (your account needs Key Vault Secrets Officer on the vault; azd grants it to you)"
    )
    assert vault.value("xero-webhook-key") is None


def test_o5_postprovision_waits_for_a_role_assignment_that_is_still_propagating(
    vault: FakeVault, capsys: pytest.CaptureFixture[str]
) -> None:
    hooklib = hook_module("hooklib")
    vault.forbidden_requests = 2
    client = hooklib.KeyVaultSecrets(
        vault.endpoint,
        lambda scope: "t",
        scope="https://vault.azure.net/.default",
        role_wait=5,
        retry_every=0.01,
    )
    client.set("xero-webhook-key", "wk", content_type="test")
    assert vault.value("xero-webhook-key") == "wk"
    assert [method for method, _, _ in vault.requests] == ["PUT", "PUT", "PUT"]
    assert capsys.readouterr().out.count("waiting up to 5 s for the new role to apply") == 1
    # Once the role has been seen to work, a 403 is an answer, not propagation: no more waiting.
    vault.forbidden_requests = 1
    with pytest.raises(hooklib.HookError, match="HTTP 403"):
        client.get("xero-webhook-key")


@pytest.mark.parametrize(
    ("endpoint", "scope"),
    [
        ("https://kv-abc.vault.azure.net/", "https://vault.azure.net/.default"),
        ("https://kv-abc.vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net/.default"),
        ("https://kv-abc.vault.azure.cn/", "https://vault.azure.cn/.default"),
    ],
)
def test_o5_vault_token_scope_follows_the_cloud(endpoint: str, scope: str) -> None:
    assert hook_module("hooklib").vault_scope(endpoint) == scope


# --- postdeploy, for real, against stand-ins ------------------------------------------------------------


class Health:
    def __init__(self) -> None:
        self.hits = 0
        health = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                health.hits += 1
                self.send_response(200 if self.path == "/api/health" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def app() -> Iterator[Health]:
    health = Health()
    yield health
    health.server.shutdown()
    health.server.server_close()


def recording_cli(tmp_path: Path) -> tuple[Path, Path]:
    """An interpreter stand-in that records each `-m connector …` call (argv and environment) and succeeds."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "python"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "call = {'argv': sys.argv[1:], 'env': dict(os.environ), 'cwd': os.getcwd()}\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(call) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_o5_postdeploy_runs_the_cli_with_header_auth_and_secrets_in_the_environment(
    tmp_path: Path, app: Health
) -> None:
    cli, log = recording_cli(tmp_path)
    env = {
        **AZD_OUTPUTS,
        "SERVICE_API_URI": app.url,
        "DATAVERSE_WEBHOOK_SECRET": "dv-secret-value",
        "XERO_WEBHOOK_KEY": "xero-key-value",
    }
    result = run_hook(["postdeploy", "--cli-python", str(cli), "--health-timeout", "30"], env=env)
    assert result.returncode == 0, result.stderr
    assert app.hits >= 1 and f"{app.url}/api/health: healthy" in result.stdout
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [call["argv"] for call in calls] == [
        ["-m", "connector", "provision-schema"],
        [
            "-m",
            "connector",
            "register-webhooks",
            "--auth",
            "header",
            "--url",
            f"{app.url}/api/dataverse/invoices",
        ],
    ]
    for call in calls:
        assert call["cwd"] == str(REPO_ROOT)
        assert call["env"]["DATAVERSE_WEBHOOK_SECRET"] == "dv-secret-value"
        assert call["env"]["XERO_WEBHOOK_KEY"] == "xero-key-value"
        assert call["env"]["DATAVERSE_URL"] == AZD_OUTPUTS["DATAVERSE_URL"]
        assert (
            call["env"]["AzureWebJobsStorage__queueServiceUri"] == AZD_OUTPUTS["AZURE_STORAGE_QUEUE_ENDPOINT"]
        )
        assert (
            call["env"]["AzureWebJobsStorage__blobServiceUri"] == AZD_OUTPUTS["AZURE_STORAGE_BLOB_ENDPOINT"]
        )
    assert_no_secret_in(result.stdout + result.stderr, ["dv-secret-value", "xero-key-value"])


def test_o5_postdeploy_goes_on_when_the_app_is_slow_and_stops_when_the_cli_fails(tmp_path: Path) -> None:
    failing = tmp_path / "python"
    failing.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n")
    failing.chmod(failing.stat().st_mode | stat.S_IXUSR)
    env = {
        **AZD_OUTPUTS,
        "SERVICE_API_URI": "http://127.0.0.1:9",
        "DATAVERSE_WEBHOOK_SECRET": "s",
        "XERO_WEBHOOK_KEY": "k",
    }
    result = run_hook(["postdeploy", "--cli-python", str(failing), "--health-timeout", "0"], env=env)
    assert "warning: http://127.0.0.1:9/api/health not healthy after 0 s" in result.stdout
    assert result.returncode == 1
    assert "error: `-m connector provision-schema` failed with exit code 3" in result.stderr
