"""Forwarded headers are believed only from proxies a setting names (issue 13, finding 4).

A real uvicorn server (the options ``lantern serve`` uses) in front of the real portal: a
failed login sent from 127.0.0.1 with a forged ``X-Forwarded-For`` is audited, and counted
by the per-address lockout, under the TCP peer's address unless 127.0.0.1 is named a proxy.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch

from lantern.settings import Settings
from portal.cli import uvicorn_options
from tests.portal_fixtures import serve

FORGED = "203.0.113.77"


def _failed_login_client(base: str, username: str) -> None:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as web:
        page = web.get("/login")
        token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text)
        assert token, page.text[:300]
        res = web.post(
            "/login",
            data={
                "username": username,
                "password": "wrong password",
                "csrf_token": token.group(1),
                "next": "/",
            },
            headers={"X-Forwarded-For": FORGED},
        )
        assert res.status_code == 401, res.status_code


def _audited_client(client: OpenSearch, settings: Settings, username: str) -> str:
    index = settings.index_name("audit")
    client.indices.refresh(index=index)
    hits = client.search(
        index=index,
        body={"query": {"bool": {"filter": [{"term": {"user": username}}, {"term": {"action": "login"}}]}}},
    )["hits"]["hits"]
    assert len(hits) == 1, hits
    return str(hits[0]["_source"]["client"])


def test_default_trusts_no_forwarded_header(app: FastAPI, settings: Settings, client: OpenSearch) -> None:
    assert settings.forwarded_allow_ips == []
    assert uvicorn_options(settings)["proxy_headers"] is False
    username = f"nobody-{uuid.uuid4().hex[:6]}"
    with serve(app, **uvicorn_options(settings)) as base:
        _failed_login_client(base, username)
    assert _audited_client(client, settings, username) == "127.0.0.1"


def test_named_proxy_is_believed(app: FastAPI, settings: Settings, client: OpenSearch) -> None:
    behind_proxy = settings.model_copy(update={"forwarded_allow_ips": ["127.0.0.1"]})
    username = f"nobody-{uuid.uuid4().hex[:6]}"
    with serve(app, **uvicorn_options(behind_proxy)) as base:
        _failed_login_client(base, username)
    assert _audited_client(client, settings, username) == FORGED


def test_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTERN_FORWARDED_ALLOW_IPS", "10.0.0.5, 10.0.0.6")
    s = Settings()
    assert s.forwarded_allow_ips == ["10.0.0.5", "10.0.0.6"]
    assert uvicorn_options(s) == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.5,10.0.0.6"}
