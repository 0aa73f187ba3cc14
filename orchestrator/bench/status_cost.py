"""What ``cbr-orchestrator status <fleet>`` costs on the fleet a bench run left: seconds and peak memory of
the CLI process as a user runs it (text, and ``--json``), against the run's database before it is dropped.

The peak resident set size is the child's own (``wait4``), not the bench's nor its other children's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

STATUS_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class StatusCost:
    as_json: bool
    seconds: float
    peak_rss_mib: float
    output_bytes: int
    exit_code: int


def measure_status(dsn: str, ref: str, as_json: bool) -> StatusCost:
    """Run ``status ref`` (with ``--json``) in its own process, 120 columns wide; blocking."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBR_ORCH_")}
    env |= {"CBR_ORCH_DATABASE_URL": dsn, "COLUMNS": "120", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "orchestrator.cli", "status", ref, *(["--json"] if as_json else [])]
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as proc:
        assert proc.stdout is not None
        size = len(proc.stdout.read())
        _, status, usage = os.wait4(proc.pid, 0)  # its own rusage: ru_maxrss in KiB
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    return StatusCost(as_json, round(seconds, 3), round(usage.ru_maxrss / 1024, 1), size, proc.returncode)


def describe(cost: StatusCost) -> str:
    failed = "" if cost.exit_code == 0 else f" (exit {cost.exit_code})"
    out = cost.output_bytes / 1024
    return f"{cost.seconds:.2f} s, {cost.peak_rss_mib:.0f} MiB, {out:.0f} KiB printed{failed}"
