"""The OpenAPI document tells the truth: Schemathesis calls every declared operation.

Schemathesis (PyPI ``schemathesis``) reads ``/api/openapi.json`` from a live portal
(uvicorn on a free loopback port, the real test index), signed in as an analyst with a
stated purpose, generates requests from the document (valid and invalid ones, every phase
but the stateful one) and runs all its checks on every answer: a status the document
declares, a body matching the declared schema and content type, no 5xx, invalid input
rejected, undeclared methods answered with 405. The run is bounded (a few examples per
operation, a fixed seed, deterministic generation, one worker) so it stays a small part
of the suite's time; its report is the assertion message.

The ingest API (``indexer.api``: service-account bearer tokens, NDJSON bodies) is in the
document ``lantern serve`` serves. It gets a run of its own against the ingest app
(``create_ingest_app``, its operations checked identical to the served document's), with a
service account's token, under an index prefix of its own so whatever the fuzzer pushes or
deletes never touches the records the other tests read.

The stateful phase stays off: it chains operations through OpenAPI links, and the document
declares none (a search result's id to ``/api/records/{record_id}`` and its linked groups, a
person card's id to ``/api/persons/{nominal_id}``, a pushed record to its delete would be the
candidates; Schemathesis's own run warns that no links point to those operations). Without
links the phase has nothing to chain and would add only time; declaring the links is the work
it needs first.

It runs the ``st`` command line rather than the pytest plugin: the plugin's lazy
(fixture-loaded) schemas need a pytest internal that pytest 9 no longer has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch

from indexer.api import create_ingest_app
from indexer.service_accounts import ServiceAccounts
from lantern.settings import Settings
from lantern.users import UserStore, create_user
from tests.portal_fixtures import PASSWORD, login, serve

USER = "schema-analyst"  # its own account: its rate-limit counters are nobody else's
PURPOSE = "investigation;CR/012345/24"
MAX_EXAMPLES = 8
SEED = 15
INGEST_SYSTEM = "SCHEMA-FUZZ"  # a source system no other test's records come from


@pytest.fixture(scope="module")
def served(portal_app: FastAPI) -> FastAPI:
    """The portal's app (the one the other tests use).

    Not ``lantern.cli.serving_app`` (portal + ingest API): a second app in this process has a
    second audit-chain writer, and the hundreds of audited calls below leave the shared app's
    cached chain head too far behind for its retry budget (AuditUnavailable in later tests).
    """
    return portal_app


@pytest.fixture(scope="module")
def live(served: FastAPI, client: OpenSearch, settings: Settings) -> Iterator[tuple[str, str]]:
    """The live portal's URL and the Cookie header of a signed-in analyst's session."""
    if UserStore(client, settings).get(USER) is None:
        create_user(
            client,
            settings,
            USER,
            PASSWORD,
            roles=("analyst",),
            units=("INTEL",),
            clearances=("intel", "intel_c"),
            display_name="Schema Analyst",
        )
    with serve(served) as url, httpx.Client(base_url=url, timeout=60) as web:
        login(web, USER)  # type: ignore[arg-type]  # the helper needs only get/post
        cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
        # What Schemathesis will send does sign in (else it would test nothing but 401s).
        probe = httpx.get(
            f"{url}/api/search", params={"q": "Featherstone"}, headers={"Cookie": cookie}, timeout=60
        )
        assert probe.status_code == 200 and probe.json()["total"] > 0, probe.text[:300]
        yield url, cookie


# Schemathesis has no serializer for NDJSON; the ingest body is declared as bytes, so its
# generated bodies go on the wire as they are, as with application/octet-stream.
HOOKS = """import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")
"""


def schemathesis(
    schema_url: str, headers: list[str], cwd: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            schema_url,
            *[arg for h in headers for arg in ("--header", h)],
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-deterministic",
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--no-color",
            "--output-truncate",
            "false",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cwd,  # its cache (.schemathesis/) goes there, not into the repository
        check=False,
        env=_hooks_env(cwd),
    )


def _hooks_env(folder: Path) -> dict[str, str]:
    (folder / "lantern_st_hooks.py").write_text(HOOKS, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "SCHEMATHESIS_HOOKS": "lantern_st_hooks", "PYTHONPATH": path}


def assert_clean(run: subprocess.CompletedProcess[str]) -> None:
    report = run.stdout[-20_000:] + run.stderr[-5_000:]
    assert run.returncode == 0, report
    assert "No issues found" in run.stdout or "passed" in run.stdout, report


def test_api_answers_as_its_openapi_document_says(live: tuple[str, str], tmp_path: Path) -> None:
    url, cookie = live
    # The portal's app has no ingest routes (see ``served``); they are run below.
    run = schemathesis(
        f"{url}/api/openapi.json", [f"Cookie: {cookie}", f"X-Lantern-Purpose: {PURPOSE}"], tmp_path
    )
    assert_clean(run)


@pytest.fixture(scope="module")
def ingest_app(served: FastAPI, client: OpenSearch, settings: Settings) -> FastAPI:
    """The ingest API on its own, writing under a prefix of its own, audited by the portal
    app's audit writer (one writer per process, as in ``served``)."""
    own = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}st-"})
    return create_ingest_app(own, client, served.state.security.audit, hooks=())


@pytest.fixture(scope="module")
def ingest_live(ingest_app: FastAPI) -> Iterator[tuple[str, str]]:
    """The live ingest API's URL and a service account's token for INGEST_SYSTEM."""
    state = ingest_app.state.ingest
    _, token = ServiceAccounts(state.client, state.settings).create(INGEST_SYSTEM, ["crime", "intel"])
    with serve(ingest_app) as url:
        # What Schemathesis will send is accepted (else it would test nothing but 401s).
        probe = httpx.post(
            f"{url}/api/ingest",
            content=b"{}\n",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
            timeout=60,
        )
        assert probe.status_code == 200 and probe.json()["counts"] == {"rejected": 1}, probe.text[:300]
        yield url, token


def test_ingest_api_answers_as_its_openapi_document_says(
    ingest_live: tuple[str, str], tmp_path: Path
) -> None:
    url, token = ingest_live
    run = schemathesis(f"{url}/api/ingest/openapi.json", [f"Authorization: Bearer {token}"], tmp_path)
    assert_clean(run)
    assert "/api/ingest" in run.stdout  # the operations were run, not filtered away


def test_the_served_document_has_the_ingest_api_as_tested(settings: Settings, ingest_app: FastAPI) -> None:
    """``lantern serve`` (portal + ingest API) documents the ingest operations exactly as the
    ingest app that the run above tested does."""
    from lantern.cli import serving_app

    whole = serving_app(settings).openapi()
    alone = ingest_app.openapi()
    ingest_paths = {p: ops for p, ops in whole["paths"].items() if p.startswith("/api/ingest")}
    assert ingest_paths and ingest_paths == alone["paths"]
    for name, schema in alone["components"]["schemas"].items():
        assert whole["components"]["schemas"][name] == schema, name


def test_undeclared_methods_are_405_and_routed_ones_still_need_the_csrf_token(live: tuple[str, str]) -> None:
    url, cookie = live
    for method in ("PUT", "DELETE", "PATCH", "POST"):
        res = httpx.request(method, f"{url}/api/search", headers={"Cookie": cookie}, timeout=60)
        assert res.status_code == 405, (method, res.status_code)
    # A route that takes POST still refuses a request without the token.
    res = httpx.post(f"{url}/logout", headers={"Cookie": cookie}, timeout=60)
    assert res.status_code == 403 and "csrf" in res.text.lower()


def test_the_document_lists_only_the_json_api(served: FastAPI) -> None:
    doc = served.openapi()
    assert doc["paths"], "no operations"
    for path, operations in doc["paths"].items():
        assert path.startswith("/api/"), f"{path}: a page, not API"
        if path.startswith("/api/ingest"):
            continue  # service accounts' API (indexer.api): its own errors, no session or purpose
        for method, op in operations.items():
            declared = set(op["responses"])
            assert {"200", "401", "403", "428", "429", "503"} <= declared, (method, path, declared)
            for status in declared - {"200", "422"}:
                ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorOut"), (method, path, status)
