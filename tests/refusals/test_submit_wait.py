"""``submit --wait`` as a user runs it: it ends at once on a refusal, on ``--timeout``, or with the
workflow's result; it says when no worker takes the command, and what a reused command id already names."""

from __future__ import annotations

import time
import uuid

import aio_pika
import pytest
from cli_runner import run_cli
from quick_settings import AMQP_URL
from refusal_helpers import UNKNOWN_PROJECT, backup_json

from orchestrator.store import Store


@pytest.mark.usefixtures("worker")
async def test_a_command_without_credentials_ends_the_wait_at_once_with_its_reason(
    dsn: str, cli_env: dict[str, str]
) -> None:
    started = time.monotonic()
    run = await run_cli(
        dsn, "submit", "--wait", "--json", backup_json("no-creds-1", project_id=UNKNOWN_PROJECT), env=cli_env
    )
    assert run.code == 2, run.stdout + run.stderr
    assert time.monotonic() - started < 8
    reason = f"refused: no credentials configured for project {UNKNOWN_PROJECT} in region"
    assert f"command refused by intake: {reason}" in run.stdout

    status = await run_cli(dsn, "status", "no-creds-1")
    assert status.code == 1
    assert "no workflow with id or command id 'no-creds-1'" in status.stdout
    assert "refused at intake" in status.stdout and reason in status.stdout
    listed = await run_cli(dsn, "refusals", "--limit", "5")
    assert listed.code == 0 and "no-creds-1" in listed.stdout and reason in listed.stdout


async def test_timeout_ends_a_wait_that_no_worker_serves_after_saying_so_once(
    dsn: str, cli_env: dict[str, str]
) -> None:
    prefix = cli_env["CBR_ORCH_NAMES__PREFIX"]
    started = time.monotonic()
    run = await run_cli(
        dsn, "submit", "--wait", "--timeout", "11", "--json", backup_json("lonely-1"), env=cli_env
    )
    waited = time.monotonic() - started
    assert run.code == 4, run.stdout + run.stderr
    assert 11 <= waited < 20
    notice = "no worker has taken the command in 10 s — is `cbr-orchestrator worker` running"
    assert run.stdout.count(notice) == 1
    assert f"1 message waits in {prefix}.commands, 0 consumers; still waiting" in run.stdout
    assert "--timeout: stopped waiting after 11 s; no worker has taken the command yet" in run.stdout

    alone = await run_cli(dsn, "submit", "--timeout", "3", "--json", backup_json("lonely-2"), env=cli_env)
    assert alone.code == 2 and "--timeout bounds a --wait" in alone.stderr


@pytest.mark.usefixtures("worker")
async def test_a_reused_command_id_is_named_before_publishing_and_a_final_workflow_returns_at_once(
    dsn: str, cli_env: dict[str, str], store: Store
) -> None:
    first = await run_cli(dsn, "submit", "--wait", "--json", backup_json("again-1"), env=cli_env)
    assert first.code == 0, first.stdout + first.stderr
    assert "command id" not in first.stdout
    workflow = await store.workflow_by_command("again-1")
    assert workflow is not None

    started = time.monotonic()
    duplicate = await run_cli(
        dsn, "submit", "--wait", "--timeout", "30", "--json", backup_json("again-1"), env=cli_env
    )
    assert duplicate.code == 0, duplicate.stdout + duplicate.stderr
    assert time.monotonic() - started < 8
    already = f"command id 'again-1' is already workflow {workflow.id} (succeeded)"
    assert f"{already}: this is the same command, a duplicate that will not run again" in duplicate.stdout
    assert duplicate.stdout.index(already) < duplicate.stdout.index("submitted backup command again-1")

    other = backup_json("again-1", name="another-name")
    conflict = await run_cli(dsn, "submit", "--wait", "--timeout", "30", "--json", other, env=cli_env)
    assert conflict.code == 2, conflict.stdout + conflict.stderr
    assert f"{already} with another body: this one will be refused" in conflict.stdout
    assert (
        "command refused by intake: conflict: command id again-1 already names a different" in conflict.stdout
    )

    status = await run_cli(dsn, "status", "again-1")
    assert (
        status.code == 0 and "refused at intake" in status.stdout and "conflict: command id" in status.stdout
    )


@pytest.mark.usefixtures("worker")
async def test_a_reply_to_a_queue_that_does_not_exist_is_shown_at_submit_and_at_the_end(
    dsn: str, cli_env: dict[str, str], store: Store
) -> None:
    queue = f"no-such-queue-{uuid.uuid4().hex[:8]}"
    run = await run_cli(
        dsn, "submit", "--wait", "--json", backup_json("reply-1", reply_to=queue), env=cli_env
    )
    assert run.code == 0, run.stdout + run.stderr
    assert f"no queue named '{queue}' (reply_to) exists now" in run.stdout
    assert "reply parked" in run.stdout and "unroutable (312 NO_ROUTE)" in run.stdout

    workflow = await store.workflow_by_command("reply-1")
    assert workflow is not None
    failures = await store.replies.failures(workflow.id)
    assert failures and {f.reply_to for f in failures} == {queue}
    assert {f.error for f in failures} == {"unroutable (312 NO_ROUTE)"}


async def commands_waiting(prefix: str) -> int:
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{prefix}.commands", passive=True, robust=False)
        return queue.declaration_result.message_count or 0


async def test_submit_warns_of_a_deadline_already_past(dsn: str, cli_env: dict[str, str]) -> None:
    past = backup_json("late-1", deadline="2020-01-01T06:00:00Z")
    run = await run_cli(dsn, "submit", "--json", past, env=cli_env)
    assert run.code == 0, run.stdout + run.stderr
    assert (
        "the deadline 2020-01-01T06:00:00+00:00 has passed: the workflow will end `expired` at once"
        in run.stdout
    )
    future = await run_cli(
        dsn, "submit", "--json", backup_json("soon-1", deadline="2099-01-01T06:00:00Z"), env=cli_env
    )
    assert future.code == 0 and "deadline" not in future.stdout


async def test_without_the_database_submit_publishes_all_the_same_but_a_wait_publishes_nothing(
    cli_env: dict[str, str],
) -> None:
    away = "postgresql://postgres@127.0.0.1:5432/cbro_refusals_no_such_database"
    prefix = cli_env["CBR_ORCH_NAMES__PREFIX"]
    run = await run_cli(away, "submit", "--json", backup_json("away-1"), env=cli_env)
    assert run.code == 0, run.stdout + run.stderr
    assert (
        "cannot check command id 'away-1' in the database (InvalidCatalogNameError); publishing" in run.stdout
    )
    assert await commands_waiting(prefix) == 1
    waiting = await run_cli(away, "submit", "--wait", "--json", backup_json("away-2"), env=cli_env)
    assert waiting.code == 1
    assert "--wait needs the database; nothing was published" in waiting.stdout
    assert await commands_waiting(prefix) == 1
