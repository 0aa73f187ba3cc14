"""How refusals and undelivered replies look in the terminal (``refusals``, ``status``, ``submit --wait``).

As in :mod:`orchestrator.cli.views.status`, text from outside (command ids, message ids, queue names,
reasons) goes into
a ``Text``, never into markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.store.refusals import Refusal


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def refusals_table(refusals: list[Refusal]) -> Table:
    """Refusals, one a row, in the order given."""
    commands = "command" if len(refusals) == 1 else "commands"
    table = Table(title=f"{len(refusals)} refused {commands} (newest first)")
    for column in ("refused", "command", "message id", "bytes", "reason"):
        table.add_column(column, overflow="fold")
    for r in refusals:
        table.add_row(
            _when(r.refused_at),
            Text(r.command_id or "-"),
            Text(r.message_id or "-"),
            str(r.size_bytes),
            Text(r.reason),
        )
    return table


def refusal_lines(refusals: list[Refusal]) -> RenderableType:
    """A command's refusals, oldest first: when, and why."""
    return Group(
        *(
            Text.assemble(("refused at intake", "red"), f" {_when(r.refused_at)}: {r.reason}")
            for r in refusals
        )
    )
