"""The secured OpenSearch node: TLS, authentication and least-privilege roles, proved with each
component's own credentials against the real node (never a mock).

What the portal's OpenSearch user can and cannot do:
- every index module of ``mappings/`` has an entry in the role table (a new index is closed
  to the portal and the indexer until someone decides what they may do with it).
- audit and disclosures: create only. No overwrite (plain, ``if_seq_no``, external version, bulk), no
  update, no delete, no delete-by-query, no index deletion, no removing the guard pipeline.
- sessions: the portal writes sessions, so its credentials can by design update or delete
  any session document; the role only keeps it from deleting or reconfiguring the index. A
  session document forged or rewritten through OpenSearch is refused by the portal's keyed
  MAC on sessions (``tests/security/test_auth.py``), not by the role; deleting one (a forced
  sign-out) cannot be prevented. The indexer's credentials cannot touch
  sessions at all.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConflictError,
    TransportError,
)

from lantern import embedded, indices, opensearch_security, search_client
from lantern.search_client import make_client
from lantern.settings import Settings
from mappings import audit as audit_mapping
from mappings import disclosures as disclosures_mapping
from mappings import jobs as jobs_mapping
from mappings import person_decisions as decisions_mapping
from mappings import persons as persons_mapping
from mappings import ratelimits as ratelimits_mapping
from mappings import records as records_mapping
from mappings import service_accounts as accounts_mapping
from mappings import sessions as sessions_mapping
from mappings import tombstones as tombstones_mapping
from mappings.fields import ID

NOW = "2026-11-30T06:00:00Z"


def _event(seq: int, text: str) -> dict[str, Any]:
    return {"seq": seq, "ts": NOW, "user": "alice", "action": "search", "query": text, "hash": f"h{seq}"}


@pytest.fixture(scope="module")
def secured(settings: Settings, client: OpenSearch) -> Settings:
    """A private prefix with audit, sessions and records indices made by the admin."""
    assert all(h.startswith("https://") for h in search_client.hosts(settings)), (
        f"the role tests need a TLS-secured node, got {search_client.hosts(settings)}"
    )
    s = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}roles{uuid.uuid4().hex[:6]}-"})
    for module in (
        audit_mapping,
        sessions_mapping,
        records_mapping,
        disclosures_mapping,
        tombstones_mapping,
        accounts_mapping,
        persons_mapping,
        decisions_mapping,
        jobs_mapping,
        ratelimits_mapping,
    ):
        indices.ensure(client, s, module)
    return s


@pytest.fixture(scope="module")
def portal(secured: Settings) -> OpenSearch:
    return make_client(secured, "serving")


@pytest.fixture(scope="module")
def indexer(secured: Settings) -> OpenSearch:
    return make_client(secured, "ingest")


def _refused(call: Callable[[], Any]) -> TransportError:
    """The call must be refused by OpenSearch (forbidden, rejected by the guard pipeline, or
    invalid), never carried out."""
    with pytest.raises(TransportError) as info:
        call()
    assert not isinstance(info.value, ConflictError), "a version conflict means the write was attempted"
    return info.value


def _forbidden(call: Callable[[], Any]) -> None:
    with pytest.raises(AuthorizationException):
        call()


def _no_overwrite(portal: OpenSearch, name: str, forged: dict[str, Any], meta: dict[str, Any]) -> None:
    """Every way to replace audit event 1 through ``name`` (alias or physical index) fails."""
    # Plain overwrite.
    _refused(lambda: portal.index(index=name, id="1", body=forged))
    # Optimistic-concurrency overwrite (what a data stream's backing index would allow).
    _refused(
        lambda: portal.index(
            index=name, id="1", body=forged, if_seq_no=meta["_seq_no"], if_primary_term=meta["_primary_term"]
        )
    )
    # External versioning, and trying to skip the pipeline.
    _refused(lambda: portal.index(index=name, id="1", body=forged, version=99, version_type="external"))
    _refused(lambda: portal.index(index=name, id="1", body=forged, params={"pipeline": "_none"}))
    _forbidden(lambda: portal.update(index=name, id="1", body={"doc": {"query": "forged"}}))
    _forbidden(lambda: portal.delete(index=name, id="1"))


def _audit_alias(s: Settings) -> str:
    return indices.read_alias(s, audit_mapping)


def _audit_write(s: Settings) -> str:
    return indices.writer_target(s, audit_mapping)


# ------------------------------------------------------------------- the role table


def test_every_index_has_a_decided_role_entry() -> None:
    assert set(opensearch_security.INDEX_ACCESS) == set(indices.discover())


def test_the_portal_writes_no_record_and_nothing_append_only_is_writable() -> None:
    table = opensearch_security.INDEX_ACCESS
    assert table["records"]["portal"] == "read"
    for name, module in indices.discover().items():
        if indices.is_append_only(module):
            assert set(table[name].values()) <= {"create", "read"}, name


# ------------------------------------------------------------------- authentication


def test_plain_http_is_refused(settings: Settings) -> None:
    url = urllib.parse.urlsplit(search_client.hosts(settings)[0])
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.request("GET", "/_cluster/health")
        status = conn.getresponse().status
    except (http.client.HTTPException, OSError):
        return  # the TLS port drops a plain-HTTP request: refused
    finally:
        conn.close()
    raise AssertionError(f"plain HTTP was answered with status {status}")


def test_unauthenticated_request_is_refused(settings: Settings) -> None:
    anonymous = OpenSearch(
        hosts=search_client.hosts(settings),
        use_ssl=True,
        verify_certs=True,
        ca_certs=str(settings.opensearch_ca),
    )
    with pytest.raises(AuthenticationException):
        anonymous.info()


def test_shipped_demo_users_do_not_exist(settings: Settings) -> None:
    for user, password in (("admin", "admin"), ("kibanaserver", "kibanaserver"), ("readall", "readall")):
        demo = OpenSearch(
            hosts=search_client.hosts(settings),
            http_auth=(user, password),
            use_ssl=True,
            verify_certs=True,
            ca_certs=str(settings.opensearch_ca),
        )
        with pytest.raises(AuthenticationException):
            demo.info()


def test_certificate_is_checked_against_lantern_ca(settings: Settings) -> None:
    """A client that does not trust the node's CA cannot talk to it (no silent downgrade)."""
    untrusting = OpenSearch(
        hosts=search_client.hosts(settings),
        http_auth=settings.opensearch_credentials("portal"),
        use_ssl=True,
        verify_certs=True,
        ca_certs=ssl.get_default_verify_paths().cafile,
        max_retries=0,
    )
    with pytest.raises(Exception, match=r"(?i)certificate|ssl"):
        untrusting.info()


def test_each_component_signs_in_as_its_own_user(settings: Settings) -> None:
    clients = {
        "lantern_portal": make_client(settings, "serving"),
        "lantern_indexer": make_client(settings, "ingest"),
        "lantern_admin": make_client(settings, "admin"),
    }
    for user, c in clients.items():
        who = c.transport.perform_request("GET", "/_plugins/_security/authinfo")
        assert who["user_name"] == user


# ------------------------------------------------------------------- audit: create only


def test_portal_creates_audit_events_but_cannot_change_them(
    secured: Settings, portal: OpenSearch, client: OpenSearch
) -> None:
    alias, target = _audit_alias(secured), _audit_write(secured)
    physical = indices.current_index(client, secured, audit_mapping)
    assert physical is not None
    portal.index(index=target, id="1", body=_event(1, "original"), op_type="create", refresh=True)
    meta = portal.get(index=alias, id="1")
    forged = _event(1, "forged")

    # A second create with the same id is a conflict (nothing written), as for any index.
    with pytest.raises(ConflictError):
        portal.index(index=target, id="1", body=forged, op_type="create")
    for name in (target, physical):
        _no_overwrite(portal, name, forged, meta)
    _forbidden(lambda: portal.delete_by_query(index=alias, body={"query": {"match_all": {}}}))
    _forbidden(
        lambda: portal.update_by_query(
            index=alias, body={"script": {"source": "ctx._source.query = 'x'"}, "query": {"match_all": {}}}
        )
    )
    # Bulk: the same refusals per item.
    bulk = portal.bulk(
        body=[
            {"index": {"_index": target, "_id": "1"}},
            forged,
            {"index": {"_index": physical, "_id": "1", "if_seq_no": meta["_seq_no"], "if_primary_term": 1}},
            forged,
            {"delete": {"_index": target, "_id": "1"}},
            {"update": {"_index": target, "_id": "1"}},
            {"doc": {"query": "forged"}},
        ],
        refresh=True,
    )
    statuses = [next(iter(item.values()))["status"] for item in bulk["items"]]
    assert all(st >= 400 and st != 409 for st in statuses), bulk["items"]
    # Bulk create is how the portal may append.
    created = portal.bulk(
        body=[{"create": {"_index": target, "_id": "2"}}, _event(2, "second")], refresh=True
    )
    assert created["items"][0]["create"]["status"] == 201, created

    after = client.get(index=alias, id="1")
    assert after["_source"]["query"] == "original"
    assert after["_version"] == 1
    assert client.get(index=alias, id="2")["_source"]["query"] == "second"


def test_portal_cannot_remove_the_audit_guard_or_the_index(
    secured: Settings, portal: OpenSearch, client: OpenSearch
) -> None:
    physical = indices.current_index(client, secured, audit_mapping)
    assert physical is not None
    pipeline = audit_mapping.pipeline_name(secured)
    _forbidden(
        lambda: portal.indices.put_settings(index=physical, body={"index": {"final_pipeline": "_none"}})
    )
    _forbidden(lambda: portal.ingest.put_pipeline(id=pipeline, body={"processors": []}))
    _forbidden(lambda: portal.ingest.delete_pipeline(id=pipeline))
    _forbidden(lambda: portal.indices.delete(index=physical))
    _forbidden(lambda: portal.indices.delete(index=f"{secured.index_prefix}*"))
    _forbidden(lambda: portal.indices.close(index=physical))
    _forbidden(
        lambda: portal.indices.update_aliases(body={"actions": [{"remove_index": {"index": physical}}]})
    )
    _forbidden(
        lambda: portal.reindex(
            body={"source": {"index": physical}, "dest": {"index": f"{secured.index_prefix}copy"}}
        )
    )
    assert (
        client.indices.get_settings(index=physical)[physical]["settings"]["index"]["final_pipeline"]
        == pipeline
    )


def test_even_the_admin_cannot_overwrite_audit_through_the_guard(
    secured: Settings, client: OpenSearch
) -> None:
    """The guard holds for every writer; an admin removing it is what the keyed MAC and the
    anchor outside OpenSearch are for."""
    target = _audit_write(secured)
    client.index(index=target, id="100", body=_event(100, "original"), op_type="create", refresh=True)
    err = _refused(lambda: client.index(index=target, id="100", body=_event(100, "forged")))
    assert "append-only" in str(err.info)


def test_indexer_may_only_create_audit_events(
    secured: Settings, indexer: OpenSearch, client: OpenSearch
) -> None:
    target = _audit_write(secured)
    indexer.index(index=target, id="200", body=_event(200, "indexer"), op_type="create", refresh=True)
    _refused(lambda: indexer.index(index=target, id="200", body=_event(200, "forged")))
    _forbidden(lambda: indexer.delete(index=target, id="200"))
    _forbidden(lambda: indexer.indices.delete(index=indices.current_index(client, secured, audit_mapping)))


def test_portal_creates_disclosures_but_cannot_change_them(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    """ "Who looked at X" cannot be thinned out with the portal's credentials."""
    target = indices.writer_target(secured, disclosures_mapping)
    alias = indices.read_alias(secured, disclosures_mapping)
    physical = indices.current_index(client, secured, disclosures_mapping)
    assert physical is not None
    shown = {disclosures_mapping.RECORD_IDS: ["rec-1"], disclosures_mapping.USER: "alice", "ts": NOW}
    portal.index(index=target, id="1:rec-1", body=shown, op_type="create", refresh=True)
    meta = portal.get(index=alias, id="1:rec-1")
    forged = {**shown, disclosures_mapping.USER: "nobody"}

    def no_change_through(name: str) -> None:
        _refused(lambda: portal.index(index=name, id="1:rec-1", body=forged))
        _refused(
            lambda: portal.index(
                index=name,
                id="1:rec-1",
                body=forged,
                if_seq_no=meta["_seq_no"],
                if_primary_term=meta["_primary_term"],
            )
        )
        _forbidden(lambda: portal.update(index=name, id="1:rec-1", body={"doc": forged}))
        _forbidden(lambda: portal.delete(index=name, id="1:rec-1"))

    no_change_through(target)
    no_change_through(physical)
    _forbidden(lambda: portal.delete_by_query(index=alias, body={"query": {"match_all": {}}}))
    _forbidden(lambda: portal.indices.delete(index=physical))
    _forbidden(
        lambda: portal.indices.put_settings(index=physical, body={"index": {"final_pipeline": "_none"}})
    )
    # The indexer has no business with disclosures at all.
    _forbidden(lambda: indexer.search(index=alias, body={"query": {"match_all": {}}}))
    _forbidden(lambda: indexer.index(index=target, id="2:rec-1", body=shown, op_type="create"))
    after = client.get(index=alias, id="1:rec-1")
    assert after["_source"][disclosures_mapping.USER] == "alice" and after["_version"] == 1


# ------------------------------------------------------------------- records, sessions


def test_portal_reads_records_but_cannot_write_or_delete_them(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    target = indices.writer_target(secured, records_mapping)
    alias = indices.read_alias(secured, records_mapping)
    indexer.index(index=target, id="rec-1", body={ID: "rec-1"}, refresh=True)
    assert portal.get(index=alias, id="rec-1")["found"]
    _forbidden(lambda: portal.index(index=target, id="rec-2", body={ID: "rec-2"}))
    _forbidden(lambda: portal.delete(index=target, id="rec-1"))
    _forbidden(lambda: portal.update(index=target, id="rec-1", body={"doc": {ID: "x"}}))
    _forbidden(lambda: portal.indices.delete(index=indices.current_index(client, secured, records_mapping)))
    _forbidden(lambda: portal.indices.create(index=f"{secured.index_prefix}records-v9"))


def test_sessions_what_the_roles_hold(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    target = indices.writer_target(secured, sessions_mapping)
    physical = indices.current_index(client, secured, sessions_mapping)
    victim = {"kind": "session", "username": "victim", "created_at": NOW, "last_seen": NOW, "csrf_token": "c"}
    portal.index(index=target, id="victim-session", body=victim, op_type="create", refresh=True)
    # The indexer's credentials cannot read, overwrite, update or delete anyone's session.
    forged = {**victim, "username": "someone-else"}
    _forbidden(lambda: indexer.get(index=target, id="victim-session"))
    _forbidden(lambda: indexer.index(index=target, id="victim-session", body=forged))
    _forbidden(lambda: indexer.update(index=target, id="victim-session", body={"doc": {"username": "x"}}))
    _forbidden(lambda: indexer.delete(index=target, id="victim-session"))
    _forbidden(lambda: indexer.index(index=target, id="attacker-session", body=forged, op_type="create"))
    # The portal writes sessions, so its role cannot stop it rewriting one; it can stop it
    # dropping or reshaping the index.
    _forbidden(lambda: portal.indices.delete(index=physical))
    _forbidden(
        lambda: portal.indices.put_mapping(index=physical, body={"properties": {"x": {"type": "keyword"}}})
    )
    # (delete-by-query on sessions is granted: signing a user out everywhere uses it.)
    assert client.get(index=target, id="victim-session")["_source"]["username"] == "victim"


def test_service_accounts_are_administered_by_the_admin_only(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    """The ingest API runs as the indexer and only verifies tokens: a leaked indexer password
    cannot mint a service account or widen one's record types."""
    target = indices.writer_target(secured, accounts_mapping)
    account = {accounts_mapping.ACCOUNT: "cad", accounts_mapping.RECORD_TYPES: ["crime"]}
    client.index(index=target, id="cad", body=account, refresh=True)
    assert indexer.get(index=target, id="cad")["found"]
    widened = {**account, accounts_mapping.RECORD_TYPES: ["crime", "intelligence"]}
    _forbidden(lambda: indexer.index(index=target, id="cad", body=widened))
    _forbidden(lambda: indexer.index(index=target, id="rogue", body=widened, op_type="create"))
    _forbidden(lambda: indexer.update(index=target, id="cad", body={"doc": widened}))
    _forbidden(lambda: indexer.delete(index=target, id="cad"))
    _forbidden(lambda: portal.get(index=target, id="cad"))
    assert client.get(index=target, id="cad")["_source"][accounts_mapping.RECORD_TYPES] == ["crime"]


def test_tombstones_are_the_indexers(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    target = indices.writer_target(secured, tombstones_mapping)
    stone = {tombstones_mapping.ID: "rec-9", tombstones_mapping.REASON: "expunged"}
    indexer.index(index=target, id="rec-9", body=stone, refresh=True)
    assert indexer.get(index=target, id="rec-9")["found"]
    # The portal can neither see what was deleted nor lift a tombstone.
    _forbidden(lambda: portal.get(index=target, id="rec-9"))
    _forbidden(lambda: portal.delete(index=target, id="rec-9"))
    physical = indices.current_index(client, secured, tombstones_mapping)
    _forbidden(lambda: indexer.indices.delete(index=physical))


def test_persons_derived_by_the_indexer_decisions_added_by_the_portal(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    persons = indices.writer_target(secured, persons_mapping)
    indexer.index(index=persons, id="n-1", body={persons_mapping.ID: "n-1"}, refresh=True)
    assert portal.get(index=indices.read_alias(secured, persons_mapping), id="n-1")["found"]
    _forbidden(lambda: portal.index(index=persons, id="n-1", body={persons_mapping.ID: "forged"}))
    _forbidden(lambda: portal.delete(index=persons, id="n-1"))

    decisions = indices.writer_target(secured, decisions_mapping)
    decision = {decisions_mapping.ID: "d-1", decisions_mapping.SAME: False, decisions_mapping.BY: "ana"}
    portal.index(index=decisions, id="d-1", body=decision, op_type="create", refresh=True)
    meta = indexer.get(index=indices.read_alias(secured, decisions_mapping), id="d-1")
    assert meta["found"]
    # A decision is audited when made: neither the portal nor the indexer can take it back,
    # update it or re-put it under its id (the append-only guard, as on audit). Overturning
    # one is a new decision.
    overturned = {**decision, decisions_mapping.SAME: True}
    _refused(lambda: portal.index(index=decisions, id="d-1", body=overturned))
    _refused(
        lambda: portal.index(
            index=decisions,
            id="d-1",
            body=overturned,
            if_seq_no=meta["_seq_no"],
            if_primary_term=meta["_primary_term"],
        )
    )
    _forbidden(lambda: portal.update(index=decisions, id="d-1", body={"doc": {decisions_mapping.SAME: True}}))
    _forbidden(lambda: portal.delete(index=decisions, id="d-1"))
    _forbidden(lambda: portal.delete_by_query(index=decisions, body={"query": {"match_all": {}}}))
    _forbidden(lambda: indexer.index(index=decisions, id="d-2", body=decision))
    _forbidden(lambda: indexer.delete(index=decisions, id="d-1"))
    after = client.get(index=decisions, id="d-1")
    assert after["_source"][decisions_mapping.SAME] is False and after["_version"] == 1


def test_jobs_and_rate_limits_are_the_portals(
    secured: Settings, portal: OpenSearch, indexer: OpenSearch, client: OpenSearch
) -> None:
    """A portal process queues and polls jobs and `lantern worker` (the portal's user) leases and
    finishes them; every portal process counts rate-limit hits in one index. The indexer's
    credentials touch neither, and the portal cannot drop either index."""
    jobs = indices.writer_target(secured, jobs_mapping)
    job = {jobs_mapping.KIND: "batch", jobs_mapping.OWNER: "ana", jobs_mapping.STATUS: jobs_mapping.QUEUED}
    portal.index(index=jobs, id="j-1", body=job, op_type="create", refresh=True)
    meta = portal.get(index=jobs, id="j-1")
    # The worker's lease is a conditional write.
    portal.index(
        index=jobs,
        id="j-1",
        body={**job, jobs_mapping.STATUS: jobs_mapping.RUNNING},
        if_seq_no=meta["_seq_no"],
        if_primary_term=meta["_primary_term"],
        refresh=True,
    )
    _forbidden(lambda: indexer.get(index=jobs, id="j-1"))
    _forbidden(lambda: indexer.index(index=jobs, id="j-2", body=job))

    limits = indices.writer_target(secured, ratelimits_mapping)
    portal.update(
        index=limits,
        id="search/ana",
        body={"upsert": {ratelimits_mapping.COUNT: 1}, "script": {"source": "ctx._source.count += 1"}},
        refresh=True,
    )
    portal.delete_by_query(index=limits, body={"query": {"match_all": {}}}, refresh=True)
    _forbidden(
        lambda: indexer.update(index=limits, id="search/ana", body={"doc": {ratelimits_mapping.COUNT: 0}})
    )
    for physical in (
        indices.current_index(client, secured, jobs_mapping),
        indices.current_index(client, secured, ratelimits_mapping),
    ):
        _forbidden(lambda: portal.indices.delete(index=physical))  # noqa: B023 (called at once)
    assert client.get(index=jobs, id="j-1")["_source"][jobs_mapping.STATUS] == jobs_mapping.RUNNING


def test_no_role_reads_or_deletes_the_security_index(settings: Settings) -> None:
    """Users' password hashes live there: only the admin certificate reaches them."""
    for c in (make_client(settings, "serving"), make_client(settings, "ingest")):
        with pytest.raises(AuthorizationException):
            c.search(index=".opendistro_security", body={"query": {"match_all": {}}})
    admin = make_client(settings, "admin")
    # System-index protection: even all_access sees no documents and cannot delete it.
    hits = admin.search(index=".opendistro_security", body={"query": {"match_all": {}}})["hits"]
    assert hits["total"]["value"] == 0 and hits["hits"] == []
    _forbidden(lambda: admin.indices.delete(index=".opendistro_security"))


def test_two_processes_syncing_the_security_config_at_once_both_succeed(
    opensearch_node: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test workers and portals start together; the loser of a config write race retries.

    Two writers are released together and both write the same document (``force``); the
    plugin answers 409 to the one whose write lost, and the test insists that happened in at
    least one round, so the retry is what it proves. Only the security config document is
    written: every write makes the node reload its whole security configuration (about a
    second on a loaded machine), and a race on one document is the same code path as a race
    on any other (the roles, mappings and users are written the same way, one PUT each, and
    ``test_security_sync_writes_only_what_differs_and_repairs_drift`` checks their content).
    """
    if not opensearch_node.embedded:
        pytest.skip("an external cluster's security configuration is its operator's")
    monkeypatch.setattr(opensearch_security, "roles_config", lambda prefix: {})
    monkeypatch.setattr(opensearch_security, "roles_mapping_config", lambda: {})
    monkeypatch.setattr(opensearch_security, "read_credentials", lambda paths: {})
    real_request = embedded._request
    put_answers: list[Any] = []

    def spy(settings: Settings, url: str, **kw: Any) -> Any:
        answer = real_request(settings, url, **kw)  # the real PUT: this only watches
        if kw.get("method") == "PUT":
            put_answers.append((answer or {}).get("http_status"))
        return answer

    monkeypatch.setattr(embedded, "_request", spy)
    errors: list[BaseException] = []
    written: list[list[str]] = []

    def sync(start: threading.Barrier) -> None:
        try:
            start.wait()
            written.append(embedded.sync_security(opensearch_node, force=True))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    # The two writes overlap almost always (~3 rounds in 4 meet); a few rounds make missing
    # the race every time vanishingly unlikely.
    for _ in range(8):
        start = threading.Barrier(2)
        threads = [threading.Thread(target=sync, args=(start,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        if 409 in put_answers:
            break
    assert 409 in put_answers, f"the two writers never met (answers {put_answers})"
    assert all(w == ["securityconfig/config"] for w in written), written


def test_security_sync_writes_only_what_differs_and_repairs_drift(opensearch_node: Settings) -> None:
    """Every start syncs; a write makes each node reload its security configuration and drop its
    authentication cache, so a sync with nothing to change writes nothing."""
    if not opensearch_node.embedded:
        pytest.skip("an external cluster's security configuration is its operator's")
    assert embedded.sync_security(opensearch_node) == []
    # A role edited behind Lantern's back (through the API, with the admin certificate).
    url = embedded.node_urls(opensearch_node)[0] + "/_plugins/_security/api/roles/lantern_indexer"
    drifted = {"cluster_permissions": ["cluster:monitor/main"], "index_permissions": []}
    answer = embedded._request(opensearch_node, url, method="PUT", body=drifted, admin_cert=True, timeout=30)
    assert answer is not None and answer.get("status") == "OK", answer
    assert embedded.sync_security(opensearch_node) == ["roles/lantern_indexer"]
    assert embedded.sync_security(opensearch_node) == []
