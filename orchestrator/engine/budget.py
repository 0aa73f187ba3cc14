"""Every workflow ends: the budget of calls, steps, retries in a row, time and crashed runs it may spend.

The engine charges each observation to the workflow's :class:`~orchestrator.workflows.base.Budget` (kept in
the state, never touched by a machine) and ends the workflow ``failed`` once a limit is passed, whatever
its kind and phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator.config import WorkerSettings
from orchestrator.store import Workflow
from orchestrator.workflows.base import Budget, Failed, Observation, Request

BUDGET_EXHAUSTED = "orchestrator.budget_exhausted"
RUNS_FAILING = "orchestrator.runs_failing"


@dataclass(frozen=True)
class Exhausted:
    """Why a workflow is ended: an error code and a message for people."""

    code: str
    message: str


def charge(budget: Budget, observation: Observation, request: Request | None) -> None:
    """Count one observation: the answer to ``request``, or (None) an answer of the engine itself.

    Failures are counted per kind of request, and only a success of that kind resets its count: a create
    whose answers keep being lost is tried again after lookups that succeed (finding nothing), and those
    lookups must not make its failures look new.
    """
    budget.steps += 1
    if request is None:
        return
    budget.calls += 1
    name = type(request).__name__
    if isinstance(observation, Failed) and observation.kind == "retry_later":
        budget.failures[name] = budget.failures.get(name, 0) + 1
    else:
        budget.failures.pop(name, None)


def over_budget(budget: Budget, limits: WorkerSettings, last: Observation | None = None) -> Exhausted | None:
    """The first limit ``budget`` passes, if any (``last``: the observation that passed it, for its error)."""
    worst = max(budget.failures.items(), key=lambda item: item[1], default=("", 0))
    if worst[1] > limits.max_failures_per_request:
        cause = f"; last: {last.code} {last.message}" if isinstance(last, Failed) else ""
        message = f"{worst[0]} failed {worst[1]} times without succeeding{cause}"
        return Exhausted(BUDGET_EXHAUSTED, message[:1000])
    if budget.calls > limits.max_calls:
        return Exhausted(BUDGET_EXHAUSTED, f"more than {limits.max_calls} CBR calls")
    if budget.steps > limits.max_steps:
        return Exhausted(BUDGET_EXHAUSTED, f"more than {limits.max_steps} steps")
    return None


def out_of_time(wf: Workflow, now: datetime, limits: WorkerSettings) -> Exhausted | None:
    age = (now - wf.created_at).total_seconds()
    if age > limits.max_workflow_seconds:
        return Exhausted(BUDGET_EXHAUSTED, f"still running after {limits.max_workflow_seconds:g} s")
    return None


def runs_failing(wf: Workflow, limits: WorkerSettings) -> Exhausted | None:
    """The runs before this one kept failing in our code, or kept ending without a word (each time the
    worker was killed while running it, or lost its lease: a poison workflow that kills whoever runs it
    looks like that, and so, rarely, does bad luck — hence a higher limit)."""
    if wf.failed_runs >= limits.max_failed_runs:
        error = f": {wf.last_run_error}" if wf.last_run_error else ""
        return Exhausted(RUNS_FAILING, f"{wf.failed_runs} runs in a row failed{error}"[:1000])
    crashed = wf.crashed_runs - 1  # the claim counted this run already
    if crashed >= limits.max_crashed_runs:
        message = f"{crashed} runs in a row ended without a word (their worker killed, or its lease lost)"
        return Exhausted(RUNS_FAILING, message)
    return None
