"""What ``submit`` does around publishing a command: say what its command id already names, warn of a
deadline already past and of a ``reply_to`` queue that does not exist, and (``--wait``) follow it to its
end, its refusal or the timeout.

A wait ends in one of three ways: the workflow is final (its result and any undelivered reply are shown),
intake refused the command (its reason is shown at once), or ``--timeout`` passed. When no worker has taken
the command for a while, the wait says so once, with what the commands queue holds, and goes on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, assert_never

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator.store.models import Workflow

if TYPE_CHECKING:  # the rest is imported when used: `--help` stays quick
    from orchestrator.config import Settings
    from orchestrator.messages import AnyCommand
    from orchestrator.store.refusals import Refusal
    from orchestrator.store.replies import FailedReply

WAIT_EXIT_CODES = {"succeeded": 0, "partially_succeeded": 3}  # any other final status: 1
EXIT_REFUSED = 2
EXIT_TIMED_OUT = 4
NO_WORKER_NOTICE_SECONDS = 10.0  # no workflow and no refusal after this long: say why that may be
WAIT_HELP = (
    "Follow the workflow to its end with a live progress bar; a refusal ends the wait at once with its "
    f"reason, and a command no worker has taken after {NO_WORKER_NOTICE_SECONDS:g} s is said to be waiting. "
    f"Exit codes: 0 succeeded, 1 failed, expired or cancelled, {EXIT_REFUSED} refused, "
    f"3 partially succeeded, {EXIT_TIMED_OUT} --timeout passed (the command goes on)."
)
POLL_SECONDS = 0.5
REPLY_SETTLE_SECONDS = 5.0  # at most this long for the relay's first try of the replies, after the end
CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Known:
    """What the database knew of a command id before the command was published."""

    workflow: Workflow | None  # the workflow the id already names, if any
    same_body: bool  # that workflow's command is this one: a duplicate (else a conflict, refused)
    last_refusal_id: int  # refusals after this one are this submission's


async def known_before(dsn: str, command: AnyCommand) -> Known:
    from orchestrator.broker.intake import new_workflow
    from orchestrator.store import Store

    store = await Store.connect(dsn, max_size=1, command_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        workflow = await store.workflow_by_command(command.command_id)
        same = workflow is not None and workflow.input == new_workflow(command).input
        return Known(workflow, same, await store.refusals.last_id())
    finally:
        await store.close()


def check_before_publishing(
    console: Console, chosen: Settings, command: AnyCommand, wait: bool
) -> Known | None:
    """Print what the command id already names and whether ``reply_to`` exists; what the database knew
    (None when it could not be asked and no wait needs it)."""
    try:
        known: Known | None = asyncio.run(known_before(chosen.database_url, command))
    except Exception as exc:  # the database away: only a wait needs it
        problem = f"cannot check command id {command.command_id!r} in the database ({type(exc).__name__})"
        if wait:
            console.print(f"[red]{escape(problem)}[/]: --wait needs the database; nothing was published")
            raise typer.Exit(1) from None
        console.print(f"[yellow]{escape(problem)}[/]; publishing it all the same")
        known = None
    if known is not None and known.workflow is not None:
        console.print(escape(_known_notice(command.command_id, known.workflow, known.same_body)))
    if command.deadline is not None and command.deadline <= datetime.now(UTC):
        console.print(
            f"[yellow]the deadline {command.deadline.isoformat()} has passed[/]: "
            "the workflow will end `expired` at once"
        )
    if command.reply_to is not None:
        _warn_if_no_queue(console, chosen, command.reply_to)
    return known


def _known_notice(command_id: str, workflow: Workflow, same_body: bool) -> str:
    already = f"command id {command_id!r} is already workflow {workflow.id} ({workflow.status.value})"
    if same_body:
        return f"{already}: this is the same command, a duplicate that will not run again"
    return f"{already} with another body: this one will be refused (give it a new command_id)"


def _warn_if_no_queue(console: Console, chosen: Settings, reply_to: str) -> None:
    from orchestrator.broker.probe import queue_counts

    try:
        counts = asyncio.run(queue_counts(chosen, reply_to))
    except Exception:  # the broker says more when publishing
        return
    if counts is None:
        console.print(
            f"[yellow]no queue named {escape(repr(reply_to))} (reply_to) exists now[/]: its replies will be "
            "returned and, after the relay's attempts, given up (`status` shows them)"
        )


# ------------------------------------------------------------------ --wait


@dataclass(frozen=True)
class Finished:
    workflow: Workflow


@dataclass(frozen=True)
class Refused:
    refusals: list[Refusal]


@dataclass(frozen=True)
class TimedOut:
    pass


Outcome = Finished | Refused | TimedOut


def wait_and_summarise(
    console: Console, chosen: Settings, command: AnyCommand, known: Known, timeout: float | None
) -> None:
    """Wait for the command's outcome, show it and exit with its code (see :data:`WAIT_HELP`)."""
    conflict = known.workflow is not None and not known.same_body
    outcome = asyncio.run(wait_for_outcome(console, chosen, command.command_id, known, timeout, conflict))
    match outcome:
        case Refused():
            for refusal in outcome.refusals:
                console.print(f"[red]command refused by intake[/]: {escape(refusal.reason)}")
            raise typer.Exit(EXIT_REFUSED)
        case TimedOut():
            waited = f"--timeout: stopped waiting after {timeout:g} s"
            console.print(f"[yellow]{waited}[/]; {escape(_where_now(chosen, command))}")
            raise typer.Exit(EXIT_TIMED_OUT)
        case Finished():
            _summarise(console, chosen.database_url, outcome.workflow)
            raise typer.Exit(WAIT_EXIT_CODES.get(outcome.workflow.status.value, 1))
        case _:
            assert_never(outcome)


async def wait_for_outcome(
    console: Console, chosen: Settings, command_id: str, known: Known, seconds: float | None, conflict: bool
) -> Outcome:
    """The command's outcome. A conflicting command (its id names another command's workflow) can only be
    refused: only its refusal is waited for."""
    from orchestrator.cli.fleet_watch import wait_for_workflow

    watch = asyncio.create_task(_watch_intake(console, chosen, command_id, known.last_refusal_id, conflict))
    follow = None
    if not conflict:
        follow = asyncio.create_task(wait_for_workflow(chosen.database_url, command_id, console))
    tasks = [t for t in (watch, follow) if t is not None]
    try:
        async with asyncio.timeout(seconds) as limit:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        if limit.expired():
            return TimedOut()
        raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if follow in done:
        return Finished(follow.result())
    return Refused(watch.result())


async def _watch_intake(
    console: Console, chosen: Settings, command_id: str, after: int, conflict: bool
) -> list[Refusal]:
    """The command's refusals after refusal ``after``, once there are any. Says once when no worker has
    taken the command (no workflow, for a conflict not even a refusal) for a while."""
    from orchestrator.store import Store

    store = await Store.connect(chosen.database_url, max_size=1)
    loop = asyncio.get_running_loop()
    notice_at: float | None = loop.time() + NO_WORKER_NOTICE_SECONDS
    try:
        while True:
            found = await store.refusals.of(command_id, after)
            if found:
                return found
            if notice_at is not None and not conflict and await store.status.find(command_id) is not None:
                notice_at = None  # taken
            if notice_at is not None and loop.time() >= notice_at:
                console.print(escape(await _no_worker_notice(chosen)))
                notice_at = None
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await store.close()


async def _no_worker_notice(chosen: Settings) -> str:
    from orchestrator.broker.probe import queue_counts

    queue = chosen.names.commands_queue
    notice = (
        f"no worker has taken the command in {NO_WORKER_NOTICE_SECONDS:g} s — is `cbr-orchestrator worker` "
        "running, on the same CBR_ORCH_DATABASE_URL, CBR_ORCH_AMQP_URL and CBR_ORCH_NAMES__PREFIX?"
    )
    try:
        counts = await queue_counts(chosen, queue)
    except Exception as exc:
        return f"{notice} ({queue} cannot be looked at: {type(exc).__name__}); still waiting"
    if counts is None:
        return f"{notice} (no queue {queue}); still waiting"
    messages = f"{counts.messages} message{'s' if counts.messages != 1 else ''}"
    consumers = f"{counts.consumers} consumer{'s' if counts.consumers != 1 else ''}"
    waits = "waits" if counts.messages == 1 else "wait"
    return f"{notice} {messages} {waits} in {queue}, {consumers}; still waiting"


def _where_now(chosen: Settings, command: AnyCommand) -> str:
    workflow = asyncio.run(_workflow_now(chosen.database_url, command.command_id))
    if workflow is None:
        return "no worker has taken the command yet"
    return (
        f"workflow {workflow.id} is {workflow.status.value} (`cbr-orchestrator status {command.command_id}`)"
    )


async def _workflow_now(dsn: str, command_id: str) -> Workflow | None:
    from orchestrator.store import Store

    store = await Store.connect(dsn, max_size=1)
    try:
        return await store.status.find(command_id)
    finally:
        await store.close()


# ------------------------------------------------------------------ the end summary


def _summarise(console: Console, dsn: str, workflow: Workflow) -> None:
    """The workflow in detail, its reply's fate included (once the relay has tried to deliver it)."""
    from orchestrator.cli.views.status import workflow_detail
    from orchestrator.store import workflow_status

    if workflow.reply_to:
        asyncio.run(_reply_failures_once_tried(dsn, workflow))  # its state known before it is shown
    detail = asyncio.run(workflow_status(dsn, str(workflow.id)))
    if detail is not None:
        console.print(workflow_detail(detail))


async def _reply_failures_once_tried(dsn: str, workflow: Workflow) -> list[FailedReply]:
    """The workflow's undelivered replies, once the relay has tried each (or after a few seconds)."""
    from orchestrator.store import Store

    store = await Store.connect(dsn, max_size=1)
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + REPLY_SETTLE_SECONDS
        while loop.time() < end:
            if not await store.replies.untried(workflow.id):
                break
            await asyncio.sleep(POLL_SECONDS / 5)
        return await store.replies.failures(workflow.id)
    finally:
        await store.close()
