"""A Key Vault stand-in on 127.0.0.1 for the hooks' tests: the two secret operations they use.

Contract (Key Vault REST API 7.4, learn.microsoft.com/rest/api/keyvault/secrets):
- Set Secret: `PUT /secrets/{name}?api-version=7.4`, JSON body `{"value", "contentType"?}`, 200 with the
  new version's bundle `{"value", "id", "contentType", "attributes"}`.
- Get Secret: `GET /secrets/{name}/{version}?api-version=7.4`, an empty version meaning the latest; 200 with
  the bundle, or 404 with `{"error": {"code": "SecretNotFound", …}}`.
- Every request carries `Authorization: Bearer <token>`; without one the service answers 401, and to a
  caller without a data-plane role 403 `{"error": {"code": "Forbidden", "innererror": {"code":
  "ForbiddenByRbac"}}}` (learn.microsoft.com/azure/key-vault/general/rest-error-codes).
Versions and attributes beyond what the hooks read are not modelled (assumption: not needed here).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

API_VERSION = "api-version=7.4"


@dataclass
class FakeVault:
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, bearer token
    forbidden_tokens: set[str] = field(default_factory=set)  # callers without a role on the vault
    forbidden_requests: int = 0  # the next n requests are refused, as while a new role propagates
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> FakeVault:
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _name(self) -> str | None:
                url = urlsplit(self.path)
                token = self.headers.get("Authorization", "")
                vault.requests.append((self.command, url.path, token.removeprefix("Bearer ")))
                if not token.startswith("Bearer ") or len(token) <= len("Bearer "):
                    self._reply(401, {"error": {"code": "Unauthorized", "message": "no bearer token"}})
                    return None
                refused = vault.forbidden_requests > 0
                vault.forbidden_requests = max(0, vault.forbidden_requests - 1)
                if refused or token.removeprefix("Bearer ") in vault.forbidden_tokens:
                    error = {
                        "code": "Forbidden",
                        "message": "Caller is not authorized to perform action on resource.",
                    }
                    self._reply(403, {"error": {**error, "innererror": {"code": "ForbiddenByRbac"}}})
                    return None
                parts = url.path.strip("/").split("/")
                if url.query != API_VERSION or len(parts) < 2 or parts[0] != "secrets":
                    self._reply(400, {"error": {"code": "BadParameter", "message": self.path}})
                    return None
                return unquote(parts[1])

            def do_GET(self) -> None:
                name = self._name()
                if name is None:
                    return
                if name not in vault.secrets:
                    self._reply(404, {"error": {"code": "SecretNotFound", "message": f"no secret {name}"}})
                    return
                self._reply(200, vault.secrets[name])

            def do_PUT(self) -> None:
                name = self._name()
                if name is None:
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                bundle = {
                    "value": body["value"],
                    "contentType": body.get("contentType"),
                    "id": f"{vault.endpoint}secrets/{name}/{uuid.uuid4().hex}",
                    "attributes": {"enabled": True},
                }
                vault.secrets[name] = bundle
                self._reply(200, bundle)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def value(self, name: str) -> str | None:
        bundle = self.secrets.get(name)
        return None if bundle is None else str(bundle["value"])
