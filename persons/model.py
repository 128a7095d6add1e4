"""The Splink model: comparisons, blocking rules, training, and the versioned model file.

Every level's ``label_for_charts`` is the phrase an officer reads on the person page
("DOB has day and month swapped"), so the explanation is the model's own structure, not
a second rule set that could drift from it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from persons import blocking

MODEL_DIR = Path(__file__).parent / "model"
MODEL_VERSION = 4
DEFAULT_MODEL_PATH = MODEL_DIR / f"v{MODEL_VERSION}.json"
SEED = 20261130

log = logging.getLogger(__name__)


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for resolution, bounded: ``threads`` (None: LANTERN_PERSONS_THREADS),
    and the memory limit and spill directory from the settings (LANTERN_PERSONS_MEMORY_LIMIT,
    LANTERN_PERSONS_TEMP_DIR)."""
    from lantern.settings import get_settings

    settings = get_settings()
    if threads is None:
        threads = settings.persons_threads
    tmp = settings.persons_temp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "threads": int(threads),
            "memory_limit": settings.persons_memory_limit,
            "temp_directory": str(tmp),
        }
    )
    return con


def _null(cond: str) -> dict[str, Any]:
    return {"sql_condition": cond, "label_for_charts": "not recorded on one side", "is_null_level": True}


def _level(cond: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": cond, "label_for_charts": label, **extra}


def _else(label: str) -> dict[str, Any]:
    return {"sql_condition": "ELSE", "label_for_charts": label}


def _both_null(col: str) -> str:
    return f'"{col}_l" IS NULL OR "{col}_r" IS NULL'


SWAPPED = '"forename_l" = "surname_r" AND "surname_l" = "forename_r"'


def _alike(a: str, b: str, a_phon: str, b_phon: str) -> str:
    """``a`` on the left and ``b`` on the right are the same name give or take a slip, a
    spelling by ear or a transliteration."""
    return (
        f'("{a}_l" = "{b}_r" OR jaro_winkler_similarity("{a}_l", "{b}_r") >= 0.9 '
        f'OR list_has_any("{a_phon}_l", "{b_phon}_r"))'
    )


# Keyed the other way round AND one half also misspelt or keyed as a variant ("Baliey Emma" /
# "Emma Bailey", "Warsame Muhammad" / "Mohamed Warsame"): the exact swap alone left both
# name comparisons at "disagrees" (-10 bits) for a pair that agrees on everything else.
SWAPPED_ALIKE = (
    _alike("forename", "surname", "forename_phon", "surname_phon")
    + " AND "
    + _alike("surname", "forename", "surname_phon", "forename_phon")
)
# The surname levels above the alike-swap level (a straight reading wins over a swapped one).
_SURNAME_STRAIGHT = (
    '"surname_l" = "surname_r" OR '
    '(list_has_any("surname_tokens_l", "surname_tokens_r") AND '
    '(len("surname_tokens_l") > 1 OR len("surname_tokens_r") > 1)) OR '
    'jaro_winkler_similarity("surname_l", "surname_r") >= 0.92 OR '
    'damerau_levenshtein("surname_l", "surname_r") = 1 OR '
    'list_has_any("surname_phon_l", "surname_phon_r")'
)


def _short_form(a: str, b: str) -> str:
    # Mirrors persons.features.is_short_form (SHORT_FORM_MIN 3, SHORT_FORM_EXTRA 2).
    return (
        f'(length("{a}") >= 3 AND length("{b}") >= length("{a}") + 2 AND '
        f'(left("{b}", length("{a}")) = "{a}" OR right("{b}", length("{a}")) = "{a}"))'
    )


SHORT_FORM = f"{_short_form('forename_l', 'forename_r')} OR {_short_form('forename_r', 'forename_l')}"


def comparisons() -> list[dict[str, Any]]:
    forename = {
        "output_column_name": "forename",
        "comparison_description": "forename",
        "comparison_levels": [
            _null(_both_null("forename")),
            _level(
                '"forename_l" = "forename_r"',
                "forename agrees",
                tf_adjustment_column="forename",
                tf_adjustment_weight=1.0,
            ),
            # Scored once, under the surname comparison; here it must be neutral (m = u).
            _level(
                SWAPPED,
                "forename and surname swapped (scored under surname)",
                m_probability=0.5,
                u_probability=0.5,
                fix_m_probability=True,
                fix_u_probability=True,
            ),
            _level(
                f"({SWAPPED_ALIKE}) AND NOT ({_SURNAME_STRAIGHT})",
                "forename and surname swapped, one with a slip (scored under surname)",
                m_probability=0.5,
                u_probability=0.5,
                fix_m_probability=True,
                fix_u_probability=True,
            ),
            _level(
                'list_has_any("forename_variants_l", "forename_variants_r")',
                "forename is a known variant or diminutive",
            ),
            _level(SHORT_FORM, "forename is a short form of the other"),
            _level(
                'jaro_winkler_similarity("forename_l", "forename_r") >= 0.92',
                "forename differs by a keying slip",
            ),
            # Jaro-Winkler marks a slip in a short name down hard ("Jhn" / "John" 0.93 but
            # "Poul" / "Paul" 0.85): one edit is the keying slip itself. Its own level, because
            # one letter also separates different short names ("Ian" / "Jan"), so EM weighs it.
            _level(
                'damerau_levenshtein("forename_l", "forename_r") = 1',
                "forename is one letter off",
            ),
            _level('list_has_any("forename_phon_l", "forename_phon_r")', "forename sounds alike"),
            _level(
                '"forename_initial_l" = "forename_initial_r" AND '
                '(length("forename_l") = 1 OR length("forename_r") = 1)',
                "only an initial is recorded and it agrees",
            ),
            _level(
                'jaro_winkler_similarity("forename_l", "forename_r") >= 0.8', "forename spelt somewhat alike"
            ),
            _else("forename disagrees"),
        ],
    }
    surname = {
        "output_column_name": "surname",
        "comparison_description": "surname",
        "comparison_levels": [
            _null(_both_null("surname")),
            # Each exact level takes its term frequency from its own column. Splink scales a
            # frequency against the u of the level that is an exact match on the TF column; with
            # both on "surname" that was the transliterated level's tiny u, which took ~5 bits
            # off every plain surname agreement (a bare "Jennifer Moss" scored 0.3).
            _level(
                '"surname_raw_l" = "surname_raw_r"',
                "surname agrees",
                tf_adjustment_column="surname_raw",
                tf_adjustment_weight=1.0,
            ),
            _level(
                '"surname_l" = "surname_r"',
                "surname agrees once accents are transliterated",
                tf_adjustment_column="surname",
                tf_adjustment_weight=1.0,
            ),
            _level(SWAPPED, "forename and surname keyed the other way round"),
            _level(
                'list_has_any("surname_tokens_l", "surname_tokens_r") AND '
                '(len("surname_tokens_l") > 1 OR len("surname_tokens_r") > 1)',
                "one half of a double-barrelled surname agrees",
            ),
            _level(
                'jaro_winkler_similarity("surname_l", "surname_r") >= 0.92',
                "surname differs by a keying slip",
            ),
            # As for forenames: "Daly" / "Daiy" is one slip but only 0.83 alike.
            _level('damerau_levenshtein("surname_l", "surname_r") = 1', "surname is one letter off"),
            _level('list_has_any("surname_phon_l", "surname_phon_r")', "surname sounds alike"),
            _level(SWAPPED_ALIKE, "forename and surname keyed the other way round, one with a slip"),
            _else("surname disagrees"),
        ],
    }
    # A father and son share forename, surname and address far more often than a middle
    # name; and a middle name recorded on both sides that agrees is evidence a bare name lacks.
    middle = {
        "output_column_name": "middle",
        "comparison_description": "middle name",
        "comparison_levels": [
            _null(_both_null("middle")),
            _level('"middle_l" = "middle_r" AND length("middle_l") > 1', "middle name agrees"),
            # Fixed priors: a source that never keys a middle name wrongly (the synthetic
            # training data) lets EM drive these to m ~ 0, i.e. -40 bits that no other evidence
            # can outweigh; real systems key initials and drop or swap middle names.
            _level(
                'left("middle_l", 1) = left("middle_r", 1)',
                "middle initial agrees",
                m_probability=0.1,
                fix_m_probability=True,
            ),
            _else("middle names differ") | {"m_probability": 0.05, "fix_m_probability": True},
        ],
    }
    dob = {
        "output_column_name": "dob",
        "comparison_description": "date of birth",
        "comparison_levels": [
            _null(_both_null("dob")),
            _level('"dob_l" = "dob_r" AND "dob_md_l" <> \'01-01\'', "DOB agrees"),
            _level('"dob_l" = "dob_r"', "DOB agrees but is 1 January, often a default"),
            _level('"dob_swapped_l" = "dob_r"', "DOB has day and month swapped"),
            # A slip in the day or month and a slip in the year are told apart: they are not
            # equally likely to be a keying error of one person's DOB rather than two people's
            # dates (a year slip in the tens is a decade), so each gets its own learnt weight.
            _level(
                '"dob_year_l" = "dob_year_r" AND damerau_levenshtein("dob_l", "dob_r") = 1',
                "DOB is one digit (or one transposition) off in the day or month",
            ),
            _level(
                '"dob_md_l" = "dob_md_r" AND damerau_levenshtein("dob_l", "dob_r") = 1',
                "DOB is one digit (or one transposition) off in the year",
            ),
            _level(
                '"dob_md_l" = "dob_md_r" AND abs("dob_year_l" - "dob_year_r") = 1',
                "DOB one year apart, same day and month",
            ),
            _level(
                '("dob_md_l" = \'01-01\' OR "dob_md_r" = \'01-01\') AND "dob_year_l" = "dob_year_r"',
                "one DOB is a 1 January default in the same year",
            ),
            _level('abs("dob_year_l" - "dob_year_r") <= 1', "DOB within a year"),
            _else("DOB disagrees"),
        ],
    }

    def identifier(col: str, name: str) -> dict[str, Any]:
        return {
            "output_column_name": col,
            "comparison_description": name,
            "comparison_levels": [
                _null(_both_null(col)),
                _level(f'"{col}_l" = "{col}_r"', f"{name} agrees"),
                # Two different valid identifiers are two people; keying errors in a
                # check-lettered identifier usually fail validation and become NULL instead.
                # The prior is fixed rather than learnt because EM sees too few such pairs.
                _else(f"{name}s differ") | {"m_probability": 0.002, "fix_m_probability": True},
            ],
        }

    def fixed(cond: str, label: str, m: float, u: float) -> dict[str, Any]:
        return _level(
            cond, label, m_probability=m, u_probability=u, fix_m_probability=True, fix_u_probability=True
        )

    # NI number and email as custody and case systems take them: from the person, not issued
    # by the police like a PNC ID. Priors fixed rather than learnt: a force's training data may
    # hold few or none (EM would leave them untrained), and their meaning does not depend on
    # the force. An NI number is one person's for life, so agreement is strong evidence; it has
    # no check character, so a keying slip still looks valid and a one-character difference is
    # most likely the same number; and people give false ones, so a difference is evidence
    # against, not a veto (the clustering never refuses a merge over it, unlike a PNC ID).
    nino = {
        "output_column_name": "nino",
        "comparison_description": "NI number",
        "comparison_levels": [
            _null(_both_null("nino")),
            fixed('"nino_l" = "nino_r"', "NI number agrees", 0.9, 0.00001),
            fixed(
                'damerau_levenshtein("nino_l", "nino_r") = 1',
                "NI number differs by one character (a keying slip)",
                0.05,
                0.0001,
            ),
            fixed("ELSE", "NI numbers differ", 0.05, 0.99989),
        ],
    }
    # An email address is rarely shared by two people, but a household or a workplace can
    # share one (a father and son: the DOB still keeps them apart); people hold several, so a
    # difference says little.
    email = {
        "output_column_name": "email",
        "comparison_description": "email",
        "comparison_levels": [
            _null(_both_null("email")),
            fixed('"email_l" = "email_r"', "email address agrees", 0.6, 0.0001),
            fixed("ELSE", "email addresses differ", 0.4, 0.9999),
        ],
    }
    address = {
        "output_column_name": "address",
        "comparison_description": "address",
        "comparison_levels": [
            _null('"postcode_l" IS NULL OR "postcode_r" IS NULL'),
            # Term frequencies make a hostel's address count for little.
            _level(
                '"address_l" = "address_r"',
                "same address",
                tf_adjustment_column="address",
                tf_adjustment_weight=1.0,
            ),
            # Fixed prior: a move within one postcode is too rare for EM to see it (u ~ people
            # per postcode / population; m ~ share of moves that stay in the postcode).
            _level(
                '"postcode_l" = "postcode_r"',
                "same postcode",
                tf_adjustment_column="postcode",
                tf_adjustment_weight=1.0,
                m_probability=0.02,
                u_probability=0.0001,
                fix_m_probability=True,
                fix_u_probability=True,
            ),
            _else("different address"),
        ],
    }

    def listcol(col: str, agree: str, differ: str, m_differ: float) -> dict[str, Any]:
        return {
            "output_column_name": col,
            "comparison_description": col,
            "comparison_levels": [
                _null(_both_null(col)),
                _level(f'list_has_any("{col}_l", "{col}_r")', agree),
                # People change phones and cars: a difference is weak evidence. Fixed, because
                # EM on data where each person keeps one number would make it near-decisive.
                _else(differ) | {"m_probability": m_differ, "fix_m_probability": True},
            ],
        }

    gender = {
        "output_column_name": "gender",
        "comparison_description": "gender",
        "comparison_levels": [
            _null(_both_null("gender")),
            _level('"gender_l" = "gender_r"', "gender agrees"),
            _else("gender differs"),
        ],
    }
    return [
        forename,
        surname,
        middle,
        dob,
        identifier("pnc", "PNC ID"),
        identifier("cro", "CRO number"),
        nino,
        email,
        address,
        listcol("phones", "a phone number in common", "phone numbers differ", 0.4),
        listcol("vrms", "a vehicle in common", "no vehicle in common", 0.6),
        gender,
    ]


# The rules and the cap on crowded blocks live in persons.blocking; the model file carries
# their Splink form (a capped rule joins on a column persons.blocking.assign computes).
BLOCKING_RULES: list[str] = blocking.splink_rules()


TF_COLUMNS = ["forename", "surname", "surname_raw", "address", "postcode"]


def base_settings() -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": 1e-4,
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": r, "sql_dialect": "duckdb"} for r in BLOCKING_RULES
        ],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": ["record_id"],
        "max_iterations": 25,
        "em_convergence": 0.0001,
    }


def load_model(path: Path = DEFAULT_MODEL_PATH) -> dict[str, Any]:
    """The trained settings plus Lantern's own keys (``lantern``: threshold, version)."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def splink_settings(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k != "lantern"}


def lantern_meta(model: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = model.get("lantern", {})
    return meta


def train(table: pa.Table, *, seed: int = SEED, max_pairs: float = 5e6) -> dict[str, Any]:
    """Estimate u by random sampling (fixed seed) and m by EM on blocked pairs.

    Returns the Splink settings dict (without a threshold: ``choose_threshold`` sets that).
    """
    from splink import Linker, block_on
    from splink.backends.duckdb import DuckDBAPI

    # One thread keeps EM and sampling bit-for-bit reproducible (and the box is shared).
    con = connect(threads=1)
    db = DuckDBAPI(connection=con)
    # The capped blocking rules join on columns computed over the data (persons.blocking).
    con.register("_train", table)
    con.execute("CREATE TABLE mentions AS SELECT * FROM _train")
    con.unregister("_train")
    blocking.add_columns(con, "mentions")
    blocking.assign(con, "mentions")
    sdf = db.register("mentions")
    linker = Linker(sdf, base_settings())
    linker.training.estimate_probability_two_random_records_match(
        [
            'l."pnc" = r."pnc"',
            'l."dob" = r."dob" AND l."surname" = r."surname" AND l."forename" = r."forename"',
        ],
        recall=0.7,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    # Two EM sessions: blocked on DOB (trains names, identifiers, address...) and on PNC ID
    # (trains DOB). Blocking DOB training on names instead lets EM latch onto "same family"
    # (same name and address, different DOB) as the match class.
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("pnc"), estimate_without_term_frequencies=True
    )
    trained: dict[str, Any] = linker.misc.save_model_to_json()
    con.close()
    return trained


def save_model(model: dict[str, Any], path: Path = DEFAULT_MODEL_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
