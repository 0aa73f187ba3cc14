"""Organisation policies: a backup or replication policy an account deploys to its member projects.

An organisation policy is held per domain (any project of the domain sees and changes it). Its
``policy_*`` fields are an ordinary policy, validated exactly as ``create_policy`` validates one (the
same body models and RRULE checks). The emulator knows no organisation, so the member projects are
the domain's projects, in every region. Deployment runs on the emulator's clock: the policy is
``syncing`` (and each project's row in ``policy-detail`` too) for one task duration, then each member
project holds an ordinary policy (``policy_type`` ``organization_policy_v1``, listed by
``list_policies``, running on its schedule) and the row turns ``available``. An update re-deploys the
same way. A deletion leaves the deployed policies in place, marked ``organization_policy_removed``,
so that the vaults they are applied to keep their schedule until the project removes them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from cbr_emulator import policies
from cbr_emulator.context import Call, World
from cbr_emulator.domain_state import DomainState, OrganizationPolicy, PolicyDeployment
from cbr_emulator.domains import caller_domain, domain_id, domain_state, domain_tenants
from cbr_emulator.errors import CbrError
from cbr_emulator.progression import plan
from cbr_emulator.state import Policy
from cbr_emulator.validation import Body, Name, OperationDefinition, PolicyCreate, Trigger, describe_errors

DEPLOYED_TYPE = "organization_policy_v1"
REMOVED_TYPE = "organization_policy_removed"
OrganizationPolicyName = Annotated[str, Field(min_length=1, max_length=64)]
Text255 = Annotated[str, Field(max_length=255)]


class OrganizationPolicyCreate(Body):
    name: OrganizationPolicyName
    description: Text255 | None = None
    operation_type: Literal["backup", "replication"]
    policy_name: Name
    policy_enabled: bool
    policy_operation_definition: OperationDefinition
    policy_trigger: Trigger
    effective_scope: Text255 | None = None


class OrganizationPolicyCreateReq(Body):
    policy: OrganizationPolicyCreate


class OrganizationPolicyUpdate(Body):
    name: OrganizationPolicyName | None = None
    description: Text255 | None = None
    policy_name: Name | None = None
    policy_enabled: bool | None = None
    policy_operation_definition: OperationDefinition | None = None
    policy_trigger: Trigger | None = None
    effective_scope: Text255 | None = None


class OrganizationPolicyUpdateReq(Body):
    policy: OrganizationPolicyUpdate


# --- validation as an ordinary policy ------------------------------------------------------------


def as_policy(policy: OrganizationPolicy) -> PolicyCreate:
    """The ordinary policy an organisation policy deploys, checked as ``create_policy`` checks one."""
    try:
        member = PolicyCreate.model_validate(
            {
                "name": policy.policy_name,
                "operation_type": policy.operation_type,
                "trigger": policy.policy_trigger,
                "operation_definition": policy.policy_operation_definition,
                "enabled": policy.policy_enabled,
            }
        )
    except ValidationError as error:
        raise CbrError.of("9900", f"policy: {describe_errors(error)}") from None
    policies.check_patterns(member.trigger.properties.pattern)
    return member


# --- deployment ----------------------------------------------------------------------------------


def _deploy_later(world: World, domain_name: str, policy: OrganizationPolicy, now: datetime) -> None:
    policy.generation += 1
    for deployment in policy.deployments:
        deployment.status = "syncing"
    generation, when = policy.generation, plan(world.progression, now, 0).ends_at
    world.scheduler.at(when, lambda at: _deploy(world, domain_name, policy.id, generation, at))


def redeploy_syncing(world: World, domain: DomainState, now: datetime) -> None:
    """After a load from a state file: the policies that were still syncing deploy again from ``now``."""
    for policy in domain.organization_policies.values():
        if policy.status == "syncing":
            _deploy_later(world, domain.name, policy, now)


def _deploy(world: World, domain_name: str, policy_id: str, generation: int, at: datetime) -> None:
    policy = domain_state(world, domain_name).organization_policies.get(policy_id)
    if policy is None or policy.generation != generation:
        return
    member = as_policy(policy)
    for deployment in policy.deployments:
        project = world.project(deployment.region, deployment.project_id)
        deployed = project.policies.get(deployment.policy_id)
        if deployed is None:
            deployed = Policy(
                id=deployment.policy_id,
                name=member.name,
                operation_type=member.operation_type,
                enabled=True,
                operation_definition={},
                pattern=[],
                created_at=at,
                trigger_id=world.ids.new(),
                policy_type=DEPLOYED_TYPE,
            )
            project.policies[deployed.id] = deployed
        _copy_into(member, deployed)
        policies.arm(world, project, deployed, at)
        deployment.status = "available"


def _copy_into(member: PolicyCreate, deployed: Policy) -> None:
    properties = member.trigger.properties
    deployed.name = member.name
    deployed.enabled = member.enabled is not False
    deployed.operation_definition = member.operation_definition.model_dump(exclude_none=True)
    deployed.pattern = list(properties.pattern)
    deployed.start_window_minutes = properties.start_window_minutes


def _release(world: World, policy: OrganizationPolicy) -> None:
    """The deployed policies stay, no longer managed by the organisation."""
    policy.generation += 1
    for deployment in policy.deployments:
        deployed = world.project(deployment.region, deployment.project_id).policies.get(deployment.policy_id)
        if deployed is not None:
            deployed.policy_type = REMOVED_TYPE


# --- rendering and handlers ----------------------------------------------------------------------


def render(domain_name: str, policy: OrganizationPolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "operation_type": policy.operation_type,
        "domain_id": domain_id(domain_name),
        "domain_name": domain_name,
        "policy_name": policy.policy_name,
        "policy_enabled": policy.policy_enabled,
        "policy_operation_definition": dict(policy.policy_operation_definition),
        "policy_trigger": policy.policy_trigger,
        "status": policy.status,
        "effective_scope": policy.effective_scope,
    }


def _find(call: Call) -> tuple[str, OrganizationPolicy]:
    domain_name = caller_domain(call)
    found = domain_state(call.world, domain_name).organization_policies.get(
        call.path("organization_policy_id")
    )
    if found is None:
        raise CbrError.of("6000")
    return domain_name, found


def create_organization_policy(call: Call) -> dict[str, Any]:
    request = call.body(OrganizationPolicyCreateReq).policy
    domain_name = caller_domain(call)
    policy = OrganizationPolicy(
        id=call.world.ids.new(),
        name=request.name,
        description=request.description,
        operation_type=request.operation_type,
        policy_name=request.policy_name,
        policy_enabled=request.policy_enabled,
        policy_operation_definition=request.policy_operation_definition.model_dump(exclude_none=True),
        policy_trigger=request.policy_trigger.model_dump(exclude_none=True),
        effective_scope=request.effective_scope,
        created_at=call.now,
    )
    as_policy(policy)
    policy.deployments = [
        PolicyDeployment(t.region, t.project_id, call.world.ids.new())
        for t in domain_tenants(call.world, domain_name)
    ]
    domain_state(call.world, domain_name).organization_policies[policy.id] = policy
    _deploy_later(call.world, domain_name, policy, call.now)
    return {"policy": render(domain_name, policy)}


def show_organization_policy(call: Call) -> dict[str, Any]:
    return {"policy": render(*_find(call))}


def list_organization_policies(call: Call) -> dict[str, Any]:
    operation_type = call.query.choice("operation_type", ("backup", "replication"))
    if operation_type is None:
        raise CbrError.of("9900", "Query parameter operation_type is required.")
    limit = call.query.number("limit", 1000, 1, 1000)
    offset = call.query.number("offset", 0, 0)
    domain_name = caller_domain(call)
    found = [
        p
        for p in domain_state(call.world, domain_name).organization_policies.values()
        if p.operation_type == operation_type
    ]
    page = found[offset : offset + limit]
    return {
        "policies": [render(domain_name, p) for p in page],
        "count": len(found),
        "limit": limit,
        "offset": offset,
    }


def list_organization_policy_detail(call: Call) -> dict[str, Any]:
    domain_name, policy = _find(call)
    limit = call.query.number("limit", 1000, 1, 1000)
    offset = call.query.number("offset", 0, 0)
    rows = [
        {
            "policy_id": d.policy_id,
            "domain_id": domain_id(domain_name),
            "project_id": d.project_id,
            "status": d.status,
        }
        for d in policy.deployments
    ]
    return {"policies": rows[offset : offset + limit], "count": len(rows), "limit": limit, "offset": offset}


def update_organization_policy(call: Call) -> dict[str, Any]:
    domain_name, policy = _find(call)
    change = call.body(OrganizationPolicyUpdateReq).policy
    fields = change.model_dump(exclude_none=True)
    changed = replace(policy, **fields)
    if "policy_operation_definition" in fields:
        merged = {**policy.policy_operation_definition, **fields["policy_operation_definition"]}
        changed.policy_operation_definition = fields["policy_operation_definition"] = merged
    as_policy(changed)
    for name in fields:
        setattr(policy, name, getattr(changed, name))
    _deploy_later(call.world, domain_name, policy, call.now)
    return {"policy": render(domain_name, policy)}


def delete_organization_policy(call: Call) -> None:
    domain_name, policy = _find(call)
    _release(call.world, policy)
    del domain_state(call.world, domain_name).organization_policies[policy.id]
