"""A workflow's events in the terminal: each with when it was published and how its reply to ``reply_to``
fared (a reply that could not be delivered is parked with its error); their bodies on request."""

from __future__ import annotations

import json
from collections.abc import Iterator

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.cli.views.text import plain, when
from orchestrator.store import Workflow
from orchestrator.store.status import EventRow


def event_list(wf: Workflow, events: list[EventRow], payloads: bool) -> RenderableType:
    """A table of the events (no table when there are none), or each event with its body (JSON)."""
    if not events:
        if wf.parent_id is not None:
            return Text("no events: a fleet's child backup (its fleet reports for it)")
        return Text("no events" if wf.status.is_final else "no events yet")
    if payloads:
        return Group(*_with_bodies(events))
    table = Table(title="events")
    table.add_column("event id", no_wrap=True)
    table.add_column("routing key")
    table.add_column("published")
    if wf.reply_to is not None:
        table.add_column("reply")
    for event in events:
        cells = [
            plain(event.event_id),
            plain(event.routing_key),
            plain(when(event.published_at) or "not yet"),
        ]
        if wf.reply_to is not None:
            cells.append(_reply_cell(event))
        table.add_row(*cells)
    return table


def reply_rows(wf: Workflow, events: list[EventRow]) -> list[tuple[str, Text]]:
    """Summary rows: where replies go and how many arrived; the replies given up on, with the last error."""
    if wf.reply_to is None:
        return []
    delivered = sum(e.reply == "delivered" for e in events)
    rows = [("reply to", plain(wf.reply_to, f"· {delivered} of {len(events)} delivered"))]
    parked = [e for e in events if e.reply == "parked"]
    if parked:
        last = parked[-1]
        why = Text(f"{len(parked)} not delivered (parked {when(last.reply_parked_at)}): ", style="red")
        why.append(last.reply_error or "no error recorded")
        rows.append(("reply parked", why))
    return rows


def _reply_cell(event: EventRow) -> Text:
    if event.reply not in ("pending", "parked"):
        return plain(event.reply)
    cell = Text(
        f"{event.reply} after {event.reply_attempts} tries", style="red" if event.reply == "parked" else ""
    )
    if event.reply_error:
        cell.append(f": {event.reply_error}")
    return cell


def _with_bodies(events: list[EventRow]) -> Iterator[RenderableType]:
    for event in events:
        heading = Text()
        heading.append(f"event {event.event_id} · {event.routing_key}", style="bold")
        heading.append(f" · published {when(event.published_at) or 'not yet'}")
        if event.reply is not None:
            heading.append(f" · reply {event.reply}")
        yield heading
        yield Text(json.dumps(event.body, indent=2, ensure_ascii=False, sort_keys=True), overflow="fold")
