-- Restore drills (orchestrator/workflows/drill.py): a workflow kind of their own.
ALTER TABLE workflows DROP CONSTRAINT IF EXISTS workflows_kind_check;
ALTER TABLE workflows ADD CONSTRAINT workflows_kind_check
    CHECK (kind IN ('backup', 'restore', 'replicate', 'fleet_backup', 'restore_drill'));
