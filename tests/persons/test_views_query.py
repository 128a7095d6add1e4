"""The viewer's nominal (only readable records count) and the person search builders."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from opensearchpy import OpenSearch

from demo.persons import generate
from lantern import indices
from lantern.settings import Settings
from mappings import person_decisions as D
from mappings import persons as P
from persons import query as Q
from persons import store
from persons.features import Mention
from persons.views import readable_view
from tests.persons.test_resolver import CASES


def _entry(
    mid: str,
    record: str,
    name: str,
    dob: str | None,
    links: list[tuple[str, float, list[str]]],
    pnc: str | None = None,
    nino: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        P.M_ID: mid,
        P.M_RECORD_ID: record,
        P.M_ROLE: "suspect",
        P.M_NAME: name,
        P.M_DOB: dob,
        P.M_PNC_ID: pnc,
        P.M_NINO: nino,
        P.M_EMAIL: email,
        P.M_DECIDED: False,
    }
    if links:
        first, *more = links
        e.update({P.M_LINKED_TO: first[0], P.M_PROBABILITY: first[1], P.M_REASONS: first[2]})
        e[P.M_MORE_LINKS] = [{P.M_LINKED_TO: o, P.M_PROBABILITY: p, P.M_REASONS: r} for o, p, r in more]
    return e


DOC = {
    P.ID: "N-1",
    P.MENTIONS: [
        _entry(
            "a",
            "r1",
            "Paweł Wiśniewski",
            "1984-03-07",
            [("b", 0.99, ["DOB agrees"])],
            pnc="2007/0003649X",
            nino="QQ123456C",
        ),
        _entry(
            "b",
            "r2",
            "Pawel Wisniewski",
            "1984-07-03",
            [("c", 1.0, ["PNC ID agrees"]), ("a", 0.99, ["x"])],
            email="pawel.w@example.com",
        ),
        _entry(
            "c",
            "r3",
            "Gosia Secret",
            "1990-01-01",
            [("b", 1.0, ["PNC ID agrees"])],
            pnc="2007/0003649X",
            nino="QQ654321A",
            email="gosia.secret@example.com",
        ),
        _entry("d", "r4", "Pawel Wisniewski", None, [("c", 0.999, ["PNC ID agrees"])]),
    ],
}


def test_view_is_computed_from_readable_records_only() -> None:
    full = readable_view(DOC, {"r1", "r2", "r3", "r4"})
    assert full is not None and full.record_count == 4
    assert "Gosia Secret" in full.names and "1990-01-01" in full.dobs
    part = readable_view(DOC, {"r1", "r2", "r4"})
    assert part is not None
    assert "Gosia Secret" not in part.names and "1990-01-01" not in part.dobs
    # b's best link leads to the unreadable r3: its next link (to a) explains it instead;
    # d is tied to the nominal only through r3, so it is not shown at all.
    assert [r.record_id for r in part.records] == ["r1", "r2"]
    assert part.records[1].reasons == ("x",)
    assert part.identifiers["pnc_id"] == ["2007/0003649X"]
    assert readable_view(DOC, {"r9"}) is None


def test_ni_numbers_and_emails_come_from_readable_records_only() -> None:
    full = readable_view(DOC, {"r1", "r2", "r3", "r4"})
    assert full is not None
    assert full.identifiers["nino"] == ["QQ123456C", "QQ654321A"]
    assert full.identifiers["email"] == ["gosia.secret@example.com", "pawel.w@example.com"]
    # r3 holds the second NI number and the second email: without it they are not there.
    part = readable_view(DOC, {"r1", "r2", "r4"})
    assert part is not None
    assert part.identifiers == {
        "pnc_id": ["2007/0003649X"],
        "cro_no": [],
        "nino": ["QQ123456C"],
        "email": ["pawel.w@example.com"],
    }
    assert part.as_api()["identifiers"] == part.identifiers
    # A readable mention that is not shown (d: tied on only through r3) gives none either.
    only_d = readable_view(
        {
            P.ID: "N-2",
            P.MENTIONS: [*DOC[P.MENTIONS][:3], _entry("d", "r4", "P W", None, [], nino="QQ111111A")],
        },
        {"r1", "r4"},
    )
    assert only_d is not None and only_d.identifiers["nino"] == ["QQ123456C"]


def test_decisions_are_shown_only_when_both_records_are_readable() -> None:
    decisions = [
        {
            D.MENTION_A: "a",
            D.MENTION_B: "c",
            D.RECORD_A: "r1",
            D.RECORD_B: "r3",
            D.SAME: False,
            D.REASON: "photos",
            D.BY: "ana",
            D.BY_ROLE: "analyst",
            D.AT: "2026-01-01",
        }
    ]
    assert readable_view(DOC, {"r1", "r2", "r3"}, decisions).decisions  # type: ignore[union-attr]
    assert readable_view(DOC, {"r1", "r2"}, decisions).decisions == []  # type: ignore[union-attr]


def test_dob_candidates_cover_keying_errors_with_their_notice() -> None:
    cands = {c.value: c.tolerance for c in Q.dob_candidates(date(1984, 3, 7), years=2)}
    assert cands[date(1984, 3, 7)] is None
    assert cands[date(1984, 7, 3)] == Q.SWAPPED
    assert cands[date(1984, 3, 8)] == Q.ONE_DIGIT
    assert cands[date(1948, 3, 7)] == Q.ONE_DIGIT  # adjacent transposition
    assert cands[date(1984, 1, 1)] == Q.DEFAULT_DAY
    assert date(1990, 3, 7) not in cands
    decade = {c.value: c.tolerance for c in Q.dob_candidates(date(1979, 12, 31), years=2)}
    assert decade[date(1981, 12, 31)] == "DOB matched 2 years apart"


def test_persons_query_shape() -> None:
    body = Q.persons_query("Pawel Wisniewski", date(1984, 3, 7))
    must = body["query"]["bool"]["must"]
    assert len(must) == 2
    assert {"term": {P.SURNAMES: {"value": "wisniewski", "boost": 3.0}}} in must[1]["bool"]["should"]
    dob_filter = body["query"]["bool"]["filter"][0]["terms"][P.DOBS]
    assert "1984-07-03" in dob_filter and "1984-03-07" in dob_filter
    # A card is computed from record ids and the mentions' names, DOBs and links only (not
    # the links' probabilities and reasons).
    assert body["_source"] == {"includes": list(Q.CARD_SOURCE)}
    assert not [f for f in Q.CARD_SOURCE if f.endswith((P.M_PROBABILITY, P.M_REASONS, P.M_WEIGHTS))]
    assert f"{P.MENTIONS}.{P.M_SOURCE}" not in Q.CARD_SOURCE
    assert f"{P.MENTIONS}.{P.M_NINO}" not in Q.CARD_SOURCE
    assert {
        P.ID,
        P.RECORD_IDS,
        f"{P.MENTIONS}.{P.M_LINKED_TO}",
        f"{P.MENTIONS}.{P.M_MORE_LINKS}.{P.M_LINKED_TO}",
    } <= set(Q.CARD_SOURCE)
    with pytest.raises(ValueError):
        Q.persons_query("  ")


def test_view_matches_uses_only_readable_names_and_dobs() -> None:
    part = readable_view(DOC, {"r1", "r2"})
    assert part is not None
    assert Q.view_matches(part, "Pawel Wisniewski", date(1984, 7, 3)) == (True, None)
    assert Q.view_matches(part, "Pawel Wisniewski", date(1984, 3, 17)) == (True, Q.ONE_DIGIT)
    assert Q.view_matches(part, "Gosia Secret") == (False, None)
    assert Q.view_matches(part, "Pawel Wisniewski", date(1990, 1, 1)) == (False, None)


def test_name_and_swapped_dob_finds_the_nominal_on_the_real_node(
    client: OpenSearch, settings: Settings
) -> None:
    own = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}q-"})
    background: list[Mention] = [x.mention for x in generate(1500, seed=13)]
    res = store.rebuild(client, own, background + CASES)
    body = Q.persons_query("Pawel Wisniewski", date(1984, 3, 7))
    hits = client.search(index=indices.read_alias(own, P), body=body)["hits"]["hits"]
    assert hits and hits[0]["_source"][P.ID] == res.nominal_of["pw1"]
    # The cards from the fields the query returns (CARD_SOURCE) are the cards from whole
    # nominals, whichever of their records the viewer may read.
    whole = client.search(index=indices.read_alias(own, P), body={**body, "_source": True})["hits"]["hits"]
    assert [h["_source"][P.ID] for h in whole] == [h["_source"][P.ID] for h in hits]
    assert any(len(h["_source"][P.MENTIONS]) > 1 for h in whole)
    records = Q.candidate_record_ids(whole)
    for readable in (set(records), set(records[::2]), set(records[1::2]), set(records[:1])):
        for name, dob in (("Pawel Wisniewski", date(1984, 3, 7)), ("Pawel Wisniewski", None)):
            assert Q.person_cards(hits, readable, name, dob) == Q.person_cards(whole, readable, name, dob)
    # Swapped and one-digit-off DOBs typed by the officer still find him.
    for typed in (date(1984, 7, 3), date(1984, 3, 8)):
        hits = client.search(
            index=indices.read_alias(own, P), body=Q.persons_query("Wisniewski Pawel", typed)
        )
        assert res.nominal_of["pw1"] in [h["_source"][P.ID] for h in hits["hits"]["hits"]]
    # Sound-alike spelling of the surname, no DOB.
    hits = client.search(index=indices.read_alias(own, P), body=Q.persons_query("Pawel Wisnewski"))
    assert res.nominal_of["pw1"] in [h["_source"][P.ID] for h in hits["hits"]["hits"]]


def test_person_cards_drop_what_the_viewer_cannot_read() -> None:
    hits = [{"_source": DOC, "_score": 3.2}]
    assert Q.candidate_record_ids(hits) == []  # DOC has no record_ids field: built from mentions
    src = {**DOC, P.RECORD_IDS: ["r1", "r2", "r3", "r4"]}
    hits = [{"_source": src, "_score": 3.2}]
    assert Q.candidate_record_ids(hits) == ["r1", "r2", "r3", "r4"]
    cards = Q.person_cards(hits, {"r1", "r2"}, "Pawel Wisniewski", date(1984, 7, 30))
    assert len(cards) == 1
    card = cards[0]
    assert card.record_ids == ["r1", "r2"] and card.record_count == 2
    assert card.tolerance == Q.ONE_DIGIT and Q.ONE_DIGIT in card.reasons
    assert card.as_api() == {
        "id": "N-1",
        "names": ["Pawel Wisniewski", "Paweł Wiśniewski"],
        "dobs": ["1984-03-07", "1984-07-03"],
        "record_count": 2,
        "score": 3.2,
        "reasons": ["name matches", Q.ONE_DIGIT],
    }
    # The name only a restricted record holds finds nothing; nor does a nominal with no readable record.
    assert Q.person_cards(hits, {"r1", "r2"}, "Gosia Secret") == []
    assert Q.person_cards(hits, set(), "Pawel Wisniewski") == []


def test_split_name_dob() -> None:
    assert Q.split_name_dob("Pawel Wisniewski 07/03/1984") == ("Pawel Wisniewski", date(1984, 3, 7))
    assert Q.split_name_dob("1984-03-07 pawel  wisniewski") == ("pawel wisniewski", date(1984, 3, 7))
    assert Q.split_name_dob("John Smith") == ("John Smith", None)
    assert Q.split_name_dob("John Smith 31/02/1990") == ("John Smith 31/02/1990", None)


def test_person_intent_from_the_search_parser() -> None:
    from search.parser import parse

    today = date(2026, 11, 30)
    got = Q.person_intent(parse("Pawel Wisniewski 07/03/1984", dob_years=2, today=today))
    assert got == Q.PersonIntent("Pawel Wisniewski", date(1984, 3, 7), 2, None)
    got = Q.person_intent(parse("Ignatius Brackenwald 06/21/1984", dob_years=0, today=today))
    assert got == Q.PersonIntent("Ignatius Brackenwald", date(1984, 6, 21), 0, Q.SWAPPED)
    assert Q.person_intent(parse("knife Peckham", dob_years=0, today=today)) is None  # a weapon term
    assert Q.person_intent(parse("smith OR jones", dob_years=0, today=today)) is None
    assert Q.person_intent(parse("type:custody smith", dob_years=0, today=today)) is None
    assert Q.person_intent(parse("AB12 CDE", dob_years=0, today=today)) is None


def test_a_record_matches_the_readability_probe_of_its_mentions_names() -> None:
    """What ``records_named_alike`` rests on (the search page's cards infer from it that a
    record the secured probe did not return is unreadable): a record's person is indexed with
    at least the sound keys of the name its mention carries in the persons index."""
    from demo.generator import sample_records
    from entity_extraction import names as nk
    from indexer.documents import build_document
    from mappings import fields as F
    from persons.features import mentions_from_record

    checked = 0
    for rec in sample_records(150, seed=5):
        people = {p.get(F.P_MENTION_ID): p for p in build_document(rec)[F.PEOPLE]}
        mentions = mentions_from_record(rec)
        stored = store.nominal_document("N-x", mentions, {}, set(), "v")[P.MENTIONS]
        for m, entry in zip(
            sorted(mentions, key=lambda m: (m.record_date, m.mention_id)), stored, strict=True
        ):
            assert entry[P.M_ID] == m.mention_id
            keys = nk.phonetic_keys_for_name(entry[P.M_NAME])
            assert set(keys) <= set(people[m.mention_id][F.P_NAME_PHONETIC])
            hit = {"_source": {P.MENTIONS: [entry]}}
            assert Q.records_named_alike([hit], keys[:1]) == {rec.record_id}
            assert Q.records_named_alike([hit], ["dm:NOSUCHKEY"]) == set()
            checked += 1
    assert checked > 200


def test_sound_keys_are_every_tokens_keys() -> None:
    from entity_extraction import names as nk

    assert Q.sound_keys("Siobhan O'Neill-Smyth") == sorted(
        {k for t in ("siobhan", "oneill", "smyth") for k in nk.phonetic_keys(t)}
    )
    assert Q.sound_keys("  ") == []
