"""RPO rules per selector (orchestrator/rpo_rules.py): most specific first (a selector rule, the vault, the
project, the default), the file's tables under the environment's, and a bad file refused at startup."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import run_cli
from engine_helpers import PROJECT, EndToEnd
from ledger_scene import build_scene, client, emulator_now
from pydantic import ValidationError

from orchestrator.cbr.bodies import BillingCreate, ResourceRef, TagInput, VaultCreate
from orchestrator.config import CoverageSettings, Settings, explain_settings_error
from orchestrator.engine.coverage import refresh_project
from orchestrator.engine.coverage_states import classify
from orchestrator.rpo_rules import RPO_FILE_MAX_BYTES

RULES = """
[[rule]]
name = "db-*"
type = "OS::Nova::Server"
rpo_seconds = 60

[[rule]]
vault_tags = { tier = "gold" }
rpo_seconds = 120

[[rule]]
name = "db-*"
rpo_seconds = 999  # never reached for a server: the first rule matches first

[vaults]
nightly = 300
shared = 301

[projects]
p1 = 400
"""


def coverage(tmp_path: Path, text: str = RULES, **over: object) -> CoverageSettings:
    path = tmp_path / "rpo.toml"
    path.write_text(text)
    return CoverageSettings.model_validate({"rpo_file": str(path), "default_rpo_seconds": 500, **over})


def test_the_most_specific_rpo_wins(tmp_path: Path) -> None:
    rules = coverage(tmp_path)

    def rpo(name: str, kind: str = "OS::Nova::Server", vault: str | None = "nightly", **tags: str) -> float:
        return rules.rpo_for("p1", None, vault, name=name, resource_type=kind, vault_tags=tags)

    assert rpo("db-1") == 60  # name and type: the first rule
    assert rpo("db-1", kind="OS::Cinder::Volume") == 999  # the name alone: the third
    assert rpo("web-1", tier="gold") == 120  # its vault's tags
    assert rpo("web-1", tier="silver") == 300  # no rule: its vault
    assert rpo("web-1", vault="other") == 400  # no rule, no vault RPO: its project
    assert rules.rpo_for("p2", None, "other", name="web-1", resource_type="x") == 500  # the default
    assert rpo("DB-1") == 300  # globs are case-sensitive


def test_the_environment_wins_over_the_file_for_the_same_vault_or_project(tmp_path: Path) -> None:
    rules = coverage(tmp_path, vaults={"nightly": 30}, projects={"p1": 40})
    assert rules.rpo_for("p1", None, "nightly", name="web") == 30
    assert rules.rpo_for("p1", None, "shared", name="web") == 301  # the file's, the environment has none
    assert rules.rpo_for("p1", None, None, name="web") == 40


def test_the_file_is_read_again_by_a_process_started_with_these_settings(tmp_path: Path) -> None:
    settings = Settings(coverage=coverage(tmp_path))
    environment = settings.as_environment()
    again = CoverageSettings.model_validate_json(environment["CBR_ORCH_COVERAGE"])
    assert again == settings.coverage


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[rule]]\nrpo_seconds = 5\n", "rule[0]: a rule names at least one of name, type, vault_tags"),
        ('[[rule]]\nname = "a"\nrpo_seconds = 0\n', "rule[0].rpo_seconds: Input should be greater than 0"),
        ('[[rule]]\nname = "a"\nrpo = 5\n', "rule[0].rpo_seconds: Field required (and 1 more)"),
        ('[[rules]]\nname = "a"\n', "rules: Extra inputs are not permitted"),
        (
            '[vaults]\nnightly = "a day"\n',
            "vaults.nightly: Input should be a valid number, unable to parse string as a number",
        ),
        ("[[rule]\n", "not TOML (Expected ']]' at the end of an array declaration (at line 1, column 7))"),
    ],
)
def test_a_bad_file_is_refused_with_its_place_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "rpo.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as refused:
        Settings(coverage={"rpo_file": str(path)})
    assert explain_settings_error(refused.value) == [f"CBR_ORCH_COVERAGE__RPO_FILE: {path}: {reason}"]


def test_a_missing_or_huge_file_is_refused(tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_text("#" * (RPO_FILE_MAX_BYTES + 1))
    for path, reason in [
        (tmp_path / "none.toml", f"cannot read {tmp_path / 'none.toml'}: No such file or directory"),
        (huge, f"{huge}: larger than {RPO_FILE_MAX_BYTES} bytes"),
    ]:
        with pytest.raises(ValidationError) as refused:
            Settings(coverage={"rpo_file": str(path)})
        assert explain_settings_error(refused.value) == [f"CBR_ORCH_COVERAGE__RPO_FILE: {reason}"]


async def test_a_bad_file_stops_the_worker_at_startup_with_one_line(dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "rpo.toml"
    path.write_text('[[rule]]\nname = "a"\nrpo_seconds = -1\n')
    ran = await run_cli(dsn, "worker", env={"CBR_ORCH_COVERAGE__RPO_FILE": str(path)})
    assert ran.code == 2
    reason = "rule[0].rpo_seconds: Input should be greater than 0"
    assert ran.stderr.strip() == f"configuration: CBR_ORCH_COVERAGE__RPO_FILE: {path}: {reason}"


async def test_a_vault_tag_rule_reaches_the_resources_of_the_tagged_vault(
    e2e: EndToEnd, tmp_path: Path
) -> None:
    """The tags come from the protectable listing (the vault it shows each resource bound to)."""
    scene = await build_scene(e2e)
    async with client(e2e) as cbr:
        await cbr.create_vault(
            VaultCreate(
                name="vault-gold",
                billing=BillingCreate(object_type="server", size=1000),
                resources=[ResourceRef(id=scene.servers[6], type="OS::Nova::Server")],
                tags=[TagInput(key="tier", value="gold")],
            )
        )
        rules = coverage(tmp_path, projects={PROJECT: 7.0})
        await refresh_project(cbr, e2e.store.coverage, rules)
    rows = await e2e.store.coverage.entries([PROJECT], at=emulator_now(e2e))
    rpos = {entry.resource_id: entry.rpo_seconds for entry in classify(rows, rules)}
    assert rpos[scene.servers[6]] == 120
    assert {rpos[s] for s in scene.servers if s != scene.servers[6]} == {7.0}
