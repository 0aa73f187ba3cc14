"""``cbr-orchestrator soak``: the proof that every command ends once, with one side effect, under chaos.

N commands of every kind (plus duplicates and bad messages) go to W worker processes while workers are
SIGKILLed and SIGTERMed, the emulator injects faults and RabbitMQ and PostgreSQL restart; the audit then
counts what became of each command, in the database, the events, the dead letters and the emulator's state.

* :mod:`~orchestrator.soak.options` — sizes and timings; :mod:`~orchestrator.soak.plan` and
  :mod:`~orchestrator.soak.bad_input` — the messages; :mod:`~orchestrator.soak.seed` — the backups that
  restores and replications use;
* :mod:`~orchestrator.soak.workers`, :mod:`~orchestrator.soak.chaos`, :mod:`~orchestrator.soak.faults`,
  :mod:`~orchestrator.soak.services` — the processes and what happens to them;
* :mod:`~orchestrator.soak.traffic` — commands out, events in; :mod:`~orchestrator.soak.accounting` — the
  audit; :mod:`~orchestrator.soak.report` — the table and the JSON; :mod:`~orchestrator.soak.run` — one run.
"""

from orchestrator.soak.options import SoakOptions
from orchestrator.soak.report import soak_json, soak_table
from orchestrator.soak.run import SoakResult, run_soak

__all__ = ["SoakOptions", "SoakResult", "run_soak", "soak_json", "soak_table"]
