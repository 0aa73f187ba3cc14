-- The coverage ledger (orchestrator/engine/coverage.py): per project, the protectable resources CBR lists
-- (with the vault each is bound to, NULL when none), the last good backup CBR lists of each resource
-- (made by our workflows, a CBR policy or by hand), and where the last refresh got to.
CREATE TABLE coverage_resources (
    project_id    text NOT NULL,
    resource_id   text NOT NULL,
    resource_type text NOT NULL,
    name          text,
    vault_id      text,
    vault_name    text,
    PRIMARY KEY (project_id, resource_id)
);

CREATE TABLE coverage_backups (
    project_id  text NOT NULL,
    resource_id text NOT NULL,
    backup_id   text NOT NULL,
    vault_id    text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, resource_id)
);

-- newest_backup_at: the newest created_at of a good backup seen, the next incremental listing starts there;
-- full_pass_at: when the last full listing (which drops deleted backups) ended
CREATE TABLE coverage_cursors (
    project_id      text PRIMARY KEY,
    newest_backup_at timestamptz,
    full_pass_at    timestamptz,
    refreshed_at    timestamptz NOT NULL
);
