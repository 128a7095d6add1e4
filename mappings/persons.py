"""The ``persons`` index: one document per nominal (resolved person), derived from records.

A nominal is derived data: everything here is recomputed from the records on every rebuild,
and the portal recomputes what it shows from the records the viewer may read (``RECORD_IDS``
and ``MENTIONS`` say which record each name, DOB and identifier came from).
Field names are constants shared with the writer (persons/store.py) and the query builders.
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings
from mappings import analysis as A

NAME = "persons"
VERSION = 2  # 2: NI numbers and emails as identifiers (REINDEX_SCRIPT fills them)

ID: Final = "id"  # nominal id
NAMES: Final = "names"  # every full name as recorded (text, name analyzer; .keyword)
SURNAMES: Final = "surnames"  # folded surnames (keyword)
FORENAMES: Final = "forenames"  # folded forenames (keyword)
NAME_KEYS: Final = "name_keys"  # phonetic keys of every name token (keyword)
FORENAME_VARIANTS: Final = "forename_variants"  # keyword
DOBS: Final = "dobs"  # every DOB as recorded (date)
PNC_IDS: Final = "pnc_ids"
CRO_NOS: Final = "cro_nos"
NINOS: Final = "ninos"  # NI numbers, canonical (QQ123456C)
EMAILS: Final = "emails"  # email addresses, canonical (lower case)
RECORD_IDS: Final = "record_ids"  # records of the linked mentions (keyword)
MENTION_COUNT: Final = "mention_count"
MODEL_VERSION: Final = "model_version"
UPDATED_AT: Final = "updated_at"
MENTIONS: Final = "mentions"  # nested, one per linked mention
M_ID: Final = "mention_id"
M_RECORD_ID: Final = "record_id"
M_ROLE: Final = "role"
M_NAME: Final = "name"
M_DOB: Final = "dob"
M_PNC_ID: Final = "pnc_id"
M_CRO_NO: Final = "cro_no"
M_NINO: Final = "nino"
M_EMAIL: Final = "email"
M_PROBABILITY: Final = "probability"  # of its best link inside the nominal (absent: alone)
M_LINKED_TO: Final = "linked_to"  # the mention that link is with
M_WEIGHTS: Final = "weights"  # match weight (log2 Bayes factor) per comparison
M_REASONS: Final = "reasons"  # the comparisons' labels in words, strongest first
M_MORE_LINKS: Final = "more_links"  # next-strongest links [{linked_to, probability, weights, reasons}]
M_DECIDED: Final = "decided"  # linked or kept apart by a human decision
M_SOURCE: Final = "source"  # the mention as keyed (not indexed): reloads the resolver

# Comparison names of the model (persons/model.py): one float per comparison.
WEIGHT_FIELDS: Final = (
    "forename",
    "surname",
    "middle",
    "dob",
    "pnc",
    "cro",
    "nino",
    "email",
    "address",
    "phones",
    "vrms",
    "gender",
)

KEYWORD = {"type": "keyword"}

# Version 1 held no NI numbers or emails. ``lantern index migrate persons`` runs this on every
# copied nominal: each mention's are derived from the mention as keyed (``source``, which
# always carried them), and the nominal's from its mentions, so pages and the API show them
# right after the migration, with no re-resolution. The mappings layer cannot call
# entity_extraction.identifiers, so the checks of canonical_nino / canonical_email are
# written out again here (ASCII walks: painless regexes may be disabled on a cluster);
# tests/persons/test_store.py migrates a version-1 index and compares every value with them.
_PAINLESS_HELPERS = """
boolean lLetter(int c) { return (c >= 65 && c <= 90) || (c >= 97 && c <= 122); }
boolean lDigit(int c) { return c >= 48 && c <= 57; }
boolean lAlnum(int c) { return lLetter(c) || lDigit(c); }
String lNino(def raw) {
  if (raw == null) { return null; }
  String s = raw.toString().trim();
  int n = s.length();
  if (n < 9 || !lLetter((int) s.charAt(0)) || !lLetter((int) s.charAt(1))) { return null; }
  int i = 2;
  String digits = '';
  for (int g = 0; g < 3; g++) {
    if (i < n && (int) s.charAt(i) == 32) { i++; }
    if (i + 1 >= n || !lDigit((int) s.charAt(i)) || !lDigit((int) s.charAt(i + 1))) { return null; }
    digits += s.substring(i, i + 2);
    i += 2;
  }
  if (i < n && (int) s.charAt(i) == 32) { i++; }
  if (i != n - 1 || !lLetter((int) s.charAt(i))) { return null; }
  String letters = s.substring(0, 2) + s.substring(i);
  if (!letters.equals(letters.toUpperCase()) && !letters.equals(letters.toLowerCase())) { return null; }
  String p = s.substring(0, 2).toUpperCase();
  String x = s.substring(i).toUpperCase();
  if (p == 'QQ' || p == 'ZZ') { return p + digits + x; }
  if ('DFIQUV'.indexOf(p.substring(0, 1)) >= 0 || 'DFIOQUV'.indexOf(p.substring(1)) >= 0) { return null; }
  if (['BG', 'GB', 'NK', 'KN', 'TN', 'NT'].contains(p) || 'ABCD'.indexOf(x) < 0) { return null; }
  return p + digits + x;
}
boolean lLabel(String l) {
  int n = l.length();
  if (n == 0 || !lAlnum((int) l.charAt(0)) || !lAlnum((int) l.charAt(n - 1))) { return false; }
  for (int i = 0; i < n; i++) {
    int c = (int) l.charAt(i);
    if (!lAlnum(c) && c != 45) { return false; }
  }
  return true;
}
String lEmail(def raw) {
  if (raw == null) { return null; }
  String s = raw.toString().trim();
  int at = s.indexOf('@');
  if (at < 1 || at != s.lastIndexOf('@')) { return null; }
  String local = s.substring(0, at);
  if (!lAlnum((int) local.charAt(0))) { return null; }
  for (int i = 1; i < local.length(); i++) {
    if (!lAlnum((int) local.charAt(i)) && '._%+-'.indexOf(local.substring(i, i + 1)) < 0) { return null; }
  }
  def parts = s.substring(at + 1).splitOnToken('.');
  if (parts.length < 2) { return null; }
  for (int i = 0; i < parts.length - 1; i++) {
    if (!lLabel(parts[i])) { return null; }
  }
  String tld = parts[parts.length - 1];
  if (tld.length() < 2 || tld.length() > 24) { return null; }
  for (int i = 0; i < tld.length(); i++) {
    if (!lLetter((int) tld.charAt(i))) { return null; }
  }
  return s.toLowerCase();
}
"""

# Run by ``lantern index migrate persons`` on every copied nominal (painless). The mention's
# keyed values are ``source.nino`` / ``source.email`` (persons.features.Mention's fields).
REINDEX_SCRIPT = _PAINLESS_HELPERS + (
    f"def ninos = new ArrayList(); def emails = new ArrayList();"
    f" def ms = ctx._source.{MENTIONS};"
    " if (ms != null) { for (def m : ms) {"
    f"  def src = m.get('{M_SOURCE}');"
    f"  if (!m.containsKey('{M_NINO}')) {{ m.{M_NINO} = src == null ? null : lNino(src.get('nino')); }}"
    f"  if (!m.containsKey('{M_EMAIL}')) {{ m.{M_EMAIL} = src == null ? null : lEmail(src.get('email')); }}"
    f"  if (m.{M_NINO} != null && !ninos.contains(m.{M_NINO})) {{ ninos.add(m.{M_NINO}); }}"
    f"  if (m.{M_EMAIL} != null && !emails.contains(m.{M_EMAIL})) {{ emails.add(m.{M_EMAIL}); }}"
    " } }"
    f" Collections.sort(ninos); Collections.sort(emails);"
    f" ctx._source.{NINOS} = ninos; ctx._source.{EMAILS} = emails;"
)


def mappings() -> dict[str, Any]:
    mention = {
        M_ID: KEYWORD,
        M_RECORD_ID: KEYWORD,
        M_ROLE: KEYWORD,
        M_NAME: {"type": "text", "analyzer": A.NAME, "fields": {"keyword": {"type": "keyword"}}},
        M_DOB: {"type": "date"},
        M_PNC_ID: KEYWORD,
        M_CRO_NO: KEYWORD,
        M_NINO: KEYWORD,
        M_EMAIL: KEYWORD,
        M_PROBABILITY: {"type": "float"},
        M_LINKED_TO: KEYWORD,
        M_WEIGHTS: {
            "type": "object",
            "dynamic": "strict",
            "properties": {w: {"type": "float"} for w in WEIGHT_FIELDS},
        },
        M_REASONS: KEYWORD,
        # Read back only (never searched): the view falls back to these when the best
        # link's partner is in a record the viewer may not read.
        M_MORE_LINKS: {"type": "object", "enabled": False},
        M_DECIDED: {"type": "boolean"},
        M_SOURCE: {"type": "object", "enabled": False},
    }
    return {
        "dynamic": "strict",
        "properties": {
            ID: KEYWORD,
            NAMES: {"type": "text", "analyzer": A.NAME, "fields": {"keyword": {"type": "keyword"}}},
            SURNAMES: KEYWORD,
            FORENAMES: KEYWORD,
            NAME_KEYS: KEYWORD,
            FORENAME_VARIANTS: KEYWORD,
            DOBS: {"type": "date"},
            PNC_IDS: KEYWORD,
            CRO_NOS: KEYWORD,
            NINOS: KEYWORD,
            EMAILS: KEYWORD,
            RECORD_IDS: KEYWORD,
            MENTION_COUNT: {"type": "integer"},
            MODEL_VERSION: KEYWORD,
            UPDATED_AT: {"type": "date"},
            MENTIONS: {"type": "nested", "dynamic": "strict", "properties": mention},
        },
    }


def body(settings: Settings) -> dict[str, Any]:
    return {"settings": A.index_settings(settings), "mappings": mappings()}
