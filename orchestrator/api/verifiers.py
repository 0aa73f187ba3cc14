"""Proving that a webhook delivery comes from its sender, before its body is parsed.

Each verifier checks the signature (or token) of the raw body against every secret it holds, so that a
secret can be rotated by holding the old and the new one for a while, and names the delivery id that
the command id is derived from: a sender's retry of one delivery starts nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

VerifierKind = Literal["standard-webhooks", "github", "gitlab"]
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class NotVerified(Exception):
    """The delivery is not proven to come from the sender (a 401 whose reason names no secret)."""


@dataclass(frozen=True)
class Verified:
    delivery_id: str


def verify(kind: VerifierKind, secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> Verified:
    """``headers`` must look names up case-insensitively (aiohttp's request headers do)."""
    if not secrets:
        raise NotVerified("the trigger holds no secret")
    match kind:
        case "standard-webhooks":
            return _standard_webhooks(secrets, headers, body)
        case "github":
            return _github(secrets, headers, body)
        case "gitlab":
            return _gitlab(secrets, headers)


def _standard_webhooks(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> Verified:
    wanted = {name: headers.get(name, "") for name in STANDARD_HEADERS}
    reason = "no secret matches the signature"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
        except WebhookVerificationError as exc:
            reason = _standard_reason(str(exc))
            if reason != "no secret matches the signature":
                break  # missing headers or a stale timestamp: no other secret changes that
            continue
        return Verified(wanted["webhook-id"])
    raise NotVerified(reason)


def _standard_reason(message: str) -> str:
    lowered = message.lower()
    if "missing" in lowered:
        return "webhook-id, webhook-timestamp and webhook-signature are required"
    if "too old" in lowered or "too new" in lowered or "invalid" in lowered:
        return "webhook-timestamp is more than 5 minutes away from now"
    return "no secret matches the signature"


def _github(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> Verified:
    given = headers.get("X-Hub-Signature-256", "")
    delivery = headers.get("X-GitHub-Delivery", "")
    if not given.startswith("sha256=") or not delivery:
        raise NotVerified("X-Hub-Signature-256 (sha256=…) and X-GitHub-Delivery are required")
    for secret in secrets:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return Verified(delivery)
    raise NotVerified("no secret matches X-Hub-Signature-256")


def _gitlab(secrets: Sequence[str], headers: Mapping[str, str]) -> Verified:
    token = headers.get("X-Gitlab-Token", "")
    delivery = headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID", "")
    if not token or not delivery:
        raise NotVerified("X-Gitlab-Token and X-Gitlab-Event-UUID (or Idempotency-Key) are required")
    matched = False
    for secret in secrets:  # every secret is compared, so the time taken tells nothing
        matched |= hmac.compare_digest(secret.encode(), token.encode())
    if not matched:
        raise NotVerified("X-Gitlab-Token does not match")
    return Verified(delivery)
