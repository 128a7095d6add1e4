"""Issue 13, finding 8: common and breached-pattern passwords are refused (zxcvbn, offline)."""

from __future__ import annotations

import uuid

import pytest
from opensearchpy import OpenSearch

from lantern.passwords import check_password_policy
from lantern.settings import Settings
from lantern.users import UserError, UserStore


@pytest.mark.parametrize(
    "weak",
    [
        "password1234",  # a very common password
        "qwertyuiop123",  # keyboard walk
        "P@ssw0rd12345",  # l33t of a common one
        "liverpool1234",  # a word and a sequence
        "iloveyou2024",  # a common phrase and a year
        "111111111111",  # repeat
        "abcdefghijklm",  # sequence
        "lantern12345",  # the system's own name
        "jbloggs1234567",  # the user's own name
    ],
)
def test_common_and_pattern_passwords_are_refused(weak: str) -> None:
    with pytest.raises(ValueError, match="too easy to guess"):
        check_password_policy(weak, ["jbloggs", "Joe Bloggs"])


@pytest.mark.parametrize(
    "good", ["correct horse battery staple", "marmalade tugboat quietly 17", "lantern-demo-analyst"]
)
def test_long_unrelated_words_pass(good: str) -> None:
    check_password_policy(good, ["jbloggs"])


def test_length_rules_stay() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        check_password_policy("xK#9v!2q")
    with pytest.raises(ValueError, match="too long"):
        check_password_policy("x" * 1025)


def test_account_store_refuses_a_weak_password(client: OpenSearch, settings: Settings) -> None:
    store = UserStore(client, settings)
    name = f"pw{uuid.uuid4().hex[:8]}"
    with pytest.raises(UserError, match="too easy to guess"):
        store.create(name, "patweak2024!", roles=("officer",), display_name="Pat Weak")
    assert store.get(name) is None
    store.create(name, "copper kettle winter orchard", roles=("officer",), display_name="Pat Weak")
    with pytest.raises(UserError, match="too easy to guess"):
        store.set_password(name, "Password123456")
