"""Settings: credentials from the environment or a secrets file, never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.config import MissingCredentials, Settings

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CANARY = "CANARY-SK-7f3a"


def test_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CBR_ORCH_CREDENTIALS",
        json.dumps([{"project_id": PROJECT, "region": "r1", "access_key": "AK", "secret_key": CANARY}]),
    )
    monkeypatch.setenv("CBR_ORCH_WORKER__LEASE_SECONDS", "90")
    settings = Settings()
    cred = settings.credentials_for(PROJECT, "r1")
    assert cred.secret_key is not None
    assert cred.secret_key.get_secret_value() == CANARY
    assert settings.worker.lease_seconds == 90
    assert CANARY not in repr(settings)
    assert CANARY not in settings.model_dump_json()


def test_credentials_from_secrets_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(
        json.dumps(
            {
                "credentials": [
                    {
                        "project_id": PROJECT,
                        "region": "r2",
                        "domain_name": "d",
                        "user_name": "u",
                        "password": CANARY,
                    }
                ]
            }
        )
    )
    settings = Settings(secrets_file=path)
    assert settings.has_credentials(PROJECT, "r2")
    with pytest.raises(MissingCredentials, match="no credentials configured"):
        settings.credentials_for(PROJECT, "r1")


def test_bad_secrets_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(
        json.dumps({"credentials": [{"project_id": PROJECT, "region": "r", "secret_key": CANARY}]})
    )
    with pytest.raises(ValueError, match=r"secrets file|validation") as info:
        Settings(secrets_file=path)
    assert CANARY not in str(info.value)


def test_endpoint_override() -> None:
    settings = Settings(cbr_endpoints={"r1": "http://127.0.0.1:9"})
    assert settings.cbr_endpoint("r1") == "http://127.0.0.1:9"
    assert settings.cbr_endpoint("r2") == "https://cbr.r2.myhuaweicloud.com"


@pytest.mark.parametrize(
    ("over", "complaint"),
    [
        ({"cbr_timeout_seconds": 60}, "lease_seconds must exceed"),  # default lease 60 s: no call could start
        ({"worker": {"lease_seconds": 31}}, "lease_seconds must exceed"),
        ({"worker": {"settle_seconds": 20}}, "settle_seconds must exceed"),
        ({"worker": {"heartbeat_seconds": 40}}, "heartbeat_seconds must be at most half"),
    ],
)
def test_leases_and_settle_windows_that_cannot_work_are_refused(
    over: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        Settings.model_validate(over)


def test_defaults_let_a_call_start_right_after_a_heartbeat() -> None:
    settings = Settings()
    worker = settings.worker
    after_heartbeat = worker.lease_seconds - worker.heartbeat_seconds
    assert after_heartbeat > settings.cbr_timeout_seconds + worker.lease_margin_seconds
    assert worker.settle_seconds > settings.cbr_timeout_seconds
