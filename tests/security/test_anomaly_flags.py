"""Issue 13, finding 6: anomaly flags on audit events, written against the real node."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from opensearchpy import OpenSearch

from lantern.anomalies import Colleague, Colleagues, extra_flags, names_person, strip_rank
from lantern.audit import AuditLog, is_self_search
from lantern.indices import forget_ensured
from lantern.principal import Principal
from lantern.settings import Settings
from lantern.users import UserStore
from portal.security.auditq import baseline_spikes
from tests.portal_fixtures import PASSWORD


@dataclass
class Purpose:
    code: str
    reference: str | None


WITH_REF = Purpose("investigation", "CR/000111/24")


def test_self_search_sees_through_a_rank() -> None:
    assert strip_rank("PC Olivia Okafor") == "Olivia Okafor"
    assert strip_rank("A/DS Sam Ng") == "Sam Ng"
    assert strip_rank("DCI Constable") == "Constable"  # a surname that is also a rank word stays
    assert is_self_search("Olivia Okafor", "PC Olivia Okafor")
    assert is_self_search("okafor olivia", "PC Olivia Okafor")  # any order
    assert is_self_search("Bill Jones", "Insp William Jones")  # a nickname
    assert is_self_search("Olivia Okafor 12/03/1985", "Det Sgt Olivia Okafor")
    assert not is_self_search("Olivia Smith", "PC Olivia Okafor")
    assert names_person("Jon Smyth", "DC John Smith") and not names_person("Mary Smyth", "DC John Smith")


def test_the_colleague_index_names_whom_every_comparison_would() -> None:
    """``Colleagues.named_in`` (an index on surname keys) against ``names_person`` run on every
    account, over a few hundred generated accounts and queries naming some of them as officers
    key names: nicknames, misspellings, surname first, ranks, diacritics, hyphens."""
    import random

    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(13)
    rng = random.Random(13)
    ranks = ["PC", "DC", "DS", "Insp", "A/DS", "Det Sgt", ""]
    displays = [f"{rng.choice(ranks)} {fake.first_name()} {fake.last_name()}".strip() for _ in range(400)]
    displays += ["Solo", "PC Łukasz Nowak", "DS Søren Møller-Hansen", "Insp William Jones", "DC John Smith"]
    accounts = [Colleague(f"u{n}", d, frozenset()) for n, d in enumerate(displays)]
    index = Colleagues(accounts)

    def typo(word: str) -> str:
        i = rng.randrange(1, len(word)) if len(word) > 2 else 0
        return word[:i] + word[i + 1 :]

    queries = ["Bill Jones", "Jon Smyth", "SMITH, John", "lukasz nowak", "Soren Moller Hansen"]
    queries.append("burglary 2021")
    for d in rng.sample(displays, 150):
        parts = strip_rank(d).split()
        forename, surname = parts[0], parts[-1]
        queries += [
            f"{forename} {surname}",
            f"{surname.upper()}, {forename}",
            f"{typo(forename)} {surname} 12/03/1985",
            f"{forename} {typo(surname)}",
            f"{fake.first_name()} {surname} knife Lambeth",
        ]
    named = 0
    for q in queries:
        expected = {
            a.username
            for a in accounts
            if len(strip_rank(a.display_name).split()) >= 2 and names_person(q, a.display_name)
        }
        assert index.named_in(q) == expected, q
        named += bool(expected)
    assert named > 300  # the queries do name people, so the equality is not all empty sets


@pytest.fixture
def fsettings(settings: Settings) -> Iterator[Settings]:
    s = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}fl{uuid.uuid4().hex[:6]}-"})
    forget_ensured()
    yield s


@pytest.fixture
def people(client: OpenSearch, fsettings: Settings) -> dict[str, Principal]:
    out = {}
    for name, display in (("okafor", "PC Olivia Okafor"), ("patel", "DS Priya Patel"), ("solo", "Solo")):
        u = UserStore(client, fsettings).create(
            name,
            PASSWORD,
            roles=("officer",),
            units=("RESPONSE",),
            display_name=display,
            home_postcodes=["se1 7pb"] if name == "okafor" else [],
        )
        out[name] = u.principal()
    return out


def flags_of(
    audit: AuditLog, user: Principal, action: str, purpose: Purpose | None = WITH_REF, **details: object
) -> list[str]:
    ev = audit.record(None, action, principal=user, purpose=purpose, details=dict(details))
    return list(ev["flags"])


def test_flags_written_on_events(
    client: OpenSearch, fsettings: Settings, people: dict[str, Principal]
) -> None:
    audit = AuditLog(client, fsettings, head_file=fsettings.state_dir / f"{uuid.uuid4().hex}.log")
    me = people["okafor"]
    assert flags_of(audit, me, "search", query="Olivia Okafor") == ["self_search"]
    # A colleague by name (rank stripped on their side too), spelling-tolerant.
    assert "colleague_search" in flags_of(audit, me, "search", query="Prya Patel")
    assert "colleague_search" in flags_of(audit, me, "batch_search", lines=["AB12 CDE", "Priya Patel"])
    # A one-word display name never matches: it is not a person's name.
    assert "colleague_search" not in flags_of(audit, me, "search", query="Solo Han")
    # Own postcode, however it is typed.
    assert "own_postcode" in flags_of(audit, me, "search", query="burglary se17pb")
    assert "own_postcode" in flags_of(audit, me, "api.search", query="SE1 7PB")
    assert "own_postcode" not in flags_of(audit, people["patel"], "search", query="SE1 7PB")
    # no_reference on every data action, not only searches.
    for action in ("record.view", "entity.view", "export", "notifications.view", "batch_search"):
        assert "no_reference" in flags_of(audit, me, action, purpose=Purpose("training", None)), action
        assert "no_reference" not in flags_of(audit, me, action), action
    assert (
        flags_of(audit, me, "search", purpose=Purpose("training", None), query="x").count("no_reference") == 1
    )
    # The flags are searchable by the auditor.
    audit.refresh()
    hits = client.search(
        index=fsettings.index_name("audit"), body={"query": {"term": {"flags": "own_postcode"}}}
    )
    assert hits["hits"]["total"]["value"] == 2


def test_out_of_hours_bulk_and_review_sample(fsettings: Settings, people: dict[str, Principal]) -> None:
    me = people["patel"]
    night = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    day = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    s = fsettings.model_copy(update={"review_sample_one_in": 0})
    for action in ("export", "batch_search"):
        assert "out_of_hours_bulk" in extra_flags(
            action, me, WITH_REF, {}, settings=s, directory=None, now=night
        )
        assert "out_of_hours_bulk" not in extra_flags(
            action, me, WITH_REF, {}, settings=s, directory=None, now=day
        )
    assert "out_of_hours_bulk" not in extra_flags(
        "search", me, WITH_REF, {}, settings=s, directory=None, now=night
    )
    every = fsettings.model_copy(update={"review_sample_one_in": 1})
    assert "review_sample" in extra_flags(
        "record.view", me, WITH_REF, {}, settings=every, directory=None, now=day
    )
    one_in_4 = fsettings.model_copy(update={"review_sample_one_in": 4})
    sampled = sum(
        "review_sample" in extra_flags("search", me, WITH_REF, {}, settings=one_in_4, directory=None, now=day)
        for _ in range(2000)
    )
    assert 350 < sampled < 650  # about 1 in 4: random, not every 4th
    assert extra_flags("login", me, None, {}, settings=every, directory=None, now=day) == []


def test_volume_spike_against_own_baseline(client: OpenSearch, fsettings: Settings) -> None:
    index = f"{fsettings.index_name('audit')}"
    audit = AuditLog(client, fsettings, head_file=fsettings.state_dir / f"{uuid.uuid4().hex}.log")
    audit.refresh()  # creates the index
    today = date(2026, 2, 20)
    docs: list[dict[str, object]] = []
    seq = 10_000

    def add(user: str, when: datetime, n: int) -> None:
        nonlocal seq
        for _ in range(n):
            seq += 1
            docs.append({"create": {"_index": f"{index}-write", "_id": str(seq)}})
            docs.append({"seq": seq, "ts": when.isoformat(), "user": user, "action": "search", "flags": []})

    for d in range(1, 29):  # busy analyst: 60 a day; quiet officer: 2 a day
        when = datetime.combine(today - timedelta(days=d), datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=10
        )
        add("busy", when, 60)
        add("quiet", when, 2)
    noon = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    add("busy", noon, 80)  # a normal day for them
    add("quiet", noon, 70)  # 35 times their habit
    # The audit index is append-only: its guard pipeline refuses anything but create.
    written = client.bulk(body=docs, refresh=True)
    assert not written["errors"], [i for i in written["items"] if i["create"].get("error")][:1]
    spikes = baseline_spikes(client, fsettings, today, factor=4, min_actions=50)
    assert [s["user"] for s in spikes] == ["quiet"]
    assert spikes[0]["count"] == 70 and spikes[0]["baseline"] == 2.0
