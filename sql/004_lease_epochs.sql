-- Leases fenced by an epoch: each claim of a workflow raises its epoch, and every write of a run names
-- the (owner, epoch) it was claimed with, so a run whose lease passed on can no longer write, whatever
-- its owner is called. A run that ends without giving the workflow back (a crash, a lost lease, an
-- error in its machine) leaves crashed_runs raised and, when it could, its error in last_run_error;
-- the engine ends a workflow whose runs keep failing.
ALTER TABLE workflows ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN crashed_runs integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN last_run_error text;
