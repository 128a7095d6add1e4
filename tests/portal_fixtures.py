"""Pytest fixtures for portal tests: the app, standard users, and a real-form login.

Use from a conftest: ``pytest_plugins = ["tests.portal_fixtures"]`` (or import the fixtures).

The test client talks https (``https://testserver``): session cookies are ``__Host-`` and
Secure except on plain-http localhost, and httpx does not send Secure cookies over http.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from lantern.settings import Settings
from lantern.users import create_user

PASSWORD = "correct horse battery staple"
BASE_URL = "https://testserver"
_CSRF_INPUT = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


@dataclass(frozen=True)
class StdUser:
    username: str
    password: str
    roles: tuple[str, ...]
    units: tuple[str, ...]
    clearances: tuple[str, ...]
    display_name: str


STANDARD_USERS: dict[str, StdUser] = {
    u.username: u
    for u in (
        StdUser("officer", PASSWORD, ("officer",), ("RESPONSE",), (), "Olivia Okafor"),
        StdUser("analyst", PASSWORD, ("analyst",), ("INTEL",), ("intel", "intel_c"), "Arun Mehta"),
        StdUser(
            "supervisor",
            PASSWORD,
            ("supervisor", "officer"),
            ("RESPONSE", "CID"),
            ("intel", "protected_person"),
            "Sarah Whitfield",
        ),
        StdUser("auditor", PASSWORD, ("auditor",), ("PSD",), (), "Aisha Rahman"),
        StdUser("admin", PASSWORD, ("admin",), ("ICT",), (), "Adam Clarke"),
    )
}


@pytest.fixture(scope="session")
def standard_users(client: OpenSearch, settings: Settings) -> dict[str, StdUser]:
    """The five standard users, created once per test run."""
    from lantern.users import UserStore

    store = UserStore(client, settings)
    for u in STANDARD_USERS.values():
        if store.get(u.username) is None:
            create_user(
                client,
                settings,
                u.username,
                u.password,
                roles=u.roles,
                units=u.units,
                clearances=u.clearances,
                display_name=u.display_name,
            )
    return STANDARD_USERS


@pytest.fixture(scope="session")
def app(settings: Settings, standard_users: dict[str, StdUser]) -> FastAPI:
    from portal.app import create_app

    return create_app(settings)


_addresses = itertools.count(1)


def client_address() -> tuple[str, int]:
    """A fresh client address per test client: login throttling counts per address, so tests
    with failed logins must not lock each other out."""
    n = next(_addresses)
    return (f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", 40000)


def make_test_client(app: FastAPI, **kwargs: object) -> TestClient:
    options: dict[str, object] = {"base_url": BASE_URL, "follow_redirects": False, "client": client_address()}
    options.update(kwargs)
    return TestClient(app, **options)  # type: ignore[arg-type]


@pytest.fixture
def test_client(app: FastAPI) -> Iterator[TestClient]:
    with make_test_client(app) as tc:
        yield tc


def csrf_from(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    if not match:
        raise AssertionError("no csrf_token input in the page")
    return match.group(1)


def login(
    test_client: TestClient,
    username: str,
    password: str = PASSWORD,
    *,
    purpose: str | None = "investigation",
    reference: str | None = "CR/012345/24",
) -> TestClient:
    """Sign in through the real form, then set a purpose (unless ``purpose`` is None)."""
    page = test_client.get("/login")
    assert page.status_code == 200, page.text
    res = test_client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text), "next": "/"},
    )
    assert res.status_code == 303, f"login failed for {username}: {res.status_code}"
    if purpose is not None:
        set_purpose(test_client, purpose, reference)
    return test_client


def set_purpose(test_client: TestClient, code: str, reference: str | None) -> None:
    page = test_client.get("/purpose")
    assert page.status_code == 200, page.text
    res = test_client.post(
        "/purpose",
        data={"code": code, "reference": reference or "", "csrf_token": csrf_from(page.text), "next": "/"},
    )
    assert res.status_code == 303, f"purpose not accepted: {res.status_code} {res.text[:300]}"


def post_export(test_client: TestClient, params: dict[str, Any] | list[tuple[str, str]]) -> Any:
    """Export as the search page's form does: a POST with the session's CSRF token."""
    page = test_client.get("/")
    assert page.status_code == 200, page.text[:300]
    items = list(params.items()) if isinstance(params, dict) else list(params)
    data: dict[str, list[str]] = {"csrf_token": [csrf_from(page.text)]}
    for key, value in items:
        data.setdefault(key, []).append(str(value))
    return test_client.post("/export", data=data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app: FastAPI, **options: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields its base URL.
    ``options``: further ``uvicorn.Config`` arguments (e.g. the portal's proxy settings)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
