"""Highlighted snippets and linked narratives: split in Python, escaped by Jinja, never raw HTML."""

from __future__ import annotations

from lantern.principal import Principal
from portal.app import make_templates
from portal.present import Segment, highlight_segments, mention_segments, result_item
from search.builders import HIGHLIGHT_POST as POST
from search.builders import HIGHLIGHT_PRE as PRE

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def render_segments(segs: list[Segment]) -> str:
    env = make_templates().env
    tpl = env.from_string('{% from "_macros.html" import segments %}{{ segments(segs) }}')
    return tpl.render(segs=segs, ENTITY_LABEL_NAMES={"VRM": "Vehicle", "PERSON": "Person"})


def test_highlight_markers_become_marked_segments() -> None:
    segs = highlight_segments(f"seen in a {PRE}blue{POST} Ford {PRE}Focus{POST}.")
    assert segs == [
        Segment("seen in a "),
        Segment("blue", mark=True),
        Segment(" Ford "),
        Segment("Focus", mark=True),
        Segment("."),
    ]


def test_stray_markers_are_dropped() -> None:
    assert highlight_segments(f"{POST}a{PRE}{PRE}b{POST}{POST}c{PRE}") == [
        Segment("a"),
        Segment("b", mark=True),
        Segment("c"),
    ]


def test_engine_text_is_escaped_and_only_marks_are_markup() -> None:
    html = render_segments(highlight_segments(f"{EVIL} {PRE}knife{POST} &amp; more"))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "<mark>knife</mark>" in html
    assert "&amp;amp;" in html  # text is text, even if it looks like an entity


def test_mentions_become_links_and_text_is_escaped() -> None:
    text = f"{EVIL} drove AB12 CDE with John Smith."
    start = text.index("AB12")
    person = text.index("John")
    segs = mention_segments(
        text,
        [
            {"label": "VRM", "start": start, "end": start + 8, "value": "AB12CDE"},
            {"label": "PERSON", "start": person, "end": person + 10, "value": "John SMITH"},
        ],
    )
    html = render_segments(segs)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a class="ent ent-vrm" href="/entity/VRM/AB12CDE"' in html
    assert ">AB12 CDE</a>" in html
    assert 'href="/entity/PERSON/John%20SMITH"' in html
    assert "".join(s.text for s in segs) == text  # nothing lost


def test_bad_mentions_are_ignored_not_trusted() -> None:
    text = "abc def ghi"
    segs = mention_segments(
        text,
        [
            {"label": "VRM", "start": 4, "end": 7, "value": "DEF"},
            {"label": "VRM", "start": 5, "end": 9, "value": "overlap"},  # overlaps the previous one
            {"label": "VRM", "start": 9, "end": 99, "value": "past end"},
            {"label": "VRM", "start": "x", "end": 2},
            {"start": 0},
        ],
    )
    assert "".join(s.text for s in segs) == text
    assert [s.value for s in segs if s.label] == ["DEF"]


def test_mention_values_are_url_quoted() -> None:
    segs = mention_segments(
        "x 2001/0123456F y", [{"label": "PNC_ID", "start": 2, "end": 15, "value": "2001/0123456F"}]
    )
    assert segs[1].href == "/entity/PNC_ID/2001%2F0123456F"
    segs = mention_segments("evil", [{"label": "PERSON", "start": 0, "end": 4, "value": '"><x/?#'}])
    assert segs[0].href == "/entity/PERSON/%22%3E%3Cx%2F%3F%23"


def _hit(rtype: str) -> dict:
    return {
        "_id": "r1",
        "_source": {
            "id": "r1",
            "record_type": rtype,
            "reference": "IR/2024/000001",
            "title": "T",
            "record": {"sanitised_text": "Sanitised words."},
        },
        "highlight": {"text": [f"full {PRE}secret{POST} intelligence"]},
    }


def test_intel_snippets_follow_readability_not_role() -> None:
    # Whoever may read an intelligence record sees its highlights: a sanitised-only audience
    # could still match the withheld words, so there is none.
    officer = Principal("o", "O", frozenset({"officer"}), frozenset(), frozenset({"intel"}))
    analyst = Principal("a", "A", frozenset({"analyst"}), frozenset(), frozenset({"intel", "intel_c"}))
    assert result_item(_hit("intel"), officer).snippets[0][1] == Segment("secret", mark=True)
    assert result_item(_hit("intel"), analyst).snippets[0][1] == Segment("secret", mark=True)
    # A principal without the intel clearance never gets an intel hit from the engine; if
    # one were passed anyway, only the sanitised text is shown.
    uncleared = Principal("u", "U", frozenset({"officer"}), frozenset(), frozenset())
    assert result_item(_hit("intel"), uncleared).snippets == [[Segment("Sanitised words.")]]
    assert result_item(_hit("crime"), officer).snippets[0][1] == Segment("secret", mark=True)
