"""The demo's third way in: the API server in-process, and one backup started by a signed webhook from a
named trigger (Standard Webhooks), as an alerting system would send it."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from standardwebhooks import Webhook

from cbr_emulator.config import Tenant
from orchestrator.api.app import build_app
from orchestrator.api.context import ApiContext
from orchestrator.bench.emulator_process import free_port
from orchestrator.config import ApiSettings, Settings
from orchestrator.store import Store

TRIGGER = "demo-alert"
SECRET_VARIABLE = "CBR_DEMO_HOOK_SECRET"  # set in this process only


def trigger_file(folder: Path, tenant: Tenant) -> Path:
    """A trigger that backs up the servers an alert names into the demo's vault."""
    path = folder / "triggers.toml"
    path.write_text(
        f"""[[trigger]]
name = "{TRIGGER}"
verifier = "standard-webhooks"
secrets_env = ["{SECRET_VARIABLE}"]
when = "body.status == 'firing'"
command = {{ kind = "backup", project_id = "{tenant.project_id}", region = "{tenant.region}", \
vault = {{ name = "demo-vault" }} }}
set = {{ resources = "body.alerts[].{{id: labels.server_id, type: 'OS::Nova::Server'}}" }}
""",
        "utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def api_server(settings: Settings, folder: Path, tenant: Tenant) -> AsyncIterator[str]:
    """The API on a free port with the demo's trigger; yields its base URL."""
    os.environ[SECRET_VARIABLE] = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    port = free_port()
    api = ApiSettings(port=port, triggers_file=trigger_file(folder, tenant))
    store = await Store.connect(settings.database_url)
    runner = web.AppRunner(build_app(ApiContext(settings.model_copy(update={"api": api}), store)))
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await store.close()


async def send_alert(base_url: str, server_id: str) -> str:
    """POST a signed alert naming ``server_id``; return the command id the trigger made of it."""
    body = json.dumps({"status": "firing", "alerts": [{"labels": {"server_id": server_id}}]})
    delivery, now = f"alert-{time.time_ns()}", datetime.now(UTC)
    signature = Webhook(os.environ[SECRET_VARIABLE]).sign(delivery, now, body)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    url = f"{base_url}/v1/hooks/{TRIGGER}"
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as answer:
        accepted = await answer.json()
    if answer.status != 202 or accepted.get("status") != "accepted":
        raise RuntimeError(f"the webhook was not accepted: {answer.status} {accepted}")
    return str(accepted["command_id"])

