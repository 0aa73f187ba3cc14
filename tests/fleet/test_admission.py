"""Admission in PostgreSQL: caps and per-resource exclusion hold with several workers admitting at once."""

from __future__ import annotations

import asyncio

import pytest
from engine_helpers import PROJECT, REGION, backup_command
from store_rows import create_one, raw_sql

from orchestrator.broker import new_workflow
from orchestrator.store import AdmissionCap, Claim, LeaseLost, Store

SCOPE = f"project:{REGION}/{PROJECT}"


async def workflows(store: Store, n: int, prefix: str = "w", resources: int = 1) -> list[Claim]:
    """``n`` workflows of ``resources`` each, claimed (admission is asked by a run that holds the
    workflow's lease)."""
    ids = []
    for i in range(n):
        names = [f"{prefix}{i}-s{j}" for j in range(resources)] if resources > 1 else [f"s{i}"]
        wid, _ = await create_one(store, new_workflow(backup_command(f"{prefix}-{i}", names)))
        ids.append(wid)
    claims = {wf.id: wf.claim for wf in await store.claim_due("worker", 60, n)}
    return [claims[wid] for wid in ids]


async def finish(store: Store, claim: Claim) -> None:
    await raw_sql(store).execute(
        "UPDATE workflows SET status = 'succeeded', finished_at = now() WHERE id = $1", claim.workflow_id
    )


async def test_a_run_whose_lease_passed_on_admits_nothing(store: Store) -> None:
    [claim] = await workflows(store, 1)
    await raw_sql(store).execute("UPDATE workflows SET lease_epoch = lease_epoch + 1")  # claimed again
    with pytest.raises(LeaseLost):
        await store.admission.admit(claim, PROJECT, REGION, ["a", "b"], [AdmissionCap(SCOPE, 3)])
    assert not await store.admission.admit(claim, PROJECT, REGION, ["a"])  # the batched single lock: refused
    with pytest.raises(LeaseLost):
        await store.lock_resource(claim, PROJECT, REGION, "c")
    assert await raw_sql(store).fetchval("SELECT count(*) FROM resource_locks") == 0
    assert await store.admission.slots_held() == {}


async def test_two_claimers_admitting_at_once_never_exceed_the_cap(store: Store, dsn: str) -> None:
    other = await Store.connect(dsn)  # a second worker: its own pool
    try:
        ids = await workflows(store, 12)
        granted: set[Claim] = set()
        for _ in range(4):  # rounds: everyone not admitted tries again, through either worker
            waiting = [w for w in ids if w not in granted]
            answers = await asyncio.gather(
                *(
                    (store, other)[i % 2].admission.admit(w, PROJECT, REGION, [], [AdmissionCap(SCOPE, 3)])
                    for i, w in enumerate(waiting)
                )
            )
            granted |= {w for w, ok in zip(waiting, answers, strict=True) if ok}
            assert len(granted) <= 3
            assert (await store.admission.slots_held()).get(SCOPE, 0) <= 3
        assert len(granted) == 3
        done = sorted(granted, key=lambda c: str(c.workflow_id))[0]
        await finish(store, done)  # its slot ends with it
        assert (await store.admission.slots_held())[SCOPE] == 2
        late = next(w for w in ids if w not in granted)
        assert await other.admission.admit(late, PROJECT, REGION, [], [AdmissionCap(SCOPE, 3)])
        assert await other.admission.admit(
            late, PROJECT, REGION, [], [AdmissionCap(SCOPE, 3)]
        )  # asking again: still holds one
        assert (await store.admission.slots_held())[SCOPE] == 3
    finally:
        await other.close()


async def test_one_active_backup_per_resource_and_never_beside_a_restore(store: Store) -> None:
    first, second, restore = await workflows(store, 3)
    assert await store.admission.admit(first, PROJECT, REGION, ["a", "b"])
    assert not await store.admission.admit(second, PROJECT, REGION, ["b", "c"])  # b is being backed up
    held = await raw_sql(store).fetchval(
        "SELECT count(*) FROM resource_locks WHERE workflow_id = $1", second.workflow_id
    )
    assert held == 0  # all or nothing: c was not kept
    await finish(store, first)
    await raw_sql(store).execute(  # as finishing does
        "DELETE FROM resource_locks WHERE workflow_id = $1", first.workflow_id
    )
    assert await store.lock_resource(restore, PROJECT, REGION, "c")  # a restore of c takes it
    assert not await store.admission.admit(second, PROJECT, REGION, ["b", "c"])
    await store.unlock_resource(restore, PROJECT, REGION, "c")
    assert await store.admission.admit(second, PROJECT, REGION, ["b", "c"])
    assert not await store.lock_resource(restore, PROJECT, REGION, "b")  # and no restore beside a backup


async def test_a_refused_cap_keeps_no_resource_lock(store: Store) -> None:
    first, second = await workflows(store, 2)
    assert await store.admission.admit(first, PROJECT, REGION, ["a"], [AdmissionCap(SCOPE, 1)])
    assert not await store.admission.admit(second, PROJECT, REGION, ["z"], [AdmissionCap(SCOPE, 1)])
    held = await raw_sql(store).fetchval(
        "SELECT count(*) FROM resource_locks WHERE workflow_id = $1", second.workflow_id
    )
    assert held == 0


async def admit_all(store: Store, claim: Claim, cap: AdmissionCap) -> bool:
    """Admission as a backup asks it: for the resources it has not backed up (all, before it saved any)."""
    ids = await raw_sql(store).fetchval(
        """SELECT coalesce(state -> 'pending', jsonb_path_query_array(input, '$.resources[*].id'))
             FROM workflows WHERE id = $1""",
        claim.workflow_id,
    )
    return await store.admission.admit(claim, PROJECT, REGION, ids, [cap])


async def pending(store: Store, claim: Claim, left: int) -> None:
    """The holder saved its state with ``left`` resources not backed up yet (as a backup's poll does)."""
    await raw_sql(store).execute(
        """UPDATE workflows SET state = jsonb_build_object('pending', (
               SELECT coalesce(jsonb_agg(r -> 'id'), '[]'::jsonb)
                 FROM jsonb_array_elements(input -> 'resources') WITH ORDINALITY AS e(r, n) WHERE n <= $2))
            WHERE id = $1""",
        claim.workflow_id,
        left,
    )


async def test_a_project_cap_counts_the_resources_its_holders_have_not_backed_up_yet(store: Store) -> None:
    cap = AdmissionCap(SCOPE, 5, per_resource=True)
    three, other_three, two = await workflows(store, 3, resources=3)
    await pending(store, two, 2)
    assert await admit_all(store, three, cap)
    assert not await admit_all(store, other_three, cap)  # 3 + 3 > 5
    assert await admit_all(store, two, cap)  # 3 + 2 = 5
    assert await store.admission.tasks_held(SCOPE, 5) == 5
    await pending(store, three, 1)  # two of its backups ended
    assert not await admit_all(store, other_three, cap)  # 1 + 2 + 3 > 5
    await pending(store, two, 0)
    assert await admit_all(store, other_three, cap)  # 1 + 0 + 3
    assert await store.admission.tasks_held(SCOPE, 5) == 4
    assert (await store.admission.slots_held())[SCOPE] == 3


async def test_a_backup_larger_than_the_cap_starts_once_nothing_else_holds_it(store: Store) -> None:
    cap = AdmissionCap(SCOPE, 4, per_resource=True)
    [small] = await workflows(store, 1, "small")
    [large] = await workflows(store, 1, "large", resources=6)
    assert await admit_all(store, small, cap)
    assert not await admit_all(store, large, cap)  # counted as the whole cap: 1 + 4 > 4
    await finish(store, small)
    assert await admit_all(store, large, cap)
    assert await store.admission.tasks_held(SCOPE, 4) == 4
    [late] = await workflows(store, 1, "late")
    assert not await admit_all(store, late, cap)


async def test_two_claimers_admitting_at_once_never_exceed_the_cap_in_backup_tasks(
    store: Store, dsn: str
) -> None:
    other = await Store.connect(dsn)  # a second worker: its own pool
    cap = AdmissionCap(SCOPE, 7, per_resource=True)
    try:
        claims = await workflows(store, 12, resources=2)
        granted: set[Claim] = set()
        for _ in range(3):
            waiting = [w for w in claims if w not in granted]
            answers = await asyncio.gather(
                *(admit_all((store, other)[i % 2], w, cap) for i, w in enumerate(waiting))
            )
            granted |= {w for w, ok in zip(waiting, answers, strict=True) if ok}
            assert await store.admission.tasks_held(SCOPE, 7) == 2 * len(granted) <= 7
        assert len(granted) == 3
    finally:
        await other.close()
