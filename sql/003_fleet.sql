-- Fleet backups: a parent workflow ('fleet_backup') with backup children, and admission control.

ALTER TABLE workflows DROP CONSTRAINT workflows_kind_check;
ALTER TABLE workflows ADD CONSTRAINT workflows_kind_check
    CHECK (kind IN ('backup', 'restore', 'replicate', 'fleet_backup'));

ALTER TABLE workflows ADD COLUMN parent_id uuid REFERENCES workflows (id) ON DELETE CASCADE;
CREATE INDEX workflows_children ON workflows (parent_id, status) WHERE parent_id IS NOT NULL;

-- Concurrency caps: a scope ('project:<region>/<project>' or 'vault:<region>/<vault>') has slots
-- 0 .. cap-1; a workflow holds at most one slot per scope while admitted. The primary key makes it
-- impossible for more than `cap` workflows to hold slots below `cap`, whatever the number of workers.
CREATE TABLE admission_slots (
    scope       text    NOT NULL,
    slot        integer NOT NULL CHECK (slot >= 0),
    workflow_id uuid    NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, slot),
    UNIQUE (scope, workflow_id)
);

CREATE INDEX admission_slots_workflow ON admission_slots (workflow_id);

-- A workflow's slots end with it, whichever code path finishes it.
CREATE FUNCTION cbr_free_admission_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM admission_slots WHERE workflow_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER workflows_free_admission_slots AFTER UPDATE OF finished_at ON workflows
    FOR EACH ROW WHEN (OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL)
    EXECUTE FUNCTION cbr_free_admission_slots();
