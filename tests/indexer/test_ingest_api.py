"""The ingest API against the real node: per-line answers, versions, deletes that stick,
service-account tokens (bad, expired, other system, rotated) refused and audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from indexer.api import create_ingest_app
from indexer.loader import load_files
from indexer.service_accounts import ServiceAccounts
from lantern.audit import AuditLog
from lantern.records import record_id
from lantern.settings import Settings
from mappings import fields as F
from mappings import service_accounts as SA
from tests.indexer.conftest import count, crime, write_ndjson
from tests.indexer.test_legacy import QUIET


def _auditor(client: OpenSearch, settings: Settings) -> Any:
    return AuditLog(client, settings)


@pytest.fixture
def asettings(isettings: Settings, tmp_path: Path) -> Settings:
    return isettings.model_copy(
        update={
            "ingest_entities": False,
            "ingest_max_bytes": 64 * 1024,
            "audit_head_file": tmp_path / "head.log",
        }
    )


@pytest.fixture
def accounts(client: OpenSearch, asettings: Settings) -> ServiceAccounts:
    return ServiceAccounts(client, asettings)


@pytest.fixture
def tokens(accounts: ServiceAccounts) -> dict[str, str]:
    _, crimes = accounts.create("TEST-CRIMES", ["crime"])
    _, other = accounts.create("OTHER-SYSTEM", ["crime", "custody"])
    return {"crimes": crimes, "other": other}


@pytest.fixture
def api(client: OpenSearch, asettings: Settings) -> Iterator[TestClient]:
    # Person resolution has its own test below (it loads Splink: seconds per app).
    app = create_ingest_app(asettings, client, _auditor(client, asettings), resolve_people=False)
    with TestClient(app) as tc:
        yield tc


def _ndjson(rows: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def _post(api: TestClient, token: str | None, rows: list[Any], **params: Any) -> Any:
    headers = {"content-type": "application/x-ndjson"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return api.post("/api/ingest", content=_ndjson(rows), headers=headers, params=params)


def _audit_events(client: OpenSearch, settings: Settings, action: str) -> list[dict[str, Any]]:
    index = settings.index_name("audit")
    client.indices.refresh(index=index)
    hits = client.search(
        index=index, body={"query": {"term": {"action": action}}, "size": 100, "sort": [{"seq": "asc"}]}
    )
    return [h["_source"] for h in hits["hits"]["hits"]]


def _source(client: OpenSearch, settings: Settings, rid: str) -> dict[str, Any] | None:
    got = client.get(index=settings.index_name("records"), id=rid, ignore=[404])
    return got.get("_source") if got.get("found") else None


def test_a_batch_answers_per_line_and_a_malformed_line_does_not_stop_the_rest(
    api: TestClient, tokens: dict[str, str], client: OpenSearch, asettings: Settings
) -> None:
    no_system = crime(4)
    del no_system["source_system"]  # taken from the token
    rows = [
        crime(1),
        b'{"record_type": "crime", "source_id": ',
        crime(3, occurred_from="2024-02-31"),
        no_system,
        b"",
        crime(6),
    ]
    res = _post(api, tokens["crimes"], rows, refresh="true")
    assert res.status_code == 200, res.text
    body = res.json()
    by_line = {r["line"]: r for r in body["results"]}
    assert sorted(by_line) == [1, 2, 3, 4, 6]  # the blank line 5 is not a record
    assert by_line[2]["status"] == "rejected" and "not valid JSON" in by_line[2]["errors"][0]["msg"]
    assert by_line[3]["status"] == "rejected" and by_line[3]["errors"][0]["loc"] == "occurred_from"
    assert by_line[3]["source_id"] == "C-3"
    assert [by_line[n]["status"] for n in (1, 4, 6)] == ["created"] * 3
    assert by_line[4]["id"] == record_id("TEST-CRIMES", "C-4")
    assert body["counts"] == {"created": 3, "rejected": 2}
    assert count(client, asettings) == 3

    # Pushed again: unchanged; a newer version updates; an older one never overwrites.
    again = _post(api, tokens["crimes"], [crime(1)]).json()
    assert again["results"][0]["status"] == "unchanged"
    newer = _post(
        api, tokens["crimes"], [crime(1, title="Amended", updated_at="2024-06-01T00:00:00Z")], refresh="true"
    )
    assert newer.json()["results"][0]["status"] == "updated"
    older = _post(api, tokens["crimes"], [crime(1, title="Older", updated_at="2024-05-01T00:00:00Z")]).json()
    assert older["results"][0]["status"] == "stale"
    doc = _source(client, asettings, record_id("TEST-CRIMES", "C-1"))
    assert doc is not None and doc[F.TITLE] == "Amended"

    writes = _audit_events(client, asettings, "ingest.write")
    assert len(writes) == 4 and all(e["user"] == "service:test-crimes" for e in writes)
    assert record_id("TEST-CRIMES", "C-1") in writes[0]["target_ids"]
    results = _audit_events(client, asettings, "ingest.write.result")
    assert results[0]["details"]["counts"] == {"created": 3, "rejected": 2}


def test_bad_expired_and_other_system_tokens_are_refused_and_audited(
    api: TestClient,
    tokens: dict[str, str],
    accounts: ServiceAccounts,
    client: OpenSearch,
    asettings: Settings,
) -> None:
    good = tokens["crimes"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert _post(api, None, [crime(1)]).status_code == 401
    assert _post(api, "not-a-token", [crime(1)]).status_code == 401
    assert _post(api, forged, [crime(1)]).status_code == 401
    # A token for another source system: nothing of the batch is written.
    other = _post(api, tokens["other"], [crime(2, source_system="OTHER-SYSTEM"), crime(3)])
    assert other.status_code == 403
    assert other.json()["detail"]["violations"] == [
        {"line": 2, "msg": "source_system 'TEST-CRIMES': this token writes 'OTHER-SYSTEM'"}
    ]
    # A record type the account may not write.
    custody_line = {"record_type": "custody", "source_id": "X"}
    assert _post(api, good, [custody_line]).status_code == 403
    deleting = api.delete(
        "/api/ingest/OTHER-SYSTEM/C-9",
        params={"reason": "expunged"},
        headers={"authorization": f"Bearer {good}"},
    )
    assert deleting.status_code == 403
    # Expired.
    accounts.update("test-crimes", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    expired = _post(api, good, [crime(1)])
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    records = asettings.index_name("records")
    assert not client.indices.exists(index=records) or count(client, asettings) == 0

    denied = _audit_events(client, asettings, "ingest.auth")
    assert [e["outcome"] for e in denied] == ["denied"] * 4
    assert [e["user"] for e in denied] == ["service:?", "service:?", "service:?", "service:test-crimes"]
    assert "expired" in denied[-1]["details"]["problem"]
    assert forged.rsplit("_", 1)[1] not in json.dumps(denied)  # a secret never lands in the audit trail
    writes = _audit_events(client, asettings, "ingest.write")
    assert [(e["user"], e["outcome"]) for e in writes] == [
        ("service:other-system", "denied"),
        ("service:test-crimes", "denied"),
    ]
    [refused_delete] = _audit_events(client, asettings, "ingest.delete")
    assert (
        refused_delete["outcome"] == "denied" and refused_delete["target"]["source_system"] == "OTHER-SYSTEM"
    )


def test_tokens_are_hashed_at_rest_and_rotation_revokes_the_old_one(
    api: TestClient,
    tokens: dict[str, str],
    accounts: ServiceAccounts,
    client: OpenSearch,
    asettings: Settings,
) -> None:
    old = tokens["crimes"]
    stored = client.get(index=asettings.index_name(SA.NAME), id="test-crimes")["_source"]
    # The secret is everything after the token id: token_urlsafe may itself contain "_".
    secret = old.split(f"_{stored[SA.TOKEN_ID]}_", 1)[1]
    assert len(secret) >= 40
    assert secret not in json.dumps(stored) and len(stored[SA.TOKEN_HASH]) == 64
    _, new = accounts.rotate("test-crimes")
    assert _post(api, old, [crime(1)]).status_code == 401
    assert _post(api, new, [crime(1)]).status_code == 200
    with pytest.raises(ValueError, match="already has an account"):
        accounts.create("TEST-CRIMES", ["crime"])
    accounts.update("test-crimes", disabled=True)
    assert _post(api, new, [crime(1)]).status_code == 401


def test_delete_through_the_api_sticks_against_a_reload_of_the_old_export(
    api: TestClient, tokens: dict[str, str], client: OpenSearch, asettings: Settings, tmp_path: Path
) -> None:
    export = write_ndjson(tmp_path / "export.ndjson", [crime(n) for n in range(1, 4)])
    load_files([export], asettings, client, extract_entities=False, console=QUIET)
    headers = {"authorization": f"Bearer {tokens['crimes']}"}
    assert (
        api.delete("/api/ingest/TEST-CRIMES/C-2", params={"reason": "tidy"}, headers=headers).status_code
        == 422
    )
    res = api.delete("/api/ingest/TEST-CRIMES/C-2", params={"reason": "disposal"}, headers=headers)
    assert res.status_code == 200, res.text
    assert res.json() == {
        "id": record_id("TEST-CRIMES", "C-2"),
        "source_system": "TEST-CRIMES",
        "source_id": "C-2",
        "reason": "disposal",
        "found": True,
        "already_deleted": False,
    }
    assert count(client, asettings) == 2
    reload = load_files([export], asettings, client, extract_entities=False, console=QUIET, restart=True)
    assert reload.result.deleted == 1 and count(client, asettings) == 2
    pushed = _post(api, tokens["crimes"], [crime(2, updated_at="2031-01-01T00:00:00Z")]).json()
    assert pushed["results"][0]["status"] == "deleted" and count(client, asettings) == 2
    [event] = _audit_events(client, asettings, "ingest.delete")
    assert event["outcome"] == "success" and event["details"]["reason"] == "disposal"


def test_body_over_the_size_limit_is_refused(api: TestClient, tokens: dict[str, str]) -> None:
    rows = [crime(n, summary="x" * 2000) for n in range(40)]  # ~100 kB, limit 64 kB
    res = _post(api, tokens["crimes"], rows)
    assert res.status_code == 413 and "limit" in res.json()["detail"]


def test_the_api_is_in_the_openapi_document(api: TestClient) -> None:
    doc = api.get("/api/ingest/openapi.json").json()
    post = doc["paths"]["/api/ingest"]["post"]
    assert "application/x-ndjson" in post["requestBody"]["content"]
    assert {"401", "403", "413", "503"} <= set(post["responses"])
    delete = doc["paths"]["/api/ingest/{source_system}/{source_id}"]["delete"]
    reason = next(p for p in delete["parameters"] if p["name"] == "reason")
    assert set(reason["schema"]["enum"]) == {"expunged", "disposal", "duplicate"}
    assert "ServiceAccountToken" in doc["components"]["securitySchemes"]


def test_an_empty_body_is_a_400_and_audited(
    api: TestClient, tokens: dict[str, str], client: OpenSearch, asettings: Settings
) -> None:
    for body in (b"", b"\n\n  \n"):
        res = api.post(
            "/api/ingest",
            content=body,
            headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {tokens['crimes']}"},
        )
        assert res.status_code == 400 and "empty" in res.json()["detail"], res.text
    events = _audit_events(client, asettings, "ingest.write")
    empty = [e for e in events if e["details"].get("problem") == "empty body"]
    assert len(empty) == 2 and {e["outcome"] for e in empty} == {"denied"}


def test_records_pushed_through_the_api_resolve_their_people_on_arrival(
    client: OpenSearch, asettings: Settings, tokens: dict[str, str]
) -> None:
    """As ``lantern index load`` does: each person gets a nominal when the record arrives, and
    a later call resolves against the nominals stored by the earlier one."""
    from lantern import indices
    from mappings import persons as P
    from persons import store

    barker: dict[str, Any] = {
        "role": "victim",
        "forename": "William",
        "surname": "Barker",
        "dob": "1971-05-04",
        "phones": ["07700 900123"],
    }
    app = create_ingest_app(asettings, client, _auditor(client, asettings), resolve_people=True)
    with TestClient(app) as tc:
        first = _post(tc, tokens["crimes"], [crime(1, people=[barker])], refresh="true")
        assert first.json()["counts"] == {"created": 1}
        same = {**barker, "role": "witness", "forename": "Bill", "dob": "1971-04-05"}  # diminutive, swap
        father = {**barker, "dob": "1946-11-30", "phones": []}
        second = _post(
            tc, tokens["crimes"], [crime(2, people=[same]), crime(3, people=[father])], refresh="true"
        )
        assert second.json()["counts"] == {"created": 2}

    def nominal(n: int) -> str:
        src = _source(client, asettings, record_id("TEST-CRIMES", f"C-{n}"))
        assert src is not None
        nid = src[F.PEOPLE][0].get(F.P_NOMINAL_ID)
        assert nid, f"record C-{n} was indexed without a nominal"
        return str(nid)

    assert nominal(2) == nominal(1)
    assert nominal(3) != nominal(1)
    client.indices.refresh(index=indices.read_alias(asettings, P))
    doc = store.get_nominal(client, asettings, nominal(1))
    assert doc is not None
    assert set(doc[P.RECORD_IDS]) == {record_id("TEST-CRIMES", "C-1"), record_id("TEST-CRIMES", "C-2")}


def test_the_ingest_api_sees_nominals_another_process_wrote_after_it_started(
    client: OpenSearch, asettings: Settings, tokens: dict[str, str], tmp_path: Path
) -> None:
    """A long-running ingest API and an ``index load`` in another process resolve against
    the same nominals: a person the load created is the one the API links its next record to."""
    from indexer.nominals import SharedIngestResolver, ingest_resolver

    hughes: dict[str, Any] = {
        "role": "suspect",
        "forename": "Gareth",
        "surname": "Hughes",
        "dob": "1988-02-17",
        "phones": ["07700 900456"],
    }
    unrelated: dict[str, Any] = {"role": "victim", "forename": "Ada", "surname": "Quinn", "dob": "1990-09-09"}
    app = create_ingest_app(asettings, client, _auditor(client, asettings), resolve_people=True)
    shared = app.state.ingest.people_resolver
    assert isinstance(shared, SharedIngestResolver)
    with TestClient(app) as tc:
        # The API loads its view of the nominals with its first record ...
        assert _post(tc, tokens["crimes"], [crime(11, people=[unrelated])], refresh="true").status_code == 200
        assert shared.loads == 1
        # ... and its own writes do not make it load again.
        assert _post(tc, tokens["crimes"], [crime(12, people=[unrelated])], refresh="true").status_code == 200
        assert shared.loads == 1
        # Another process (``lantern index load``) then resolves Gareth Hughes.
        feed = write_ndjson(tmp_path / "other.ndjson", [crime(13, people=[hughes])])
        load_files(
            [feed],
            asettings,
            client,
            extract_entities=False,
            console=QUIET,
            people_resolver=ingest_resolver(client, asettings),
        )
        witness = {**hughes, "role": "witness"}
        assert _post(tc, tokens["crimes"], [crime(14, people=[witness])], refresh="true").status_code == 200
        assert shared.loads == 2

    def nominal(n: int) -> str:
        src = _source(client, asettings, record_id("TEST-CRIMES", f"C-{n}"))
        assert src is not None
        return str(src[F.PEOPLE][0].get(F.P_NOMINAL_ID))

    assert nominal(12) == nominal(11)
    assert nominal(14) == nominal(13) != nominal(11)
