"""How ``make test`` spreads the suite over processes (pytest-xdist, ``--dist loadgroup``).

Each test file runs whole in one process (its module fixtures are made once), except the contract suite,
whose files share one recorder of the operations they exercised: it runs whole in one process. The
longest files start first, so that no process is left with a long one at the end.
"""

from __future__ import annotations

import pytest

ONE_GROUP = ("tests/contract/",)
LONGEST_FIRST = ("tests/bench/", "tests/soak/", "tests/chaos/", "tests/resilience/", "tests/readme/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::")[0]
        group = next((folder for folder in ONE_GROUP if path.startswith(folder)), path)
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=_start_rank)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    ranks = (rank for rank, folder in enumerate(LONGEST_FIRST) if path.startswith(folder))
    return next(ranks, len(LONGEST_FIRST))
