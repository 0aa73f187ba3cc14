"""The domain-scoped calls through the official SDK: projects of the domain, the domain of a project,
the domain's migration. Their paths carry no project id (``/v3/domain/{source_project_id}`` included)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from cbr_contract_harness import OperationRecorder, expect_error, raw_json, response_problems
from own_domain import TENANT_D1, TENANT_D2, TENANT_E, OwnDomain, own_domain

from cbr_emulator.iam import stable_id


@pytest.fixture(scope="module")
def world(recorder: OperationRecorder) -> Iterator[OwnDomain]:
    with own_domain(recorder) as domain:
        yield domain


def test_show_domain_answers_for_a_project_of_the_callers_domain(world: OwnDomain) -> None:
    for client in (world.d1, world.d2):
        shown = client.show_domain(cbr.ShowDomainRequest(source_project_id=TENANT_D2.project_id))
        assert (shown.project_id, shown.project_name) == (TENANT_D2.project_id, TENANT_D2.name)
        assert shown.domain_name == TENANT_D2.domain_name
        assert shown.domain_id == stable_id("domain", TENANT_D2.domain_name)


def test_show_domain_refuses_a_project_of_another_domain(world: OwnDomain) -> None:
    for unknown in (TENANT_E.project_id, "f" * 32):
        expect_error(
            lambda unknown=unknown: world.d1.show_domain(cbr.ShowDomainRequest(source_project_id=unknown)),
            404,
            "BackupService.6302",
        )


def test_project_lists_hold_the_domains_projects_of_every_region(world: OwnDomain) -> None:
    listed = world.d1.list_domain_projects(cbr.ListDomainProjectsRequest(domain_name=TENANT_D1.domain_name))
    assert {(p.project_id, p.project_name) for p in listed.projects} == {
        (TENANT_D1.project_id, TENANT_D1.name),
        (TENANT_D2.project_id, TENANT_D2.name),
    }
    projects = world.d2.list_projects(cbr.ListProjectsRequest())
    assert {p.id for p in projects.projects} == {TENANT_D1.project_id, TENANT_D2.project_id}
    assert {p.domain_id for p in projects.projects} == {stable_id("domain", TENANT_D1.domain_name)}
    assert all(p.enabled and not p.is_domain for p in projects.projects)
    assert projects.links._self == "/v3/region-projects"


def test_another_domains_project_list_is_forbidden_at_the_gateway(world: OwnDomain) -> None:
    expect_error(
        lambda: world.e.list_domain_projects(
            cbr.ListDomainProjectsRequest(domain_name=TENANT_D1.domain_name)
        ),
        403,
        "APIGW.0302",
    )


def test_a_migration_covers_the_regions_asked_and_runs_on_the_clock(world: OwnDomain) -> None:
    expect_error(
        lambda: world.e.show_migrate_status(cbr.ShowMigrateStatusRequest()), 404, "BackupService.4001"
    )
    started = world.e.migrate_domain(
        cbr.MigrateDomainRequest(body=cbr.DomainMigrate(all_regions=False, reservation=0.2))
    )
    assert started.body == {TENANT_E.region: "running"}
    assert raw_json(started) == {TENANT_E.region: "running"}

    started = world.d1.migrate_domain(
        cbr.MigrateDomainRequest(body=cbr.DomainMigrate(all_regions=True, reservation=0.5))
    )
    assert started.body == {TENANT_D1.region: "running", TENANT_D2.region: "running"}
    status = world.d2.show_migrate_status(cbr.ShowMigrateStatusRequest(all_regions=True))
    assert status.status == "success"  # instant progression: done by the next look
    assert {(p.project_id, p.region_id, p.status, p.progress) for p in status.project_status} == {
        (TENANT_D1.project_id, TENANT_D1.region, "success", 100),
        (TENANT_D2.project_id, TENANT_D2.region, "success", 100),
    }
    own_region = world.d2.show_migrate_status(cbr.ShowMigrateStatusRequest(all_regions=False))
    assert [p.project_id for p in own_region.project_status] == [TENANT_D2.project_id]


@pytest.mark.parametrize(
    "body",
    [
        {"all_regions": True, "reservation": 1.5},
        {"all_regions": True},
        {"all_regions": "yes", "reservation": 0.2},
    ],
)
def test_a_migration_request_is_validated(world: OwnDomain, body: dict[str, object]) -> None:
    request = cbr.MigrateDomainRequest(body=json.loads(json.dumps(body)))
    expect_error(lambda: world.d1.migrate_domain(request), 400, "BackupService.9900")


def test_strict_checks_read_a_one_body_model_as_the_whole_document() -> None:
    """``MigrateDomainResponse`` has one attribute, ``body``: the SDK fills it with the whole document."""

    def problems(document: object) -> list[str]:
        response = cbr.MigrateDomainResponse()
        response.status_code = 200
        response.raw_content = json.dumps(document).encode()
        return response_problems("migrate_domain", response)

    assert problems({"eu-west-101": "running"}) == []
    assert problems({"eu-west-101": 1})
    assert problems({"body": {"eu-west-101": "running"}})
    assert problems(["running"])
