"""mypy, not a run, finds a request, action or observation left out of a dispatch (``match`` ending in
``typing.assert_never``), and an observation passed as its class. One mypy run over a small module that
imports our unions (a few seconds: the orchestrator's own modules are read, not reported on)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from mypy import api

import orchestrator

ROOT = Path(orchestrator.__file__).resolve().parent.parent
SNIPPET = """
from typing import assert_never

from orchestrator.workflows.base import (
    Call, CancelChildren, Effect, Lock, MachineState, Progress, Resume, Transition, Unlock,
    unexpected,
)


def every_effect(action: Effect) -> str:
    match action:
        case Call() | Lock() | Unlock() | Progress() | CancelChildren():
            return "done here"
        case _:  # the store's actions: Admit, SpawnChildren, ReadFleet
            return "the store's"


def every_effect_named(action: Effect) -> str:
    match action:
        case Call() | Lock() | Unlock() | Progress() | CancelChildren():
            return "done here"
        case _:
            assert_never(action)  # MISSING-EFFECTS


def the_class_for_the_observation(state: MachineState) -> Transition:
    return unexpected(state, Resume)  # CLASS-PASSED
"""


def marked_line(marker: str) -> int:
    return next(n for n, line in enumerate(SNIPPET.splitlines(), start=1) if marker in line)


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """mypy's errors in the snippet, by line."""
    where = tmp_path_factory.mktemp("mypy")
    (where / "snippet.py").write_text(SNIPPET)
    (where / "mypy.ini").write_text(
        textwrap.dedent(f"""\
            [mypy]
            strict = True
            mypy_path = {ROOT}
            plugins = pydantic.mypy
            follow_imports = silent
            cache_dir = {where / "cache"}
            """)
    )
    out, err, _ = api.run(["--config-file", str(where / "mypy.ini"), str(where / "snippet.py")])
    assert not err, err
    errors: dict[int, str] = {}
    for line, message in re.findall(r"snippet\.py:(\d+): error: (.*)", out):
        errors[int(line)] = errors.get(int(line), "") + message
    return errors


def test_an_action_left_out_of_a_match_fails_mypy_naming_it(mypy_errors: dict[int, str]) -> None:
    message = mypy_errors[marked_line("MISSING-EFFECTS")]
    assert '"assert_never"' in message
    assert all(name in message for name in ("Admit", "SpawnChildren", "ReadFleet")), message


def test_a_class_given_for_an_observation_fails_mypy(mypy_errors: dict[int, str]) -> None:
    message = mypy_errors[marked_line("CLASS-PASSED")]
    assert '"unexpected"' in message and "type[Resume]" in message


def test_the_snippet_has_no_other_error(mypy_errors: dict[int, str]) -> None:
    expected = {marked_line("MISSING-EFFECTS"), marked_line("CLASS-PASSED")}
    assert set(mypy_errors) == expected, mypy_errors
