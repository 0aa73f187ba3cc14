"""The task watch's bookkeeping: when a project is worth a look, and which workflows a look wakes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.polling.models import PolledTask, TaskInfo, TaskProgress
from orchestrator.polling.watch import LATE, LOOK_SOON, MIN_GAP, MISSES_TO_WAKE, TaskWatch

KEY = ("project", "region")
START = datetime(2026, 1, 1, tzinfo=UTC)


def task(checkpoint: str, status: str = "running", progress: int | None = 50, ran: float = 1.0) -> PolledTask:
    started = START + timedelta(seconds=10)
    return PolledTask(
        id=uuid.uuid4().hex,
        status=status,
        checkpoint_id=checkpoint,
        started_at=started.isoformat(),
        updated_at=(started + timedelta(seconds=ran)).isoformat(),
        extra_info=TaskInfo(common=TaskProgress(progress=progress)),
    )


def watching(*checkpoints: str, now: float = 0.0) -> tuple[TaskWatch, dict[str, uuid.UUID]]:
    watch = TaskWatch()
    ids = {c: uuid.uuid4() for c in checkpoints}
    for checkpoint, workflow_id in ids.items():
        watch.add(KEY, checkpoint, workflow_id, START, now)
    return watch, ids


def test_a_checkpoint_seen_running_then_without_a_task_wakes_its_workflow_once() -> None:
    watch, ids = watching("cp-1", "cp-2")
    assert watch.listed(KEY, {"cp-1": [task("cp-1")], "cp-2": [task("cp-2")]}, START, 1.0) == []
    assert watch.listed(KEY, {"cp-2": [task("cp-2")]}, START, 2.0) == [ids["cp-1"]]
    assert watch.watching(KEY) == {"cp-2"}
    assert watch.listed(KEY, {"cp-2": [task("cp-2")]}, START, 3.0) == []  # woken once, not again


def test_a_listing_that_may_have_missed_a_checkpoint_wakes_nothing() -> None:
    watch, _ = watching("cp-1")
    watch.listed(KEY, {"cp-1": [task("cp-1")]}, START, 1.0)
    assert watch.listed(KEY, {}, START + timedelta(seconds=1), 2.0) == []  # started after the checkpoint
    assert watch.watching(KEY) == {"cp-1"}


def test_a_checkpoint_never_seen_with_a_task_is_woken_only_after_several_looks() -> None:
    watch, ids = watching("cp-1")
    woken = [watch.listed(KEY, {}, START, float(n)) for n in range(1, MISSES_TO_WAKE + 1)]
    assert woken == [[]] * (MISSES_TO_WAKE - 1) + [[ids["cp-1"]]]


def test_the_next_look_is_at_the_expected_end_of_the_checkpoints_last_task() -> None:
    watch, _ = watching("cp-1")
    assert watch.next_in(0.0) == pytest.approx(LOOK_SOON + LATE)  # no estimate yet: soon
    # half done after 1 s, the other task a quarter done after 1 s: the last ends 3 s from now
    watch.listed(KEY, {"cp-1": [task("cp-1", progress=50), task("cp-1", progress=25)]}, START, 10.0)
    assert watch.next_in(10.0) == pytest.approx(3.0 + LATE)
    watch.listed(KEY, {"cp-1": [task("cp-1", progress=99, ran=2.0)]}, START, 13.0)
    assert watch.next_in(13.0) == pytest.approx(MIN_GAP)  # never looked at more often than this


def test_a_project_with_nothing_running_is_looked_at_every_idle_look() -> None:
    """No estimate to go by: the watch looks by itself, the workflows' timed polls are only a safety net."""
    watch, _ = watching("cp-1")
    watch.listed(KEY, {"cp-1": [task("cp-1", status="waiting", progress=0)]}, START, 1.0)
    assert watch.next_in(1.0) == pytest.approx(5.0 + LATE)  # the default idle look
    assert watch.due(1.0 + 5.0) == [] and watch.due(1.0 + 5.0 + LATE) == [KEY]


def test_a_workflow_is_woken_by_the_watch_while_one_of_its_checkpoints_is_watched() -> None:
    watch, ids = watching("cp-1")
    assert watch.wakes(KEY, ids["cp-1"]) and not watch.wakes(KEY, uuid.uuid4())
    assert not watch.wakes(("other", "region"), ids["cp-1"])
    watch.drop(KEY, "cp-1")
    assert not watch.wakes(KEY, ids["cp-1"])


def test_a_checkpoint_with_tasks_waiting_is_looked_at_when_they_should_have_run() -> None:
    watch, _ = watching("cp-1")
    waiting = task("cp-1", status="waiting", progress=0)
    watch.listed(KEY, {"cp-1": [task("cp-1", progress=50), waiting]}, START, 1.0)
    assert watch.next_in(1.0) == pytest.approx(3.0 + LATE)  # starts in 1 s, then runs 2 s like the other
    watch.listed(KEY, {"cp-1": [task("cp-1", progress=None)]}, START, 2.0)
    assert watch.next_in(2.0) == pytest.approx(LOOK_SOON + LATE)  # running without an estimate: soon


def test_a_checkpoint_polled_meanwhile_is_no_longer_watched() -> None:
    watch, _ = watching("cp-1")
    watch.drop(KEY, "cp-1")
    assert watch.watching(KEY) == set() and watch.next_in(0.0) is None
