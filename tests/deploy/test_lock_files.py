"""The lock files the image installs from: every dependency of ``pyproject.toml`` pinned at a version its
specifier allows, each pin with hashes, the emulator's lock agreeing with the runtime one; and the build
context leaving out what an image must not carry."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# what the Dockerfile copies from the build context
COPIED = {"pyproject.toml", "setup.py", "README.md", "orchestrator", "cbr_emulator", "sql"}
COPIED |= {"requirements.lock", "requirements-emulator.lock"}


def pins(lock: Path) -> dict[str, tuple[Version, int]]:
    """Each pinned distribution → its version and how many hashes it carries."""
    found: dict[str, tuple[Version, int]] = {}
    for entry in re.split(r"\n(?=\S)", lock.read_text()):
        match = PIN.match(entry)
        if match:
            found[canonicalize_name(match[1])] = (Version(match[2]), len(HASH.findall(entry)))
    return found


def runtime_requirements(*extras: str) -> list[Requirement]:
    needed = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        needed += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return needed


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ()), ("requirements-emulator.lock", ("emulator",))]
)
def test_the_lock_pins_every_dependency_at_an_allowed_version(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(REPO / lock)
    assert len(pinned) >= len(PROJECT["dependencies"])
    for requirement in runtime_requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} does not pin {name}: run `make lock`"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{lock}: {name} {version}"
    unhashed = [name for name, (_, hashes) in pinned.items() if hashes == 0]
    assert unhashed == []


def test_the_runtime_lock_leaves_the_emulator_extra_out() -> None:
    emulator_only = {canonicalize_name(r.name) for r in runtime_requirements("emulator")}
    emulator_only -= {canonicalize_name(r.name) for r in runtime_requirements()}
    assert emulator_only.isdisjoint(pins(REPO / "requirements.lock"))


def test_the_emulator_lock_agrees_with_the_runtime_one() -> None:
    runtime, emulator = pins(REPO / "requirements.lock"), pins(REPO / "requirements-emulator.lock")
    assert set(runtime) <= set(emulator)
    assert {name: runtime[name][0] for name in runtime} == {name: emulator[name][0] for name in runtime}


def test_the_pin_parser_reads_what_uv_writes() -> None:
    sample = "a-b==1.2 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via x\nc==3 ; sys_platform == 'win32'\n"
    entries = [PIN.match(e) for e in re.split(r"\n(?=\S)", sample)]
    assert [(m[1], m[2]) for m in entries if m] == [("a-b", "1.2"), ("c", "3")]


def dockerignore() -> set[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_the_build_context_leaves_out_the_environment_the_history_and_the_tests() -> None:
    assert {".venv", ".git", "tests"} <= dockerignore()


def test_the_build_context_keeps_what_the_dockerfile_copies() -> None:
    ignored = dockerignore()
    assert not any(pattern.startswith("!") for pattern in ignored)
    assert ignored.isdisjoint(COPIED)
    assert not any(Path(name).match(pattern) for name in COPIED for pattern in ignored)
