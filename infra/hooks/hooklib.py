"""Shared by the azd hooks: their inputs, printing what they do, and a small Key Vault secrets client.

azd runs the hooks with the environment's values (including the Bicep outputs) as environment variables.
For a run by hand, `--local-settings local.settings.json` supplies the same names from the local app's
settings; the process environment wins over the file.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
KEY_VAULT_API_VERSION = "7.4"
TokenProvider = Callable[[str], str]


class HookError(RuntimeError):
    """A problem the person running azd can fix; printed without a traceback."""


def load_inputs(environ: Mapping[str, str], local_settings: Path | None) -> dict[str, str]:
    """The hook's inputs: `Values` of a local.settings.json (if given), overridden by the environment."""
    inputs: dict[str, str] = {}
    if local_settings is not None:
        try:
            document: dict[str, Any] = json.loads(local_settings.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HookError(f"cannot read {local_settings}: {exc}") from None
        inputs.update({key: str(value) for key, value in document.get("Values", {}).items()})
        port = document.get("Host", {}).get("LocalHttpPort")
        if port is not None:
            # The local Functions host stands in for the deployed app.
            inputs.setdefault("SERVICE_API_URI", f"http://127.0.0.1:{port}")
    inputs.update({key: value for key, value in environ.items() if value != ""})
    return inputs


def say(line: str) -> None:
    print(line, flush=True)


def show_command(argv: list[str], env_shown: Mapping[str, str]) -> str:
    """A command as a shell line, with the environment it gets as `env_shown` renders it."""
    prefix = " ".join(f"{name}={shown}" for name, shown in env_shown.items())
    return f"{prefix} {shlex.join(argv)}" if prefix else shlex.join(argv)


def hidden(description: str) -> str:
    """How a secret's value is shown: never the value, only where it comes from."""
    return f"<{description}, not shown>"


def vault_scope(vault_endpoint: str) -> str:
    """The token audience of a vault: https://vault.azure.net for kv.vault.azure.net, and so per cloud."""
    host = urlsplit(vault_endpoint).hostname or ""
    if "." not in host:
        raise HookError(f"not a Key Vault endpoint: {vault_endpoint!r}")
    return f"https://{host.split('.', 1)[1]}/.default"


def azure_token_provider() -> TokenProvider:
    """Tokens from azd's or the Azure CLI's sign-in (DefaultAzureCredential), never a browser pop-up."""
    from azure.identity import DefaultAzureCredential  # only for a real run: --dry-run needs no credential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)

    def token(scope: str) -> str:
        return credential.get_token(scope).token

    return token


class KeyVaultSecrets:
    """Get and set secrets over the Key Vault REST API, so a value never appears on a command line.

    Contract: https://learn.microsoft.com/rest/api/keyvault/secrets/set-secret/set-secret (PUT
    {vault}/secrets/{name}, body {"value", "contentType"}) and .../get-secret/get-secret (GET
    {vault}/secrets/{name}/{version}, an empty version meaning the latest; 404 when there is none).
    """

    def __init__(
        self,
        endpoint: str,
        token: TokenProvider,
        client: httpx.Client | None = None,
        scope: str | None = None,
        role_wait: float = 300,
        retry_every: float = 10,
    ) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._token = token
        self._scope = scope or vault_scope(self.endpoint)
        self._client = client or httpx.Client(timeout=30)
        self._role_wait = role_wait
        self._retry_every = retry_every
        self._role_seen = False

    def set_url(self, name: str) -> str:
        return f"{self.endpoint}secrets/{quote(name, safe='')}?api-version={KEY_VAULT_API_VERSION}"

    def get_url(self, name: str) -> str:
        return f"{self.endpoint}secrets/{quote(name, safe='')}/?api-version={KEY_VAULT_API_VERSION}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token(self._scope)}"}

    def _send(self, method: str, url: str, body: dict[str, str] | None = None) -> httpx.Response:
        """One request; a 403 before any success is retried for a while, since the deployment has only
        just granted the role and Azure RBAC takes minutes to reach the vault."""
        deadline = time.monotonic() + self._role_wait
        waited = False
        while True:
            response = self._client.request(method, url, headers=self._headers(), json=body)
            if response.status_code != 403 or self._role_seen or time.monotonic() >= deadline:
                self._role_seen = self._role_seen or response.is_success or response.status_code == 404
                return response
            if not waited:
                say(f"Key Vault answers 403: waiting up to {self._role_wait:.0f} s for the new role to apply")
                waited = True
            time.sleep(self._retry_every)

    def get(self, name: str) -> str | None:
        response = self._send("GET", self.get_url(name))
        if response.status_code == 404:
            return None
        self._raise_for(response, f"read secret {name}")
        value = response.json().get("value")
        return value if isinstance(value, str) else None

    def set(self, name: str, value: str, content_type: str) -> None:
        response = self._send("PUT", self.set_url(name), {"value": value, "contentType": content_type})
        self._raise_for(response, f"store secret {name}")

    @staticmethod
    def _raise_for(response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        try:
            message = str(response.json().get("error", {}).get("message", ""))
        except ValueError:
            message = ""
        hints = {
            401: " (sign in with `azd auth login` or `az login`)",
            403: " (your account needs Key Vault Secrets Officer on the vault; azd grants it to you)",
            409: " (a deleted secret of that name is kept by soft delete: recover it in the portal)",
        }
        detail = f"HTTP {response.status_code} {message}".rstrip()
        raise HookError(f"could not {what}: {detail}{hints.get(response.status_code, '')}")


def main_guard(run: Callable[[], int]) -> None:
    """Exit with run()'s status; a HookError becomes one line on stderr and status 1."""
    try:
        status = run()
    except HookError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        status = 1
    sys.exit(status)
