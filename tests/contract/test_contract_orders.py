"""Orders and billing: pre-paid vaults, switching to pre-paid, changing and amending orders."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import huaweicloudsdkcbr.v1.model as cbr
from cbr_contract_harness import Pool, RecordingCbrClient, expect_error, unique

ORDER_ID = re.compile(r"^CS\d{10}[0-9A-Z]{5}$")
SERVER_SPEC = "vault.backup.server.normal"
UNKNOWN_ID = "2e2e2e2e-3f3f-4a4a-8b5b-6c6c6c6c6c6c"


def _order_vault(client: RecordingCbrClient, resources: list[Any], **billing: Any) -> Any:
    fields = {
        "charging_mode": "pre_paid",
        "consistent_level": "crash_consistent",
        "object_type": "server",
        "protect_type": "backup",
        "period_type": "month",
        "period_num": 1,
        "size": 80,
        **billing,
    }
    order = cbr.PrePaidVaultOrder(
        name=unique("contract-prepaid"),
        billing=cbr.PrePaidBillingCreate(**fields),
        resources=[cbr.ResourceCreate(id=r.id, type=r.type) for r in resources],
        description="ordered by the contract suite",
    )
    return client.create_post_paid_vault(
        cbr.CreatePostPaidVaultRequest(body=cbr.VaultOrderCreateReqs(vault=order))
    )


def _change(client: RecordingCbrClient, vault_id: str, size: int, spec: str = SERVER_SPEC) -> Any:
    product = cbr.CbcProductInfoOrderChange(
        product_id="00301-231147-0--0", resource_size=size, resource_spec_code=spec
    )
    return client.change_order(
        cbr.ChangeOrderRequest(body=cbr.CbcOrderChange(product_info=product, resource_id=vault_id))
    )


def _update(client: RecordingCbrClient, order_id: str, vault_id: str, size: int) -> Any:
    product = cbr.CbcProductInfoUpdate(
        product_id="00301-231147-0--1", resource_size=size, resource_spec_code=SERVER_SPEC
    )
    return client.update_order(
        cbr.UpdateOrderRequest(
            order_id=order_id, body=cbr.CbcUpdate(product_info=product, resource_id=vault_id)
        )
    )


def _billing(client: RecordingCbrClient, vault_id: str) -> Any:
    return client.show_vault(cbr.ShowVaultRequest(vault_id=vault_id)).vault.billing


def test_an_ordered_vault_is_a_pre_paid_vault_whose_orders_change_its_capacity(
    cbr_a: RecordingCbrClient, pool_a: Pool
) -> None:
    server = pool_a.server()
    answer = _order_vault(cbr_a, [server])
    assert (answer.ret_code, answer.err_text, answer.error_code) == (0, "success", "0")
    (order,) = answer.orders
    assert order.subscribe_result == 1
    assert ORDER_ID.fullmatch(order.order_id)
    vault = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=order.resource_id)).vault
    assert vault.description == "ordered by the contract suite"
    assert [r.id for r in vault.resources] == [server.id]
    assert (vault.billing.charging_mode, vault.billing.size) == ("pre_paid", 80)
    assert vault.billing.order_id == order.order_id
    assert vault.id in {v.id for v in cbr_a.list_vault(cbr.ListVaultRequest(limit=1000)).vaults}

    changed = _change(cbr_a, vault.id, 100)
    assert (changed.ret_code, changed.ret_msg) == (0, "success")
    assert ORDER_ID.fullmatch(changed.order_id) and changed.order_id != order.order_id
    billing = _billing(cbr_a, vault.id)
    assert (billing.size, billing.order_id, billing.product_id) == (
        100,
        changed.order_id,
        "00301-231147-0--0",
    )

    updated = _update(cbr_a, changed.order_id, vault.id, 150)
    assert (updated.order_id, updated.ret_code, updated.ret_msg) == (changed.order_id, "0", "success")
    assert _billing(cbr_a, vault.id).size == 150

    expect_error(lambda: _change(cbr_a, vault.id, 50), 400, "BackupService.6101")
    expect_error(
        lambda: _change(cbr_a, vault.id, 200, "vault.backup.volume.normal"), 400, "BackupService.9900"
    )
    expect_error(lambda: _update(cbr_a, "CS0000000000NOPE0", vault.id, 200), 400, "BackupService.6109")
    expect_error(lambda: _update(cbr_a, changed.order_id, UNKNOWN_ID, 200), 400, "BackupService.9900")


def test_vault_orders_are_validated(cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]) -> None:
    expect_error(lambda: _order_vault(cbr_a, [], charging_mode="post_paid"), 400, "BackupService.9900")
    expect_error(lambda: _order_vault(cbr_a, [], period_num=10), 400, "BackupService.9900")
    expect_error(lambda: _order_vault(cbr_a, [], size=5), 400, "BackupService.9900")
    on_demand = new_vault(cbr_a, [])
    expect_error(lambda: _change(cbr_a, on_demand.id, 6000), 400, "BackupService.6109")
    expect_error(lambda: _change(cbr_a, UNKNOWN_ID, 6000), 404, "BackupService.6105")


def _to_period(client: RecordingCbrClient, vault_ids: list[str], **extra: Any) -> Any:
    body = cbr.ChangeToPeriod(
        charging_mode=extra.pop("charging_mode", "pre_paid"),
        period_type="year",
        period_num=2,
        is_auto_renew=True,
        is_auto_pay=True,
        vault_ids=vault_ids,
        **extra,
    )
    return client.change_vault_charge_mode(cbr.ChangeVaultChargeModeRequest(body=body))


def test_pay_per_use_vaults_switch_to_pre_paid_in_one_order(
    cbr_a: RecordingCbrClient, new_vault: Callable[..., Any]
) -> None:
    first, second = new_vault(cbr_a, [], auto_expand=True), new_vault(cbr_a, [])
    assert first.billing.charging_mode == "post_paid"
    answer = _to_period(cbr_a, [first.id, second.id], console_url="https://console.example/cbr")
    assert (answer.ret_code, answer.ret_msg) == (0, "success")
    assert ORDER_ID.fullmatch(answer.order_id)
    for vault_id in (first.id, second.id):
        vault = cbr_a.show_vault(cbr.ShowVaultRequest(vault_id=vault_id)).vault
        assert (vault.billing.charging_mode, vault.billing.order_id) == ("pre_paid", answer.order_id)
        assert vault.auto_expand is False, "a pre-paid vault does not expand on its own"

    expect_error(lambda: _to_period(cbr_a, [first.id]), 400, "BackupService.6110")
    expect_error(lambda: _to_period(cbr_a, [UNKNOWN_ID]), 404, "BackupService.6105")
    expect_error(lambda: _to_period(cbr_a, [second.id], charging_mode="post_paid"), 400, "BackupService.9900")
    expect_error(lambda: _to_period(cbr_a, []), 400, "BackupService.9900")
