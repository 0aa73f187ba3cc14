"""The official Python SDK against ``EmulatorInThread``: its signatures pass, our error bodies parse."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import huaweicloudsdkcbr.v1.model as cbr
import pytest
from emulator_http_harness import ALICE, make_config
from huaweicloudsdkcbr.v1 import CbrClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig

from cbr_emulator.faults import FaultPlan, FaultRule
from cbr_emulator.server import EmulatorInThread, RunningEmulator

for _name in ("HuaweiCloud-SDK-CbrClient", "HuaweiCloud-SDK-Client"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with EmulatorInThread(make_config()) as running:
        yield running


def _client(running: RunningEmulator, secret_key: str = ALICE.secret_key) -> CbrClient:
    config = HttpConfig.get_default_config()
    config.timeout = (3, 10)
    config.retry_times = 0
    return (
        CbrClient.new_builder()
        .with_credentials(BasicCredentials(ALICE.access_key, secret_key, ALICE.project_id))
        .with_endpoints([running.base_url])
        .with_http_config(config)
        .build()
    )


def test_sdk_signed_call_succeeds(emulator: RunningEmulator) -> None:
    answer = _client(emulator).list_vault(cbr.ListVaultRequest(limit=10, offset=0))
    assert answer.count == len(answer.vaults)


def test_sdk_reads_the_gateway_error(emulator: RunningEmulator) -> None:
    with pytest.raises(exceptions.ClientRequestException) as caught:
        _client(emulator, secret_key="wrong").list_vault(cbr.ListVaultRequest())
    error = caught.value
    assert error.status_code == 401
    assert error.error_code == "APIGW.0301"
    assert len(error.request_id) == 32


def test_sdk_reads_an_injected_throttle(emulator: RunningEmulator) -> None:
    plan = FaultPlan(rules=[FaultRule(operation="show_summary", throttle_probability=1.0)])
    emulator.faults.replace(plan)
    try:
        with pytest.raises(exceptions.ClientRequestException) as caught:
            _client(emulator).show_summary(cbr.ShowSummaryRequest())
    finally:
        emulator.faults.clear()
    # The SDK's transport (urllib3) retries a 429 itself and then reports only the status.
    assert caught.value.status_code == 429
    assert emulator.counters.snapshot()["throttled"]["fault"] >= 1
