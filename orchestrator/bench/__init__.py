"""``cbr-orchestrator bench``: reproducible figures against an emulator running in its own process.

* (a) :mod:`~orchestrator.bench.throughput` — single-server backups through the queue, one and two workers;
* (b) :mod:`~orchestrator.bench.fleet` — one fleet backup under the emulator's capacity and rate limits,
  against the theoretical minimum of :mod:`~orchestrator.bench.theory`;
* (c) :mod:`~orchestrator.bench.baseline` — the same fleet by a script on the official SDK;
* (d) :mod:`~orchestrator.bench.api_throughput` — commands accepted per second by one API process;
* :mod:`~orchestrator.bench.report` — targets, the table and the JSON file.
"""

from orchestrator.bench.report import (
    BenchResults,
    default_json_path,
    figures_table,
    targets_table,
    write_json,
)
from orchestrator.bench.runner import SCENARIOS, BenchOptions, run_bench

__all__ = [
    "SCENARIOS",
    "BenchOptions",
    "BenchResults",
    "default_json_path",
    "figures_table",
    "run_bench",
    "targets_table",
    "write_json",
]
