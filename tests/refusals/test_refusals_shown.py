"""Every kind of refusal, made by a real worker, is shown by ``status <command id or message id>`` and
listed by ``refusals`` with its reason."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from cli_runner import run_cli
from quick_settings import AMQP_URL
from refusal_helpers import UNKNOWN_PROJECT, backup_json
from store_rows import raw_sql

from orchestrator.config import Settings
from orchestrator.store import Store

# message id → (body, the id `status` finds it by, the start of its reason)
REFUSED = {
    "m-malformed": (b'{"kind": "backup", ', "m-malformed", "malformed: not JSON"),
    "m-large": (b" " * 70_000, "m-large", "too large: 70000 bytes, at most 65536"),
    "m-invalid": (backup_json("inv-1", extra=1).encode(), "inv-1", "invalid: backup.extra: Extra inputs"),
    "m-version": (backup_json("ver-1", version=3).encode(), "ver-1", "unsupported version: 3, expected 1"),
    "m-creds": (
        backup_json("cred-1", project_id=UNKNOWN_PROJECT).encode(),
        "cred-1",
        f"refused: no credentials configured for project {UNKNOWN_PROJECT}",
    ),
    "m-conflict": (
        backup_json("done-1", name="another").encode(),
        "done-1",
        "conflict: command id done-1 already names a different command",
    ),
}


async def publish(settings: Settings, messages: dict[str, bytes]) -> None:
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for message_id, body in messages.items():
            message = aio_pika.Message(body, message_id=message_id)
            await channel.default_exchange.publish(message, routing_key=settings.names.commands_queue)


async def refused_count(store: Store) -> int:
    n: int = await raw_sql(store).fetchval("SELECT count(*) FROM refusals")
    return n


@pytest.mark.usefixtures("worker")
async def test_every_kind_of_refusal_is_shown_by_status_and_listed_by_refusals(
    dsn: str, settings: Settings, store: Store, cli_env: dict[str, str]
) -> None:
    done = await run_cli(dsn, "submit", "--wait", "--json", backup_json("done-1"), env=cli_env)
    assert done.code == 0, done.stdout + done.stderr
    await publish(settings, {message_id: body for message_id, (body, _, _) in REFUSED.items()})
    async with asyncio.timeout(15):
        while True:
            if await refused_count(store) == len(REFUSED):
                break
            await asyncio.sleep(0.1)

    for message_id, (_, ref, reason) in REFUSED.items():
        shown = await run_cli(dsn, "status", ref)
        assert "refused at intake" in shown.stdout and reason in shown.stdout, (message_id, shown.stdout)
        assert shown.code == (0 if ref == "done-1" else 1)  # a conflict's command id names a workflow
    listed = await run_cli(dsn, "refusals")
    assert listed.code == 0 and f"{len(REFUSED)} refused commands (newest first)" in listed.stdout
    for message_id, (_, _, reason) in REFUSED.items():
        assert message_id in listed.stdout and reason in listed.stdout
    newest_first = [
        r["message_id"] for r in await raw_sql(store).fetch("SELECT * FROM refusals ORDER BY id DESC")
    ]
    positions = [listed.stdout.index(message_id) for message_id in newest_first]
    assert positions == sorted(positions)
    one = await run_cli(dsn, "refusals", "--limit", "1")
    assert "1 refused command (newest first)" in one.stdout
    assert [m for m in REFUSED if m in one.stdout] == newest_first[:1]


async def test_the_help_of_refusals_and_of_submit_names_the_environment_and_the_exit_codes() -> None:
    refusals = await run_cli("postgresql://unused/db", "refusals", "--help")
    assert refusals.code == 0 and "CBR_ORCH_DATABASE_URL" in refusals.stdout
    assert "[default: 50; 1<=x<=10000]" in refusals.stdout
    submit = await run_cli("postgresql://unused/db", "submit", "--help")
    assert "--timeout <seconds>" in submit.stdout
    assert "2 refused" in submit.stdout and "4 --timeout passed" in submit.stdout
