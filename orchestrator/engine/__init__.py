"""The engine: claims workflows under leases, runs their machines, performs their actions.

``loop`` holds the claim/run loop; ``actions`` performs CBR requests; ``lease`` keeps the leases;
``budget`` ends workflows that spend too much; ``events`` builds the outbox rows; ``retry`` says how long
to sleep; the named crash points of the tests are in ``orchestrator.crash_points``.
"""

from orchestrator.crash_points import CRASH_ENV, crash_point
from orchestrator.engine.actions import Actions, CbrActions
from orchestrator.engine.events import MAX_EVENT_BYTES, outbox_event
from orchestrator.engine.lease import Lease, Leases
from orchestrator.engine.loop import Engine
from orchestrator.engine.retry import RetryPolicy

__all__ = [
    "CRASH_ENV",
    "MAX_EVENT_BYTES",
    "Actions",
    "CbrActions",
    "Engine",
    "Lease",
    "Leases",
    "RetryPolicy",
    "crash_point",
    "outbox_event",
]
