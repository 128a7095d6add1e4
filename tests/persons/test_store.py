"""The persons store on the real OpenSearch node: documents, decisions, incremental writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from demo.persons import generate
from lantern import indices
from lantern.settings import Settings
from mappings import persons as P
from persons import store
from persons.features import Mention
from persons.resolver import Decision
from tests.persons.test_resolver import CASES, PNC_SHORT, M


@pytest.fixture()
def own(settings: Settings) -> Settings:
    """A prefix per test: each test owns its persons and decisions indices."""
    import uuid

    return settings.model_copy(update={"index_prefix": f"{settings.index_prefix}p{uuid.uuid4().hex[:6]}-"})


@pytest.fixture(scope="module")
def background() -> list[Mention]:
    return [x.mention for x in generate(2000, seed=12)]


def _nominal_of(client: OpenSearch, settings: Settings) -> dict[str, str]:
    return store.load_state(client, settings).nominal_of


def test_rebuild_writes_one_document_per_nominal_with_explained_links(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    res = store.rebuild(client, own, background + CASES)
    doc = store.get_nominal(client, own, res.nominal_of["pw1"])
    assert doc is not None
    assert set(doc[P.RECORD_IDS]) == {"rec-pw1", "rec-pw2", "rec-pw3"}
    assert {"Paweł Wiśniewski", "Pawel Wisniewski"} <= set(doc[P.NAMES])
    assert set(doc[P.DOBS]) == {"1984-03-07", "1984-07-03"}
    assert len(doc[P.PNC_IDS]) == 1  # long and short forms are one identifier
    linked = [m for m in doc[P.MENTIONS] if m.get(P.M_PROBABILITY)]
    assert linked and all(m[P.M_REASONS] for m in linked)
    assert any("PNC ID agrees" in m[P.M_REASONS] for m in linked)
    assert all(set(m[P.M_WEIGHTS]) <= set(P.WEIGHT_FIELDS) for m in linked)
    count = client.count(index=indices.read_alias(own, P))["count"]
    assert count == len(set(res.nominal_of.values()))
    # The mention -> nominal lookup that records use.
    assert store.nominal_of_mentions(client, own, ["pw2", "so1"]) == {
        "pw2": res.nominal_of["pw2"],
        "so1": res.nominal_of["so1"],
    }


def test_persons_mapping_is_strict(client: OpenSearch, own: Settings) -> None:
    store.ensure(client, own)
    with pytest.raises(RequestError):
        client.index(index=indices.writer_target(own, P), body={P.ID: "x", "nickname": "Bob"})


def test_decisions_are_stored_and_survive_every_rebuild(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    first = store.rebuild(client, own, background + CASES)
    assert first.nominal_of["pw1"] == first.nominal_of["pw2"]
    with pytest.raises(PermissionError):
        store.add_decision(
            client,
            own,
            Decision("pw1", "pw2", False, "no", "bob"),
            record_a="rec-pw1",
            record_b="rec-pw2",
            by_role="viewer",
        )
    store.add_decision(
        client,
        own,
        Decision("pw1", "pw2", False, "different tattoos on custody photos", "ana"),
        record_a="rec-pw1",
        record_b="rec-pw2",
        by_role="analyst",
    )
    second = store.rebuild(client, own, background + CASES)
    assert second.nominal_of["pw1"] != second.nominal_of["pw2"]
    third = store.rebuild(client, own, background + CASES)
    assert third.nominal_of == second.nominal_of
    doc = store.get_nominal(client, own, second.nominal_of["pw2"])
    assert doc is not None
    assert any(m[P.M_DECIDED] for m in doc[P.MENTIONS] if m[P.M_ID] == "pw2")
    # Untouched nominals kept their ids through both rebuilds.
    assert all(third.nominal_of[m] == first.nominal_of[m] for m in first.nominal_of if not m.startswith("pw"))


def test_incremental_load_resolves_against_stored_nominals_and_reload_changes_nothing(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    base = [c for c in CASES if c.mention_id != "pw3"]
    first = store.rebuild(client, own, background + base)
    inc = store.IncrementalResolver(client, own)
    out = inc.resolve([M("pw9", "Pawel", "Wisniewski", date(1984, 3, 7), pnc_id=PNC_SHORT)], refresh=True)
    assert out["pw9"] == first.nominal_of["pw1"]
    doc = store.get_nominal(client, own, first.nominal_of["pw1"])
    assert doc is not None and "rec-pw9" in doc[P.RECORD_IDS]
    # A second process sees the same state; reloading unchanged mentions changes no id.
    before = _nominal_of(client, own)
    again = store.IncrementalResolver(client, own).resolve(background[:200] + base, refresh=True)
    assert all(again[m] == before[m] for m in again)
    assert _nominal_of(client, own) == before


def test_a_deleted_record_leaves_the_nominals_that_held_its_people(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    res = store.rebuild(client, own, background + CASES, refresh=True)
    nid = res.nominal_of["pw1"]
    before = store.get_nominal(client, own, nid)
    assert before is not None and "rec-pw2" in before[P.RECORD_IDS]
    assert store.forget_record(client, own, "rec-pw2") == 1
    after = store.get_nominal(client, own, nid)
    assert after is not None
    assert "rec-pw2" not in after[P.RECORD_IDS]
    assert {m[P.M_ID] for m in after[P.MENTIONS]} == {m[P.M_ID] for m in before[P.MENTIONS]} - {"pw2"}
    assert all(m.get(P.M_LINKED_TO) != "pw2" for m in after[P.MENTIONS])
    assert after[P.MENTION_COUNT] == before[P.MENTION_COUNT] - 1
    # Resuming from the store (the next load) no longer holds the deleted person.
    assert "pw2" not in _nominal_of(client, own)
    # A nominal whose only record is deleted is gone.
    alone = next(n for n, ms in res.nominals().items() if len(ms) == 1)
    only = store.get_nominal(client, own, alone)
    assert only is not None
    assert store.forget_record(client, own, only[P.RECORD_IDS][0]) == 1
    assert store.get_nominal(client, own, alone) is None
    assert store.forget_record(client, own, "rec-never-indexed") == 0


def test_nominals_hold_canonical_ni_numbers_and_emails_per_nominal_and_per_mention(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    res = store.rebuild(client, own, background + CASES)
    ni = store.get_nominal(client, own, res.nominal_of["ni1"])
    assert ni is not None and res.nominal_of["ni2"] == ni[P.ID]
    # "QQ 40 21 77 B" and "qq402177b" are one NI number.
    assert ni[P.NINOS] == ["QQ402177B"]
    assert {m[P.M_ID]: m[P.M_NINO] for m in ni[P.MENTIONS]} == {"ni1": "QQ402177B", "ni2": "QQ402177B"}
    father = store.get_nominal(client, own, res.nominal_of["fe1"])
    assert father is not None and father[P.EMAILS] == ["rowbothams@example.com"]
    assert [m[P.M_EMAIL] for m in father[P.MENTIONS] if m[P.M_ID] == "fe1"] == ["rowbothams@example.com"]
    pw = store.get_nominal(client, own, res.nominal_of["pw1"])
    assert pw is not None and pw[P.NINOS] == [] and pw[P.EMAILS] == []
    # The nominal-level fields are searchable keywords.
    hits = client.search(
        index=indices.read_alias(own, P), body={"query": {"term": {P.NINOS: "QQ402177B"}}, "_source": [P.ID]}
    )["hits"]["hits"]
    assert [h["_source"][P.ID] for h in hits] == [ni[P.ID]]


# Keyed NI numbers and emails, valid and not, that the migration's painless checks must treat
# exactly as entity_extraction.identifiers does.
KEYED_NINOS = [
    "QQ 40 21 77 B",
    "qq402177b",
    " AB123456C ",
    "AB 12 34 56 C",
    "AB12 3456C",
    "Ab123456c",
    "DA123456A",
    "AO123456A",
    "GB123456A",
    "AB123456E",
    "AB1234567C",
    "AB  123456C",
    "QQ123456",
    "",
]
KEYED_EMAILS = [
    "Rowbothams@Example.COM",
    " j.smith+tag@mail.example.co.uk ",
    "a_b%c-d@x-y.example.com",
    "a@b",
    "a@@example.com",
    "a@b@example.com",
    ".a@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@example.c",
    "a@example.c0m",
    "a@example..com",
    "a b@example.com",
    "@example.com",
    "",
]


def test_migrating_a_version_1_index_fills_ni_numbers_and_emails_from_the_keyed_mentions(
    client: OpenSearch, own: Settings
) -> None:
    from entity_extraction.identifiers import canonical_email, canonical_nino

    assert P.VERSION == 2
    # The version-1 index: today's mapping without the four identifier fields, and its
    # documents as the version-1 store wrote them.
    v1 = P.body(own)
    props = v1["mappings"]["properties"]
    for name in (P.NINOS, P.EMAILS):
        del props[name]
    for name in (P.M_NINO, P.M_EMAIL):
        del props[P.MENTIONS]["properties"][name]
    alias = indices.read_alias(own, P)
    v1["aliases"] = {alias: {}, indices.write_alias(own, P): {"is_write_index": True}}
    old = f"{alias}-v1"
    client.indices.create(index=old, body=v1)
    keyed = list(zip(KEYED_NINOS, KEYED_EMAILS, strict=False)) + [
        (None, e) for e in KEYED_EMAILS[len(KEYED_NINOS) :]
    ]
    members = [
        M(f"k{i}", "Ann", "Keyed", date(1980, 1, 2), nino=n, email=e) for i, (n, e) in enumerate(keyed)
    ]
    members.append(M("k-none", "Ann", "Keyed", None))
    docs = {
        "N-keyed": store.nominal_document("N-keyed", members, {}, set(), "v3"),
        "N-plain": store.nominal_document("N-plain", [M("p1", "Bo", "Plain", None)], {}, set(), "v3"),
    }
    for doc in docs.values():
        for name in (P.NINOS, P.EMAILS):
            del doc[name]
        for entry in doc[P.MENTIONS]:
            del entry[P.M_NINO], entry[P.M_EMAIL]
        client.index(index=old, id=doc[P.ID], body=doc)
    client.indices.refresh(index=old)
    assert P.NAME in {m.NAME for m in indices.outdated(client, own)}
    # Resolving into it before the migration is refused with the step to take.
    with pytest.raises(indices.OutdatedIndexError, match="lantern index migrate persons"):
        store.IncrementalResolver(client, own)
    from rich.console import Console

    from indexer.loader import run_load_command

    said = Console(record=True, width=300)
    loaded = run_load_command(
        [Path("never-read.ndjson")],
        settings=own,
        record_type=None,
        mapping=None,
        rejects=None,
        allow_rejects=False,
        extract_entities=False,
        restart=False,
        rebuild=False,
        console=said,
        resolve_people=True,
    )
    assert loaded == 2 and "lantern index migrate persons" in said.export_text()

    new = indices.migrate(client, own, P)

    assert new != old and not client.indices.exists(index=old)
    assert P.NAME not in {m.NAME for m in indices.outdated(client, own)}
    got = store.get_nominal(client, own, "N-keyed")
    assert got is not None
    by_mention = {e[P.M_ID]: e for e in got[P.MENTIONS]}
    for i, (n, e) in enumerate(keyed):
        entry = by_mention[f"k{i}"]
        assert entry[P.M_NINO] == (canonical_nino(n) if n else None), n
        assert entry[P.M_EMAIL] == (canonical_email(e) if e else None), e
    assert by_mention["k-none"][P.M_NINO] is None and by_mention["k-none"][P.M_EMAIL] is None
    # The nominal's lists are exactly what the store writes today for the same mentions.
    fresh = store.nominal_document("N-keyed", members, {}, set(), "v3")
    assert got[P.NINOS] == fresh[P.NINOS] == ["AB123456C", "QQ402177B"]
    assert got[P.EMAILS] == fresh[P.EMAILS]
    assert len(fresh[P.EMAILS]) == 3
    plain = store.get_nominal(client, own, "N-plain")
    assert plain is not None and plain[P.NINOS] == [] and plain[P.EMAILS] == []
    # Resolution resumes from the migrated index and writes today's documents into it.
    res = store.rebuild(client, own, members)
    rebuilt = store.get_nominal(client, own, res.nominal_of["k0"])
    assert rebuilt is not None and "QQ402177B" in rebuilt[P.NINOS]


def _partition(nominal_of: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for m, n in nominal_of.items():
        groups.setdefault(n, set()).add(m)
    return {frozenset(g) for g in groups.values()}


def test_full_and_incremental_resolution_agree_when_values_are_crowded(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    from persons.features import phone_key
    from persons.resolver import Resolver
    from tests.persons.test_blocking import CROWD, CUSTODY_PHONE, NELSON

    # A cap of 3 people a block: the custody number is crowded, and so are a few ordinary
    # blocks of the background (common names with a missing DOB).
    cap = 3
    mentions = background[:150] + CASES + CROWD + NELSON
    full = Resolver(block_cap=cap)
    rebuilt = store.rebuild(client, own, mentions, resolver=full)
    assert full.cap_stats is not None and full.cap_stats.crowded["blk_phone_key"] == 1
    other = own.model_copy(update={"index_prefix": f"{own.index_prefix}inc-"})
    inc = store.IncrementalResolver(client, other, Resolver(block_cap=cap))
    order = background[:150] + CASES + NELSON
    for i, person in enumerate(CROWD):  # three in the first batch, then one a batch
        order.insert(i * 55, person)

    def phone_block_of_c0() -> str:
        row = inc.resolver.con.execute("SELECT blk_phone_key FROM mentions WHERE unique_id = 'c0'").fetchone()
        assert row is not None
        return str(row[0])

    for i in range(0, len(order), 120):
        inc.resolve(order[i : i + 120], refresh=True)
        if i == 0:  # not crowded yet: the phone alone is the block
            assert phone_block_of_c0() == phone_key(CUSTODY_PHONE)
    # Crowded by a later batch: split for the mention held since the first.
    assert phone_block_of_c0() != phone_key(CUSTODY_PHONE)
    assert _partition(_nominal_of(client, other)) == _partition(rebuilt.nominal_of)
    assert rebuilt.nominal_of["jn1"] == rebuilt.nominal_of["jn2"]
    assert len({rebuilt.nominal_of[m.mention_id] for m in CROWD}) == len(CROWD)
