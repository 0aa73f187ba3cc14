-- Leases fenced by an epoch: each claim of a workflow raises its epoch, and every write of a run names
-- the (owner, epoch) it was claimed with, so a run whose lease passed on can no longer write, whatever
-- its owner is called.
-- Runs that do not end well are counted, in a row: crashed_runs counts runs that ended without a word
-- (the worker killed, the lease lost: nobody could tell why), failed_runs runs that failed in our own
-- code (with the error in last_run_error). A run that gives the workflow back (a sleep, the end) resets
-- both; the engine ends a workflow whose runs keep failing.
ALTER TABLE workflows ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN crashed_runs integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN failed_runs integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN last_run_error text;
