"""The posture events' schema (orchestrator/messages.py): routing keys, a bounded size whatever CBR names
a resource, the example of docs/coverage.md, and which change is told by which event."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.engine.coverage_states import CoverageEntry
from orchestrator.engine.posture import event_name, plan
from orchestrator.messages import PostureEvent, json_schemas
from orchestrator.store.posture import Known

DOC = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"
AT = datetime(2026, 12, 5, 13, tzinfo=UTC)


def entry(state: str, name: str = "ecs-0001") -> CoverageEntry:
    return CoverageEntry(
        "p" * 32, "r1", "OS::Nova::Server", name, "v1", "x" * 1000, None, None, None, 86_400.0, state
    )


@pytest.mark.parametrize(
    ("previous", "state", "told"),
    [
        (None, "stale", "stale"), (None, "never", "stale"), ("ok", "stale", "stale"),
        ("stale", "never", "stale"), ("unprotected", "never", "stale"),
        ("stale", "ok", "recovered"), ("never", "ok", "recovered"),
        ("ok", "unprotected", "unprotected"), ("stale", "unprotected", "unprotected"),
        (None, "ok", None), (None, "unprotected", None), ("unprotected", "ok", None),
    ],
)  # fmt: skip
def test_which_change_is_told_by_which_event(previous: str | None, state: str, told: str | None) -> None:
    assert event_name(previous, state) == told


def test_an_episode_begins_on_entering_stale_or_never_only_from_elsewhere() -> None:
    def episode(known: Known | None, state: str) -> int:
        [change] = plan([entry(state)], {} if known is None else {"r1": known}, "eu-west-101", AT).changes
        return change.episode

    assert episode(None, "never") == 1
    assert episode(Known("ok", 3, 3), "stale") == 4
    assert episode(Known("stale", 4, 4), "never") == 4  # the same episode
    assert episode(Known("stale", 4, 4), "ok") == 4


def test_an_event_is_small_whatever_the_names_and_routed_by_its_name() -> None:
    [event] = plan([entry("stale", name="n" * 5000)], {}, "eu-west-101", AT).events
    assert event.routing_key == "posture.stale"
    assert len(json.dumps(event.body)) < 4096
    parsed = PostureEvent.model_validate(event.body)
    assert parsed.data.name == "n" * 255 and parsed.routing_key == "posture.stale"
    assert "posture_event" in json_schemas()


def test_the_docs_example_is_an_event_the_code_writes() -> None:
    [example] = re.findall(r"```json\n(.*?)```", DOC.read_text(), re.DOTALL)
    event = PostureEvent.model_validate_json(example)
    assert event.routing_key == "posture.stale" and event.data.previous == "ok"
