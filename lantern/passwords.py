"""argon2id password hashing with the OWASP-recommended minimum parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)

# Verified when the username is unknown, so an unknown user costs the same time as a wrong password.
_DUMMY_HASH = HASHER.hash("lantern-timing-equaliser")

MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)


# zxcvbn scores 0-4 (log10 guesses < 3, 6, 8, 10, above); 3 = "safely unguessable: moderate
# protection from offline slow-hash attacks", which argon2id is.
MIN_STRENGTH = 3
# Words an attacker tries first against this system: refused inside a password as a dictionary word.
CONTEXT_WORDS = ("lantern", "police", "constabulary", "metropolitan", "officer", "analyst", "password")


def check_password_policy(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Length over composition rules (NCSC / NIST SP 800-63B), and no common or breached-pattern
    password: zxcvbn's offline dictionaries (common passwords, names, words, keyboard walks,
    dates, l33t substitutions, repeats) plus the user's own name and the system's words."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise ValueError("password is too long")
    # zxcvbn's cost grows with length; the first 100 characters decide the score.
    # zxcvbn matches each input as one whole word: give it the name's parts and the parts run
    # together too ("Pat Weak" -> pat, weak, patweak).
    words: list[str] = list(CONTEXT_WORDS)
    for value in user_inputs:
        parts = [p for p in re.split(r"[\s._-]+", value.lower()) if p]
        words.extend([value.lower(), *parts, "".join(parts)])
    result = zxcvbn(password[:100], user_inputs=words)
    if int(result["score"]) < MIN_STRENGTH:
        feedback = result.get("feedback") or {}
        hint = " ".join(x for x in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])] if x)
        raise ValueError(
            "password is too easy to guess (a common password, or a common pattern of one)"
            + (f": {hint}" if hint else "; use a few unrelated words")
        )
