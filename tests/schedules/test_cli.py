"""``cbr-orchestrator schedules``: add (from a file, stdin or --json), list as a table and as JSON, remove;
bad input refused with exit code 2 and the field at fault."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import run_cli
from scene import FLEET

NIGHTLY = "FREQ=DAILY;BYHOUR=2;BYMINUTE=0;BYSECOND=0"


async def test_add_list_and_remove(dsn: str, tmp_path: Path) -> None:
    command = tmp_path / "fleet.json"
    command.write_text(json.dumps(FLEET))
    added = await run_cli(
        dsn, "schedules", "add", "--name", "nightly", "--rrule", NIGHTLY, "--tz", "Europe/Berlin",
        "--start", "2026-03-28T00:00:00", str(command),
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert "added schedule nightly; next occurrence" in added.stdout
    other = await run_cli(
        dsn, "schedules", "add", "--name", "hourly", "--rrule", "FREQ=HOURLY", "--json", json.dumps(FLEET)
    )
    assert other.code == 0, other.stderr
    table = await run_cli(dsn, "schedules", "list")
    row = next(line for line in table.stdout.splitlines() if "nightly" in line)
    assert NIGHTLY in row and "Europe/Berlin" in row and ":00:00+00:00" in row
    [hourly, nightly] = json.loads((await run_cli(dsn, "schedules", "list", "--json")).stdout)
    assert (hourly["name"], nightly["name"]) == ("hourly", "nightly")
    assert nightly["start"] == "2026-03-27T23:00:00Z"  # midnight in Berlin
    assert nightly["next_occurrence"].endswith(
        ("T01:00:00Z", "T00:00:00Z")
    )  # 02:00 in Berlin, winter or summer
    assert nightly["command"]["select"] == FLEET["select"] and "command_id" not in nightly["command"]
    never_run = dict.fromkeys(["occurrence", "at", "command_id", "workflow_id", "outcome", "refusal"])
    assert nightly["last_run"] == never_run | {"skipped": 0}
    removed = await run_cli(dsn, "schedules", "remove", "nightly")
    assert removed.code == 0 and "removed schedule nightly" in removed.stdout
    again = await run_cli(dsn, "schedules", "remove", "nightly", "--json")
    assert again.code == 1 and json.loads(again.stdout) == {"name": "nightly", "removed": False}
    [left] = json.loads((await run_cli(dsn, "schedules", "list", "--json")).stdout)
    assert left["name"] == "hourly"


async def test_bad_input_is_refused_with_exit_code_2_and_the_field(dsn: str) -> None:
    fleet = json.dumps(FLEET)
    cases = [
        (["--name", "a", "--rrule", "FREQ=DAILY;BYHOUR=24", "--json", fleet], "rrule: not an RRULE"),
        (["--name", "a", "--rrule", "FREQ=DAILY", "--tz", "Europe/Atlantis", "--json", fleet], "time_zone"),
        (
            ["--name", "a", "--rrule", "FREQ=DAILY", "--json", json.dumps({**FLEET, "select": {}})],
            "command.select",
        ),
        (["--name", "a", "--rrule", "FREQ=DAILY", "--json", "{not json"], "not JSON"),
        (["--name", "a b", "--rrule", "FREQ=DAILY", "--json", fleet], "name"),
    ]
    for args, says in cases:
        refused = await run_cli(dsn, "schedules", "add", *args)
        assert (refused.code, says in refused.stderr) == (2, True), (args, refused.stderr)
    first = await run_cli(
        dsn, "schedules", "add", "--name", "twice", "--rrule", "FREQ=DAILY", "--json", fleet
    )
    assert first.code == 0, first.stderr
    taken = await run_cli(
        dsn, "schedules", "add", "--name", "twice", "--rrule", "FREQ=HOURLY", "--json", fleet
    )
    assert taken.code == 2 and "exists already" in taken.stderr
    assert json.loads((await run_cli(dsn, "schedules", "list", "--json")).stdout)[0]["rrule"] == "FREQ=DAILY"
