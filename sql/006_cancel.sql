-- Cancelling a workflow: the request is recorded on its row (the time of the first one) and the workflow is
-- made due, so that its next run ends it 'cancelled' (docs/guarantees.md, "Cancelling"). A run that did not
-- see the request when it paused is made due at once (the release statements read this column).
ALTER TABLE workflows ADD COLUMN cancel_requested_at timestamptz;

ALTER TABLE workflows DROP CONSTRAINT workflows_status_check;
ALTER TABLE workflows ADD CONSTRAINT workflows_status_check
    CHECK (status IN ('pending', 'running', 'succeeded', 'partially_succeeded', 'failed', 'expired',
                      'cancelled'));
