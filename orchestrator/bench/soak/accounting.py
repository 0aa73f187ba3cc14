"""The audit: what was sent against what the database, the events, the dead letters and the cloud hold.

Side effects are counted in the emulator's state (its ledger), never from requests: a checkpoint belongs
to the workflow whose marker ``cbro-<workflow id>`` its description carries, a restore task to the seeded
backup it restores, a replication record to the backup it copies — and each command has its own backup.
:func:`account` is pure: it takes what was read (:class:`Observed`) and returns the :class:`Figures`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.bench.soak.plan import Plan
from orchestrator.bench.soak.seed import SEED_MARK, SOURCE
from orchestrator.bench.soak.traffic import EventLog
from orchestrator.messages import workflow_id_for

MARKER = re.compile(r"cbro-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
FINAL = ("succeeded", "partially_succeeded", "failed", "expired", "cancelled")
EXAMPLES = 5


@dataclass(frozen=True)
class WorkflowRow:
    id: uuid.UUID
    command_id: str
    kind: str
    status: str
    parent_id: uuid.UUID | None
    error_code: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    body: bytes
    message_id: str | None
    reason: str | None


@dataclass
class Observed:
    plan: Plan
    events: EventLog
    workflows: list[WorkflowRow]
    dead_letters: list[DeadLetter]
    ledger: dict[str, Any]
    confirmed: int = 0
    resends: int = 0
    unpublished: int = 0  # outbox rows the relay never marked published


@dataclass
class Effects:
    """Side effects in the cloud per command: how many commands had more than one, and the extras."""

    checkpoints: int = 0
    restores: int = 0
    replications: int = 0
    extra: int = 0
    examples: list[str] = field(default_factory=list)
    duplicated_ids: list[str] = field(default_factory=list)  # the first few
    succeeded_without_effect: int = 0
    unattributed_checkpoints: int = 0

    @property
    def duplicated_commands(self) -> int:
        return self.checkpoints + self.restores + self.replications


@dataclass
class Figures:
    commands: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    messages_sent: int = 0
    duplicates_sent: int = 0
    bad_sent: int = 0
    edge_sent: int = 0
    resends: int = 0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason (up to its first colon) → count
    workflows: int = 0
    fleet_children: int = 0
    ended: dict[str, int] = field(default_factory=dict)  # commands' workflows by status
    failed_why: dict[str, int] = field(default_factory=dict)  # commands' failed workflows by error code
    children_ended: dict[str, int] = field(default_factory=dict)
    edge_ended: dict[str, int] = field(default_factory=dict)  # edge cases taken in, by status
    edge_refused: dict[str, int] = field(default_factory=dict)  # edge cases dead-lettered, by reason
    events_total: int = 0
    events_distinct: int = 0
    final_events_total: int = 0
    final_events_distinct: int = 0
    lost: int = 0
    lost_examples: list[str] = field(default_factory=list)
    unended_workflows: int = 0
    double_ended: int = 0  # commands with more than one distinct final event
    effects: Effects = field(default_factory=Effects)
    dead_lettered: int = 0
    valid_dead_lettered: int = 0
    valid_dead_lettered_examples: list[str] = field(default_factory=list)
    without_reason: int = 0
    unmatched_dead_letters: int = 0
    bad_not_refused: int = 0
    bad_not_refused_examples: list[str] = field(default_factory=list)
    # a command and a later message reusing its id with another body: the first taken in wins, and with
    # competing consumers and redeliveries the later one may arrive first (then the command is refused)
    conflicts_won_by_the_reuse: int = 0
    unpublished_events: int = 0
    suspects: list[str] = field(default_factory=list)  # commands whose step trails are worth reading

    @property
    def failures(self) -> list[str]:
        """Broken invariants, each as a sentence; empty when the run held every promise."""
        checks = [
            (
                self.lost,
                "commands lost (no final event, a workflow unended, or neither taken in nor refused)",
            ),
            (self.effects.duplicated_commands, "commands with duplicate CBR side effects"),
            (self.valid_dead_lettered, "valid commands dead-lettered"),
            (self.bad_not_refused, "bad messages not dead-lettered (dropped in silence)"),
            (self.without_reason, "dead letters without a reason"),
            (self.double_ended, "commands with more than one distinct final event"),
            (self.unpublished_events, "events never marked published (the relay sends them again and again)"),
        ]
        return [f"{n} {what}" for n, what in checks if n]

    @property
    def ok(self) -> bool:
        return not self.failures


def _source_ledger(ledger: dict[str, Any]) -> dict[str, Any]:
    for project in ledger.get("projects", []):
        if (project["region"], project["project_id"]) == (SOURCE.region, SOURCE.project_id):
            return dict(project)
    return {"checkpoints": [], "restores": [], "replications": []}


def account(seen: Observed) -> Figures:
    plan = seen.plan
    figures = Figures(
        commands=len(plan.commands),
        by_kind=dict(Counter(c.kind for c in plan.commands.values())),
        messages_sent=seen.confirmed,
        duplicates_sent=plan.duplicates,
        bad_sent=len(plan.bad),
        edge_sent=len(plan.edge),
        resends=seen.resends,
        unpublished_events=seen.unpublished,
    )
    _count_events(figures, seen.events)
    refused = _count_dead_letters(figures, seen)
    rows = {row.command_id: row for row in seen.workflows if row.parent_id is None}
    _count_workflows(figures, seen, rows)
    _count_lost(figures, seen, rows, refused)
    figures.effects = _count_effects(seen, rows)
    figures.suspects += figures.effects.duplicated_ids
    return figures


def _count_events(figures: Figures, events: EventLog) -> None:
    figures.events_total, figures.events_distinct = events.total, len(events.ids)
    figures.final_events_total, figures.final_events_distinct = events.finals_total, events.finals_distinct


def _count_dead_letters(figures: Figures, seen: Observed) -> set[str]:
    """Count the dead letters by what they were; answer the commands (valid or edge cases) among them."""
    plan = seen.plan
    bad_by_body, bad_by_id = {b.body: b for b in plan.bad}, {b.message_id: b for b in plan.bad}
    by_body = {m.body: m.message_id for m in plan.messages if m.valid or m.label.startswith("edge:")}
    refused: Counter[str] = Counter()
    refused_edge: Counter[str] = Counter()
    matched: set[str] = set()
    refused_commands: set[str] = set()
    reused = {_command_id_of(b.body): b for b in plan.bad if b.late}
    conflicted: set[str] = set()
    for letter in seen.dead_letters:
        figures.dead_lettered += 1
        figures.without_reason += letter.reason is None
        reason = (letter.reason or "(no reason)").split(":")[0]
        bad = bad_by_body.get(letter.body) or bad_by_id.get(letter.message_id or "")
        command_id = by_body.get(letter.body) or letter.message_id or ""
        if bad is not None:
            matched.add(bad.message_id)
            refused[reason] += 1
        elif command_id in plan.edge:
            refused_commands.add(command_id)
            refused_edge[reason] += 1
        elif command_id in plan.commands:
            refused_commands.add(command_id)
            if reason == "conflict" and command_id in reused:
                conflicted.add(command_id)  # decided below, with the message that reused its id
                continue
            figures.valid_dead_lettered += 1
            _example(figures.valid_dead_lettered_examples, f"{command_id} ({letter.reason or 'no reason'})")
        else:
            figures.unmatched_dead_letters += 1
    figures.refused, figures.edge_refused = dict(refused.most_common()), dict(refused_edge.most_common())
    for command_id in conflicted:  # the reuse arrived first and was taken in: the pair was decided
        if reused[command_id].message_id in matched:  # both refused: the command was lost
            figures.valid_dead_lettered += 1
            _example(figures.valid_dead_lettered_examples, f"{command_id} (conflict, both refused)")
        else:
            matched.add(reused[command_id].message_id)
            figures.conflicts_won_by_the_reuse += 1
    missing = [b for b in plan.bad if b.message_id not in matched]
    figures.bad_not_refused = len(missing)
    for bad in missing:
        _example(figures.bad_not_refused_examples, bad.what)
    return refused_commands


def _command_id_of(body: bytes) -> str:
    try:
        found = json.loads(body).get("command_id")
    except (ValueError, AttributeError):
        return ""
    return str(found) if found is not None else ""


def _count_workflows(figures: Figures, seen: Observed, rows: dict[str, WorkflowRow]) -> None:
    plan = seen.plan
    children = [row for row in seen.workflows if row.parent_id is not None]
    figures.workflows, figures.fleet_children = len(seen.workflows), len(children)
    figures.accepted = sum(1 for c in plan.commands if c in rows)
    figures.ended = dict(Counter(rows[c].status for c in plan.commands if c in rows))
    failed = [rows[c] for c in plan.commands if c in rows and rows[c].status == "failed"]
    figures.failed_why = dict(Counter(row.error_code or "none" for row in failed))
    figures.children_ended = dict(Counter(row.status for row in children))
    figures.edge_ended = dict(Counter(rows[c].status for c in plan.edge if c in rows))
    figures.unended_workflows = sum(1 for row in seen.workflows if row.status not in FINAL)
    every = [*plan.commands, *plan.edge]
    figures.double_ended = sum(1 for c in every if len(seen.events.finals.get(c, ())) > 1)


def _count_lost(figures: Figures, seen: Observed, rows: dict[str, WorkflowRow], refused: set[str]) -> None:
    """Lost: accepted without a final event, or with its workflow (or a fleet child of it) unended; or a
    command (valid or edge case) that never became a workflow without being dead-lettered either."""
    finals = seen.events.finals
    parents = {row.id: row.command_id for row in rows.values()}
    unended_children = {
        parents.get(r.parent_id) for r in seen.workflows if r.parent_id and r.status not in FINAL
    }
    for command_id in [*seen.plan.commands, *seen.plan.edge]:
        row = rows.get(command_id)
        if row is None:
            why = None if command_id in refused else "never taken in"
        elif not finals.get(command_id):
            why = f"{row.status}, no final event"
        elif row.status not in FINAL or command_id in unended_children:
            why = f"{row.status}, a workflow unended"
        else:
            why = None
        if why is not None:
            figures.lost += 1
            _example(figures.lost_examples, f"{command_id} ({why})")
            if row is not None:
                _example(figures.suspects, command_id)


def _count_effects(seen: Observed, rows: dict[str, WorkflowRow]) -> Effects:
    plan = seen.plan
    ledger = _source_ledger(seen.ledger)
    markers = Counter(
        m.group(1) for c in ledger["checkpoints"] if (m := MARKER.search(c["description"] or ""))
    )
    known = {str(row.id) for row in seen.workflows}
    effects = Effects(
        unattributed_checkpoints=sum(
            1
            for c in ledger["checkpoints"]
            if c["description"] != SEED_MARK
            and not ((m := MARKER.search(c["description"] or "")) and m.group(1) in known)
        )
    )
    restores = Counter(r["backup_id"] for r in ledger["restores"])
    replications = Counter(r["source_backup_id"] for r in ledger["replications"])
    children: dict[uuid.UUID, list[str]] = {}
    for row in seen.workflows:
        if row.parent_id is not None:
            children.setdefault(row.parent_id, []).append(str(row.id))
    for command_id, command in [*plan.commands.items(), *plan.edge.items()]:
        workflow_id = workflow_id_for(command_id)
        if command.kind == "backup":
            counts = [markers[str(workflow_id)]]
        elif command.kind == "fleet_backup":
            counts = [markers[child] for child in children.get(workflow_id, [])]
        elif command.kind == "restore":
            counts = [restores[plan.restore_of[command_id]]]
        else:
            counts = [replications[plan.replication_of[command_id]]]
        _tally(effects, command_id, command.kind, counts, rows.get(command_id))
    return effects


def _tally(effects: Effects, command_id: str, kind: str, counts: list[int], row: WorkflowRow | None) -> None:
    extra = sum(max(0, n - 1) for n in counts)
    if extra:
        effects.extra += extra
        name = {"restore": "restores", "replicate": "replications"}.get(kind, "checkpoints")
        setattr(effects, name, getattr(effects, name) + 1)
        _example(effects.examples, f"{command_id}: {', '.join(str(n) for n in counts)} {name}")
        _example(effects.duplicated_ids, command_id)
    if row is not None and row.status == "succeeded" and not any(counts):
        effects.succeeded_without_effect += 1


def _example(examples: list[str], text: str) -> None:
    if len(examples) < EXAMPLES:
        examples.append(text)


def rows_of(workflows: Iterable[Any]) -> list[WorkflowRow]:
    """Store workflows as the audit needs them."""
    return [
        WorkflowRow(
            w.id, w.command_id, w.kind, str(w.status.value), getattr(w, "parent_id", None), w.error_code
        )
        for w in workflows
    ]
