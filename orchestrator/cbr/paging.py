"""Walking every page of a CBR list, by offset or by marker (the id of the last item seen)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int | None = None  # all matches when the list reports it, else None


async def by_offset(fetch: Callable[[int], Awaitable[Page[T]]], page_size: int) -> AsyncIterator[T]:
    """Ask for ``offset`` 0, then the number of items seen so far, until the list is exhausted.

    Exhausted means: an empty page, as many items as the reported total, or (no total reported) a
    page shorter than ``page_size``.
    """
    offset = 0
    while True:
        page = await fetch(offset)
        for item in page.items:
            yield item
        offset += len(page.items)
        if not page.items or (page.total is not None and offset >= page.total):
            return
        if page.total is None and len(page.items) < page_size:
            return


async def by_marker(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    marker_of: Callable[[T], str],
    page_size: int,
) -> AsyncIterator[T]:
    """Ask without a marker, then with the id of the last item, until a short or empty page.

    The reported total is not used: whether it counts all matches or those after the marker is not
    documented. Also stops when the marker does not move (a server ignoring it would loop forever).
    """
    marker: str | None = None
    while True:
        page = await fetch(marker)
        for item in page.items:
            yield item
        if len(page.items) < page_size:
            return
        next_marker = marker_of(page.items[-1])
        if next_marker == marker:
            return
        marker = next_marker
