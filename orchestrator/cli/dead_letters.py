"""``dead-letters list|show|replay``: the messages intake refused, or the broker gave up delivering.

``list`` and ``show`` never lose a message: they take the dead letters unacked and give each back (their
order in the queue may change; see ``orchestrator/broker/dead_letter_queue.py``). ``replay`` sends dead
letters back to the commands queue after a fix, keeping the command id, so a command accepted before is a
duplicate, not a second workflow.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.app import ENV_BROKER, app, console, errors, settings

if TYPE_CHECKING:
    from orchestrator.broker.dead_letter_queue import DeadLetter

dead_letters_app = typer.Typer(
    help="Read and replay the dead-letter queue (refused or undeliverable commands).", no_args_is_help=True
)
app.add_typer(dead_letters_app, name="dead-letters")
BODY_SHOWN_BYTES = 64 * 1024
T = TypeVar("T")


@dead_letters_app.command("list", epilog=ENV_BROKER)
def list_letters(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, oldest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """The dead letters, oldest first: id, when, why, and the command's kind, id and project."""
    letters = _answered(_look(limit))
    if as_json:
        console.print_json(json.dumps([_summary(letter) for letter in letters]))
        return
    table = Table("id", "dead-lettered", "reason", "kind", "command id", "project", "bytes")
    for letter in letters:
        when = letter.dead_lettered_at.isoformat(timespec="seconds") if letter.dead_lettered_at else ""
        cells = (
            letter.id,
            when,
            letter.reason,
            letter.kind or "",
            letter.command_id or "",
            letter.project_id or "",
        )
        table.add_row(*(escape(cell) for cell in cells), str(len(letter.body)))
    console.print(table)
    console.print(
        f"{len(letters)} dead letters" + (" (or more: raise --limit)" if len(letters) == limit else "")
    )


@dead_letters_app.command("show", epilog=ENV_BROKER)
def show_letter(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="The id `list` shows.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """One dead letter: its reason, headers and body. Exit 1 when no dead letter has that id."""
    found = [letter for letter in _answered(_look()) if letter.id == letter_id]
    if not found:
        errors.print(f"no dead letter with id {escape(letter_id)}")
        raise typer.Exit(1)
    for letter in found:
        if as_json:
            console.print_json(json.dumps(_details(letter)))
            continue
        details = _details(letter)
        body = details.pop("body")
        for name, value in details.items():
            console.print(f"{name}: {value}", markup=False, highlight=False)
        console.print(body, markup=False, highlight=False)


@dead_letters_app.command("replay", epilog=ENV_BROKER)
def replay(
    letter_ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID", help="The ids `list` shows.", show_default=False)
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
) -> None:
    """Publish dead letters to the commands queue again (after the cause is fixed), keeping command id and
    headers, then remove them from the dead-letter queue. A command accepted before stays one workflow.
    Exit 1 when an id names no dead letter (the others are replayed)."""
    from orchestrator.broker.dead_letter_queue import dead_letter_look

    if bool(letter_ids) == replay_all:
        errors.print("give one or more ids, or --all")
        raise typer.Exit(2)
    wanted = None if replay_all else set(letter_ids or ())

    async def run() -> list[DeadLetter]:
        async with dead_letter_look(settings()) as look:
            return await look.replay(wanted)

    replayed = _answered(run())
    for letter in replayed:
        console.print(f"replayed {escape(letter.id)} ({escape(letter.kind or 'unknown kind')})")
    console.print(f"{len(replayed)} dead letters replayed to the commands queue")
    unknown = sorted((wanted or set()) - {letter.id for letter in replayed})
    if unknown:
        errors.print(f"no dead letter with id {escape(', '.join(unknown))}")
        raise typer.Exit(1)


def _answered(work: Coroutine[Any, Any, T]) -> T:
    """``work``'s result; a broker without the dead-letter queue ends the command with one line."""
    from orchestrator.broker.dead_letter_queue import NoDeadLetterQueue

    try:
        return asyncio.run(work)
    except NoDeadLetterQueue as exc:
        errors.print(escape(str(exc)))
        raise typer.Exit(1) from None


async def _look(limit: int | None = None) -> list[DeadLetter]:
    from orchestrator.broker.dead_letter_queue import MAX_LOOK, dead_letter_look

    async with dead_letter_look(settings(), limit or MAX_LOOK) as look:
        return look.letters


def _summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "dead_lettered_at": letter.dead_lettered_at.isoformat() if letter.dead_lettered_at else None,
        "reason": letter.reason,
        "kind": letter.kind,
        "command_id": letter.command_id,
        "project_id": letter.project_id,
        "bytes": len(letter.body),
    }


def _details(letter: DeadLetter) -> dict[str, Any]:
    shown = letter.body[:BODY_SHOWN_BYTES].decode("utf-8", errors="replace")
    if len(letter.body) > BODY_SHOWN_BYTES:
        shown += f"\n… ({len(letter.body) - BODY_SHOWN_BYTES} more bytes)"
    return {
        **_summary(letter),
        "correlation_id": letter.correlation_id,
        "reply_to": letter.reply_to,
        "headers": {name: str(value) for name, value in letter.headers.items()},
        "body": shown,
    }
