"""``lantern users ...`` against the real node (settings from the environment, as in production)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lantern.cli import app
from lantern.settings import get_settings
from portal.cli import DEMO_USERS, register

register(app)


@pytest.fixture
def cli_env(settings, monkeypatch, tmp_path):
    prefix = f"{settings.index_prefix}cli-"
    monkeypatch.setenv("LANTERN_INDEX_PREFIX", prefix)
    monkeypatch.setenv("LANTERN_AUDIT_HEAD_FILE", str(tmp_path / "head.log"))
    monkeypatch.setenv("LANTERN_EMBEDDED_PORT", str(settings.embedded_port))
    monkeypatch.setenv("LANTERN_EMBEDDED_HOME", str(settings.embedded_home))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_users_lifecycle(cli_env, client):
    from lantern.audit import AuditLog
    from lantern.users import LocalIdentityProvider, UserStore

    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "users",
            "add",
            "jbloggs",
            "--role",
            "officer",
            "--unit",
            "CID",
            "--clearance",
            "intel",
            "--display-name",
            "Joe Bloggs",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert r.exit_code == 0, r.output
    idp = LocalIdentityProvider(UserStore(client, cli_env))
    user = idp.authenticate("jbloggs", "a long enough password")
    assert user and user.roles == {"officer"} and user.clearances == {"intel"} and user.units == {"CID"}
    # Bad input is refused with a reason.
    r = runner.invoke(
        app, ["users", "add", "x", "--role", "chief", "--password-stdin"], input="a long enough pw\n"
    )
    assert r.exit_code == 1 and "unknown role" in r.output
    r = runner.invoke(app, ["users", "add", "y", "--role", "officer", "--password-stdin"], input="short\n")
    assert r.exit_code == 1 and "at least" in r.output
    r = runner.invoke(
        app,
        ["users", "add", "jbloggs", "--role", "officer", "--password-stdin"],
        input="a long enough password\n",
    )
    assert r.exit_code == 1 and "already exists" in r.output

    assert runner.invoke(app, ["users", "disable", "jbloggs"]).exit_code == 0
    disabled = UserStore(client, cli_env).get("jbloggs")
    assert disabled is not None and disabled.disabled
    assert idp.authenticate("jbloggs", "a long enough password") is None
    assert runner.invoke(app, ["users", "enable", "jbloggs"]).exit_code == 0
    r = runner.invoke(
        app, ["users", "reset-password", "jbloggs", "--password-stdin"], input="another long password\n"
    )
    assert r.exit_code == 0, r.output
    assert idp.authenticate("jbloggs", "another long password")
    assert idp.authenticate("jbloggs", "a long enough password") is None
    listing = runner.invoke(app, ["users", "list"])
    assert "jbloggs" in listing.output and "argon2" not in listing.output

    log = AuditLog(client, cli_env)
    actions = [e["action"] for e in log.iter_events()]
    assert actions == ["account.create", "account.disable", "account.enable", "account.reset_password"]
    assert log.verify().ok


def test_demo_users_idempotent_and_refused_in_production(cli_env, client, monkeypatch):
    from lantern.users import LocalIdentityProvider, UserStore

    runner = CliRunner()
    for _ in range(2):
        r = runner.invoke(app, ["users", "demo"])
        assert r.exit_code == 0, r.output
    idp = LocalIdentityProvider(UserStore(client, cli_env))
    roles: set[str] = set()
    for spec in DEMO_USERS:
        user = idp.authenticate(spec["username"], spec["password"])
        assert user is not None
        roles |= user.roles
    assert roles == {"officer", "analyst", "supervisor", "auditor", "admin"}
    monkeypatch.setenv("LANTERN_ENV", "production")
    monkeypatch.setenv("LANTERN_SECRET_KEY", "a-real-secret-for-this-test-only")
    get_settings.cache_clear()
    r = runner.invoke(app, ["users", "demo"])
    assert r.exit_code == 1 and "refused" in r.output


def test_password_hashes_are_argon2id_with_owasp_parameters(cli_env, client):
    from lantern.users import UserStore, create_user

    create_user(client, cli_env, "hashcheck", "some password here", roles=["officer"])
    stored = UserStore(client, cli_env).password_hash("hashcheck")
    assert stored is not None and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize("columns", ["40", "80"])
def test_demo_accounts_readable_and_copyable_at_any_width(cli_env, client, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    r = CliRunner().invoke(app, ["users", "demo"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for spec in DEMO_USERS:
        # Each password is whole on its own line, nothing truncated or wrapped.
        assert f"  password:   {spec['password']}" in lines, spec["username"]
        assert spec["username"] in lines
    assert "…" not in r.output
