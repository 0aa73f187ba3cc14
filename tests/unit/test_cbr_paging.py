"""Walking pages by offset and by marker ends exactly when the list is exhausted."""

from orchestrator.cbr.paging import Page, by_marker, by_offset

ITEMS = [f"i{index}" for index in range(10)]


async def test_offset_walk_uses_the_total() -> None:
    offsets: list[int] = []

    async def fetch(offset: int) -> Page[str]:
        offsets.append(offset)
        return Page(ITEMS[offset : offset + 4], total=len(ITEMS))

    assert [item async for item in by_offset(fetch, 4)] == ITEMS
    assert offsets == [0, 4, 8]


async def test_offset_walk_survives_a_server_capping_the_page_size() -> None:
    async def fetch(offset: int) -> Page[str]:
        return Page(ITEMS[offset : offset + 3], total=len(ITEMS))  # asked for 5, gets 3

    assert [item async for item in by_offset(fetch, 5)] == ITEMS


async def test_offset_walk_without_total_stops_on_a_short_page() -> None:
    calls = 0

    async def fetch(offset: int) -> Page[str]:
        nonlocal calls
        calls += 1
        return Page(ITEMS[offset : offset + 5])

    assert [item async for item in by_offset(fetch, 5)] == ITEMS
    assert calls == 3  # the third page is empty


async def test_offset_walk_stops_on_an_empty_page_despite_a_larger_total() -> None:
    async def fetch(offset: int) -> Page[str]:
        return Page(ITEMS[offset : offset + 4], total=99)

    assert [item async for item in by_offset(fetch, 4)] == ITEMS


async def test_marker_walk() -> None:
    markers: list[str | None] = []

    async def fetch(marker: str | None) -> Page[str]:
        markers.append(marker)
        start = 0 if marker is None else ITEMS.index(marker) + 1
        return Page(ITEMS[start : start + 4], total=len(ITEMS))

    assert [item async for item in by_marker(fetch, lambda item: item, 4)] == ITEMS
    assert markers == [None, "i3", "i7"]


async def test_marker_walk_stops_when_the_server_ignores_the_marker() -> None:
    calls = 0

    async def fetch(marker: str | None) -> Page[str]:
        nonlocal calls
        calls += 1
        assert calls <= 5, "the walk does not stop"
        return Page(ITEMS[:4])

    items = [item async for item in by_marker(fetch, lambda item: item, 4)]
    assert calls == 2
    assert items == ITEMS[:4] * 2
