-- A wake a run may not have seen: set when a child of the workflow (a fleet) ended, or when the poller saw
-- the workflow's task end, and cleared by the next claim. A run that gives its workflow back while it is set
-- makes the workflow due at once (the wake came after the run read what it read), so many wakes during one
-- run cost one more run, never one per wake, and none is lost. The timed polls stay the safety net.
ALTER TABLE workflows ADD COLUMN woken_at timestamptz;
