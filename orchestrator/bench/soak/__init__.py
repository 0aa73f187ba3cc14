"""``cbr-orchestrator soak``: the proof that every command ends once, with one side effect, under chaos.

N commands of every kind (plus duplicates and bad messages) go to W worker processes while workers are
SIGKILLed and SIGTERMed, the emulator injects faults and RabbitMQ and PostgreSQL restart; the audit then
counts what became of each command, in the database, the events, the dead letters and the emulator's state.

* ``options`` — sizes and timings; ``plan`` and
  ``bad_input`` — the messages; ``seed`` — the backups that
  restores and replications use;
* ``workers``, ``chaos``, ``faults``,
  ``services`` — the processes and what happens to them;
* ``traffic`` — commands out, events in; ``accounting`` — the
  audit; ``report`` — the table and the JSON; ``run`` — one run.
"""

from orchestrator.bench.soak.options import SoakOptions
from orchestrator.bench.soak.report import soak_json, soak_table
from orchestrator.bench.soak.run import SoakResult, run_soak

__all__ = ["SoakOptions", "SoakResult", "run_soak", "soak_json", "soak_table"]
