"""Pieces of text every terminal view uses: outside text shown as written, statuses in colour, times.

Every text that comes from outside (command ids, CBR codes and messages, resource and vault ids) goes into
a ``Text``, never into markup: ``[/x]`` in a CBR message must be shown, not parsed (nor crash ``status``).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

STATUS_STYLE = {
    "succeeded": "green",
    "partially_succeeded": "yellow",
    "failed": "red",
    "expired": "red",
    "cancelled": "magenta",
    "skipped": "yellow",
    "running": "cyan",
    "pending": "white",
    "waiting": "white",
}
STATUS_SHORT = {"partially_succeeded": "partial"}  # in the list, which must fit 120 columns


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def age(moment: datetime, now: datetime) -> str:
    """``40s ago``, ``12m ago``, ``3h ago``, ``5d ago``."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def status_text(status: str, short: bool = False) -> Text:
    shown = STATUS_SHORT.get(status, status) if short else status
    return Text(shown, style=STATUS_STYLE.get(status, "white"))


def plain(*parts: str | None) -> Text:
    """Outside text, shown as written (markup-like brackets included)."""
    return Text(" ".join(p for p in parts if p))


def copyable(value: str | None) -> Text:
    """An id someone copies into the next command: folded when it must be, never cut."""
    return Text(value or "", overflow="fold")


def one_line(*parts: str | None) -> Text:
    """A cell of a list: one line, cut with an ellipsis when the terminal is too narrow."""
    return Text(" ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis")
