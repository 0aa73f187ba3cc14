"""Webhook deliveries signed as Standard Webhooks, GitHub and GitLab senders sign them, and a triggers
file with one trigger of each kind."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quick_settings import emulator_tenant
from standardwebhooks import Webhook

STANDARD_SECRET = "whsec_" + base64.b64encode(b"standard-secret-of-32-bytes-long").decode()
GITHUB_SECRET = "github-secret-value"
GITLAB_SECRET = "gitlab-token-value"
SECRETS_ENV = {"HOOK_STANDARD": STANDARD_SECRET, "HOOK_GITHUB": GITHUB_SECRET, "HOOK_GITLAB": GITLAB_SECRET}
PROJECT = emulator_tenant().project_id
REGION = emulator_tenant().region
COMMAND = f'{{ kind = "backup", project_id = "{PROJECT}", region = "{REGION}", vault = {{ name = "prod" }} }}'


def trigger(name: str, verifier: str, secret_env: str, when: str, command: str = COMMAND) -> str:
    return f"""
[[trigger]]
name = "{name}"
verifier = "{verifier}"
secrets_env = ["{secret_env}"]
when = "{when}"
command = {command}
set = {{ resources = "body.servers[].{{id: @}}" }}
"""


TRIGGERS = (
    trigger("alert-backup", "standard-webhooks", "HOOK_STANDARD", "body.status == 'firing'")
    + trigger("deploy-backup", "github", "HOOK_GITHUB", "headers.\\\"x-github-event\\\" == 'deployment'")
    + trigger("gitlab-backup", "gitlab", "HOOK_GITLAB", "body.object_kind == 'deployment'")
)


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def standard_headers(
    delivery_id: str, body: bytes, *, secret: str = STANDARD_SECRET, age: timedelta = timedelta(0)
) -> dict[str, str]:
    sent = datetime.now(UTC) - age
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery_id, sent, body),
        "content-type": "application/json",
    }


def github_headers(delivery_id: str, body: bytes, *, secret: str = GITHUB_SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": "deployment",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": f"sha256={signature}",
        "content-type": "application/json",
    }


def gitlab_headers(delivery_id: str, *, token: str = GITLAB_SECRET) -> dict[str, str]:
    return {"X-Gitlab-Token": token, "X-Gitlab-Event-UUID": delivery_id, "content-type": "application/json"}


def rewrite(path: Path, text: str) -> None:
    """The triggers file changed by its operator (a small file: no need to leave the event loop)."""
    path.write_text(text)
