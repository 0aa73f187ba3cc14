"""Named crash points: a test (or the soak) names one in ``CBR_ORCH_CRASH_AT`` and the process SIGKILLs
itself there, without any clean-up, to prove that a crash at that moment loses and doubles nothing.

The points: ``after_cbr_create`` (a checkpoint was created, nothing recorded), ``after_restore_call`` (a
restore was accepted, nothing recorded), ``after_commit_before_ack``
(a command's workflow committed, its message not acked), ``mid_relay_batch`` (events published, not marked
published), ``mid_poll`` (a status listing half read); for a fleet selecting page by page,
``fleet_after_spawn`` (children and the selection's progress committed, the next page not asked for) and
``fleet_page_read`` (a page after the first read, nothing of it recorded).
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "CBR_ORCH_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, without any clean-up, if the test hook names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
