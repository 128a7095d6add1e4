"""Demo feed generator: linked, realistic, deterministic synthetic records.

``generate(out_dir, records, seed)`` writes ``custody.ndjson``, ``crime.ndjson``,
``case.ndjson``, ``intel.ndjson`` and a legacy CSV export ``legacy-crimes.csv`` (mapped by
``indexer/csv_mappings/legacy-crimes.toml``). Records are produced incident by incident
(crime -> arrests -> case file -> intelligence) and written as they are made, so memory
stays flat at any size; the population behind them is derived lazily (see
:mod:`demo.world`).

Determinism: one ``random.Random(seed)`` drives the run and every entity has its own
seeded generator; dates are anchored to a fixed reference date, never the wall clock.
"""

from __future__ import annotations

import csv
import json
import random
import unicodedata
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from importlib.resources import files
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demo import text as T
from demo import vocab as V
from demo.world import (
    REFERENCE_DATE,
    AddressBase,
    Rendered,
    World,
    address_dict,
    address_text,
    fmt_date,
    fmt_phone,
    fmt_pnc,
    fmt_postcode,
    fmt_vrm,
    phone_display,
    render_person,
    vehicle_dict,
)

if TYPE_CHECKING:
    from lantern.records import AnyRecord

FILES = ("custody.ndjson", "crime.ndjson", "case.ndjson", "intel.ndjson", "legacy-crimes.csv")
SOURCE = {
    "custody": "CUSTODY",
    "crime": "CRIME",
    "case": "CASEFILE",
    "intel": "INTEL",
    "legacy": "LEGACY-CRIMES",
}
# The date retention is judged against when the demo is shown; only shapes the mix of
# past and future review dates (fixed, so output never depends on the wall clock).
RETENTION_TODAY = date(2026, 11, 26)
_START = datetime(2019, 1, 1)
_END = datetime(REFERENCE_DATE.year, REFERENCE_DATE.month, REFERENCE_DATE.day)
_SPAN_MIN = int((_END - _START).total_seconds() // 60)
# Crimes happen more in the evening and at night.
_HOUR_CUM = list(accumulate((4, 3, 2, 2, 1, 1, 1, 2, 3, 4, 4, 5, 5, 5, 5, 6, 7, 8, 8, 8, 8, 7, 6, 5)))
_OFF_CUM = list(accumulate(o.weight for o in V.OFFENCES))
_OUTCOMES = (
    "charged",
    "released_under_investigation",
    "bailed",
    "no_further_action",
    "cautioned",
    "in_custody",
)
_OUTCOME_CUM = list(accumulate((30, 25, 10, 20, 12, 3)))
# Share of each record type the run aims for (intelligence is topped up to its share).
INTEL_SHARE = 0.22
LEGACY_CSV_COLUMNS = (
    "CRIME_NO",
    "CRIME_REF",
    "TITLE",
    "OFF_CODE",
    "OFF_DESC",
    "OFF_CAT",
    "OCC_FROM",
    "OCC_TO",
    "DATE_CREATED",
    "LOC_ADDRESS",
    "LOC_TOWN",
    "LOC_POSTCODE",
    "BOROUGH",
    "UNIT",
    "MO_TEXT",
    "CRIME_STATUS",
    "OUTCOME_CODE",
    "OIC_NAME",
    "OIC_RANK",
    "VICT_FORENAME",
    "VICT_SURNAME",
    "VICT_DOB",
    "VICT_GENDER",
    "SUSP1_FORENAME",
    "SUSP1_SURNAME",
    "SUSP1_DOB",
    "SUSP1_GENDER",
    "SUSP1_PNC",
    "SUSP1_ADDRESS",
    "SUSP1_POSTCODE",
    "SUSP2_ROLE",
    "SUSP2_FORENAME",
    "SUSP2_SURNAME",
    "SUSP2_DOB",
    "SUSP2_PNC",
    "VEHICLES",
    "REVIEW_DATE",
)


def _iso(dt: datetime) -> str:
    # Minute precision, as the source systems record times.
    return dt.replace(second=0, microsecond=0).isoformat() + "Z"


_LANGUAGE = {
    "polish": "Polish",
    "romanian": "Romanian",
    "somali": "Somali",
    "turkish_kurdish": "Turkish",
    "arabic": "Arabic",
    "east_asian": "Vietnamese",
    "south_asian_muslim": "Urdu",
    "southern_european": "Portuguese",
}
_PRONOUNS = {"male": ("he", "his", "him"), "female": ("she", "her", "her")}


class _Generator:
    """One run: the world, the reference counters and the record builders."""

    def __init__(self, seed: int, records: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.world = World(seed, records)
        self.counters: dict[tuple[str, int], int] = {}
        # Recently issued references for cross-mentions in narratives (bounded).
        self.recent_intel: list[str] = []

    # ----------------------------------------------------------------- shared helpers

    def _next(self, key: str, year: int) -> int:
        n = self.counters.get((key, year), 0) + 1
        self.counters[(key, year)] = n
        return n

    def _when(self, rng: random.Random) -> datetime:
        # Triangular towards the reference date: recent years hold more records.
        back = int(_SPAN_MIN * (1 - rng.random() ** 0.5))
        day = _END - timedelta(minutes=back)
        hour = rng.choices(range(24), cum_weights=_HOUR_CUM)[0]
        return day.replace(hour=hour, minute=rng.randrange(60), second=0, microsecond=0)

    def _review(self, rng: random.Random, when: datetime, years: int) -> str:
        base = when.date()
        review = base.replace(year=base.year + years, day=min(base.day, 28))
        # Most records reaching review are retained for another period; a few are not yet
        # actioned and drop out of search (MoPI).
        while review <= RETENTION_TODAY and rng.random() < 0.8:
            review = review.replace(year=review.year + years)
        return review.isoformat()

    def _markings(self, sensitivity: list[str], units: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if sensitivity:
            out["sensitivity"] = sorted(set(sensitivity))
        if units:
            out["restricted_units"] = sorted(set(units))
        return out

    def _address_in(self, borough: V.Borough, rng: random.Random) -> AddressBase:
        w = self.world
        for _ in range(16):
            a = w.address(rng.randrange(w.n_addresses))
            if a.borough == borough.name:
                return a
        return a

    def _pick_public(self, rng: random.Random, gender: str | None = None, adult: bool = False) -> int:
        for _ in range(8):
            pid = self.world.pick_public(rng)
            p = self.world.person(pid)
            if (gender is None or p.gender == gender) and (
                not adult or (REFERENCE_DATE - p.dob).days > 18 * 366
            ):
                return pid
        return pid

    def _mention(self, r: Rendered, rng: random.Random, prefix: str) -> str:
        sur_caps = r.plain_surname.upper()
        roll = rng.random()
        if roll < 0.25:
            return f"{prefix} {sur_caps}" if prefix else f"{r.forename} {sur_caps}"
        if roll < 0.45:
            return f"{prefix + ' ' if prefix else ''}{r.forename} {sur_caps}"
        if roll < 0.6:
            return f"{sur_caps}, {r.forename}"
        if roll < 0.8:
            return f"{prefix + ' ' if prefix else ''}{r.forename} {r.plain_surname}"
        if r.dob is not None and roll < 0.92:
            return f"{r.forename} {sur_caps} ({fmt_date(r.dob, rng)})"
        if r.base.pnc_id:
            return f"{sur_caps} {r.forename} PNC {fmt_pnc(r.base.pnc_id, rng)}"
        return f"{r.forename} {r.plain_surname}"

    def _base_ctx(self, rng: random.Random, borough: V.Borough, when: datetime) -> T._Ctx:
        addr = self._address_in(borough, rng)
        off = rng.random()
        drug = rng.choice(V.DRUGS_A) if off < 0.7 else rng.choice(V.DRUGS_OTHER)
        weapon = rng.choice(V.WEAPONS_BLADED) if rng.random() < 0.75 else rng.choice(V.WEAPONS_OTHER)
        return T.ctx(
            when=f"{when:%H:%M} hrs" if rng.random() < 0.6 else f"{when:%H%M}hrs on {when:%d/%m/%Y}",
            date=when.strftime("%d/%m/%Y"),
            street=f"{addr.street} {addr.suffix}",
            area=rng.choice(borough.areas),
            venue=rng.choice(V.VENUES),
            borough=borough.name,
            loc=address_text(addr, rng),
            weapon=weapon,
            firearm=rng.choice(V.FIREARMS),
            drug=drug,
            drug2=rng.choice(V.DRUGS_A),
            qty=rng.randint(3, 45),
            pkg=rng.choice(V.DRUG_PACKAGING),
            cash=rng.choice((40, 85, 120, 260, 340, 480, 650, 1200, 2350, 4700)),
            item=rng.choice(V.STOLEN_ITEMS),
            shop=rng.choice(V.SHOPS),
            inj=rng.choice(T.INJURIES),
            tag=rng.choice(T.TAGS),
            line=rng.choice(V.DRUG_LINE_NAMES),
            group=rng.choice(T.GROUPS),
            station=borough.station,
            phone_model=rng.choice(V.PHONE_MODELS),
            firm=rng.choice(V.SOLICITOR_FIRMS),
            sdesc=rng.choice(T.SUSPECT_DESC),
            pos=rng.randint(1, 9),
            handle=f"{rng.choice(V.STREET_NAMES).lower()}{rng.randint(1, 99)}",
            language=rng.choice(T.LANGUAGES),
            offence_date=when.strftime("%d/%m/%Y"),
            pc=fmt_postcode(addr.postcode, rng).split(" ")[0] if " " in addr.postcode else addr.postcode,
            vage=rng.randint(11, 15),
            sage=rng.randint(17, 24),
            dose=rng.choice((30, 45, 60, 80)),
            pharmacy=f"the {rng.choice(('Boots', 'Day Lewis', 'Well'))} pharmacy on "
            f"{addr.street} {addr.suffix}",
        )

    def _add_people_ctx(
        self,
        c: T._Ctx,
        rng: random.Random,
        suspects: list[Rendered],
        victims: list[Rendered],
        witnesses: list[Rendered],
        s_prefix: str,
        vehicles: list[Any],
    ) -> None:
        w = self.world
        he, his, him = _PRONOUNS.get(
            suspects[0].base.gender if suspects else "male", ("they", "their", "them")
        )
        c.update(
            he=he,
            his=his,
            him=him,
            He=he.capitalize(),
            sgender=suspects[0].base.gender if suspects else "male",
        )
        if victims:
            vhe, vhis, vhim = _PRONOUNS.get(victims[0].base.gender, ("they", "their", "them"))
        else:
            vhe, vhis, vhim = "they", "their", "them"
        c.update(vhe=vhe, vhis=vhis, vhim=vhim)
        if suspects:
            s = suspects[0]
            c["s"] = self._mention(s, rng, s_prefix)
            c["s_name"] = f"{s.forename} {s.plain_surname.upper()}"
            c["s_dob"] = fmt_date(s.dob, rng) if s.dob else "unknown"
            c["pnc"] = fmt_pnc(s.base.pnc_id, rng) if s.base.pnc_id else "not known"
            home = w.address(s.base.address)
            c["s_home"] = address_text(home, rng)
            c["home"] = c["s_home"]
            c["street_name"] = s.base.street_name or rng.choice(V.STREET_NAMES)
            c["phone"] = (
                fmt_phone(s.base.phones[0], rng)
                if s.base.phones
                else fmt_phone(f"07700900{rng.randint(0, 999):03d}", rng)
            )
            c["email"] = (
                s.base.email or f"{c['street_name'].lower().replace(' ', '')}{rng.randint(1, 99)}@example.com"
            )
            c["sage"] = max(10, (REFERENCE_DATE - s.base.dob).days // 365)
            if len(suspects) > 1:
                c["s2"] = self._mention(suspects[1], rng, s_prefix)
                c["assoc"] = f"{suspects[1].forename} {suspects[1].plain_surname.upper()}"
        else:
            c["s"] = "an unknown male"
            c["s_name"] = "the suspect"
            c["phone"] = fmt_phone(f"07700900{rng.randint(0, 999):03d}", rng)
        if "s2" not in c:
            c["s2"] = "an unknown associate"
            c["assoc"] = "other nominals"
        if victims:
            v = victims[0]
            c["v"] = self._mention(v, rng, "IP")
            c["v_name"] = f"{v.forename} {v.plain_surname}"
            c["vage"] = max(1, (REFERENCE_DATE - v.base.dob).days // 365)
            if "phone" not in c and v.base.phones:
                c["phone"] = fmt_phone(v.base.phones[0], rng)
        else:
            c["v"] = "a member of the public"
            c["v_name"] = "the informant"
        if witnesses:
            c["w"] = self._mention(witnesses[0], rng, "")
            c["w_name"] = f"{witnesses[0].forename} {witnesses[0].plain_surname}"
        else:
            c["w"] = "a passer-by"
            c["w_name"] = "a passer-by"
        if vehicles:
            v0 = vehicles[0]
            c["vrm"] = fmt_vrm(v0, rng)
            c["veh"] = f"{v0.colour} {v0.make} {v0.model}"
        else:
            veh = w.vehicle(rng.randrange(w.n_vehicles))
            c["vrm"] = fmt_vrm(veh, rng)
            c["veh"] = f"{veh.colour} {veh.make} {veh.model}"

    # ----------------------------------------------------------------- incidents

    def incidents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Endless stream of (kind, record dict) in linked order; kind 'legacy' is a CSV crime."""
        emitted = 0
        intel = 0
        while True:
            rng = random.Random(self.rng.getrandbits(64))
            if emitted and intel / emitted < INTEL_SHARE and rng.random() < 0.6:
                rec = self._standalone_intel(rng)
                emitted += 1
                intel += 1
                yield "intel", rec
                continue
            for kind, rec in self._incident(rng):
                emitted += 1
                intel += kind == "intel"
                yield kind, rec

    def _incident(self, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
        w = self.world
        off = rng.choices(V.OFFENCES, cum_weights=_OFF_CUM)[0]
        kind = off.kind
        borough = V.BOROUGHS[rng.randrange(len(V.BOROUGHS))]
        when = self._when(rng)
        # Suspects: found-on-search offences always have one; others are often unknown.
        known = {
            "drugs_supply": 1.0,
            "drugs_possession": 1.0,
            "weapons": 1.0,
            "firearms": 0.95,
            "shoplifting": 0.9,
            "domestic": 1.0,
            "homicide": 0.9,
            "violence": 0.8,
            "sexual": 0.7,
            "sexual_child": 1.0,
            "burglary": 0.35,
            "vehicle": 0.45,
            "theft": 0.4,
            "robbery": 0.55,
            "damage": 0.5,
            "public_order": 0.85,
            "fraud": 0.6,
        }.get(kind, 0.6)
        suspect_ids: list[int] = []
        if rng.random() < known:
            first = w.pick_offender(rng)
            if kind in ("domestic", "sexual", "sexual_child"):
                for _ in range(10):
                    if w.person(first).gender == "male":
                        break
                    first = w.pick_offender(rng)
            suspect_ids.append(first)
            co = w.associates(first)
            n_more = (
                rng.choices((0, 1, 2), weights=(70, 22, 8))[0] if kind not in ("domestic", "sexual") else 0
            )
            for extra in rng.sample(co, min(n_more, len(co))):
                suspect_ids.append(extra)
        victim_ids: list[int] = []
        if off.victim:
            female = kind in ("domestic", "sexual", "sexual_child")
            victim_ids.append(self._pick_public(rng, "female" if female else None))
            if rng.random() < 0.1 and kind in ("violence", "robbery", "public_order"):
                victim_ids.append(self._pick_public(rng))
        witness_ids = [
            self._pick_public(rng, adult=True) for _ in range(rng.choices((0, 1, 2), weights=(50, 35, 15))[0])
        ]
        vehicles: list[Any] = []
        if suspect_ids and (
            kind in ("vehicle", "drugs_supply", "robbery", "firearms", "burglary") and rng.random() < 0.6
        ):
            vehicles.append(w.vehicle(w.group_vehicle(suspect_ids[0])))
        own = w.person(suspect_ids[0]).vehicle if suspect_ids else None
        if own is not None and rng.random() < 0.3:
            vehicles.append(w.vehicle(own))
        if victim_ids and kind == "vehicle":
            vv = w.person(victim_ids[0]).vehicle
            vehicles.insert(0, w.vehicle(vv if vv is not None else rng.randrange(w.n_vehicles)))
        # Access markings follow the offence and the people involved.
        sens: list[str] = []
        units: list[str] = []
        if kind in ("sexual", "sexual_child"):
            sens.append("sexual_offence")
            if rng.random() < 0.6:
                units.append("SAPPHIRE")
        if kind == "sexual_child" or (
            victim_ids
            and (REFERENCE_DATE - w.person(victim_ids[0]).dob).days < 16 * 365
            and rng.random() < 0.7
        ):
            sens.append("child_protection")
            if rng.random() < 0.5:
                units.append("CAIT")
        if kind == "domestic" and rng.random() < 0.25:
            units.append("CSU")
        if kind == "homicide":
            units.append("MIT")
        if rng.random() < 0.005:
            sens.append("professional_standards")
            units.append("PSD")
        if rng.random() < 0.004:
            sens.append("protected_person")
        # Arrests and their outcomes decide the crime's status, so plan them first.
        arrests: list[tuple[int, str, datetime]] = []
        for i, sid in enumerate(suspect_ids[:3]):
            p_arrest = 0.95 if kind in ("drugs_supply", "drugs_possession", "weapons", "shoplifting") else 0.7
            if rng.random() < (p_arrest if i == 0 else 0.5):
                delay = (
                    timedelta(minutes=rng.randint(5, 90))
                    if rng.random() < 0.5
                    else timedelta(days=rng.randint(1, 40), minutes=rng.randint(0, 900))
                )
                at = min(when + delay, _END + timedelta(hours=12))
                outcome = rng.choices(_OUTCOMES, cum_weights=_OUTCOME_CUM)[0]
                if kind in ("homicide", "firearms") and outcome in ("cautioned", "no_further_action"):
                    outcome = "charged"
                arrests.append((sid, outcome, at))
        charged = [a for a in arrests if a[1] == "charged"]
        if charged or any(a[1] == "cautioned" for a in arrests):
            status = "detected"
        elif not suspect_ids or rng.random() < 0.4:
            status = "filed" if (_END - when).days > 60 else "under_investigation"
        else:
            status = "under_investigation"
        crime_ref = f"CR/{self._next('CR', when.year):06d}/{when.year % 100:02d}"
        urn = None
        if charged:
            serial = self._next("URN" + borough.code, when.year)
            urn = f"{V.FORCE_CODE}{borough.code}{serial:05d}{when.year % 100:02d}"
        custody_numbers: dict[int, str] = {}
        for sid, _, at in arrests:
            suite = V.BOROUGHS.index(borough) + 1
            custody_numbers[sid] = (
                f"{suite:02d}{borough.code}/{at.year}/{self._next('CU' + borough.code, at.year):06d}"
            )
        oic = w.pick_officer(rng, ("DC", "PC", "DS"))
        c = self._base_ctx(rng, borough, when)
        c["oic"] = oic.short()
        c["offence"] = off.description.lower()
        c["urn"] = urn or "pending"
        if self.recent_intel:
            c["intel_ref"] = self.recent_intel[rng.randrange(len(self.recent_intel))]
        plan = dict(
            off=off,
            kind=kind,
            borough=borough,
            when=when,
            suspect_ids=suspect_ids,
            victim_ids=victim_ids,
            witness_ids=witness_ids,
            vehicles=vehicles,
            sens=sens,
            units=units,
            arrests=arrests,
            status=status,
            crime_ref=crime_ref,
            urn=urn,
            custody_numbers=custody_numbers,
            oic=oic,
            ctx=c,
        )
        out: list[tuple[str, dict[str, Any]]] = []
        legacy = bool(not sens and not units and victim_ids and suspect_ids) and rng.random() < 0.28
        out.append(("legacy" if legacy else "crime", self._crime(rng, plan, legacy)))
        for sid, outcome, at in arrests:
            out.append(("custody", self._custody(rng, plan, sid, outcome, at)))
        if charged:
            out.append(("case", self._case(rng, plan, charged)))
        if suspect_ids and rng.random() < 0.25:
            out.append(
                (
                    "intel",
                    self._intel(rng, suspect_ids[0], when + timedelta(days=rng.randint(-200, 60)), plan),
                )
            )
        return out

    # ----------------------------------------------------------------- crime

    def _crime(self, rng: random.Random, plan: dict[str, Any], legacy: bool) -> dict[str, Any]:
        w = self.world
        system = "legacy" if legacy else "crime"
        off: V.OffenceDef = plan["off"]
        when: datetime = plan["when"]
        borough: V.Borough = plan["borough"]
        suspects = [
            render_person(w, sid, "suspect", system, rng, detail=False) for sid in plan["suspect_ids"]
        ]
        victims = [render_person(w, vid, "victim", system, rng) for vid in plan["victim_ids"]]
        witnesses = [
            render_person(w, wid, "witness", system, rng, detail=False) for wid in plan["witness_ids"]
        ]
        c: T._Ctx = T._Ctx(plan["ctx"])
        self._add_people_ctx(
            c,
            rng,
            suspects,
            victims,
            witnesses,
            "the suspect" if rng.random() < 0.3 else "",
            plan["vehicles"],
        )
        if not suspects:
            c["s"] = rng.choice(("an unknown male", "the suspect", "an unidentified suspect", "a male"))
        vehicles_used = plan["vehicles"]
        if vehicles_used:
            keeper = render_person(
                w, self._keeper(vehicles_used[0], plan), "other", "crime", rng, detail=False
            )
            c["keeper"] = f"{keeper.forename} {keeper.plain_surname.upper()}"
            c["keeper_pc"] = fmt_postcode(w.address(keeper.base.address).postcode, rng)
        mo = T.fill(T.pick(rng, T.INCIDENT[plan["kind"]]), c)
        if rng.random() < 0.5:
            mo += " " + T.fill(
                rng.choice(
                    (
                        "Suspect described as a {sdesc}.",
                        "The IP is willing to support a prosecution.",
                        "No CCTV in the immediate area.",
                        "{w} called 999 at the time.",
                        "The IP received treatment at the Royal London Hospital.",
                        "Scene photographed by {oic}.",
                    )
                ),
                c,
            )
        # Location: victim's home for household crimes, otherwise a street in the borough.
        if plan["kind"] in ("burglary", "domestic", "damage") and plan["victim_ids"]:
            loc_addr = w.address(w.person(plan["victim_ids"][0]).address)
        else:
            loc_addr = self._address_in(borough, rng)
        location = address_dict(loc_addr, rng, "short" if legacy else "full")
        if legacy:
            location.pop("line2", None)
        occurred_to = (
            when + timedelta(minutes=rng.choice((0, 5, 15, 30, 120, 480))) if rng.random() < 0.6 else None
        )
        reported = (occurred_to or when) + timedelta(minutes=rng.randint(10, 3000))
        people = [*victims, *suspects, *witnesses] if not legacy else [*victims[:1], *suspects[:2]]
        oic: Any = plan["oic"]
        rec: dict[str, Any] = {
            "record_type": "crime",
            "source_system": SOURCE[system],
            "source_id": plan["crime_ref"]
            if not legacy
            else f"{when.year % 100:02d}{self._next('LEGACY', 0):08d}",
            "title": f"{off.description} - {c['street']}, {borough.name}",
            "created_at": _iso(reported),
            "borough": borough.name,
            "unit": rng.choice(("CID", "RESPONSE", "SNT", "CID", "PROACTIVE"))
            if not plan["units"]
            else plan["units"][0],
            "people": [p.data for p in people],
            "crime_reference": plan["crime_ref"],
            "offence": {"code": off.code, "description": off.description, "category": off.category},
            "occurred_from": _iso(when),
            "location": location,
            "modus_operandi": mo,
            "status": plan["status"],
            "officer_in_case": oic.as_officer(),
            "review_date": self._review(rng, when, 6),
        }
        if occurred_to:
            rec["occurred_to"] = _iso(occurred_to)
        if plan["status"] == "detected":
            rec["outcome_code"] = rng.choice(
                ("1 - Charged/summonsed", "1 - Charged/summonsed", "2 - Caution")
            )
        elif plan["status"] == "filed":
            rec["outcome_code"] = rng.choice(
                (
                    "18 - Investigation complete, no suspect identified",
                    "14 - Victim declines to support action",
                    "15 - Evidential difficulties (suspect identified)",
                )
            )
        if vehicles_used:
            rec["vehicles"] = [vehicle_dict(v, rng) for v in vehicles_used]
        if not legacy:
            rec["summary"] = f"{off.description} reported {reported:%d/%m/%Y} in {borough.name}."
            if c.get("phone") and rng.random() < 0.5:
                rec["phones"] = [phone_display(_digits(c["phone"]))]
            rec["locations"] = [location]
            rec["investigation_log"] = self._log(rng, plan, c, reported)
            rec["markings"] = self._markings(plan["sens"], plan["units"])
            if len(rec["investigation_log"]) > 1:
                rec["updated_at"] = rec["investigation_log"][-1]["at"]
        return rec

    def _keeper(self, vehicle: Any, plan: dict[str, Any]) -> int:
        # Network vehicles are usually registered to someone outside the network.
        return (zlib.crc32(vehicle.vrm.encode()) + self.seed) % self.world.n_people

    def _log(
        self, rng: random.Random, plan: dict[str, Any], c: T._Ctx, start: datetime
    ) -> list[dict[str, Any]]:
        entries = []
        at = start
        for _ in range(rng.randint(1, 6)):
            at = at + timedelta(hours=rng.randint(2, 200), minutes=rng.randrange(60))
            officer = self.world.pick_officer(rng, ("DC", "PC", "DS"))
            c["o"] = officer.short()
            if plan["custody_numbers"]:
                sid, outcome, _ = plan["arrests"][0]
                c["custody_no"] = plan["custody_numbers"][sid]
                c["custody_outcome"] = outcome.replace("_", " ")
            text = T.fill(T.pick(rng, T.LOG_ENTRIES), c)
            entries.append({"at": _iso(at), "officer": officer.as_officer(), "text": text})
        return entries

    # ----------------------------------------------------------------- custody

    def _custody(
        self, rng: random.Random, plan: dict[str, Any], sid: int, outcome: str, at: datetime
    ) -> dict[str, Any]:
        w = self.world
        borough: V.Borough = plan["borough"]
        off: V.OffenceDef = plan["off"]
        det = render_person(w, sid, "detainee", "custody", rng)
        victims = [
            render_person(w, vid, "victim", "custody", rng, detail=False) for vid in plan["victim_ids"][:1]
        ]
        c: T._Ctx = T._Ctx(plan["ctx"])
        self._add_people_ctx(c, rng, [det], victims, [], "DP", plan["vehicles"])
        officer = w.pick_officer(rng, ("PC",))
        o2 = w.pick_officer(rng, ("PC", "DC"))
        sgt = w.pick_officer(rng, ("PS",))
        c.update(
            o=officer.short(),
            o2=o2.short(),
            sgt=f"{sgt.collar} {sgt.surname}",
            sgt_full=sgt.short(),
            arrest_time=f"{at:%H%M}",
            arrest_addr=c.get("s_home", ""),
            wanted=rng.choice(
                (
                    "a failing to appear warrant",
                    "a recall to prison",
                    "an outstanding burglary",
                    "suspicion of assault",
                )
            ),
            age=c.get("sage", 30),
        )
        arrived = at + timedelta(minutes=rng.randint(10, 75))
        c["arrival_time"] = f"{arrived:%H:%M}"
        hours = rng.choice((3, 5, 7, 9, 11, 14, 16, 19, 23, 26, 30)) + rng.random()
        if plan["kind"] in ("homicide", "firearms"):
            hours = max(hours, 25 + rng.random() * 10)
        released = arrived + timedelta(hours=hours) if outcome != "in_custody" else None
        incident = T.fill(T.pick(rng, T.INCIDENT[plan["kind"]]), c)
        reason = T.fill(T.pick(rng, T.REASON_PREFIX), c) + " " + incident + " " + T.pick(rng, T.NECESSITY)
        reviews = []
        insp = w.pick_officer(rng, ("Insp",))
        supt = w.pick_officer(rng, ("Supt", "CI"))
        for mark, rtype, who in (
            (6, "inspector_6h", insp),
            (15, "inspector_15h", w.pick_officer(rng, ("Insp",))),
            (24, "superintendent_24h", supt),
        ):
            if hours > mark or (released is None and mark <= 15):
                c["insp"] = f"Insp {who.surname}"
                c["supt"] = f"Supt {who.surname}" if who.rank == "Supt" else f"Ch Insp {who.surname}"
                reviews.append(
                    {
                        "at": _iso(arrived + timedelta(hours=mark - 0.25 * rng.random())),
                        "review_type": rtype,
                        "reviewer": who.as_officer(),
                        "outcome": "Continued detention authorised",
                        "notes": T.fill(T.pick(rng, T.REVIEW_NOTES[rtype]), c),
                    }
                )
        interviews = []
        if outcome != "in_custody" or rng.random() < 0.5:
            n_int = rng.choices((0, 1, 2), weights=(12, 75, 13))[0]
            t = arrived + timedelta(hours=min(hours * 0.5, 2 + rng.random() * 6))
            iv_off = w.pick_officer(rng, ("DC", "PC"))
            c["o"] = iv_off.short()
            c["sol"] = (
                rng.choice(("Ms", "Mr")) + " " + rng.choice(V.origins()[0].surnames) + " of " + c["firm"]
            )
            c["resume_time"] = f"{t + timedelta(minutes=80):%H%M}"
            for _ in range(n_int):
                length = timedelta(minutes=rng.randint(18, 95))
                interviews.append(
                    {
                        "started_at": _iso(t),
                        "ended_at": _iso(t + length),
                        "officer": iv_off.as_officer(),
                        "solicitor_present": rng.random() < 0.72,
                        "notes": T.fill(T.pick(rng, T.INTERVIEW_NOTES), c),
                    }
                )
                t = t + length + timedelta(minutes=rng.randint(30, 180))
        det_age = (at.date() - det.base.dob).days // 365
        c["age"] = det_age
        props = self._property(rng, plan, det, c)
        c["prop_sentence"] = (
            ("Items seized: " + "; ".join(p["description"] for p in props) + ".")
            if props
            else "Nothing of note found on the DP."
        )
        c["search_result"] = T.pick(rng, T.SEARCH_RESULTS)
        c["reply"] = T.pick(rng, T.REPLIES)
        c["home"] = c.get("s_home", "")
        c["court"] = borough.magistrates
        c["auth"] = rng.choice(("the CPS (Direct)", "the custody sergeant (police charge)", "CPS London"))
        c["next_date"] = (at + timedelta(days=rng.randint(1, 28))).strftime("%d/%m/%Y")
        c["offence"] = off.description.lower()
        language = _LANGUAGE.get(det.base.origin) if rng.random() < 0.5 else None
        c["language"] = language or "English"
        candidates = [t for t in T.CUSTODY_NARRATIVE[1:] if language or "{language}" not in t]
        narrative_parts = [T.fill(t, c) for t in rng.sample(candidates, rng.randint(3, 6))]
        # Booking-in always comes first in a custody log.
        narrative_parts.insert(0, T.fill(T.CUSTODY_NARRATIVE[0], c))
        station = borough.station if rng.random() < 0.85 else rng.choice(V.BOROUGHS).station
        arrest_loc = address_dict(self._address_in(borough, rng), rng, "caps")
        arrest_loc.pop("line2", None)
        people = [v.data for v in victims]
        for other in plan["suspect_ids"]:
            if other != sid and rng.random() < 0.5:
                people.append(render_person(w, other, "suspect", "custody", rng, detail=False).data)
        rec: dict[str, Any] = {
            "record_type": "custody",
            "source_system": SOURCE["custody"],
            "source_id": plan["custody_numbers"][sid],
            "title": f"Arrest: {det.forename} {det.surname} - {off.description}",
            "summary": f"{det.forename} {det.surname} arrested {at:%d/%m/%Y} for {off.description.lower()}; "
            f"outcome {outcome.replace('_', ' ')}.",
            "created_at": _iso(arrived),
            "borough": borough.name,
            "unit": plan["units"][0] if plan["units"] else "RESPONSE",
            "people": people,
            "custody_number": plan["custody_numbers"][sid],
            "station": station,
            "detainee": det.data,
            "arrest_at": _iso(at),
            "arrest_location": arrest_loc,
            "arresting_officer": officer.as_officer(),
            "reason_for_arrest": reason,
            "offences": [{"code": off.code, "description": off.description, "category": off.category}],
            "grounds_for_detention": T.fill(T.pick(rng, T.GROUNDS), c),
            "arrived_at": _iso(arrived),
            "reviews": reviews,
            "risk_assessment": T.fill(T.RISK_JUVENILE if det_age < 18 else T.pick(rng, T.RISK), c),
            "property_seized": props,
            "interviews": interviews,
            "outcome": outcome,
            "outcome_details": T.fill(T.pick(rng, T.OUTCOME_DETAILS[outcome]), c),
            "narrative": "\n".join(narrative_parts),
            "markings": self._markings(plan["sens"], plan["units"]),
            "review_date": self._review(rng, at, 6),
        }
        if released:
            rec["released_at"] = _iso(released)
            rec["updated_at"] = _iso(released)
        if plan["vehicles"]:
            rec["vehicles"] = [vehicle_dict(v, rng) for v in plan["vehicles"]]
        if det.base.phones:
            rec["phones"] = [phone_display(d) for d in det.base.phones]
        return rec

    def _property(
        self, rng: random.Random, plan: dict[str, Any], det: Rendered, c: T._Ctx
    ) -> list[dict[str, str]]:
        items = []
        n = 0

        def ref() -> str:
            nonlocal n
            n += 1
            return f"{c['oic'].split()[-1][:3].upper()}/{n}"

        if rng.random() < 0.7:
            imei = _imei(rng)
            phone = det.base.phones[0] if det.base.phones else None
            desc = f"{rng.choice(V.PHONE_MODELS)} mobile phone, IMEI {imei}"
            if phone:
                desc += f", SIM for {fmt_phone(phone, rng)}"
            items.append({"reference": ref(), "description": desc})
        if plan["kind"] == "drugs_supply":
            items.append(
                {"reference": ref(), "description": f"{c['qty']} {c['pkg']} of suspected {c['drug']}"}
            )
            items.append({"reference": ref(), "description": f"Cash £{c['cash']} in mixed notes"})
            if rng.random() < 0.4:
                items.append({"reference": ref(), "description": "Nokia handset (burner) and digital scales"})
        elif plan["kind"] in ("weapons", "violence", "robbery") and rng.random() < 0.6:
            items.append(
                {"reference": ref(), "description": f"{c['weapon'].capitalize()} (sealed in a knife tube)"}
            )
        elif plan["kind"] == "drugs_possession":
            items.append({"reference": ref(), "description": f"Small bag of suspected {c['drug']}"})
        if plan["vehicles"] and rng.random() < 0.5:
            items.append({"reference": ref(), "description": f"Keys to vehicle {c['vrm']}"})
        if rng.random() < 0.3:
            items.append(
                {
                    "reference": ref(),
                    "description": "Black North Face jacket (clothing for forensic examination)",
                }
            )
        return items

    # ----------------------------------------------------------------- case file

    def _case(
        self, rng: random.Random, plan: dict[str, Any], charged: list[tuple[int, str, datetime]]
    ) -> dict[str, Any]:
        w = self.world
        off: V.OffenceDef = plan["off"]
        borough: V.Borough = plan["borough"]
        defs = [render_person(w, sid, "defendant", "case", rng) for sid, _, _ in charged]
        victims = [render_person(w, vid, "victim", "case", rng, detail=False) for vid in plan["victim_ids"]]
        witnesses = [
            render_person(w, wid, "witness", "case", rng, detail=False) for wid in plan["witness_ids"]
        ]
        c: T._Ctx = T._Ctx(plan["ctx"])
        self._add_people_ctx(c, rng, defs, victims, witnesses, "", plan["vehicles"])
        charged_at = max(a[2] for a in charged) + timedelta(hours=rng.randint(4, 30))
        decision = "cps" if off.crown or rng.random() < 0.4 else "police"
        charges = []
        for d in defs:
            dname = f"{d.forename} {d.surname}"
            charges.append(
                {
                    "defendant": dname,
                    "offence": {"code": off.code, "description": off.description, "category": off.category},
                    "wording": f"On {plan['when']:%d/%m/%Y} at {borough.name} {_wording(off, c)} "
                    f"Contrary to {off.legislation}.",
                }
            )
            if rng.random() < 0.2:
                extra = rng.choice(
                    [o for o in V.OFFENCES if o.kind in ("weapons", "drugs_possession", "public_order")]
                )
                charges.append(
                    {
                        "defendant": dname,
                        "offence": {
                            "code": extra.code,
                            "description": extra.description,
                            "category": extra.category,
                        },
                        "wording": f"On {plan['when']:%d/%m/%Y} at {borough.name}, "
                        f"{extra.description.lower()}. "
                        f"Contrary to {extra.legislation}.",
                    }
                )
        hearings = []
        t = charged_at + timedelta(days=1 if rng.random() < 0.5 else rng.randint(7, 28))
        t = t.replace(hour=10, minute=0)
        hearings.append(
            {
                "court": borough.magistrates,
                "at": _iso(t),
                "hearing_type": "first_appearance",
                "result": "Sent to the Crown Court"
                if off.crown
                else rng.choice(
                    (
                        "Not guilty plea entered; trial date fixed",
                        "Guilty plea; adjourned for reports",
                        "Guilty plea; sentenced",
                    )
                ),
            }
        )
        pleaded_guilty = "Guilty plea" in hearings[0]["result"]
        court = borough.crown if off.crown else borough.magistrates
        if off.kind == "homicide":
            court = V.CENTRAL_CRIMINAL_COURT
        stage_types = ["plea", "trial", "sentence"] if not pleaded_guilty else ["sentence"]
        for ht in stage_types:
            t = t + timedelta(days=rng.randint(14, 200))
            hearings.append({"court": court, "at": _iso(t.replace(hour=10)), "hearing_type": ht})
        now = datetime(REFERENCE_DATE.year, REFERENCE_DATE.month, REFERENCE_DATE.day)
        final_outcome = sentence = None
        discontinued = rng.random() < 0.07
        future = [h for h in hearings if datetime.fromisoformat(h["at"][:-1]) > now]
        if discontinued:
            status, final_outcome = "discontinued", "Discontinued by the CPS (insufficient evidence)"
            hearings = hearings[:1]
        elif future:
            status = "awaiting_trial" if len(future) < len(hearings) else "charged"
            for h in future:
                h.pop("result", None)
        else:
            status = "concluded"
            convicted = pleaded_guilty or rng.random() < 0.75
            final_outcome = (
                "Convicted (guilty plea)"
                if pleaded_guilty
                else ("Convicted after trial" if convicted else "Acquitted")
            )
            if convicted:
                pool = V.SENTENCES_INDICTABLE if off.crown else V.SENTENCES_SUMMARY
                sentence = rng.choice(pool).format(
                    n=rng.choice((120, 250, 400, 650)),
                    m=rng.choice((6, 9, 12, 18, 24)),
                    h=rng.choice((80, 120, 150, 200)),
                    y=rng.choice((3, 4, 6, 8, 12)),
                )
            for h in hearings[1:]:
                h["result"] = {
                    "plea": "Not guilty plea entered",
                    "trial": final_outcome,
                    "sentence": sentence or "No sentence (acquitted)",
                }.get(h["hearing_type"], "Adjourned")
            if not convicted:
                hearings = [h for h in hearings if h["hearing_type"] != "sentence"]
        oic: Any = plan["oic"]
        c["defs"] = " and ".join(f"{d.forename} {d.plain_surname.upper()}" for d in defs)
        c["conduct"] = _conduct(off, c)
        c["conduct_sentence"] = T.fill(T.pick(rng, T.INCIDENT[plan["kind"]]), c)
        c["conduct_sentence_lc"] = c["conduct_sentence"]
        c["evidence"] = T.pick(rng, T.EVIDENCE).format_map(c)
        c["interview"] = T.pick(rng, T.INTERVIEW_SUMMARY)
        c["interview_lc"] = c["interview"][0].lower() + c["interview"][1:]
        c["defence"] = T.pick(rng, T.DEFENCE)
        c["offence_lc"] = off.description.lower()
        c["auth"] = "the CPS" if decision == "cps" else "a police custody sergeant"
        c["o"] = w.pick_officer(rng, ("PC",)).short()
        rec: dict[str, Any] = {
            "record_type": "case",
            "source_system": SOURCE["case"],
            "source_id": plan["urn"],
            "title": "R v " + " and ".join(d.plain_surname.upper() for d in defs) + f" - {off.description}",
            "summary": f"{len(charges)} charge(s); {status.replace('_', ' ')}.",
            "created_at": _iso(charged_at),
            "borough": borough.name,
            "unit": plan["units"][0] if plan["units"] else rng.choice(("CID", "CJU")),
            "people": [d.data for d in defs] + [v.data for v in victims] + [x.data for x in witnesses],
            "urn": plan["urn"],
            "charges": charges,
            "charging_decision": decision,
            "charged_at": _iso(charged_at),
            "hearings": hearings,
            "status": status,
            "case_summary": T.fill(T.pick(rng, T.CASE_SUMMARY), c) + f" Crime reference {plan['crime_ref']}.",
            "officer_in_case": oic.as_officer(),
            "markings": self._markings(plan["sens"], plan["units"]),
            "review_date": self._review(rng, charged_at, 10 if status != "discontinued" else 6),
        }
        if final_outcome:
            rec["final_outcome"] = final_outcome
        if sentence:
            rec["sentence"] = sentence
        if plan["vehicles"]:
            rec["vehicles"] = [vehicle_dict(v, rng) for v in plan["vehicles"]]
        if hearings:
            rec["updated_at"] = max([rec["created_at"], *(h["at"] for h in hearings if h.get("result"))])
        return rec

    # ----------------------------------------------------------------- intelligence

    def _standalone_intel(self, rng: random.Random) -> dict[str, Any]:
        sid = self.world.pick_offender(rng)
        return self._intel(rng, sid, self._when(rng), None)

    def _intel(
        self, rng: random.Random, sid: int, when: datetime, plan: dict[str, Any] | None
    ) -> dict[str, Any]:
        w = self.world
        when = min(max(when, _START), _END)
        borough = plan["borough"] if plan else V.BOROUGHS[rng.randrange(len(V.BOROUGHS))]
        theme = rng.choices(
            ("drugs", "weapons", "vehicle", "violence", "domestic"), weights=(40, 20, 15, 20, 5)
        )[0]
        subj = render_person(w, sid, "subject", "intel", rng, detail=rng.random() < 0.5)
        co_ids = w.associates(sid)
        subjects = [subj]
        if co_ids and rng.random() < 0.5:
            subjects.append(render_person(w, rng.choice(co_ids), "subject", "intel", rng, detail=False))
        vehicles = [w.vehicle(w.group_vehicle(sid))] if rng.random() < 0.5 else []
        if subj.base.vehicle is not None and rng.random() < 0.5:
            vehicles.append(w.vehicle(subj.base.vehicle))
        c = self._base_ctx(rng, borough, when)
        if plan:
            c.update({k: v for k, v in plan["ctx"].items() if k in ("street", "area", "drug", "weapon")})
        self._add_people_ctx(c, rng, subjects, [], [], "", vehicles)
        home = w.address(subj.base.address)
        c["loc"] = address_text(home, rng)
        c["phone2"] = fmt_phone(f"07700900{rng.randint(0, 999):03d}", rng)
        c["dob2"] = fmt_date(subjects[-1].dob, rng) if subjects[-1].dob else "unknown"
        c["pc"] = fmt_postcode(home.postcode, rng)
        c["activity"] = T.fill(T.pick(rng, T.INTEL_ACTIVITY[theme]), c)
        c["activity_present"] = T.fill(T.pick(rng, T.INTEL_ACTIVITY_PRESENT[theme]), c)
        c["activity"] = c["activity"][0].lower() + c["activity"][1:]
        c["activity_present"] = c["activity_present"][0].lower() + c["activity_present"][1:]
        parts = [T.fill(T.pick(rng, T.INTEL_OPEN), c)]
        parts += [T.fill(t, c) for t in rng.sample(T.INTEL_EXTRA, rng.randint(1, 4))]
        parts.append(T.fill(T.pick(rng, T.INTEL_CLOSE), c))
        text = " ".join(parts)
        # Sanitised version: the same report with identities and sources removed.
        sc = T._Ctx(c)
        male = subj.base.gender == "male"
        sc.update(
            s="a male" if male else "a female",
            s2="an associate",
            phone="a mobile phone",
            phone2="another phone",
            vrm="(VRM withheld)",
            loc="an address in " + borough.name,
            email="an email account",
            pnc="(withheld)",
            street_name="(nickname withheld)",
            dob2="(withheld)",
            pc=c["area"],
        )
        sc["activity"] = T.fill(T.pick(rng, T.INTEL_ACTIVITY[theme]), sc)
        sc["activity"] = sc["activity"][0].lower() + sc["activity"][1:]
        sanitised = T.fill("Intelligence suggests that {s} is {activity}.", sc) + (
            " " + T.fill("The subject is believed to be linked to the {group}.", sc)
            if rng.random() < 0.5
            else ""
        )
        src = rng.choices(("1", "2", "3"), weights=(25, 60, 15))[0]
        assess = rng.choices("ABCDE", weights=(10, 35, 40, 12, 3))[0]
        handling = "C" if rng.random() < 0.15 else "P"
        sens: list[str] = list(plan["sens"]) if plan else []
        units: list[str] = list(plan["units"]) if plan else []
        roll = rng.random()
        if roll < 0.06:
            sens.append("covert")
            if rng.random() < 0.5:
                units.append("INTEL")
        elif roll < 0.11:
            units.append("GANGS" if theme != "drugs" else "DRUGS")
        year = when.year
        ref = f"IR/{year}/{self._next('IR', year):06d}"
        if len(self.recent_intel) < 200:
            self.recent_intel.append(ref)
        else:
            self.recent_intel[rng.randrange(200)] = ref
        author = w.pick_officer(rng, ("DC", "PC", "DS"))
        rec: dict[str, Any] = {
            "record_type": "intel",
            "source_system": SOURCE["intel"],
            "source_id": ref,
            "title": f"{T.INTEL_TITLES[theme]} - {subj.plain_surname.upper()}, {subj.forename}",
            "created_at": _iso(when),
            "borough": borough.name,
            "unit": rng.choice(("INTEL", "INTEL", "GANGS", "PROACTIVE", "DRUGS")),
            "people": [s.data for s in subjects],
            "intel_reference": ref,
            "created_by": author.as_officer(),
            "grading": {
                "source_evaluation": src,
                "intelligence_assessment": assess,
                "handling_code": handling,
            },
            "intelligence_text": text,
            "sanitised_text": sanitised,
            "markings": self._markings(sens, units),
            "review_date": self._review(rng, when, 3),
        }
        if handling == "C":
            rec["handling_conditions"] = rng.choice(V.HANDLING_CONDITIONS)
        if vehicles:
            rec["vehicles"] = [vehicle_dict(v, rng) for v in vehicles]
        if subj.base.phones:
            rec["phones"] = [phone_display(d) for d in subj.base.phones]
        rec["locations"] = [address_dict(home, rng, "short")]
        return rec


# --------------------------------------------------------------------- text helpers


def _digits(phone: str) -> str:
    d = "".join(ch for ch in phone if ch.isdigit())
    if d.startswith("440"):
        d = d[3:]
    elif d.startswith("44"):
        d = d[2:]
    return d if d.startswith("0") else "0" + d


def _imei(rng: random.Random) -> str:
    body = "35" + "".join(str(rng.randrange(10)) for _ in range(12))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


_WORDING = {
    "violence": "assaulted {v_name}, thereby occasioning {vhim} actual bodily harm.",
    "domestic": "engaged in a course of conduct towards {v_name} which amounted to harassment.",
    "sexual": "intentionally touched {v_name}, the touching being sexual, without her consent.",
    "sexual_child": "being a person aged 18 or over, intentionally touched a child under 16.",
    "robbery": "robbed {v_name} of {item}.",
    "burglary": "having entered a building as a trespasser, stole therein {item}.",
    "vehicle": "without the consent of the owner took a conveyance, namely a {veh} registration {vrm}.",
    "theft": "stole {item} belonging to {v_name}.",
    "shoplifting": "stole goods to the value of £{cash} belonging to {shop}.",
    "drugs_supply": "had in your possession a quantity of {drug}, a controlled drug, with intent to supply "
    "it to "
    "another.",
    "drugs_possession": "had in your possession a quantity of {drug}, a controlled drug.",
    "weapons": "without good reason or lawful authority had with you in a public place, namely {street}, an "
    "article which had a blade or was sharply pointed, namely a {weapon}.",
    "firearms": "had in your possession a firearm, namely a {firearm}, with intent to endanger life.",
    "public_order": "used threatening words or behaviour towards {v_name} with intent to cause fear of "
    "violence.",
    "damage": "without lawful excuse damaged property belonging to {v_name}.",
    "fraud": "dishonestly made a false representation with intent to make a gain for yourself.",
    "homicide": "murdered {v_name}.",
}


def _wording(off: V.OffenceDef, c: T._Ctx) -> str:
    return _WORDING.get(off.kind, "committed the offence of {offence}.").format_map(c)


def _conduct(off: V.OffenceDef, c: T._Ctx) -> str:
    text = _WORDING.get(off.kind, "committed the offence.").format_map(c)
    return text.replace("your", "their").replace("yourself", "themselves").rstrip(".")


# --------------------------------------------------------------------- legacy CSV

_CP1252_FALLBACK = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ı": "i",
        "İ": "I",
        "ş": "s",
        "Ş": "S",
        "ğ": "g",
        "Ğ": "G",
        "ț": "t",
        "ș": "s",
        "Ț": "T",
        "Ș": "S",
        "ő": "o",
        "ű": "u",
        "đ": "d",
    }
)


def _legacy_text(value: str) -> str:
    """What the old system could store: cp1252 only (accents it lacks are dropped)."""
    try:
        value.encode("cp1252")
        return value
    except UnicodeEncodeError:
        pass
    value = value.translate(_CP1252_FALLBACK)
    out = []
    for ch in value:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?")
    return "".join(out)


def _legacy_dt(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso.rstrip("Z")).strftime("%d/%m/%Y %H:%M")


def _legacy_d(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


def legacy_row(rec: dict[str, Any]) -> dict[str, str]:
    """The legacy crime system's export row for a crime record built in its style."""
    people = rec["people"]
    victim, s1 = people[0], people[1]
    s2 = people[2] if len(people) > 2 else {}
    loc = rec["location"]
    oic = rec.get("officer_in_case") or {}
    row = {
        "CRIME_NO": rec["source_id"],
        "CRIME_REF": rec["crime_reference"],
        "TITLE": rec["title"],
        "OFF_CODE": rec["offence"]["code"],
        "OFF_DESC": rec["offence"]["description"],
        "OFF_CAT": rec["offence"].get("category", ""),
        "OCC_FROM": _legacy_dt(rec["occurred_from"]),
        "OCC_TO": _legacy_dt(rec.get("occurred_to")),
        "DATE_CREATED": _legacy_dt(rec["created_at"]),
        "LOC_ADDRESS": loc.get("line1", ""),
        "LOC_TOWN": loc.get("town", ""),
        "LOC_POSTCODE": loc.get("postcode", ""),
        "BOROUGH": rec.get("borough", ""),
        "UNIT": rec.get("unit", ""),
        "MO_TEXT": rec["modus_operandi"].replace("\n", " "),
        "CRIME_STATUS": rec["status"],
        "OUTCOME_CODE": rec.get("outcome_code", ""),
        "OIC_NAME": oic.get("name", ""),
        "OIC_RANK": oic.get("rank", ""),
        "VICT_FORENAME": victim.get("forename", ""),
        "VICT_SURNAME": victim["surname"],
        "VICT_DOB": _legacy_d(victim.get("dob")),
        "VICT_GENDER": victim.get("gender", ""),
        "SUSP1_FORENAME": s1.get("forename", ""),
        "SUSP1_SURNAME": s1["surname"],
        "SUSP1_DOB": _legacy_d(s1.get("dob")),
        "SUSP1_GENDER": s1.get("gender", ""),
        "SUSP1_PNC": s1.get("pnc_id", ""),
        "SUSP1_ADDRESS": (s1.get("address") or {}).get("line1", ""),
        "SUSP1_POSTCODE": (s1.get("address") or {}).get("postcode", ""),
        "SUSP2_ROLE": "suspect" if s2 else "",
        "SUSP2_FORENAME": s2.get("forename", ""),
        "SUSP2_SURNAME": s2.get("surname", ""),
        "SUSP2_DOB": _legacy_d(s2.get("dob")),
        "SUSP2_PNC": s2.get("pnc_id", ""),
        "VEHICLES": ";".join(v["vrm"] for v in rec.get("vehicles", [])),
        "REVIEW_DATE": _legacy_d(rec.get("review_date")),
    }
    return {k: _legacy_text(v) for k, v in row.items()}


def _legacy_record(rec: dict[str, Any]) -> dict[str, Any]:
    """Trim a legacy-style crime to exactly what its CSV row carries (for sample_records)."""
    row = legacy_row(rec)
    return legacy_row_to_record(row)


def legacy_row_to_record(row: dict[str, str]) -> dict[str, Any]:
    """Reference reading of a legacy row through ``legacy-crimes.toml`` (what the loader does)."""
    import tomllib

    mapping = tomllib.loads(MAPPING_PATH.read_text(encoding="utf-8"))
    out: dict[str, Any] = {"record_type": mapping["record_type"], "source_system": mapping["source_system"]}
    for header, spec in mapping["columns"].items():
        value = row.get(header, "")
        if value == "":
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        path = spec["path"]
        if "format" in spec:
            parsed = datetime.strptime(value, spec["format"])
            value = parsed.date().isoformat() if path.endswith(("dob", "review_date")) else parsed.isoformat()
        if "split" in spec:
            head, _, tail = path.partition("[].")
            out.setdefault(head, [])
            for part in value.split(spec["split"]):
                if part.strip():
                    out[head].append({tail: part.strip()})
            continue
        _set_path(out, path, value)
    for path, value in mapping.get("constants", {}).items():
        _set_path(out, path, value)
    return out


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur: Any = obj
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if "[" in part:
            name, idx_s = part[:-1].split("[")
            lst = cur.setdefault(name, [])
            idx = int(idx_s)
            while len(lst) <= idx:
                lst.append({})
            if last:
                lst[idx] = value
            else:
                cur = lst[idx]
        elif last:
            cur[part] = value
        else:
            cur = cur.setdefault(part, {})


# The column mapping ships with the indexer (it is how a legacy export is loaded); read as a
# package data file, not imported, so the demo data stays independent of the indexer's code.
MAPPING_PATH = Path(str(files("indexer").joinpath("csv_mappings", "legacy-crimes.toml")))

# --------------------------------------------------------------------- public API


def _dumps(rec: dict[str, Any]) -> str:
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"))


def generate(out_dir: Path, records: int, seed: int) -> dict[str, int]:
    """Write ``records`` linked demo records (NDJSON per type + the legacy CSV) into ``out_dir``.

    Returns the number of records written per file. Same seed, same bytes.
    """
    if records < 0:
        raise ValueError("records must be >= 0")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(FILES, 0)
    handles = {
        kind: (out_dir / f"{kind}.ndjson").open("w", encoding="utf-8", newline="\n", buffering=1 << 20)
        for kind in ("custody", "crime", "case", "intel")
    }
    legacy_fh = (out_dir / "legacy-crimes.csv").open("w", encoding="cp1252", newline="", buffering=1 << 20)
    try:
        writer = csv.DictWriter(legacy_fh, fieldnames=LEGACY_CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        if records:
            gen = _Generator(seed, records)
            for written, (kind, rec) in enumerate(gen.incidents(), start=1):
                if kind == "legacy":
                    writer.writerow(legacy_row(rec))
                    counts["legacy-crimes.csv"] += 1
                else:
                    handles[kind].write(_dumps(rec))
                    handles[kind].write("\n")
                    counts[f"{kind}.ndjson"] += 1
                if written >= records:
                    break
    finally:
        for fh in handles.values():
            fh.close()
        legacy_fh.close()
    return counts


def iter_raw(records: int, seed: int) -> Iterator[dict[str, Any]]:
    """The same record stream as :func:`generate`, as dicts (legacy rows as the loader reads them)."""
    if records <= 0:
        return
    gen = _Generator(seed, records)
    for n, (kind, rec) in enumerate(gen.incidents(), start=1):
        yield _legacy_record(rec) if kind == "legacy" else rec
        if n >= records:
            return


def sample_records(n: int, seed: int) -> list[AnyRecord]:
    """``n`` validated demo records in memory: a fixture for other tests (small n)."""
    from lantern.records import parse_record

    return [parse_record(raw) for raw in iter_raw(n, seed)]
