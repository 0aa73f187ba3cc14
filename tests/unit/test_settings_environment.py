"""Settings handed to a worker process through its environment come back the same, secrets included."""

from __future__ import annotations

import pytest

from orchestrator.config import Names, ProjectCredentials, Settings

AKSK = {"project_id": "0" * 32, "region": "r1", "access_key": "AK", "secret_key": "SK-secret"}
IAM = {"project_id": "1" * 32, "region": "r2", "domain_name": "d", "user_name": "u", "password": "pw-secret"}


def clear(settings: Settings) -> dict[str, object]:
    """Everything, secrets revealed, to compare two settings."""
    dumped = settings.model_dump(mode="json", exclude={"credentials", "amqp_url", "secrets_file"})
    dumped["credentials"] = [c.revealed() for c in settings.credentials]
    dumped["amqp_url"] = settings.amqp_url.get_secret_value()
    return dumped


def test_settings_read_back_from_their_environment_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Settings(
        database_url="postgresql://u@h:5432/db",
        amqp_url="amqp://user:amqp-secret@h:5672/v",  # type: ignore[arg-type]
        names=Names(prefix="test.x"),
        credentials=[ProjectCredentials.model_validate(AKSK), ProjectCredentials.model_validate(IAM)],
        cbr_endpoints={"r1": "http://127.0.0.1:8790"},
        cbr_timeout_seconds=3.0,
        cbr_max_retry_after_seconds=7.0,
        database_timeout_seconds=4.0,
        worker={"lease_seconds": 9.0, "heartbeat_seconds": 2.0, "settle_seconds": 5.0},  # type: ignore[arg-type]
        rate_limit={"rate": 33.0},  # type: ignore[arg-type]
    )
    env = sent.as_environment()
    assert all(name.startswith("CBR_ORCH_") for name in env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    received = Settings()
    assert clear(received) == clear(sent)
    assert received.credentials_for("1" * 32, "r2").password is not None
    assert received.credentials_for("1" * 32, "r2").password.get_secret_value() == "pw-secret"


def test_revealed_credentials_are_never_what_a_plain_dump_prints() -> None:
    cred = ProjectCredentials.model_validate(IAM)
    assert "pw-secret" not in str(cred.model_dump(mode="json"))
    assert cred.revealed()["password"] == "pw-secret"
