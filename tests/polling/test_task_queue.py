"""The model of a project's task queue: when each checkpoint's listed tasks should all have ended."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.polling.models import PolledTask, TaskInfo, TaskProgress
from orchestrator.polling.task_queue import checkpoint_ends

START = datetime(2026, 1, 1, tzinfo=UTC)
UNKNOWN = 1.0
_ids = itertools.count()


def running(checkpoint: str, progress: int | None, ran: float) -> PolledTask:
    return PolledTask(
        id=f"t{next(_ids)}",
        status="running",
        checkpoint_id=checkpoint,
        created_at=START.isoformat(),
        started_at=START.isoformat(),
        updated_at=(START + timedelta(seconds=ran)).isoformat(),
        extra_info=TaskInfo(common=TaskProgress(progress=progress)),
    )


def waiting(checkpoint: str, created: int) -> PolledTask:
    at = (START + timedelta(seconds=created)).isoformat()
    return PolledTask(id=f"t{next(_ids)}", status="waiting", checkpoint_id=checkpoint, created_at=at)


def test_running_tasks_end_as_their_progress_says() -> None:
    ends = checkpoint_ends({"a": [running("a", 50, 1.0), running("a", 25, 1.0)]}, UNKNOWN)
    assert ends == {"a": pytest.approx(3.0)}


def test_waiting_tasks_take_the_places_that_free_first_in_the_order_they_were_created() -> None:
    # two places, free in 1 s and 1.5 s; every task takes 2 s; waiting: a, then b, then a
    tasks = {
        "a": [running("a", 50, 1.0), waiting("a", 1), waiting("a", 3)],
        "b": [running("b", 25, 0.5), waiting("b", 2)],
    }
    assert checkpoint_ends(tasks, UNKNOWN) == {"a": pytest.approx(5.0), "b": pytest.approx(3.5)}


def test_a_running_task_without_progress_counts_as_ending_soon() -> None:
    assert checkpoint_ends({"a": [running("a", None, 0.0)]}, UNKNOWN) == {"a": UNKNOWN}


def test_nothing_running_gives_no_estimate() -> None:
    assert checkpoint_ends({"a": [waiting("a", 0)]}, UNKNOWN) == {"a": None}
