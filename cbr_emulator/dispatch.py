"""Which function answers which SDK operation, and with which success status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cbr_emulator import (
    agents,
    backup_expiration,
    backups,
    checkpoints,
    domains,
    external_vaults,
    features,
    members,
    migrations,
    operation_logs,
    orders,
    organization_policies,
    policies,
    protectables,
    replication,
    resource_migration,
    sync,
    tags,
    vault_settings,
    vaults,
)
from cbr_emulator.context import Call

Handler = Callable[[Call], Any]

HANDLERS: dict[str, Handler] = {
    # vaults
    "create_vault": vaults.create_vault,
    "show_vault": vaults.show_vault,
    "list_vault": vaults.list_vault,
    "update_vault": vaults.update_vault,
    "delete_vault": vaults.delete_vault,
    "add_vault_resource": vaults.add_vault_resource,
    "remove_vault_resource": vaults.remove_vault_resource,
    "associate_vault_policy": vaults.associate_vault_policy,
    "disassociate_vault_policy": vaults.disassociate_vault_policy,
    "show_summary": vaults.show_summary,
    # restore points
    "create_checkpoint": checkpoints.create_checkpoint,
    "show_checkpoint": checkpoints.show_checkpoint,
    "copy_checkpoint": replication.copy_checkpoint,
    # backups
    "list_backups": backups.list_backups,
    "show_backup": backups.show_backup,
    "update_backup": backups.update_backup,
    "delete_backup": backups.delete_backup,
    "restore_backup": backups.restore_backup,
    "copy_backup": replication.copy_backup,
    "show_metadata": backups.show_metadata,
    # operation logs
    "list_op_logs": operation_logs.list_op_logs,
    "show_op_log": operation_logs.show_op_log,
    # policies
    "create_policy": policies.create_policy,
    "list_policies": policies.list_policies,
    "show_policy": policies.show_policy,
    "update_policy": policies.update_policy,
    "delete_policy": policies.delete_policy,
    # vault tags
    "create_vault_tags": tags.create_vault_tags,
    "batch_create_and_delete_vault_tags": tags.batch_create_and_delete_vault_tags,
    "delete_vault_tag": tags.delete_vault_tag,
    "show_vault_tag": tags.show_vault_tag,
    "show_vault_project_tag": tags.show_vault_project_tag,
    "show_vault_resource_instances": tags.show_vault_resource_instances,
    # sharing
    "add_member": members.add_member,
    "show_members_detail": members.show_members_detail,
    "show_member_detail": members.show_member_detail,
    "update_member_status": members.update_member_status,
    "delete_member": members.delete_member,
    # protectables and capabilities
    "list_protectable": protectables.list_protectable,
    "show_protectable": protectables.show_protectable,
    "show_replication_capabilities": protectables.show_replication_capabilities,
    "show_storage_usage": protectables.show_storage_usage,
    # file-backup agents
    "register_agent": agents.register_agent,
    "list_agent": agents.list_agent,
    "show_agent": agents.show_agent,
    "update_agent": agents.update_agent,
    "unregister_agent": agents.unregister_agent,
    "add_agent_path": agents.add_agent_path,
    "remove_agent_path": agents.remove_agent_path,
    "check_agent": agents.check_agent,
    # orders and billing
    "create_post_paid_vault": orders.create_post_paid_vault,
    "change_vault_charge_mode": orders.change_vault_charge_mode,
    "change_order": orders.change_order,
    "update_order": orders.update_order,
    # features
    "list_features": features.list_features,
    "show_feature": features.show_feature,
    # sync and import
    "import_checkpoint": sync.import_checkpoint,
    "import_backup": sync.import_backup,
    # organisation policies
    "create_organization_policy": organization_policies.create_organization_policy,
    "list_organization_policies": organization_policies.list_organization_policies,
    "show_organization_policy": organization_policies.show_organization_policy,
    "list_organization_policy_detail": organization_policies.list_organization_policy_detail,
    "update_organization_policy": organization_policies.update_organization_policy,
    "delete_organization_policy": organization_policies.delete_organization_policy,
    # domains and migration (domain-scoped paths)
    "list_projects": domains.list_projects,
    "list_domain_projects": domains.list_domain_projects,
    "show_domain": domains.show_domain,
    "migrate_domain": migrations.migrate_domain,
    "show_migrate_status": migrations.show_migrate_status,
    # vault extras
    "batch_update_vault": vault_settings.batch_update_vault,
    "set_vault_resource": vault_settings.set_vault_resource,
    "migrate_vault_resource": resource_migration.migrate_vault_resource,
    "update_expiration_time": backup_expiration.update_expiration_time,
    "list_external_vault": external_vaults.list_external_vault,
}
