from __future__ import annotations

from orchestrator.api.keys import Grant, new_key, parse_key, secret_matches


def test_a_new_key_parses_and_only_its_own_secret_matches() -> None:
    key, other = new_key(), new_key()
    presented = parse_key(key.presented)
    assert presented is not None and presented.key_id == key.key_id
    assert secret_matches(presented.secret, key.secret_hash)
    assert not secret_matches(presented.secret, other.secret_hash)
    assert key.presented.split("_")[-1] not in key.secret_hash.hex()


def test_malformed_keys_do_not_parse() -> None:
    key = new_key().presented
    for bad in ["", key + "x", key.replace("cbro_", "cbrx_"), key[:-1], "Bearer " + key]:
        assert parse_key(bad) is None


def test_grants() -> None:
    reader = Grant("k", "ci", frozenset({"p1"}), frozenset({"read", "backup"}))
    assert reader.may("backup") and not reader.may("restore")
    assert reader.sees("p1") and not reader.sees("p2")
    admin = Grant("k", "ops", frozenset(), frozenset({"admin"}))
    assert admin.may("restore") and admin.sees("anything")
