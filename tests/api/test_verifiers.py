from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict
from standardwebhooks import Webhook

from orchestrator.api.verifiers import NotVerified, verify

BODY = b'{"ref": "main"}'
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 24).decode()


def standard_headers(secret: str, body: bytes = BODY, at: datetime | None = None) -> CIMultiDict[str]:
    moment = at or datetime.now(UTC)
    signature = Webhook(secret).sign("msg_1", moment, body)
    stamp = str(int(moment.timestamp()))
    return CIMultiDict({"Webhook-Id": "msg_1", "Webhook-Timestamp": stamp, "Webhook-Signature": signature})


def test_standard_webhooks_accepts_any_held_secret_and_names_the_delivery() -> None:
    assert verify("standard-webhooks", [OTHER, SECRET], standard_headers(SECRET), BODY).delivery_id == "msg_1"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (lambda: standard_headers(OTHER), BODY, "no secret matches"),
        (lambda: standard_headers(SECRET), BODY + b" ", "no secret matches"),
        (lambda: standard_headers(SECRET, at=datetime.now(UTC) - timedelta(minutes=6)), BODY, "5 minutes"),
        (lambda: standard_headers(SECRET, at=datetime.now(UTC) + timedelta(minutes=6)), BODY, "5 minutes"),
        (lambda: CIMultiDict({"Webhook-Id": "msg_1"}), BODY, "are required"),
    ],
)
def test_standard_webhooks_refuses(headers, body, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotVerified, match=reason):
        verify("standard-webhooks", [SECRET], headers(), body)


def github_headers(secret: str, body: bytes = BODY) -> CIMultiDict[str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return CIMultiDict({"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Delivery": "d-1"})


def test_github_signature() -> None:
    assert verify("github", ["old", "new"], github_headers("new"), BODY).delivery_id == "d-1"
    with pytest.raises(NotVerified, match="no secret matches"):
        verify("github", ["new"], github_headers("wrong"), BODY)
    with pytest.raises(NotVerified, match="required"):
        verify("github", ["new"], CIMultiDict({"X-GitHub-Delivery": "d-1"}), BODY)


def test_gitlab_token() -> None:
    headers = CIMultiDict({"X-Gitlab-Token": "t0k", "X-Gitlab-Event-UUID": "e-1"})
    assert verify("gitlab", ["t0k"], headers, BODY).delivery_id == "e-1"
    with pytest.raises(NotVerified, match="does not match"):
        verify("gitlab", ["other"], headers, BODY)
    with pytest.raises(NotVerified, match="required"):
        verify("gitlab", ["t0k"], CIMultiDict({"X-Gitlab-Token": "t0k"}), BODY)


def test_a_trigger_without_secrets_verifies_nothing() -> None:
    with pytest.raises(NotVerified):
        verify("gitlab", [], CIMultiDict({"X-Gitlab-Token": "", "X-Gitlab-Event-UUID": "e"}), BODY)


def test_timestamps_are_whole_seconds() -> None:
    assert int(standard_headers(SECRET)["Webhook-Timestamp"]) <= time.time()
