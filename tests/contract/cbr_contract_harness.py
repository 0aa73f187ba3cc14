"""Support code for the contract suite: the official SDK (``huaweicloudsdkcbr``) driving the emulator.

Everything here talks to the emulator exactly as a real user of the SDK talks to CBR: through
``CbrClient`` with AK/SK credentials. On top of the SDK's own (lenient) parsing, every successful
answer is checked strictly against the SDK's response model: JSON types, required keys, no unknown
keys, and the documented success status. Every successful call is recorded so that a test can prove
that the suite exercises the whole list of operations it promises to cover.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from huaweicloudsdkcbr.v1 import CbrClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.signer.algorithm import SigningAlgorithm

from cbr_emulator.config import Tenant
from orchestrator.cbr.operations import success_statuses

# The operations this suite promises to cover (see test_contract_operation_coverage.py).
EXPECTED_OPERATIONS: frozenset[str] = frozenset(
    {
        # vaults
        "create_vault",
        "show_vault",
        "list_vault",
        "update_vault",
        "delete_vault",
        "add_vault_resource",
        "remove_vault_resource",
        "associate_vault_policy",
        "disassociate_vault_policy",
        # checkpoints
        "create_checkpoint",
        "show_checkpoint",
        "copy_checkpoint",
        # backups
        "list_backups",
        "show_backup",
        "update_backup",
        "delete_backup",
        "restore_backup",
        "copy_backup",
        "show_metadata",
        # operation logs
        "list_op_logs",
        "show_op_log",
        # policies
        "create_policy",
        "list_policies",
        "show_policy",
        "update_policy",
        "delete_policy",
        # vault tags
        "create_vault_tags",
        "batch_create_and_delete_vault_tags",
        "delete_vault_tag",
        "show_vault_tag",
        "show_vault_project_tag",
        # members
        "add_member",
        "show_members_detail",
        "show_member_detail",
        "update_member_status",
        "delete_member",
        # protectables, capabilities, usage
        "list_protectable",
        "show_protectable",
        "show_replication_capabilities",
        "show_storage_usage",
        # the vault summary and vaults found by tags
        "show_summary",
        "show_vault_resource_instances",
        # file-backup agents
        "register_agent",
        "list_agent",
        "show_agent",
        "update_agent",
        "unregister_agent",
        "add_agent_path",
        "remove_agent_path",
        "check_agent",
        # orders and billing
        "create_post_paid_vault",
        "change_vault_charge_mode",
        "change_order",
        "update_order",
        # features
        "list_features",
        "show_feature",
        # sync and import
        "import_checkpoint",
        "import_backup",
        # organisation policies
        "create_organization_policy",
        "list_organization_policies",
        "show_organization_policy",
        "list_organization_policy_detail",
        "update_organization_policy",
        "delete_organization_policy",
        # domains and migration
        "list_projects",
        "list_domain_projects",
        "show_domain",
        "migrate_domain",
        "show_migrate_status",
        # vault extras
        "batch_update_vault",
        "set_vault_resource",
        "migrate_vault_resource",
        "update_expiration_time",
        "list_external_vault",
    }
)

SERVER = "OS::Nova::Server"
VOLUME = "OS::Cinder::Volume"
SERVER_PROVIDER = "0daac4c5-6707-4851-97ba-169e36266b66"
DISK_PROVIDER = "d1603440-187d-4516-af25-121250c7cc97"

# created_at & co.: "2020-02-05T10:38:34.209782"; a trailing Z is tolerated (operation logs).
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$")
TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at", "started_at", "ended_at", "expired_at"})
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Top-level response keys that a real answer may legitimately leave out.
OPTIONAL_TOP_LEVEL: dict[str, frozenset[str]] = {
    "CreateVaultResponse": frozenset({"orders", "retCode", "errText", "error_code"}),  # pre-paid only
    "ShowVaultTagResponse": frozenset({"sys_tags"}),  # privileged callers only
    "ShowMetadataResponse": frozenset({"workspace"}),  # Workspace backups only
    # the published examples of these lists carry ``count`` but not always the ``limit``/``offset`` echo
    "ListVaultResponse": frozenset({"limit", "offset"}),
    "ListBackupsResponse": frozenset({"limit", "offset"}),
    "ListOpLogsResponse": frozenset({"limit", "offset"}),
    # the tag service's resource-instance queries answer ``action: count`` with ``total_count`` alone
    "ShowVaultResourceInstancesResponse": frozenset({"resources"}),
}

# Keys the real service is known to send although the SDK model lacks them (seen in the published
# response examples); any other key unknown to the SDK is treated as a misnamed field.
KNOWN_EXTRA_KEYS: dict[str, frozenset[str]] = {
    "BackupExtendInfo": frozenset({"progress", "architecture", "app_consistency"}),
    "CheckpointPlanCreate": frozenset({"provider_id"}),
}


# --------------------------------------------------------------------------------------------------
# Tenants of the emulator used by the suite
# --------------------------------------------------------------------------------------------------

REGION_1 = "eu-west-101"
REGION_2 = "ap-southeast-1"

TENANT_A = Tenant(
    access_key="CONTRACTTENANTA00001",
    secret_key="contract-secret-key-of-tenant-a/0001",
    project_id="a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
    region=REGION_1,
    project_name=f"{REGION_1}_contract_a",
    domain_name="contract-domain-a",
)
TENANT_B = Tenant(
    access_key="CONTRACTTENANTB00002",
    secret_key="contract-secret-key-of-tenant-b/0002",
    project_id="b0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    region=REGION_2,
    project_name=f"{REGION_2}_contract_b",
    domain_name="contract-domain-b",
)
TENANT_C = Tenant(
    access_key="CONTRACTTENANTC00003",
    secret_key="contract-secret-key-of-tenant-c/0003",
    project_id="c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
    region=REGION_1,
    project_name=f"{REGION_1}_contract_c",
    domain_name="contract-domain-c",
)


# --------------------------------------------------------------------------------------------------
# The operation table of the project (documented success statuses)
# --------------------------------------------------------------------------------------------------


def response_class_name(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_")) + "Response"


# --------------------------------------------------------------------------------------------------
# Strict validation of raw JSON against the SDK's models
# --------------------------------------------------------------------------------------------------


@cache
def required_attributes(klass: type) -> frozenset[str]:
    """Attributes the generated ``__init__`` assigns unconditionally, i.e. the spec's required ones."""
    source = inspect.getsource(klass.__init__)
    return frozenset(re.findall(r"^        self\.(\w+) = \1$", source, re.M))


def schema_problems(value: Any, type_name: str, path: str) -> list[str]:
    """Why ``value`` (parsed JSON) does not fit the SDK type ``type_name``; empty when it fits."""
    if value is None:
        return []
    problems: list[str] = []
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{path}: expected a JSON array ({type_name}), got {type(value).__name__} {value!r:.80}"]
        inner = type_name[5:-1]
        for index, item in enumerate(value):
            problems += schema_problems(item, inner, f"{path}[{index}]")
        return problems
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            return [f"{path}: expected a JSON object ({type_name}), got {type(value).__name__}"]
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            problems += schema_problems(item, inner, f"{path}.{key}")
        return problems
    if type_name == "object":
        return []
    if type_name == "str":
        ok = isinstance(value, str)
        if ok and path.rsplit(".", 1)[-1] in TIMESTAMP_FIELDS and not TIMESTAMP.match(value):
            return [f"{path}: {value!r} is not a CBR timestamp like 2020-02-05T10:38:34.209782"]
    elif type_name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name == "bool":
        ok = isinstance(value, bool)
    elif type_name == "datetime":
        ok = isinstance(value, str) and TIMESTAMP.match(value) is not None
    elif type_name == "date":
        ok = isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value) is not None
    else:
        klass = getattr(cbr, type_name)
        if not isinstance(value, dict):
            return [f"{path}: expected a JSON object ({type_name}), got {type(value).__name__} {value!r:.80}"]
        json_to_attr = {json_name: attr for attr, json_name in klass.attribute_map.items()}
        for key in value:
            if key not in json_to_attr and key not in KNOWN_EXTRA_KEYS.get(type_name, ()):
                problems.append(f"{path}.{key}: not a field of {type_name} (fields: {sorted(json_to_attr)})")
        for attr in sorted(required_attributes(klass)):
            if klass.attribute_map[attr] not in value:
                problems.append(f"{path}.{klass.attribute_map[attr]}: required field of {type_name} missing")
        for key, item in value.items():
            if key in json_to_attr:
                attr_type = klass.openapi_types[json_to_attr[key]]
                problems += schema_problems(item, attr_type, f"{path}.{key}")
        return problems
    if not ok:
        return [f"{path}: expected {type_name}, got {type(value).__name__} {value!r:.80}"]
    return []


def response_problems(operation: str, response: Any) -> list[str]:
    """Everything wrong with a successful SDK response of ``operation``, judged from its raw bytes."""
    problems: list[str] = []
    class_name = response_class_name(operation)
    klass = getattr(cbr, class_name)
    if not isinstance(response, klass):
        problems.append(f"SDK returned {type(response).__name__}, expected {class_name}")
    expected_status = success_statuses()[operation]
    if response.status_code != expected_status:
        problems.append(f"HTTP status {response.status_code}, the service answers {expected_status}")
    raw: bytes = response.raw_content or b""
    if not klass.openapi_types:
        if raw.strip():
            problems.append(f"expected an empty body, got {raw[:200]!r}")
        return problems
    try:
        document = json.loads(raw)
    except ValueError:
        return [*problems, f"body is not JSON: {raw[:200]!r}"]
    if set(klass.attribute_map.values()) == {"body"}:  # the model's one attribute is the whole document
        return [*problems, *schema_problems(document, klass.openapi_types["body"], "$")]
    if not isinstance(document, dict):
        return [*problems, f"body is not a JSON object: {raw[:200]!r}"]
    json_to_attr = {json_name: attr for attr, json_name in klass.attribute_map.items()}
    for key in document:
        if key not in json_to_attr:
            problems.append(f"$.{key}: not a field of {class_name} (fields: {sorted(json_to_attr)})")
    for json_name in json_to_attr:
        if json_name not in document and json_name not in OPTIONAL_TOP_LEVEL.get(class_name, ()):
            problems.append(f"$.{json_name}: missing from the answer")
    for key, item in document.items():
        if key in json_to_attr:
            problems += schema_problems(item, klass.openapi_types[json_to_attr[key]], f"$.{key}")
    return problems


# --------------------------------------------------------------------------------------------------
# Recording client
# --------------------------------------------------------------------------------------------------


class OperationRecorder:
    """The SDK operations that completed successfully (and passed the strict checks)."""

    def __init__(self) -> None:
        self.succeeded: set[str] = set()
        self.failed: dict[str, int] = {}

    def record_success(self, operation: str) -> None:
        self.succeeded.add(operation)

    def record_failure(self, operation: str) -> None:
        self.failed[operation] = self.failed.get(operation, 0) + 1


class StrictResponseError(AssertionError):
    pass


class RecordingCbrClient:
    """A ``CbrClient`` whose operation calls are recorded and whose answers are strictly validated.

    Besides the body checks of :func:`response_problems`, every answer must carry ``X-Request-Id``
    and every non-empty body must be declared as JSON.
    """

    def __init__(
        self,
        base_url: str,
        access_key: str,
        secret_key: str,
        project_id: str,
        recorder: OperationRecorder,
        name: str,
        signing: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256,
    ) -> None:
        self._recorder = recorder
        self.name = name
        self._last_response: Any = None
        handler = HttpHandler().add_response_handler(self._remember)
        self._client = make_client(base_url, access_key, secret_key, project_id, handler, signing)

    def _remember(self, **kwargs: Any) -> None:
        self._last_response = kwargs.get("response")

    @property
    def sdk_client(self) -> CbrClient:
        return self._client

    def __getattr__(self, operation: str) -> Callable[[Any], Any]:
        method = getattr(self._client, operation)
        if operation not in success_statuses():
            raise AttributeError(f"{operation} is not a CBR operation")

        def call(request: Any) -> Any:
            self._last_response = None
            try:
                response = method(request)
            except exceptions.SdkException:
                self._recorder.record_failure(operation)
                raise
            problems = response_problems(operation, response)
            problems += header_problems(self._last_response)
            if problems:
                raw = (response.raw_content or b"")[:1500]
                raise StrictResponseError(
                    f"{self.name}.{operation}: the answer does not match the SDK model:\n  "
                    + "\n  ".join(problems)
                    + f"\nraw body: {raw!r}"
                )
            self._recorder.record_success(operation)
            return response

        return call

    def close(self) -> None:
        self._client.get_http_client().close()


def header_problems(http_response: Any) -> list[str]:
    if http_response is None:
        return ["the SDK's response handler never saw the HTTP answer"]
    problems = []
    if not http_response.headers.get("X-Request-Id"):
        problems.append("no X-Request-Id header on the answer")
    content_type = http_response.headers.get("Content-Type", "")
    if http_response.content and not content_type.startswith("application/json"):
        problems.append(f"a non-empty body declared as Content-Type {content_type!r}, not application/json")
    return problems


def http_config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.timeout = (3, 15)
    config.retry_times = 0
    return config


def make_client(
    base_url: str,
    access_key: str,
    secret_key: str,
    project_id: str,
    handler: HttpHandler | None = None,
    signing: SigningAlgorithm = SigningAlgorithm.HMAC_SHA256,
) -> CbrClient:
    """A client of the SDK; ``signing`` picks its signer (``huaweicloudsdkcore.signer``) as users opt in."""
    config = http_config()
    config.signing_algorithm = signing
    builder = (
        CbrClient.new_builder()
        .with_credentials(BasicCredentials(access_key, secret_key, project_id))
        .with_endpoints([base_url])
        .with_http_config(config)
    )
    if handler is not None:
        builder = builder.with_http_handler(handler)
    return builder.build()


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def describe_error(error: exceptions.ServiceResponseException) -> str:
    return (
        f"{type(error).__name__}(status={error.status_code}, error_code={error.error_code!r}, "
        f"request_id={error.request_id!r}, error_msg={error.error_msg!r})"
    )


def expect_error(call: Callable[[], Any], status: int, *codes: str) -> exceptions.ServiceResponseException:
    """Run ``call``; it must fail with HTTP ``status`` and one of ``codes``.

    4xx answers surface as the SDK's ``ClientRequestException``, 5xx as ``ServerResponseException``.
    """
    error: exceptions.ServiceResponseException | None = None
    try:
        answer = call()
    except exceptions.ServiceResponseException as raised:
        error = raised
    if error is None:
        pytest.fail(f"expected HTTP {status} {codes}, but the call succeeded: {answer}")
    detail = describe_error(error)
    kind = exceptions.ClientRequestException if status < 500 else exceptions.ServerResponseException
    assert isinstance(error, kind), f"expected {kind.__name__} (HTTP {status}), got {detail}"
    assert error.status_code == status, f"expected HTTP {status} {codes}, got {detail}"
    if codes:
        assert error.error_code in codes, f"expected error_code in {codes}, got {detail}"
    assert error.request_id, f"no X-Request-Id on the error answer: {detail}"
    assert error.error_msg, f"no error_msg: {detail}"
    return error


# --------------------------------------------------------------------------------------------------
# Waiting for asynchronous work
# --------------------------------------------------------------------------------------------------

T = TypeVar("T")


class Waiter:
    """Bounded polling; between looks the emulator's clock is moved forward a little."""

    def __init__(
        self, advance: Callable[[float], None], attempts: int = 30, step_seconds: float = 20
    ) -> None:
        self._advance = advance
        self.attempts = attempts
        self.step_seconds = step_seconds

    def until(self, what: str, probe: Callable[[], T | None]) -> T:
        last: Any = None
        for attempt in range(self.attempts):
            last = probe()
            if last is not None and last is not False:
                return last
            self._advance(self.step_seconds)
            time.sleep(0.01 * min(attempt, 5))
        pytest.fail(f"gave up waiting for {what} after {self.attempts} looks")

    def until_gone(self, what: str, call: Callable[[], Any], status: int, code: str) -> None:
        def probe() -> bool:
            error: exceptions.ClientRequestException | None = None
            try:
                call()
            except exceptions.ClientRequestException as raised:
                error = raised
            if error is None:
                return False
            assert (error.status_code, error.error_code) == (status, code), describe_error(error)
            return True

        self.until(what, probe)


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def parse_timestamp(text: str) -> dt.datetime:
    assert TIMESTAMP.match(text), f"not a CBR timestamp: {text!r}"
    return dt.datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=dt.UTC)


def as_query_time(moment: dt.datetime) -> str:
    """The ``start_time``/``end_time`` filter shape: ``2018-02-01T12:00:00Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def raw_json(response: Any) -> Any:
    return json.loads(response.raw_content)


_counter = iter(range(1, 1_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):04d}"


@dataclass
class Pool:
    servers: list[Any] = field(default_factory=list)
    disks: list[Any] = field(default_factory=list)

    def server(self) -> Any:
        assert self.servers, "the inventory ran out of servers; raise Inventory.servers"
        return self.servers.pop(0)

    def disk(self) -> Any:
        assert self.disks, "the inventory ran out of standalone disks; raise Inventory.disks"
        return self.disks.pop(0)


def vault_body(
    name: str,
    resources: list[Any],
    *,
    object_type: str = "server",
    protect_type: str = "backup",
    size: int = 5000,
    **extra: Any,
) -> cbr.VaultCreateReq:
    return cbr.VaultCreateReq(
        vault=cbr.VaultCreate(
            name=name,
            billing=cbr.BillingCreate(
                consistent_level="crash_consistent",
                object_type=object_type,
                protect_type=protect_type,
                size=size,
                charging_mode="post_paid",
                cloud_type="public",
            ),
            resources=[cbr.ResourceCreate(id=r.id, type=r.type, name=r.name) for r in resources],
            **extra,
        )
    )
