"""How ``make test`` spreads the suite over processes (pytest-xdist).

Each test file runs whole in one process (its module fixtures are made once), except the contract suite,
whose files share one recorder of the operations they exercised: it runs whole in one process. The
longest files start first, so that no process is left with a long one at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

ONE_UNIT = ("tests/contract/",)
LONGEST_FIRST = ("tests/bench/", "tests/soak/", "tests/chaos/", "tests/resilience/", "tests/readme/")


def work_unit(nodeid: str) -> str:
    path = nodeid.split("::")[0]
    return next((folder for folder in ONE_UNIT if path.startswith(folder)), path)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    ranks = (rank for rank, folder in enumerate(LONGEST_FIRST) if path.startswith(folder))
    return next(ranks, len(LONGEST_FIRST))
