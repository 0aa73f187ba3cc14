"""The slim models polling parses list pages with still refuse a wrong shape of the fields they read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.polling.models import PolledBackupPage, PolledTaskPage

TASK = {
    "id": "t1",
    "status": "running",
    "checkpoint_id": "c1",
    "extra_info": {"common": {"progress": 40}, "resource": {"id": "s1", "extra_info": {"x": 1}}},
    "vault_name": "ignored",
}


def test_a_task_page_keeps_only_what_polling_reads() -> None:
    page = PolledTaskPage.model_validate({"operation_logs": [TASK], "count": 1})
    task = page.operation_logs[0]
    assert (task.status, task.checkpoint_id, task.progress) == ("running", "c1", 40)
    assert not hasattr(task, "vault_name")


@pytest.mark.parametrize(
    "broken",
    [
        {**TASK, "status": {"not": "a string"}},
        {**TASK, "extra_info": {"common": {"progress": "forty"}}},
        {k: v for k, v in TASK.items() if k != "status"},
    ],
)
def test_a_wrong_shape_of_a_read_field_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PolledTaskPage.model_validate({"operation_logs": [broken]})


def test_a_backup_size_is_read_as_a_number_and_a_wrong_one_refused() -> None:
    backup = {"id": "b1", "status": "available", "checkpoint_id": "c1", "resource_size": "40"}
    assert PolledBackupPage.model_validate({"backups": [backup]}).backups[0].resource_size == 40
    with pytest.raises(ValidationError):
        PolledBackupPage.model_validate({"backups": [{**backup, "resource_size": "forty"}]})
