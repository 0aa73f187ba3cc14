"""``cbr-orchestrator soak`` without chaos (the control run): every message accounted for, nothing broken.

Forty commands of every kind, duplicates, bad messages and edge cases go to two worker processes on private
services, with no kill, fault or restart; the audit must find each command ended once with one side effect,
each edge case ended or refused with a reason, and each bad message dead-lettered with its reason.
"""

from __future__ import annotations

import json

from orchestrator.bench.soak import SoakOptions, run_soak, soak_json, soak_table
from orchestrator.bench.soak.report import soak_rows


async def test_calm_soak_accounts_for_every_message() -> None:
    options = SoakOptions(commands=40, workers=2, duration_seconds=8, settle_seconds=45, chaos=False)
    result = await run_soak(options)
    f = result.figures
    table = "\n".join(f"{name}: {value}" for name, value in soak_rows(result))

    assert f.failures == [], table
    assert result.settled, table
    assert f.by_kind == {"backup": 34, "restore": 3, "replicate": 2, "fleet_backup": 1}
    assert (f.accepted, f.ended) == (40, {"succeeded": 40})
    assert f.children_ended == {"succeeded": f.fleet_children} and f.fleet_children == 1
    assert f.final_events_distinct == 40 + sum(f.edge_ended.values())  # a fleet's children publish none
    assert f.lost_examples == [] and f.unended_workflows == 0 and f.double_ended == 0  # issue 7: 7, 8
    assert f.unpublished_events == 0  # issue 7, finding 9
    assert sum(f.edge_ended.values()) + sum(f.edge_refused.values()) == f.edge_sent == 4
    assert f.effects.duplicated_commands == 0
    assert f.effects.unattributed_checkpoints == 0 and f.effects.succeeded_without_effect == 0
    assert f.valid_dead_lettered == 0 and f.unmatched_dead_letters == 0
    assert f.bad_not_refused_examples == [] and f.without_reason == 0  # issue 7, findings 5 and 10
    assert sum(f.refused.values()) == f.bad_sent == 9
    assert result.workers.killed == result.workers.terminated == 0
    assert result.chaos.restarts == [] and result.faults_fired == {}
    assert result.worker_exit_codes == [0, 0]
    assert result.ok
    assert json.loads(json.dumps(soak_json(result), default=str))["ok"] is True
    assert result.trails == {}
    assert soak_table(result).row_count == len(soak_rows(result)) + 1
