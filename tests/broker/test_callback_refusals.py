"""A command naming a callback host off the allow-list is dead-lettered at intake with the reason, and
no workflow exists; one naming an allowed host becomes its workflow."""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractRobustConnection
from broker_helpers import backup_body, drain, wait_for
from pydantic import SecretStr

from orchestrator.broker import REASON_HEADER, Intake, Topology, publish_raw
from orchestrator.config import Settings
from orchestrator.store import Store


async def test_a_callback_host_off_the_allow_list_is_dead_lettered(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    api = settings.api.model_copy(
        update={"callback_hosts": ["*.hooks.example.com"], "callback_secret": SecretStr("whsec_c2VjcmV0")}
    )
    intake = Intake(store, settings.model_copy(update={"api": api}), topology)
    await topology.commands.consume(intake.handle)
    publisher = await connection.channel(publisher_confirms=True)
    refused = [
        backup_body("metadata", callback_url="http://169.254.169.254/latest/meta-data"),
        backup_body("loopback", callback_url="http://127.0.0.1:5432/"),
        backup_body("lookalike", callback_url="https://hooks.example.com.evil.org/x"),
    ]
    await publish_raw(
        publisher,
        settings.names,
        [*refused, backup_body("ok", callback_url="https://ci.hooks.example.com/x")],
    )

    dead = await drain(topology.dead_letters, len(refused))
    assert sorted(str(m.headers[REASON_HEADER]) for m in dead) == [
        "refused: callback host 127.0.0.1 is not on the allow-list",
        "refused: callback host 169.254.169.254 is not on the allow-list",
        "refused: callback host hooks.example.com.evil.org is not on the allow-list",
    ]

    async def accepted() -> bool:
        return await store.workflow_by_command("ok") is not None

    await wait_for(accepted)
    await asyncio.sleep(0.2)
    assert [w.command_id for w in await store.list_workflows()] == ["ok"]
    assert await store.refusals.of("metadata") != []


async def test_a_callback_is_refused_while_no_secret_can_sign_it(
    store: Store, settings: Settings, topology: Topology, connection: AbstractRobustConnection
) -> None:
    api = settings.api.model_copy(update={"callback_hosts": ["hooks.example.com"]})
    intake = Intake(store, settings.model_copy(update={"api": api}), topology)
    await topology.commands.consume(intake.handle)
    publisher = await connection.channel(publisher_confirms=True)
    await publish_raw(
        publisher, settings.names, [backup_body("c", callback_url="https://hooks.example.com/x")]
    )
    [dead] = await drain(topology.dead_letters, 1)
    assert dead.headers[REASON_HEADER] == "refused: callbacks are not enabled (no callback secret)"
    assert await store.list_workflows() == []
