"""O6: the console's session cookie is encrypted and signed, expires, and is Secure off 127.0.0.1."""

from __future__ import annotations

from connector.entrypoints.admin.session import COOKIE_NAME, Session, SessionCodec

KEY = "k" * 40


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0]


def test_o6_a_session_round_trips_and_holds_nothing_readable() -> None:
    codec = SessionCodec(KEY, 3600, "https://app.example/api/console")
    session = Session()
    session.sign_in({"name": "Ada", "roles": ["Connector.Admin"]}, now=1000.0)
    header = codec.header(session, now=1000.0)
    assert (
        "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header and "Max-Age=3600" in header
    )
    assert "Ada" not in header and "Connector.Admin" not in header
    loaded = codec.load(cookie_value(header), now=1500.0)
    assert loaded.user == {"name": "Ada", "roles": ["Connector.Admin"]}
    assert loaded.csrf == session.csrf


def test_o6_a_tampered_foreign_or_expired_cookie_is_no_session() -> None:
    codec = SessionCodec(KEY, 3600, "https://app.example/api/console")
    session = Session()
    session.sign_in({"name": "Ada"}, now=1000.0)
    value = cookie_value(codec.header(session, now=1000.0))
    tampered = value[:-6] + ("A" if value[-6] != "A" else "B") + value[-5:]
    assert codec.load(tampered, now=1000.0).user is None
    other = SessionCodec("z" * 40, 3600, "https://app.example/api/console")
    assert other.load(value, now=1000.0).user is None
    assert codec.load(value, now=1000.0 + 3601).user is None
    assert codec.load(f"{COOKIE_NAME}=garbage", now=1000.0).user is None


def test_o6_plain_http_cookie_only_on_127_0_0_1() -> None:
    assert not SessionCodec(KEY, 60, "http://127.0.0.1:7071/api/console").secure
    assert SessionCodec(KEY, 60, "http://app.example/api/console").secure


def test_o6_csrf_token_must_match() -> None:
    session = Session()
    token = session.csrf
    assert session.csrf_ok(token)
    assert not session.csrf_ok(None) and not session.csrf_ok("") and not session.csrf_ok(token + "x")
