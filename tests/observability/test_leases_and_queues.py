"""A lease taken over after a run that ended without a word; the queues' depths as the broker counts them."""

from __future__ import annotations

import asyncio

import aio_pika
from engine_helpers import EndToEnd, backup_command, run_until_done, submit
from scrape import now

from orchestrator.broker.gauges import QueueGauges
from orchestrator.store import WorkflowStatus


async def test_a_workflow_claimed_after_its_lease_expired_counts_as_taken_over(e2e: EndToEnd) -> None:
    first, second = e2e.servers(2)
    await submit(e2e.store, backup_command("abandoned", [first]))
    [ghost] = await e2e.store.claim_due("ghost", 0.2, 1)  # a worker that claims it, then dies
    await submit(e2e.store, backup_command("fresh", [second]))
    await asyncio.sleep(0.4)
    before = now("cbr_orch_leases_taken_over_total")
    await run_until_done(e2e.store, e2e.settings, "heir")
    assert now("cbr_orch_leases_taken_over_total") == before + 1  # the ghost's, not the fresh one
    for command_id in ("abandoned", "fresh"):
        assert (await e2e.workflow(command_id)).status is WorkflowStatus.SUCCEEDED
    assert ghost.command_id == "abandoned"


async def test_the_queue_gauges_count_commands_waiting_and_dead_letters(e2e: EndToEnd) -> None:
    names = e2e.settings.names
    await e2e.publish(
        backup_command("waiting-1", e2e.servers(1)), backup_command("waiting-2", e2e.servers(1))
    )
    channel = await e2e.connection.channel(publisher_confirms=True)
    await channel.default_exchange.publish(aio_pika.Message(b"refused"), routing_key=names.dead_letter_queue)
    await channel.close()
    gauges = QueueGauges(e2e.connection, names)
    try:
        await gauges.sample()
    finally:
        await gauges.close()
    assert now("cbr_orch_intake_queue_depth") == 2
    assert now("cbr_orch_dead_letters") == 1
