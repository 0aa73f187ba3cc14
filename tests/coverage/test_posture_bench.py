"""The closing scenario of the coverage ledger, small (orchestrator/bench/posture.py): policies, a fleet
of ours and hand-made backups mixed, 1 % of the servers stale or unprotected, read by ``cbr-orchestrator
coverage --refresh --json`` in its own process, with the CBR calls its refresh made."""

from __future__ import annotations

import json
import math

from orchestrator.bench.posture import Layout, run

SERVERS = 400


async def test_coverage_refresh_finds_exactly_the_stale_and_unprotected_servers() -> None:
    result = await run(SERVERS, ("--json", "--worst", "10"))
    assert result.cli_code == 0, result.cli_output
    shown = json.loads(result.cli_output)
    [project] = shown["projects"]
    layout = Layout.of(SERVERS)
    assert project["counts"] == {
        "never": 0,
        "unprotected": layout.unprotected,
        "stale": layout.stale,
        "ok": SERVERS - layout.unprotected - layout.stale,
    }
    assert sorted({o["state"] for o in project["worst"]}) == ["stale", "unprotected"]
    pages = math.ceil(SERVERS / 50) + (SERVERS % 50 == 0)  # pages of 50 until a short one
    expected = {"list_vault": 1, "list_protectable": pages, "list_backups": 1}
    assert result.emulator_calls == expected
    assert shown["refresh"]["calls"] == sum(expected.values())
    assert shown["refresh"]["posture_events"] == {"stale": layout.stale}
    assert shown["refresh"]["act_commands"] == {}  # stale → act is off
    assert result.posture_events == {"posture.stale": layout.stale}  # first seen ok or unprotected: untold
