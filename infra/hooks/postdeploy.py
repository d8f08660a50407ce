"""azd postdeploy hook: wait for the deployed app, then set up the Dataverse side against it.

Runs `python -m connector provision-schema`, then `python -m connector register-webhooks --auth header
--url <app>/api/dataverse/invoices`, with the connector's settings built from the azd outputs and the two
secrets it needs read from the vault (or the environment). Header auth keeps the secret out of the URL.
`--dry-run` prints the commands and touches nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from hooklib import (
    REPO_ROOT,
    HookError,
    KeyVaultSecrets,
    azure_token_provider,
    hidden,
    load_inputs,
    main_guard,
    say,
    show_command,
)

DATAVERSE_WEBHOOK_ROUTE = "/api/dataverse/invoices"
HEALTH_ROUTE = "/api/health"
# Settings the connector refuses to start without, and where each comes from when not given.
VAULT_SECRETS = {
    "DATAVERSE_WEBHOOK_SECRET": "dataverse-webhook-secret",
    "XERO_WEBHOOK_KEY": "xero-webhook-key",
}
FROM_OUTPUTS = {
    "AzureWebJobsStorage__queueServiceUri": "AZURE_STORAGE_QUEUE_ENDPOINT",
    "AzureWebJobsStorage__blobServiceUri": "AZURE_STORAGE_BLOB_ENDPOINT",
}


@dataclass
class Plan:
    api: str
    env: dict[str, str] = field(default_factory=dict)  # what the CLI gets on top of this process's env
    shown: dict[str, str] = field(default_factory=dict)  # how each of those is printed (secrets hidden)
    from_vault: dict[str, str] = field(default_factory=dict)  # setting -> vault secret, read when run

    def commands(self, python: str) -> list[list[str]]:
        return [
            [python, "-m", "connector", "provision-schema"],
            [
                python,
                "-m",
                "connector",
                "register-webhooks",
                "--auth",
                "header",
                "--url",
                self.api + DATAVERSE_WEBHOOK_ROUTE,
            ],
        ]


def plan(inputs: Mapping[str, str]) -> Plan:
    api = inputs.get("SERVICE_API_URI", "").rstrip("/")
    if not api:
        raise HookError("SERVICE_API_URI is not set: run through azd (it is a Bicep output)")
    if not inputs.get("DATAVERSE_URL"):
        raise HookError(
            "DATAVERSE_URL is not set: `azd env set DATAVERSE_URL https://<org>.crm.dynamics.com`"
        )
    result = Plan(api=api)
    result.env["DATAVERSE_URL"] = inputs["DATAVERSE_URL"]
    result.shown["DATAVERSE_URL"] = shlex.quote(inputs["DATAVERSE_URL"])
    has_storage = bool(
        inputs.get("AzureWebJobsStorage") or inputs.get("AzureWebJobsStorage__queueServiceUri")
    )
    for setting, output in FROM_OUTPUTS.items():
        if inputs.get(setting):
            result.env[setting] = inputs[setting]
        elif inputs.get(output):
            result.env[setting] = inputs[output]
        elif not has_storage:
            raise HookError(f"{output} is not set: run through azd (it is a Bicep output)")
        else:
            continue
        result.shown[setting] = shlex.quote(result.env[setting])
    for setting, secret in VAULT_SECRETS.items():
        if inputs.get(setting):
            result.env[setting] = inputs[setting]
            result.shown[setting] = hidden(f"${setting}")
        else:
            result.from_vault[setting] = secret
            result.shown[setting] = hidden(f"Key Vault secret {secret}")
    return result


def wait_for_health(api: str, timeout: float, client: httpx.Client) -> None:
    """Flex apps start on first request; ask until /api/health answers, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            response = client.get(api + HEALTH_ROUTE, timeout=10)
            if response.status_code == 200:
                say(f"{api}{HEALTH_ROUTE}: healthy")
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            # Registration does not need the app up: Dataverse retries deliveries. Say so and go on.
            say(f"warning: {api}{HEALTH_ROUTE} not healthy after {timeout:.0f} s ({last}); continuing")
            return
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands; run nothing")
    parser.add_argument("--local-settings", type=Path, help="read inputs from a local.settings.json too")
    parser.add_argument("--health-timeout", type=float, default=180, help="seconds to wait for the app")
    parser.add_argument("--cli-python", default=sys.executable, help="interpreter that runs `-m connector`")
    args = parser.parse_args(argv)

    inputs = load_inputs(os.environ, args.local_settings)
    the_plan = plan(inputs)
    # With local settings the CLI runs against what they describe (the local platform), so it gets them all.
    child_env = {**inputs, **the_plan.env} if args.local_settings else {**os.environ, **the_plan.env}
    commands = the_plan.commands(args.cli_python)
    vault_endpoint = inputs.get("AZURE_KEY_VAULT_ENDPOINT")

    if args.dry_run:
        say(f"[dry-run] GET {the_plan.api}{HEALTH_ROUTE}  (until 200, at most {args.health_timeout:.0f} s)")
        for setting, secret in the_plan.from_vault.items():
            where = vault_endpoint or "https://<AZURE_KEY_VAULT_NAME>.vault.azure.net/"
            say(f"[dry-run] GET {KeyVaultSecrets(where, lambda scope: '').get_url(secret)}  (for {setting})")
        if args.local_settings:
            say(f"[dry-run] the commands also get every value of {args.local_settings}")
        for argv_ in commands:
            say(f"[dry-run] (cd {REPO_ROOT} && {show_command(argv_, the_plan.shown)})")
        return 0

    if the_plan.from_vault:
        if not vault_endpoint:
            missing = ", ".join(the_plan.from_vault)
            raise HookError(f"{missing} not set and AZURE_KEY_VAULT_ENDPOINT unknown: run through azd")
        vault = KeyVaultSecrets(vault_endpoint, azure_token_provider())
        for setting, secret in the_plan.from_vault.items():
            value = vault.get(secret)
            if value is None:
                raise HookError(f"the vault has no {secret}: run `azd provision` (its hook stores it)")
            child_env[setting] = value
    with httpx.Client() as client:
        wait_for_health(the_plan.api, args.health_timeout, client)
    for argv_ in commands:
        say(f"$ {show_command(argv_, the_plan.shown)}")
        completed = subprocess.run(argv_, cwd=REPO_ROOT, env=child_env, check=False)  # noqa: S603
        if completed.returncode != 0:
            raise HookError(f"`{' '.join(argv_[1:4])}` failed with exit code {completed.returncode}")
    say(f"Dataverse sends invoice events to {the_plan.api}{DATAVERSE_WEBHOOK_ROUTE} (header auth).")
    return 0


if __name__ == "__main__":
    main_guard(main)
