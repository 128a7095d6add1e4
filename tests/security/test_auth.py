"""Sign-in, sessions, CSRF, throttling, security headers, purpose (real OpenSearch)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lantern.clock import iso, utcnow
from portal.security.sessions import session_mac, token_id
from tests.portal_fixtures import PASSWORD, csrf_from, login, make_test_client, set_purpose

SESSION = "__Host-lantern_session"


def session_token(tc) -> str:
    return tc.cookies.get(SESSION)


def set_cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


# --- authentication required ------------------------------------------------------------


def test_pages_redirect_to_login_and_api_answers_401(tc):
    r = tc.get("/search?q=smith")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fsearch%3Fq%3Dsmith"
    r = tc.get("/api/search?q=x")
    assert r.status_code == 401
    assert r.json()["error"] == "authentication required"
    assert tc.post("/thing").status_code in (303, 401)
    # Public paths stay public.
    assert tc.get("/healthz").status_code == 200
    assert tc.get("/static/site.css").status_code == 200
    assert tc.get("/login").status_code == 200


def test_login_sets_hardened_cookie_and_logout_ends_session(tc, sec_app):
    login(tc, "officer", purpose=None)
    token = session_token(tc)
    assert token and len(token) >= 40
    ctx = sec_app.state.security
    # Only a hash of the token is stored.
    assert ctx.client.exists(index=ctx.sessions.index, id=token_id(token))
    assert not ctx.client.exists(index=ctx.sessions.index, id=token)
    assert tc.get("/").text == "home officer"

    page = tc.get("/purpose")
    r = tc.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not ctx.client.exists(index=ctx.sessions.index, id=token_id(token))
    # Replaying the old cookie gets nowhere.
    with make_test_client(sec_app) as other:
        other.cookies.set(SESSION, token)
        assert other.get("/").status_code == 303


def test_session_cookie_attributes(sec_app):
    with make_test_client(sec_app) as tc:
        page = tc.get("/login")
        r = tc.post(
            "/login", data={"username": "officer", "password": PASSWORD, "csrf_token": csrf_from(page.text)}
        )
        assert r.status_code == 303
        cookie = next(c for c in set_cookies(r) if c.startswith(SESSION + "="))
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path"} <= attrs
        assert "samesite=lax" in cookie.lower()
        assert "path=/" in cookie.lower()
        assert "domain" not in attrs  # __Host- forbids Domain


def test_plain_http_localhost_relaxes_cookie(sec_app):
    with make_test_client(sec_app, base_url="http://localhost") as tc:
        page = tc.get("/login")
        r = tc.post(
            "/login", data={"username": "officer", "password": PASSWORD, "csrf_token": csrf_from(page.text)}
        )
        assert r.status_code == 303
        cookie = next(c for c in set_cookies(r) if c.startswith("lantern_session="))
        assert "secure" not in cookie.lower()
        assert "httponly" in cookie.lower()
        assert tc.get("/").status_code == 200
        assert "strict-transport-security" not in tc.get("/").headers
    # Plain http on any other host keeps __Host-/Secure.
    with make_test_client(sec_app, base_url="http://portal.example.com") as tc:
        page = tc.get("/login")
        assert any(c.startswith("__Host-lantern_login=") and "secure" in c.lower() for c in set_cookies(page))


def test_next_parameter_cannot_redirect_off_site(tc):
    page = tc.get("/login?next=//evil.example.com/x")
    r = tc.post(
        "/login",
        data={
            "username": "officer",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": "https://evil.example.com/",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


# --- session fixation, invalidation, timeouts -------------------------------------------


def test_session_fixation_prevented(sec_app):
    with make_test_client(sec_app) as tc:
        # An attacker-planted cookie is never adopted.
        tc.cookies.set(SESSION, "attacker-chosen-value", domain="testserver.local", path="/")
        login(tc, "officer", purpose=None)
        assert session_token(tc) != "attacker-chosen-value"
        first = session_token(tc)
        # Signing in again (even as another user) replaces the session; the old one is dead.
        login(tc, "analyst", purpose=None)
        second = session_token(tc)
        assert second != first
        assert tc.get("/").text == "home analyst"
    with make_test_client(sec_app) as replay:
        replay.cookies.set(SESSION, first)
        assert replay.get("/").status_code == 303


def test_disabling_a_user_ends_their_session(sec_app, client, settings):
    from lantern.users import UserStore, create_user

    create_user(client, settings, "temp.disable", PASSWORD, roles=["officer"], display_name="Temp Disable")
    with make_test_client(sec_app) as tc:
        login(tc, "temp.disable", purpose=None)
        assert tc.get("/").status_code == 200
        UserStore(client, settings).set_disabled("temp.disable", True)
        assert tc.get("/").status_code == 303
        # And it cannot sign in again.
        page = tc.get("/login")
        r = tc.post(
            "/login",
            data={"username": "temp.disable", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert r.status_code == 401


def test_delete_for_user_ends_sessions_in_every_browser(sec_app, client, settings):
    from lantern.users import create_user

    create_user(client, settings, "temp.multi", PASSWORD, roles=["officer"])
    ctx = sec_app.state.security
    with make_test_client(sec_app) as a, make_test_client(sec_app) as b:
        login(a, "temp.multi", purpose=None)
        login(b, "temp.multi", purpose=None)
        assert ctx.sessions.delete_for_user("temp.multi") == 2
        assert a.get("/").status_code == 303
        assert b.get("/").status_code == 303


def _age(ctx, sid: str, field: str, when) -> None:
    """Move a session's clock. The test plays time passing, not an attacker, so it re-signs a
    changed ``created_at`` with the portal's secret key (a forger could not)."""
    doc = {field: iso(when)}
    if field == "created_at":
        src = ctx.client.get(index=ctx.sessions.index, id=sid)["_source"]
        doc["mac"] = session_mac(ctx.sessions.settings, sid, src["username"], iso(when), src["csrf_token"])
    ctx.client.update(index=ctx.sessions.index, id=sid, body={"doc": doc})


@pytest.mark.parametrize(
    "field,delta",
    [
        ("last_seen", lambda s: timedelta(minutes=s.session_idle_minutes, seconds=5)),
        ("created_at", lambda s: timedelta(hours=s.session_absolute_hours, seconds=5)),
    ],
)
def test_idle_and_absolute_timeouts(sec_app, settings, field, delta):
    ctx = sec_app.state.security
    with make_test_client(sec_app) as tc:
        login(tc, "officer", purpose=None)
        sid = token_id(session_token(tc))
        # Just inside the limit: still valid.
        inside = utcnow() - delta(settings) + timedelta(seconds=30)
        _age(ctx, sid, field, inside)
        assert tc.get("/").status_code == 200
        past = utcnow() - delta(settings)
        _age(ctx, sid, field, past)
        assert tc.get("/").status_code == 303
        assert not ctx.client.exists(index=ctx.sessions.index, id=sid)


# --- throttling -----------------------------------------------------------------------------


def _attempt(tc, username: str, password: str):
    page = tc.get("/login")
    return tc.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    )


def test_lockout_after_repeated_failures_reveals_nothing(sec_app, client, settings):
    from lantern.users import create_user

    create_user(client, settings, "temp.lock", PASSWORD, roles=["officer"])
    with make_test_client(sec_app) as tc:
        for _ in range(settings.login_max_failures):
            assert _attempt(tc, "temp.lock", "wrong password!").status_code == 401
    # From a fresh address: the username is locked even with the right password.
    with make_test_client(sec_app) as tc:
        locked = _attempt(tc, "temp.lock", PASSWORD)
        assert locked.status_code == 401
        # An unknown username after as many failures gets the same answer, byte for byte
        # (bar the CSRF token and the echoed username).
        for _ in range(settings.login_max_failures):
            _attempt(tc, "nobody.here", "x")
    with make_test_client(sec_app) as tc:
        unknown = _attempt(tc, "nobody.here", "x")

        def norm(text: str, name: str) -> str:
            return text.replace(csrf_from(text), "T").replace(name, "U")

        assert norm(locked.text, "temp.lock") == norm(unknown.text, "nobody.here")
    # Lock expiry (moved into the past) lets the user in again.
    ctx = sec_app.state.security
    key = ctx.throttle.keys("temp.lock", None)[0]
    ctx.client.update(
        index=ctx.throttle.index, id=key, body={"doc": {"locked_until": iso(utcnow() - timedelta(seconds=1))}}
    )
    with make_test_client(sec_app) as tc:
        assert _attempt(tc, "temp.lock", PASSWORD).status_code == 303


def test_lockout_per_client_address(sec_app, settings):
    assert settings.login_max_failures_per_address > settings.login_max_failures
    with make_test_client(sec_app) as tc:
        # One user's typos from a shared (NAT) address do not lock the address...
        for i in range(settings.login_max_failures):
            _attempt(tc, f"typo{i % 2}", "password1")
        assert _attempt(tc, "officer", PASSWORD).status_code == 303
    with make_test_client(sec_app) as tc:
        # ...but spraying many accounts from it does.
        for i in range(settings.login_max_failures_per_address):
            _attempt(tc, f"spray{i}", "password1")
        # The address is locked: even a valid account cannot sign in from it.
        assert _attempt(tc, "officer", PASSWORD).status_code == 401
    with make_test_client(sec_app) as tc:
        assert _attempt(tc, "officer", PASSWORD).status_code == 303


# --- CSRF -----------------------------------------------------------------------------------


def test_csrf_required_on_state_changes(sec_app):
    with make_test_client(sec_app) as tc:
        login(tc, "officer", purpose=None)
        token = csrf_from(tc.get("/purpose").text)
        assert tc.post("/thing").status_code == 403
        assert tc.post("/thing", data={"csrf_token": "wrong"}).status_code == 403
        assert tc.post("/thing", headers={"X-CSRF-Token": token[:-1] + "x"}).status_code == 403
        assert tc.post("/thing", json={"csrf_token": token}).status_code == 403  # JSON body is not a form
        assert tc.post("/thing", data={"csrf_token": token}).status_code == 200
        assert tc.post("/thing", headers={"X-CSRF-Token": token}).status_code == 200
        assert tc.post("/thing", files={"f": ("a.txt", b"x")}, data={"csrf_token": token}).status_code == 200
        # A token from another session is useless here.
        with make_test_client(sec_app) as other:
            login(other, "analyst", purpose=None)
            other_token = csrf_from(other.get("/purpose").text)
        assert tc.post("/thing", data={"csrf_token": other_token}).status_code == 403
        # Logout is a state change too.
        assert tc.post("/logout").status_code == 403
        assert tc.get("/").status_code == 200


def test_login_form_is_csrf_protected(sec_app):
    with make_test_client(sec_app) as tc:
        r = tc.post("/login", data={"username": "officer", "password": PASSWORD})
        assert r.status_code == 403
        tc.get("/login")
        r = tc.post("/login", data={"username": "officer", "password": PASSWORD, "csrf_token": "forged"})
        assert r.status_code == 403
    # A token without its cookie (another browser's) fails.
    with make_test_client(sec_app) as a, make_test_client(sec_app) as b:
        token = csrf_from(a.get("/login").text)
        b.get("/login")
        assert (
            b.post(
                "/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token}
            ).status_code
            == 403
        )


def test_no_state_change_over_get(sec_app):
    with make_test_client(sec_app) as tc:
        login(tc, "officer", purpose=None)
        assert tc.get("/logout").status_code == 405
        assert tc.get("/").status_code == 200


# --- headers --------------------------------------------------------------------------------


def _assert_security_headers(response, tls: bool = True) -> None:
    h = response.headers
    csp = h["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    if tls:
        assert h["strict-transport-security"].startswith("max-age=")


def test_security_headers_everywhere(sec_app):
    with make_test_client(sec_app, raise_server_exceptions=False) as tc:
        _assert_security_headers(tc.get("/login"))
        _assert_security_headers(tc.get("/"))  # redirect
        _assert_security_headers(tc.get("/static/site.css"))
        _assert_security_headers(tc.get("/static/missing.css"))
        _assert_security_headers(tc.get("/api/search?q=x"))  # 401
        login(tc, "officer", purpose=None)
        _assert_security_headers(tc.get("/"))
        assert tc.get("/").headers["cache-control"] == "no-store"
        _assert_security_headers(tc.get("/no-such-page"))  # 404
        _assert_security_headers(tc.post("/thing"))  # 403 CSRF
        boom = tc.get("/boom")  # unhandled exception
        assert boom.status_code == 500
        _assert_security_headers(boom)


# --- purpose -------------------------------------------------------------------------------


def test_purpose_required_before_search(sec_app):
    with make_test_client(sec_app) as tc:
        login(tc, "officer", purpose=None)
        r = tc.get("/search?q=smith")
        assert r.status_code == 303
        assert r.headers["location"] == "/purpose?next=%2Fsearch%3Fq%3Dsmith"
        r = tc.get("/api/search?q=smith")
        assert r.status_code == 428
        assert "X-Lantern-Purpose" in r.json()["detail"]
        # API clients may state it per request.
        r = tc.get("/api/search?q=smith", headers={"X-Lantern-Purpose": "investigation;cr/012345/24"})
        assert r.status_code == 200 and r.json()["reference"] == "CR/012345/24"
        r = tc.get("/api/search?q=smith", headers={"X-Lantern-Purpose": "investigation;n/a"})
        assert r.status_code == 400
        # A reference that does not look like one is refused, with the reason.
        page = tc.get("/purpose")
        r = tc.post(
            "/purpose",
            data={"code": "investigation", "reference": "test", "csrf_token": csrf_from(page.text)},
        )
        assert r.status_code == 400 and "does not look like" in r.text
        r = tc.post(
            "/purpose", data={"code": "investigation", "reference": "", "csrf_token": csrf_from(page.text)}
        )
        assert r.status_code == 400 and "needs a reference" in r.text
        r = tc.post("/purpose", data={"code": "nonsense", "csrf_token": csrf_from(page.text)})
        assert r.status_code == 400
        set_purpose(tc, "custody", "01MP/2024/012345")
        assert tc.get("/search?q=smith").json()["purpose"] == "custody"
        # It stays for the session and shows on pages.
        assert "Custody management (01MP/2024/012345)" in tc.get("/purpose").text
        set_purpose(tc, "training", None)
        assert tc.get("/search?q=smith").json()["purpose"] == "training"


@pytest.mark.parametrize(
    "code,reference,ok",
    [
        ("investigation", "CR/012345/24", True),
        ("investigation", "cr/012345/24", True),
        ("investigation", "INC-240312-0042", True),
        ("investigation", "01MP1234524", True),
        ("investigation", "OP KINGFISHER", True),
        ("investigation", "CR/12345/24", False),
        ("intelligence_development", "IR/2024/000123", True),
        ("custody", "01MP/2024/012345", True),
        ("custody", "CR/012345/24", False),
        ("vetting", "VET/2024/0042", True),
        ("training", None, True),
        ("safeguarding", "MASH/2024/00123", True),
    ],
)
def test_reference_patterns(code, reference, ok):
    from portal.security.purposes import PurposeError, validate

    if ok:
        assert validate(code, reference).code == code
    else:
        with pytest.raises(PurposeError):
            validate(code, reference)


# --- sessions forged through OpenSearch (issue 13: what the portal's OpenSearch role cannot stop)


def test_session_minted_with_the_portals_opensearch_credentials_is_refused(sec_app, settings):
    """Whoever holds the portal's OpenSearch password may write session documents (the portal
    must), so they can create one for any user; without the portal's secret key it is refused."""
    from lantern.indices import writer_target
    from lantern.search_client import make_client
    from mappings import sessions as sessions_mapping

    portal_os = make_client(settings, "serving")
    token = "forged-token-" + "x" * 30
    now = iso(utcnow())
    portal_os.index(
        index=writer_target(settings, sessions_mapping),
        id=token_id(token),
        op_type="create",
        refresh=True,
        body={"kind": "session", "username": "admin", "created_at": now, "last_seen": now, "csrf_token": "c"},
    )
    with make_test_client(sec_app) as tc:
        tc.cookies.set(SESSION, token)
        assert tc.get("/").status_code == 303  # to the sign-in page: no session
    assert not portal_os.exists(index=settings.index_name("sessions"), id=token_id(token))


def test_session_repointed_to_another_user_is_refused(sec_app, settings):
    from lantern.search_client import make_client

    portal_os = make_client(settings, "serving")
    with make_test_client(sec_app) as tc:
        login(tc, "officer", purpose=None)
        assert tc.get("/").status_code == 200
        sid = token_id(session_token(tc))
        index = settings.index_name("sessions")
        portal_os.update(index=index, id=sid, body={"doc": {"username": "admin"}}, refresh=True)
        assert tc.get("/").status_code == 303
        assert not portal_os.exists(index=index, id=sid)
