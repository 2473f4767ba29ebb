"""Credentials and callers: token parsing, secret verification through rotation and
revocation, the authorizer's context, and which exports a warehouse may see."""

from datetime import UTC, datetime, timedelta

import pytest

from meshline.domain.access import (
    Caller,
    Credential,
    NotAllowed,
    Role,
    SecretHash,
    Unauthenticated,
    hash_secret,
    parse_token,
    token_for,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ALICE = Caller(credential_id="a1b2c3d4e5f60718", role=Role.OPERATOR, party="agency:alice", tenants=("acme", "globex"))
EAST = Caller(credential_id="0f0e0d0c0b0a0908", role=Role.WAREHOUSE, party="3pl:east-logistics", tenants=("acme",),
              warehouse_id="east")


def credential(secret="s3cret", caller=ALICE) -> Credential:
    return Credential(caller=caller, secrets=(SecretHash(sha256=hash_secret(secret), issued_at=NOW),), usage_key="k" * 40)


@pytest.mark.parametrize("header, problem", [
    (None, "no Authorization header"),
    ("", "no Authorization header"),
    ("Basic YWxpY2U6cHc=", "is not 'Bearer mlk_<id>.<secret>'"),
    ("Bearer abc.def", "is not 'Bearer mlk_<id>.<secret>'"),
    ("Bearer mlk_abc", "malformed"),
    ("Bearer mlk_abc.", "malformed"),
    ("Bearer mlk_a-b.c", "malformed"),
])
def test_malformed_credentials_say_what_is_wrong(header, problem):
    with pytest.raises(Unauthenticated, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_token(header)


def test_a_token_round_trips_and_its_secret_may_contain_dots():
    assert parse_token("Bearer " + token_for("abc123", "se.cr.et")) == ("abc123", "se.cr.et")
    assert parse_token("bearer " + token_for("abc123", "x")) == ("abc123", "x")


def test_only_the_right_secret_is_admitted_and_never_after_revocation():
    stored = credential()
    assert stored.admits("s3cret", NOW) and not stored.admits("s3cret!", NOW)
    revoked = stored.revoked(NOW + timedelta(minutes=5))
    assert revoked.admits("s3cret", NOW) and not revoked.admits("s3cret", NOW + timedelta(minutes=5))


def test_a_rotation_keeps_the_old_secret_through_the_overlap_only():
    rotated = credential("old").rotated("new", NOW, overlap=timedelta(hours=24))
    assert rotated.admits("old", NOW + timedelta(hours=23)) and rotated.admits("new", NOW + timedelta(hours=23))
    assert not rotated.admits("old", NOW + timedelta(hours=24)) and rotated.admits("new", NOW + timedelta(days=30))
    twice = rotated.rotated("newer", NOW + timedelta(hours=1), overlap=timedelta(hours=24))
    # At most two live secrets: the one rotated away from and the newest; "old" is not revived.
    assert len(twice.secrets) == 2
    assert not twice.admits("old", NOW + timedelta(hours=2))
    assert twice.admits("new", NOW + timedelta(hours=2)) and twice.admits("newer", NOW + timedelta(hours=2))


def test_the_caller_survives_the_authorizer_context_which_holds_only_strings():
    for caller in (ALICE, EAST):
        context = caller.to_context()
        assert all(isinstance(value, str) for value in context.values())
        assert Caller.from_context(context) == caller


def test_a_warehouse_sees_only_what_names_it_and_an_operator_its_tenants():
    assert EAST.can_see_warehouses("acme", ["west", "east"]) and not EAST.can_see_warehouses("acme", ["west"])
    assert not EAST.can_see_warehouses("globex", ["east"])
    assert ALICE.can_see_warehouses("globex", ["west"]) and not ALICE.can_see_warehouses("initech", [])
    with pytest.raises(NotAllowed, match="a warehouse credential cannot override exports"):
        EAST.require_role(Role.OPERATOR, "override exports")


def test_role_refusals_read_well():
    with pytest.raises(NotAllowed, match="^an operator credential cannot acknowledge exports; it takes a warehouse credential$"):
        ALICE.require_role(Role.WAREHOUSE, "acknowledge exports")
