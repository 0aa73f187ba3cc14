-- The W3C trace context of the command a workflow runs (its message's or HTTP request's `traceparent`),
-- so that whichever worker runs the workflow, now or after a restart, continues the command's trace and
-- publishes the completion event in it (orchestrator/observability/tracing.py). NULL: the command came
-- without one. The check admits nothing but the header's shape: no other text can be stored here.
ALTER TABLE workflows ADD COLUMN traceparent text
    CHECK (traceparent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
