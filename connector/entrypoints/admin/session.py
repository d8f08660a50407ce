"""The console's session: one cookie, encrypted and signed (Fernet: AES-CBC plus HMAC-SHA256, with a
timestamp), HttpOnly, Secure (plain http only on 127.0.0.1 or localhost), SameSite=Lax, and an expiry.

Lax rather than Strict: the sign-in provider and Xero send the browser back with a top-level GET,
which must carry the cookie; every state-changing request is a POST and carries a CSRF token besides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

COOKIE_NAME = "xc_console"
COOKIE_PATH = "/api/console"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def _fernet(key: str) -> Fernet:
    digest = hashlib.sha256(b"xero-connector console session\x00" + key.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@dataclass
class Session:
    """What the cookie holds. `data` is free-form JSON; `user` set means signed in."""

    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    @property
    def user(self) -> dict[str, Any] | None:
        user = self.data.get("user")
        return user if isinstance(user, dict) else None

    @property
    def csrf(self) -> str:
        token = self.data.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            self.set("csrf", token)
        return token

    def csrf_ok(self, supplied: str | None) -> bool:
        token = self.data.get("csrf")
        return bool(supplied) and isinstance(token, str) and hmac.compare_digest(token, supplied or "")

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.changed = True

    def pop(self, key: str) -> Any:
        if key in self.data:
            self.changed = True
        return self.data.pop(key, None)

    def flash(self, message: str) -> None:
        self.set("flash", [*self.data.get("flash", []), message][-5:])

    def take_flash(self) -> list[str]:
        return list(self.pop("flash") or [])

    def sign_in(self, user: dict[str, Any], now: float) -> None:
        """A fresh session (new CSRF token) for the signed-in user: nothing from before survives."""
        self.data = {"user": user, "since": now, "csrf": secrets.token_urlsafe(32)}
        self.changed = True


class SessionCodec:
    def __init__(self, key: str, lifetime_seconds: int, base_url: str) -> None:
        self._fernet = _fernet(key)
        self._lifetime = lifetime_seconds
        parts = urlsplit(base_url)
        self.secure = not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)

    def load(self, cookie_header: str | None, now: float | None = None) -> Session:
        """The session in the request's cookie; an empty one when absent, forged, or expired."""
        if not cookie_header:
            return Session()
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header)
        except Exception:
            return Session()
        morsel = jar.get(COOKIE_NAME)
        if morsel is None:
            return Session()
        now = time.time() if now is None else now
        try:
            raw = self._fernet.decrypt_at_time(
                morsel.value.encode(), ttl=self._lifetime, current_time=int(now)
            )
            data = json.loads(raw)
        except (InvalidToken, ValueError):
            return Session()
        if not isinstance(data, dict):
            return Session()
        since = data.get("since")
        if isinstance(since, int | float) and since + self._lifetime < now:
            return Session()  # the sign-in itself is too old, however recently the cookie was rewritten
        return Session(data)

    def header(self, session: Session, now: float | None = None) -> str:
        """The Set-Cookie value for this session (an expired, empty cookie when it holds nothing)."""
        now = time.time() if now is None else now
        attributes = f"Path={COOKIE_PATH}; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
        if not session.data:
            return f"{COOKIE_NAME}=; Max-Age=0; {attributes}"
        token = self._fernet.encrypt_at_time(json.dumps(session.data).encode(), int(now)).decode()
        since = session.data.get("since")
        remaining = (
            self._lifetime if not isinstance(since, int | float) else int(since + self._lifetime - now)
        )
        return f"{COOKIE_NAME}={token}; Max-Age={max(0, remaining)}; {attributes}"
