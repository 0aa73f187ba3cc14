"""Orders and billing: pre-paid vaults, switching vaults to pre-paid, changing and updating orders.

The emulator has no billing system behind it: every order is accepted and paid at once, gets an id
shaped like CBC's (``CS`` + ``yymmddHHMM`` + five characters), and its effect on the vaults is
immediate. Orders are kept per project and show in the vaults' ``billing.order_id``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cbr_emulator import vaults
from cbr_emulator.context import Call
from cbr_emulator.errors import CbrError
from cbr_emulator.state import Order, ProjectState, Vault
from cbr_emulator.validation import (
    NO_ANGLES,
    BillingCreate,
    BindRules,
    Body,
    Id,
    Name,
    ObjectType,
    ResourceIn,
    TagIn,
    VaultCreate,
)

SpecCode = Literal[
    "vault.backup.server.normal",
    "vault.backup.turbo.normal",
    "vault.backup.database.normal",
    "vault.backup.volume.normal",
    "vault.backup.rds.normal",
    "vault.replication.server.normal",
    "vault.hybrid.server.normal",
]
ProductId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_\-]*$")]
ResourceSize = Annotated[int, Field(ge=10, le=10_485_760)]
ConsoleUrl = Annotated[str, Field(min_length=1, max_length=512)]


# --- request bodies ------------------------------------------------------------------------------


class ProductInfoChange(Body):
    product_id: ProductId
    resource_size: ResourceSize
    resource_spec_code: SpecCode
    resource_size_measure_id: Literal[17] | None = None


class OrderChange(Body):
    product_info: ProductInfoChange
    resource_id: Id
    cloud_service_console_url: ConsoleUrl | None = None
    is_auto_pay: bool | None = None
    promotion_info: str | None = None


class ProductInfoUpdate(Body):
    product_id: ProductId = Field(alias="productId")
    resource_size: ResourceSize = Field(alias="resourceSize")
    resource_spec_code: SpecCode = Field(alias="resourceSpecCode")
    resource_size_measure_id: Literal[17] | None = Field(default=None, alias="resourceSizeMeasureId")


class OrderUpdate(Body):
    product_info: ProductInfoUpdate = Field(alias="productInfo")
    resource_id: Id = Field(alias="resourceId")
    console_url: ConsoleUrl | None = Field(default=None, alias="cloudServiceConsoleURL")
    promotion_info: str | None = None


class ChangeToPeriod(Body):
    charging_mode: Literal["pre_paid"]
    period_type: Literal["year", "month"]
    period_num: Annotated[int, Field(ge=1, le=9)]
    is_auto_renew: bool
    is_auto_pay: bool
    vault_ids: Annotated[list[Id], Field(min_length=1, max_length=60)]
    console_url: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class PrePaidBilling(Body):
    object_type: ObjectType
    protect_type: Literal["backup", "replication"]
    consistent_level: Literal["crash_consistent", "app_consistent"]
    size: ResourceSize
    charging_mode: Literal["pre_paid"]
    period_type: Literal["year", "month"]
    period_num: Annotated[int, Field(ge=1, le=9)]
    cloud_type: Literal["public", "hybrid"] | None = None
    is_auto_renew: bool | None = None
    is_auto_pay: bool | None = None
    console_url: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    is_multi_az: bool | None = None
    is_double_az: bool | None = None
    promotion_info: str | None = None
    purchase_mode: str | None = None
    order_id: str | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PrePaidBilling:
        if self.protect_type == "replication" and self.object_type != "server":
            raise ValueError("replication vaults hold cloud server backups only (object_type server)")
        if self.consistent_level == "app_consistent" and self.object_type != "server":
            raise ValueError("app_consistent applies to server vaults only")
        return self


class CombinedOrder(Body):
    combined_order_id: str | None = None
    combined_order_ecs_num: Annotated[int, Field(ge=1, le=1000)] | None = None
    combined_order_num: Annotated[int, Field(ge=1, le=1000)] | None = None


class VaultCreateParameters(Body):
    combined_order: CombinedOrder | None = None


class DataEncryption(Body):
    cmkid: str | None = None
    encrypted_algorithm: str | None = None


class PrePaidVaultOrder(Body):
    billing: PrePaidBilling
    resources: Annotated[list[ResourceIn], Field(max_length=255)]
    name: Name | None = None
    description: Annotated[str, Field(max_length=255, pattern=NO_ANGLES)] | None = None
    backup_policy_id: str | None = None
    tags: Annotated[list[TagIn], Field(min_length=1, max_length=10)] | None = None
    enterprise_project_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    auto_bind: bool | None = None
    bind_rules: BindRules | None = None
    threshold: Annotated[int, Field(ge=1, le=100)] | None = None
    smn_notify: bool | None = None
    parameters: VaultCreateParameters | None = None
    auto_expand: bool | None = None
    locked: bool | None = None
    cross_account: bool | None = None
    data_encryption: DataEncryption | None = None

    @model_validator(mode="after")
    def _on_demand_only(self) -> PrePaidVaultOrder:
        if self.auto_expand:
            raise ValueError("auto_expand applies to pay-per-use vaults only")
        return self


class VaultOrderCreateReqs(Body):
    vault: PrePaidVaultOrder


# --- orders --------------------------------------------------------------------------------------


def order_id(call: Call) -> str:
    """A CBC-shaped order id, e.g. ``CS2305291628MSG5A``."""
    return f"CS{call.now:%y%m%d%H%M}{call.world.ids.new().replace('-', '')[-5:].upper()}"


def _record(call: Call, kind: str, vault_list: list[Vault], **details: Any) -> Order:
    order = Order(order_id(call), kind, [v.id for v in vault_list], call.now, **details)
    call.project.orders[order.id] = order
    for vault in vault_list:
        vault.order_id = order.id
    return order


def _answer(order: Order, ret_code: int | str = 0) -> dict[str, Any]:
    return {"orderId": order.id, "retCode": ret_code, "retMsg": "success"}


def _pre_paid_vault(project: ProjectState, vault_id: str) -> Vault:
    vault = vaults.find_vault(project, vault_id)
    if vault.charging_mode != "pre_paid":
        raise CbrError.of("6109", f"Vault {vault.id} is pay-per-use and has no order to change.")
    return vault


def _resize(project: ProjectState, vault: Vault, size: int, spec_code: str, product_id: str) -> None:
    """Give a pre-paid vault the capacity an order asks for; a pre-paid capacity only grows."""
    if spec_code != vault.spec_code:
        raise CbrError.of(
            "9900", f"Vault {vault.id} has the specification {vault.spec_code}, not {spec_code}."
        )
    used_gb = -(-project.vault_used_mb(vault.id) // 1024)
    if size < vault.size_gb or size < used_gb:
        raise CbrError.of(
            "6101", f"The capacity of vault {vault.id} is {vault.size_gb} GB and can only grow."
        )
    vault.size_gb = size
    vault.product_id = product_id


# --- operations ----------------------------------------------------------------------------------


def create_post_paid_vault(call: Call) -> dict[str, Any]:
    """Order a pre-paid vault (the SDK's name notwithstanding): the vault exists once the call returns."""
    request = call.body(VaultOrderCreateReqs).vault
    vault = vaults.add_vault(call, _as_vault_create(call, request))
    order = _record(call, "create_vault", [vault], resource_size=vault.size_gb, spec_code=vault.spec_code)
    return {
        "orders": [
            {"cloudServiceId": "cbr", "orderId": order.id, "resourceId": vault.id, "subscribeResult": 1}
        ],
        "retCode": 0,
        "errText": "success",
        "error_code": "0",
    }


def _as_vault_create(call: Call, order: PrePaidVaultOrder) -> VaultCreate:
    """The order as the (already validated) vault creation it amounts to."""
    billing = order.billing
    return VaultCreate.model_construct(
        name=order.name or f"vault-{call.world.ids.new()[:4]}",
        billing=BillingCreate.model_construct(
            object_type=billing.object_type,
            protect_type=billing.protect_type,
            consistent_level=billing.consistent_level,
            size=billing.size,
            cloud_type=billing.cloud_type,
            charging_mode="pre_paid",
            is_multi_az=billing.is_multi_az,
        ),
        resources=order.resources,
        description=order.description,
        backup_policy_id=order.backup_policy_id,
        tags=order.tags,
        enterprise_project_id=order.enterprise_project_id,
        auto_bind=order.auto_bind,
        bind_rules=order.bind_rules,
        threshold=order.threshold,
        smn_notify=order.smn_notify,
        locked=order.locked,
    )


def change_vault_charge_mode(call: Call) -> dict[str, Any]:
    """Switch pay-per-use vaults to pre-paid in one order; they stop expanding on their own."""
    request = call.body(ChangeToPeriod)
    chosen = [vaults.find_vault(call.project, vault_id) for vault_id in dict.fromkeys(request.vault_ids)]
    already = [vault.id for vault in chosen if vault.charging_mode == "pre_paid"]
    if already:
        raise CbrError.of("6110", f"Vaults {', '.join(already)} are already pre-paid.")
    for vault in chosen:
        vault.charging_mode = "pre_paid"
        vault.auto_expand = False
    return _answer(_record(call, "change_charge_mode", chosen))


def change_order(call: Call) -> dict[str, Any]:
    """A new order changing the capacity of a pre-paid vault."""
    request = call.body(OrderChange)
    vault = _pre_paid_vault(call.project, request.resource_id)
    product = request.product_info
    _resize(call.project, vault, product.resource_size, product.resource_spec_code, product.product_id)
    order = _record(
        call,
        "change",
        [vault],
        product_id=product.product_id,
        resource_size=product.resource_size,
        spec_code=product.resource_spec_code,
    )
    return _answer(order)


def update_order(call: Call) -> dict[str, Any]:
    """Amend an existing order of the project; its vault takes the amended capacity."""
    order = call.project.orders.get(call.path("order_id"))
    if order is None:
        raise CbrError.of("6109")
    request = call.body(OrderUpdate)
    if request.resource_id not in order.vault_ids:
        raise CbrError.of("9900", f"resourceId {request.resource_id} is not a resource of order {order.id}.")
    vault = _pre_paid_vault(call.project, request.resource_id)
    product = request.product_info
    _resize(call.project, vault, product.resource_size, product.resource_spec_code, product.product_id)
    order.product_id, order.resource_size = product.product_id, product.resource_size
    order.spec_code = product.resource_spec_code
    return _answer(order, "0")
