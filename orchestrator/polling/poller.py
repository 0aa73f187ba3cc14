"""Status polling, in one place: requests made in the same short window are answered together.

Checkpoint polls of one project share two ``list_op_logs`` listings of its backup tasks still
``waiting`` and ``running`` (from the oldest poll's start; the API takes one status per call), so a
listing holds only what is unfinished, never the whole run again: a checkpoint with a task listed is
answered from its tasks; every other polled checkpoint has ended (or has no task yet), and its backups
(ids, sizes, status) come from one ``list_backups`` per vault, read newest first in pages sized to what
is wanted, stopped once every wanted checkpoint is seen and the listing has passed the oldest of their
backups; only a checkpoint that listing does not show is read on its own (by checkpoint id).
Restore-task polls of one project share one ``list_op_logs`` listing, and so do replication polls
(their tasks, with ``show_backup`` only for a replication the tasks cannot tell about).
Polls of a project are also steered to the same moments — its *tick* — by :meth:`Poller.poll_delay`,
sooner when tasks should be ending, rarely when none are (:class:`~orchestrator.polling.tick.TickPolicy`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from orchestrator.batching import Coalescer
from orchestrator.cbr.clients import CbrClients
from orchestrator.cbr.limits import LIST_MAX_PAGE, VAULT_MAX_RESOURCES
from orchestrator.cbr.models import Backup
from orchestrator.cbr.paging import Page, by_offset
from orchestrator.cbr.query import BackupFilter, OperationLogFilter
from orchestrator.crash_points import crash_point
from orchestrator.polling.models import PolledBackup, PolledBackupPage, PolledTask, PolledTaskPage
from orchestrator.polling.task_queue import elapsed
from orchestrator.polling.tick import TickPolicy, expected_remaining
from orchestrator.polling.watch import TaskWatch
from orchestrator.workflows.base import (
    BackupDetails,
    BackupSeen,
    CheckpointShown,
    CheckpointStatus,
    PollReplication,
    ReplicaSeen,
    TaskMissing,
    TaskSeen,
)

FINAL_BACKUP = {"available", "error"}
ENDED_TASK = {"success": "available", "failed": "error", "timeout": "error", "skipped": "error"}
RUNNING_TASK_AS_BACKUP = "protecting"
# replication task status -> replication record status; other task statuses are read from the backup
MIN_BACKUP_PAGE = 50  # a vault's first backup page holds at least this many (newest first)
UNFINISHED_TASK = ("waiting", "running")  # listed one status per call
REPLICA_STATUS_OF_TASK = {"waiting": "waiting_replicate", "running": "replicating", "success": "success"}
REUSE_SECONDS = 1.0  # a look at a project's tasks answers the polls of the workflows it woke this soon after
IDLE_LOOK = 0.25  # seconds: how often the watch looks for new work when nothing is due

log = logging.getLogger(__name__)


ProjectKey = tuple[str, str]  # project, region
Tasks = dict[str, list[PolledTask]]  # unfinished tasks by checkpoint
Wake = Callable[[list[uuid.UUID]], Awaitable[None]]
CheckpointQuery = tuple[str, str, datetime, int]  # vault id, checkpoint id, created not before, backups
RestoreQuery = tuple[str, str, datetime]  # backup id, target id, since


class Poller:
    def __init__(
        self,
        clients: CbrClients,
        window: float = 0.05,
        ticks: TickPolicy | None = None,
        clock_slack: timedelta | None = None,
    ) -> None:
        self._clients = clients
        # Listings start this long before the oldest outstanding poll's ``since`` (our own clock, read
        # before the create call): the cloud stamps ``created_at`` later, on a clock that may lag ours a
        # little (NTP keeps hosts well within a second), and ``start_time`` has one-second resolution.
        # A few seconds cover that; anything the window still misses costs a read by checkpoint id,
        # never a wrong answer.
        configured = timedelta(seconds=clients.settings.worker.poll_clock_slack_seconds)
        self._clock_slack = configured if clock_slack is None else clock_slack
        self._checkpoints: Coalescer[ProjectKey, CheckpointQuery, CheckpointStatus] = Coalescer(
            self._poll_checkpoints, window
        )
        self._ticks: dict[ProjectKey, ProjectTick] = {}
        self._tick_policy = ticks or TickPolicy.around(clients.settings.worker.status_poll_seconds)
        self._restores: Coalescer[ProjectKey, RestoreQuery, TaskSeen | TaskMissing] = Coalescer(
            self._poll_restores, window
        )
        self._replications: Coalescer[ProjectKey, PollReplication, ReplicaSeen | BackupDetails] = Coalescer(
            self._poll_replications, window
        )
        self.list_calls = 0
        self._watch = TaskWatch(idle_look=clients.settings.worker.status_poll_seconds)
        self._watched_poll_seconds = clients.settings.worker.watched_poll_seconds
        self._to_wake: list[uuid.UUID] = []  # seen ended by a status poll's listing, not yet woken
        self._looked: dict[ProjectKey, tuple[float, datetime, Tasks, set[str]]] = {}  # the last look

    async def checkpoint(
        self,
        project: str,
        region: str,
        vault_id: str,
        checkpoint_id: str,
        since: datetime,
        backups: int = VAULT_MAX_RESOURCES,
    ) -> CheckpointStatus:
        """The checkpoint's status and backups (``backups``: how many it makes, one per resource)."""
        return await self._checkpoints.ask((project, region), (vault_id, checkpoint_id, since, backups))

    def poll_delay(self, project: str, region: str, workflow_id: uuid.UUID | None = None) -> float:
        """Seconds until the project's next tick: when a checkpoint poll should next run; for a workflow
        the watch wakes when its tasks end, the safety net's ``watched_poll_seconds`` at the soonest."""
        tick = self._ticks.get((project, region))
        delay = tick.due_in(time.monotonic()) if tick else self._tick_policy.min_seconds
        if workflow_id is not None and self._watch.wakes((project, region), workflow_id):
            return max(delay, self._watched_poll_seconds)
        return delay

    async def restore_task(
        self, project: str, region: str, backup_id: str, target_id: str, since: datetime
    ) -> TaskSeen | TaskMissing:
        return await self._restores.ask((project, region), (backup_id, target_id, since))

    async def replication(
        self, project: str, region: str, poll: PollReplication
    ) -> ReplicaSeen | BackupDetails:
        return await self._replications.ask((project, region), poll)

    async def backup_details(self, project: str, region: str, backup_id: str) -> BackupDetails:
        backup = await self._clients.get(project, region).show_backup(backup_id)
        return _details(backup)

    async def show_checkpoint(self, project: str, region: str, checkpoint_id: str) -> CheckpointShown:
        checkpoint = await self._clients.get(project, region).show_checkpoint(checkpoint_id)
        return CheckpointShown(checkpoint.status)

    # ------------------------------------------------------------------ the watch

    def watch(
        self, project: str, region: str, checkpoint_id: str, workflow_id: uuid.UUID, since: datetime
    ) -> None:
        """Wake ``workflow_id`` (through :meth:`watch_tasks`) once the checkpoint's tasks all ended."""
        start = self._start([since])
        self._watch.add((project, region), checkpoint_id, workflow_id, start, time.monotonic())

    def unwatch(self, project: str, region: str, checkpoint_id: str) -> None:
        self._watch.drop((project, region), checkpoint_id)

    def watched(self) -> list[uuid.UUID]:
        """The workflows the watch would wake (and those it found ended, not woken yet)."""
        return sorted({*self._watch.workflows(), *self._to_wake})

    async def watch_tasks(self, wake: Wake) -> None:
        """Until cancelled: look at a project's unfinished backup tasks when a watched checkpoint should
        have ended, and wake the workflows of those that did (their timed polls stay the safety net)."""
        while True:
            try:
                await self._look_and_wake(wake)
            except Exception:  # a bug here must not end the watch: the timed polls cover meanwhile
                log.exception("the task watch failed; it goes on")
            pause = self._watch.next_in(time.monotonic())
            await asyncio.sleep(IDLE_LOOK if pause is None else min(pause, IDLE_LOOK))

    async def _look_and_wake(self, wake: Wake) -> None:
        # the projects due are looked at side by side: one slow project (its own rate limit) delays no other
        await asyncio.gather(*(self._look(key) for key in self._watch.due(time.monotonic())))
        woken, self._to_wake = self._to_wake, []
        if woken:
            await wake(woken)

    async def _look(self, key: ProjectKey) -> None:
        watching = self._watch.watching(key)
        if not watching:  # its checkpoints were polled or ended meanwhile
            return
        start = self._watch.start(key)
        try:
            tasks = await self._unfinished_tasks(key, start)
        except Exception as exc:  # throttled, unreachable: the next look, or the polls, will tell
            log.warning("looking at the backup tasks of %s failed (%s)", key, type(exc).__name__)
            self._watch.failed(key, time.monotonic())
            return
        now = time.monotonic()
        self._looked[key] = (now, start, tasks, watching)
        self._to_wake += self._watch.listed(key, tasks, start, now)

    def _last_look(self, key: ProjectKey, queries: list[CheckpointQuery], start: datetime) -> Tasks | None:
        """The tasks of the last look at the project, when it is recent and covered every queried
        checkpoint (watched then, so created before it): the polls of the workflows it woke."""
        looked = self._looked.get(key)
        if looked is None:
            return None
        at, looked_from, tasks, watching = looked
        fresh = time.monotonic() - at <= REUSE_SECONDS and looked_from <= start
        return tasks if fresh and all(q[1] in watching for q in queries) else None

    async def _unfinished_tasks(self, key: ProjectKey, start: datetime) -> Tasks:
        listings = await asyncio.gather(
            *(self._operation_logs(key, "backup", start, status) for status in UNFINISHED_TASK)
        )
        tasks: Tasks = defaultdict(list)
        for log_ in (log_ for listing in listings for log_ in listing):
            if log_.checkpoint_id:
                tasks[log_.checkpoint_id].append(log_)
        return dict(tasks)

    # ------------------------------------------------------------------ batches

    async def _poll_checkpoints(
        self, key: ProjectKey, queries: list[CheckpointQuery]
    ) -> dict[CheckpointQuery, CheckpointStatus]:
        """Unfinished tasks for all; for the rest, backup listings by vault, then by checkpoint if unseen."""
        start = self._start(q[2] for q in queries)
        tasks = self._last_look(key, queries, start)
        if tasks is None:
            tasks = await self._unfinished_tasks(key, start)
            self._to_wake += self._watch.listed(key, tasks, start, time.monotonic())
        ended = [q for q in queries if not tasks.get(q[1])]  # no unfinished task: ended, or none yet
        listed = [t for _, c, _, _ in queries for t in tasks.get(c, [])]
        self._tick(key).listed(listed, self._tick_policy, ended=len(ended))
        backups = await self._backups_of_vaults(key, ended)
        unseen = [q for q in ended if not backups[q[1]]]  # none listed: failed, not begun, or a skewed clock
        backups.update(await self._backups_of_checkpoints(key, unseen))
        return {q: _checkpoint_answer(backups.get(q[1]), tasks.get(q[1], [])) for q in queries}

    async def _backups_of_vaults(
        self, key: ProjectKey, queries: list[CheckpointQuery]
    ) -> dict[str, list[PolledBackup]]:
        """The backups of the queried checkpoints, by checkpoint: one listing per vault (all at once), newest
        first."""
        by_vault: dict[str, list[CheckpointQuery]] = defaultdict(list)
        for query in queries:
            by_vault[query[0]].append(query)
        found: dict[str, list[PolledBackup]] = {checkpoint: [] for _, checkpoint, _, _ in queries}
        listings = await asyncio.gather(  # side by side: a batch waits for its slowest vault, not for all
            *(self._newest_backups(key, vault_id, wanted) for vault_id, wanted in by_vault.items())
        )
        for backup in (backup for listing in listings for backup in listing):
            if backup.checkpoint_id in found:
                found[backup.checkpoint_id].append(backup)
        return found

    async def _newest_backups(
        self, key: ProjectKey, vault_id: str, wanted: list[CheckpointQuery]
    ) -> list[PolledBackup]:
        """The vault's backups, newest first, until every wanted checkpoint is seen and the listing has
        passed the oldest backup seen of them (so a checkpoint's backups made at one moment all come).

        The first page is sized to the wanted checkpoints' backups (twice, for others' made meanwhile): the
        usual answer (they are the newest) is one page.
        """
        start = self._start(q[2] for q in wanted)
        filters = BackupFilter(vault_id=vault_id, start_time=_stamp(start)).to_query()
        ids = {checkpoint for _, checkpoint, _, _ in wanted}
        missing = set(ids)
        limit = min(LIST_MAX_PAGE, max(MIN_BACKUP_PAGE, 2 * sum(q[3] for q in wanted)))
        client = self._clients.get(*key)
        self.list_calls += 1
        backups: list[PolledBackup] = []
        oldest_wanted = "~"  # after any timestamp
        offset = 0
        while True:
            query = [*filters, ("limit", str(limit)), ("offset", str(offset))]
            page = (await client.list_page("list_backups", query, PolledBackupPage)).backups
            for backup in page:
                if backup.checkpoint_id in ids:
                    oldest_wanted = min(oldest_wanted, backup.created_at or "")
                    missing.discard(backup.checkpoint_id)
            backups += [b for b in page if b.checkpoint_id and b.parent_id is None]
            offset += len(page)
            passed = bool(page) and (page[-1].created_at or "~") < oldest_wanted
            if (not missing and passed) or len(page) < limit:
                return backups
            limit = LIST_MAX_PAGE

    async def _backups_of_checkpoints(
        self, key: ProjectKey, queries: list[CheckpointQuery]
    ) -> dict[str, list[PolledBackup]]:
        """Stragglers (no task listed): each checkpoint's backups, read on its own."""
        lists = await asyncio.gather(
            *(self._list_backups(key, BackupFilter(checkpoint_id=c)) for _, c, _, _ in queries)
        )
        return {c: found for (_, c, _, _), found in zip(queries, lists, strict=True)}

    async def _list_backups(self, key: ProjectKey, filters: BackupFilter) -> list[PolledBackup]:
        self.list_calls += 1
        client = self._clients.get(*key)

        async def fetch(offset: int) -> Page[PolledBackup]:
            query = filters.to_query() + _paging(offset)
            page = await client.list_page("list_backups", query, PolledBackupPage)
            return Page(page.backups, page.count)

        return [b async for b in by_offset(fetch, LIST_MAX_PAGE) if b.checkpoint_id and b.parent_id is None]

    def _tick(self, key: ProjectKey) -> ProjectTick:
        if key not in self._ticks:
            self._ticks[key] = ProjectTick()
        return self._ticks[key]

    async def _poll_restores(
        self, key: ProjectKey, queries: list[RestoreQuery]
    ) -> dict[RestoreQuery, TaskSeen | TaskMissing]:
        logs = await self._operation_logs(key, "restore", self._start(q[2] for q in queries))
        return {q: _restore_task(logs, q) for q in queries}

    async def _poll_replications(
        self, key: ProjectKey, queries: list[PollReplication]
    ) -> dict[PollReplication, ReplicaSeen | BackupDetails | Exception]:
        """One task listing for all; each replication it cannot tell about is read from its backup."""
        logs = await self._operation_logs(key, "replication", self._start(q.since for q in queries))
        from_tasks = {q: _replica_from_tasks(logs, q) for q in queries}
        answers: dict[PollReplication, ReplicaSeen | BackupDetails | Exception] = {
            q: seen for q, seen in from_tasks.items() if seen is not None
        }
        stragglers = [q for q, seen in from_tasks.items() if seen is None]
        answers.update(await self._read_backups(key, stragglers))
        return answers

    async def _read_backups(
        self, key: ProjectKey, polls: list[PollReplication]
    ) -> dict[PollReplication, BackupDetails | Exception]:
        """Each poll's backup, read concurrently; a failed read is the answer of its poll alone."""
        read = await asyncio.gather(
            *(self.backup_details(*key, p.backup_id) for p in polls), return_exceptions=True
        )
        answers: dict[PollReplication, BackupDetails | Exception] = {}
        for poll, details in zip(polls, read, strict=True):
            if isinstance(details, BaseException) and not isinstance(details, Exception):
                raise details  # cancellation and the like are not an answer
            answers[poll] = details
        return answers

    def _start(self, since: Iterable[datetime]) -> datetime:
        """Where a listing for polls wanting what was created since ``since`` starts (cloud clock)."""
        return min(since) - self._clock_slack

    async def _operation_logs(
        self, key: ProjectKey, operation_type: str, start: datetime, status: str | None = None
    ) -> list[PolledTask]:
        """The project's tasks of ``operation_type`` (in ``status``) created since ``start``, newest first."""
        project, region = key
        filters = OperationLogFilter(operation_type=operation_type, status=status, start_time=_stamp(start))
        self.list_calls += 1
        client = self._clients.get(project, region)

        async def fetch(offset: int) -> Page[PolledTask]:
            query = filters.to_query() + _paging(offset)
            page = await client.list_page("list_op_logs", query, PolledTaskPage)
            return Page(page.operation_logs, page.count)

        logs = [log async for log in by_offset(fetch, LIST_MAX_PAGE)]
        crash_point("mid_poll")
        return sorted(logs, key=lambda item: item.created_at or "", reverse=True)


class ProjectTick:
    """A project's next checkpoint-poll moment (monotonic clock), set after each task listing."""

    def __init__(self) -> None:
        self.delay: float | None = None
        self.next_at = 0.0

    def listed(
        self, tasks: list[PolledTask], policy: TickPolicy, now: float | None = None, ended: int = 0
    ) -> None:
        """``ended``: polled checkpoints the listing showed no unfinished task of, beside ``tasks``."""
        ended += sum(t.status in ENDED_TASK for t in tasks)
        due_in = [expected_remaining(t.progress, elapsed(t)) for t in tasks if t.status not in ENDED_TASK]
        self.delay = policy.next_delay(self.delay, due_in, ended)
        self.next_at = (time.monotonic() if now is None else now) + self.delay

    def due_in(self, now: float) -> float:
        return max(0.0, self.next_at - now)


def _paging(offset: int) -> list[tuple[str, str]]:
    return [("limit", str(LIST_MAX_PAGE)), ("offset", str(offset))]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _checkpoint_answer(backups: list[PolledBackup] | None, tasks: list[PolledTask]) -> CheckpointStatus:
    """From the backups when they were read (the truth once tasks ended: a backup may be gone), else from
    the running tasks (backups in progress)."""
    if backups is not None:
        return _checkpoint_status(backups)
    seen = tuple(
        BackupSeen(
            (t.extra_info.resource.id if t.extra_info and t.extra_info.resource else None) or "",
            (t.extra_info.backup.backup_id if t.extra_info and t.extra_info.backup else None) or "",
            ENDED_TASK.get(t.status, RUNNING_TASK_AS_BACKUP),
            None,
        )
        for t in tasks
    )
    final = bool(seen) and all(b.status in FINAL_BACKUP for b in seen)
    return CheckpointStatus("available" if final else "protecting", seen, from_tasks=True)


def _checkpoint_status(backups: list[PolledBackup]) -> CheckpointStatus:
    seen = tuple(
        BackupSeen(
            b.resource_id or "", b.id, b.status, int(b.resource_size) if b.resource_size is not None else None
        )
        for b in backups
    )
    final = bool(seen) and all(b.status in FINAL_BACKUP for b in seen)
    return CheckpointStatus("available" if final else "protecting", seen)


def _restore_task(logs: list[PolledTask], query: RestoreQuery) -> TaskSeen | TaskMissing:
    backup_id, target_id, _ = query
    for log in logs:
        info = log.extra_info.restore if log.extra_info else None
        resource = log.extra_info.resource if log.extra_info else None
        target = (info.target_resource_id if info else None) or (resource.id if resource else None)
        if info is not None and info.backup_id == backup_id and target == target_id:
            error = log.error_info
            return TaskSeen(
                log.status,
                log.progress,
                error.code if error and error.code else None,
                error.message if error and error.message else None,
                _moment(log.created_at),
                _moment(log.ended_at),
            )
    return TaskMissing()


def _replica_from_tasks(logs: list[PolledTask], poll: PollReplication) -> ReplicaSeen | None:
    """The newest replication task of the backup towards the region, if it is waiting, running or done.

    None when there is no such task, or it ended otherwise: the backup's replication records say why
    (with their fail code), and which record is ours.
    """
    for log in logs:
        info = log.extra_info.replication if log.extra_info else None
        if info is None or info.source_backup_id != poll.backup_id:
            continue
        if info.destination_region != poll.destination_region:
            continue
        status = REPLICA_STATUS_OF_TASK.get(log.status)
        if status is None or (status == "success" and not info.destination_backup_id):
            return None
        return ReplicaSeen(
            record_id=poll.record_id or "",
            destination_region=poll.destination_region,
            status=status,
            destination_backup_id=info.destination_backup_id,
            progress=log.progress,
        )
    return None


def _details(backup: Backup) -> BackupDetails:
    ext = backup.extend_info
    replicas = tuple(
        ReplicaSeen(
            record_id=r.id,
            destination_region=r.destination_region or "",
            status=r.status or "",
            destination_backup_id=r.destination_backup_id,
            fail_code=r.extra_info.fail_code if r.extra_info else None,
            fail_reason=r.extra_info.fail_reason if r.extra_info else None,
            progress=r.extra_info.progress if r.extra_info else None,
        )
        for r in backup.replication_records
    )
    return BackupDetails(
        backup.id,
        backup.status,
        backup.image_type,
        backup.resource_type,
        ext.contain_system_disk if ext else None,
        replicas,
    )


def _moment(stamp: str | None) -> datetime | None:
    """A task's time as CBR writes it (ISO 8601, with or without a zone: UTC), or None."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
