"""Start `oidc-provider-mock` over TLS on 127.0.0.1, with two predefined users: an admin holding the
console's app role in the id token's `roles` claim (as Entra ID puts app roles), and one without it.

TLS because msal accepts only https authorities; the certificate is made here, for 127.0.0.1, and the
connector is told to trust it (ENTRA_CA_BUNDLE). The provider is mounted under /entra so the authority
URL has a path segment, which msal also requires.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oidc_provider_mock
import werkzeug.serving
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.middleware.dispatcher import DispatcherMiddleware

ADMIN_ROLE = "Connector.Admin"
ADMIN_USER = "admin@contoso.example"
READER_USER = "reader@contoso.example"
MOUNT = "/entra"
CLIENT_ID = "local-console-client"
CLIENT_SECRET = "local-console-secret"


def users() -> list[oidc_provider_mock.User]:
    return [
        oidc_provider_mock.User(
            sub=ADMIN_USER,
            claims={"name": "Ada Admin", "preferred_username": ADMIN_USER, "roles": [ADMIN_ROLE]},
        ),
        oidc_provider_mock.User(
            sub=READER_USER, claims={"name": "Rex Reader", "preferred_username": READER_USER, "roles": []}
        ),
    ]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devstack local OpenID provider")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "oidc-cert.pem", directory / "oidc-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _not_found(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"Not found: the provider lives under " + MOUNT.encode()]


@dataclass
class OidcProvider:
    port: int
    cert_path: Path
    key_path: Path
    _server: Any = None
    _thread: threading.Thread | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        return self.base_url + MOUNT

    def start(self) -> OidcProvider:
        flask_app = oidc_provider_mock.app(require_nonce=True, user_claims=users())
        app = DispatcherMiddleware(_not_found, {MOUNT: flask_app})
        try:
            self._server = self._make_server(app, self.port)
        except SystemExit:  # werkzeug's answer to a port in use (it prints why)
            # A port found free a moment ago can be taken meanwhile (an outgoing connection's ephemeral
            # port, say): let the system pick one; the settings below follow it.
            self._server = self._make_server(app, 0)
            self.port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()
        self.settings = {
            "ENTRA_AUTHORITY": self.authority,
            "ENTRA_CA_BUNDLE": str(self.cert_path),
            "ENTRA_CLIENT_ID": CLIENT_ID,
            "ENTRA_CLIENT_SECRET": CLIENT_SECRET,
            "CONSOLE_ADMIN_ROLE": ADMIN_ROLE,
        }
        return self

    def _make_server(self, app: Any, port: int) -> Any:
        return werkzeug.serving.make_server(
            "127.0.0.1", port, app, threaded=True, ssl_context=(str(self.cert_path), str(self.key_path))
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)


def start_oidc_provider(port: int, directory: Path) -> OidcProvider:
    cert_path, key_path = make_certificate(directory)
    return OidcProvider(port, cert_path, key_path).start()
