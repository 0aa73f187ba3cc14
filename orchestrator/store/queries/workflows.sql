-- Every SQL statement the orchestrator runs, each under a "-- name: <name>" header.

-- name: insert_workflow
INSERT INTO workflows (id, command_id, kind, project_id, region, input, state, deadline, reply_to, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (command_id) DO NOTHING
RETURNING id;

-- name: insert_workflows
-- many commands in one statement (intake batches); returns the command ids that were new
INSERT INTO workflows (id, command_id, kind, project_id, region, input, state, deadline, reply_to, correlation_id,
                       traceparent)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[],
                     $8::timestamptz[], $9::text[], $10::text[], $11::text[])
ON CONFLICT (command_id) DO NOTHING
RETURNING command_id;

-- name: workflow_id_by_command
SELECT id FROM workflows WHERE command_id = $1;

-- name: workflows_by_commands
-- what intake compares a known command id's new body with
SELECT id, command_id, input FROM workflows WHERE command_id = ANY($1::text[]);

-- name: claim_due
-- a new epoch per claim; crashed_runs counts the run until it gives the workflow back
UPDATE workflows
   SET lease_owner = $1,
       lease_expires_at = now() + make_interval(secs => $2),
       lease_epoch = lease_epoch + 1,
       attempts = attempts + 1,
       crashed_runs = crashed_runs + 1,
       woken_at = NULL,
       status = 'running',
       updated_at = now()
 WHERE id IN (
        SELECT id FROM workflows
         WHERE finished_at IS NULL
           AND next_run_at <= now()
           AND (lease_expires_at IS NULL OR lease_expires_at < now())
         ORDER BY next_run_at
         LIMIT $3
           FOR UPDATE SKIP LOCKED)
RETURNING *;

-- name: heartbeat
-- $1 owner, $2 lease seconds, $3 ids, $4 their epochs
UPDATE workflows w
   SET lease_expires_at = now() + make_interval(secs => $2)
  FROM unnest($3::uuid[], $4::bigint[]) AS c(id, epoch)
 WHERE w.id = c.id AND w.lease_epoch = c.epoch AND w.lease_owner = $1 AND w.finished_at IS NULL
RETURNING w.id, w.cancel_requested_at IS NOT NULL AS cancelling;

-- name: save_state
-- $1 id, $2 owner, $3 epoch, $4 state, $5 lease seconds
UPDATE workflows
   SET state = $4, updated_at = now(),
       lease_expires_at = now() + make_interval(secs => $5)
 WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND finished_at IS NULL
RETURNING id;

-- name: release_until
-- $1 id, $2 owner, $3 epoch, $4 state, $5 next run at, $6 whether the run saw a request to cancel (one it
-- did not see makes the workflow due at once)
UPDATE workflows
   SET state = $4, lease_owner = NULL, lease_expires_at = NULL, crashed_runs = 0, failed_runs = 0,
       next_run_at = CASE WHEN (cancel_requested_at IS NOT NULL AND NOT $6) OR woken_at IS NOT NULL THEN now()
                          ELSE $5 END,
       last_run_error = NULL, updated_at = now()
 WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND finished_at IS NULL
RETURNING id;

-- name: release_after_error
-- a run that failed in our own code: given back for a later run, counted as a failed run (not a crash)
-- $1 id, $2 owner, $3 epoch, $4 next run at, $5 error
UPDATE workflows
   SET next_run_at = $4, lease_owner = NULL, lease_expires_at = NULL, last_run_error = $5,
       failed_runs = failed_runs + 1, crashed_runs = GREATEST(crashed_runs - 1, 0), updated_at = now()
 WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND finished_at IS NULL
RETURNING id;

-- name: hand_back
-- a stopping worker gives back the leases it still holds (their runs were cancelled): due at once
-- $1 owner, $2 ids, $3 their epochs
UPDATE workflows w
   SET lease_owner = NULL, lease_expires_at = NULL, next_run_at = LEAST(w.next_run_at, now()),
       crashed_runs = GREATEST(w.crashed_runs - 1, 0), updated_at = now()
  FROM unnest($2::uuid[], $3::bigint[]) AS c(id, epoch)
 WHERE w.id = c.id AND w.lease_epoch = c.epoch AND w.lease_owner = $1 AND w.finished_at IS NULL
RETURNING w.id;

-- name: insert_step
INSERT INTO steps (workflow_id, worker, operation, request, outcome, response, error_code, error_message,
                   started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_event
INSERT INTO outbox (event_id, workflow_id, routing_key, body, reply_to, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_id) DO NOTHING;

-- name: lease_held
-- the run's lease, held for the rest of the transaction (a claim skips the row meanwhile)
SELECT 1 FROM workflows
 WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND finished_at IS NULL
   FOR SHARE;

-- name: lock_resource
INSERT INTO resource_locks (project_id, region, resource_id, workflow_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (project_id, region, resource_id) DO NOTHING;

-- name: resource_holder
SELECT workflow_id FROM resource_locks WHERE project_id = $1 AND region = $2 AND resource_id = $3;

-- name: unlock_resource
DELETE FROM resource_locks WHERE project_id = $1 AND region = $2 AND resource_id = $3 AND workflow_id = $4;

-- name: workflow_to_cancel
-- a workflow by id ($1) or command id ($2), locked until the request is recorded (a run that finishes it
-- meanwhile waits, or is waited for)
SELECT id, command_id, kind, status, finished_at, cancel_requested_at
  FROM workflows
 WHERE id = $1 OR command_id = $2
 ORDER BY id = $1 DESC
 LIMIT 1
   FOR UPDATE;

-- name: request_cancel
-- the first request's time is kept; the workflow is due now (a run holding it sees the request by heartbeat)
UPDATE workflows
   SET cancel_requested_at = coalesce(cancel_requested_at, now()), next_run_at = LEAST(next_run_at, now()),
       updated_at = now()
 WHERE id = $1 AND finished_at IS NULL
RETURNING cancel_requested_at;

-- name: cancel_children
-- a fleet's unfinished children, each asked to cancel and made due now; how many
WITH asked AS (
    UPDATE workflows
       SET cancel_requested_at = coalesce(cancel_requested_at, now()), next_run_at = LEAST(next_run_at, now()),
           updated_at = now()
     WHERE parent_id = $1 AND finished_at IS NULL
    RETURNING id)
SELECT count(*) FROM asked;

-- name: wake_workflows
-- engines waiting for work claim at once ($1: their channel)
SELECT pg_notify($1, '');

-- name: wake_workflows_now
-- workflows whose awaited event happened (a task's end seen by the poller): due now, and a run holding one
-- gives it back due now (woken_at); engines waiting for work are notified ($2: their channel); how many
WITH woke AS (
    UPDATE workflows
       SET next_run_at = LEAST(next_run_at, now()), woken_at = now()
     WHERE id = ANY($1::uuid[]) AND finished_at IS NULL
    RETURNING id)
SELECT count(*) FROM woke, LATERAL (SELECT pg_notify($2, '')) n;

-- name: claim_unpublished
-- rows whose event is not yet on the events exchange, or whose reply is due (see sql/005_outbox_replies.sql),
-- with the trace context of their workflow's command (read, not locked)
SELECT id, event_id, routing_key, body, reply_to, correlation_id, published_at IS NOT NULL AS published,
       reply_attempts, (SELECT w.traceparent FROM workflows w WHERE w.id = outbox.workflow_id) AS traceparent
  FROM outbox
 WHERE (published_at IS NULL OR (reply_to IS NOT NULL AND replied_at IS NULL AND reply_parked_at IS NULL))
   AND (published_at IS NULL OR reply_retry_at IS NULL OR reply_retry_at <= now())
 ORDER BY id
 LIMIT $1
   FOR UPDATE SKIP LOCKED;

-- name: mark_published
UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]);

-- name: mark_replied
UPDATE outbox SET replied_at = now(), reply_attempts = reply_attempts + 1 WHERE id = ANY($1::bigint[]);

-- name: record_reply_failures
-- $1 ids, $2 errors, $3 seconds until the next attempt (NULL: parked, no more attempts)
UPDATE outbox o
   SET reply_attempts = o.reply_attempts + 1,
       reply_error = f.error,
       reply_retry_at = now() + make_interval(secs => f.retry),
       reply_parked_at = CASE WHEN f.retry IS NULL THEN now() END
  FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS f(id, error, retry)
 WHERE o.id = f.id;

-- name: get_workflow
SELECT * FROM workflows WHERE id = $1;

-- name: list_workflows
SELECT * FROM workflows
 WHERE ($1::text IS NULL OR status = $1)
 ORDER BY created_at DESC
 LIMIT $2;

-- name: list_steps
SELECT * FROM steps WHERE workflow_id = $1 ORDER BY id;

-- name: last_steps
-- The last $2 steps of a workflow, newest first (a fleet records one per page of its listing: thousands).
SELECT * FROM steps WHERE workflow_id = $1 ORDER BY id DESC LIMIT $2;

-- name: count_steps
SELECT count(*) FROM steps WHERE workflow_id = $1;

-- name: count_by_status
SELECT status, count(*) AS n FROM workflows GROUP BY status;

-- name: list_events
SELECT event_id, routing_key, body, published_at FROM outbox WHERE workflow_id = $1 ORDER BY id;

-- name: unfinished_count
SELECT count(*) FROM workflows WHERE finished_at IS NULL;

-- name: unpublished_count
-- events not yet on the exchange, and replies neither confirmed nor parked
SELECT count(*) FROM outbox
 WHERE published_at IS NULL OR (reply_to IS NOT NULL AND replied_at IS NULL AND reply_parked_at IS NULL);

-- Rate buckets (orchestrator/ratelimit/bucket.py computes the same in Python). $N "now" NULL: the
-- database's clock.

-- name: ensure_rate_bucket
-- $1 region, $2 project, $3 starting rate, $4 burst, $5 now
INSERT INTO rate_buckets (region, project_id, rate, tokens, refilled_at, calm_since)
SELECT $1, $2, $3, $4, n.now, n.now FROM (SELECT COALESCE($5::timestamptz, clock_timestamp()) AS now) n
ON CONFLICT (region, project_id) DO NOTHING;

-- name: lease_rate_tokens
-- $1 region, $2 project, $3 permits wanted, $4 burst, $5 min rate, $6 max rate, $7 increase step,
-- $8 quiet seconds, $9 now
WITH cur AS (
    SELECT b.region, b.project_id, b.refilled_at, b.blocked_until, b.calm_since, n.now, r.rate,
           LEAST($4::float8, b.tokens
                 + GREATEST(0, extract(epoch FROM n.now - b.refilled_at))::float8 * r.rate) AS available
      FROM rate_buckets b
           CROSS JOIN (SELECT COALESCE($9::timestamptz, clock_timestamp()) AS now) n
           CROSS JOIN LATERAL (SELECT LEAST($6::float8, GREATEST($5::float8, b.rate)) AS rate) r
     WHERE b.region = $1 AND b.project_id = $2
       FOR UPDATE OF b
), decided AS (
    SELECT cur.*,
           CASE WHEN now < blocked_until THEN 0 ELSE LEAST($3::int, floor(available + 1e-9)::int) END AS granted,
           (now >= blocked_until AND rate < $6::float8
            AND extract(epoch FROM now - calm_since) >= $8::float8) AS increase
      FROM cur
)
UPDATE rate_buckets b
   SET tokens = d.available - d.granted,
       refilled_at = GREATEST(d.now, d.refilled_at),
       rate = CASE WHEN d.increase THEN LEAST($6::float8, d.rate + $7::float8) ELSE d.rate END,
       calm_since = CASE WHEN d.increase THEN d.now ELSE d.calm_since END
  FROM decided d
 WHERE b.region = d.region AND b.project_id = d.project_id
RETURNING d.granted, b.rate,
          CASE WHEN d.granted > 0 THEN 0::float8
               ELSE GREATEST(0, extract(epoch FROM d.blocked_until - d.now),
                             extract(epoch FROM d.refilled_at - d.now))::float8
                    + GREATEST(0, 1 - d.available) / d.rate
          END AS wait_seconds;

-- name: throttle_rate_bucket
-- $1 region, $2 project, $3 block seconds, $4 decrease factor, $5 min rate, $6 max rate,
-- $7 decrease cooldown seconds, $8 now
UPDATE rate_buckets b
   SET rate = CASE WHEN d.decrease THEN GREATEST($5::float8, d.rate * $4::float8) ELSE d.rate END,
       tokens = 0,
       refilled_at = GREATEST(b.refilled_at, d.blocked_until),
       blocked_until = d.blocked_until,
       last_decrease_at = CASE WHEN d.decrease THEN d.now ELSE b.last_decrease_at END,
       calm_since = d.now,
       throttled_count = b.throttled_count + 1
  FROM (SELECT n.now,
               GREATEST(x.blocked_until, n.now + make_interval(secs => GREATEST(0, $3::float8))) AS blocked_until,
               extract(epoch FROM n.now - x.last_decrease_at) >= $7::float8 AS decrease,
               LEAST($6::float8, GREATEST($5::float8, x.rate)) AS rate
          FROM rate_buckets x
               CROSS JOIN (SELECT COALESCE($8::timestamptz, clock_timestamp()) AS now) n
         WHERE x.region = $1 AND x.project_id = $2
           FOR UPDATE OF x) d
 WHERE b.region = $1 AND b.project_id = $2
RETURNING b.rate, b.blocked_until;

-- name: read_rate_bucket
SELECT rate, tokens, refilled_at, blocked_until, last_decrease_at, calm_since, throttled_count
  FROM rate_buckets
 WHERE region = $1 AND project_id = $2;

-- Hot path (orchestrator/store/workflow_writes.py): many workflows' writes in one statement (one round
-- trip, no BEGIN/COMMIT), each row under its own lease guard; a workflow's steps (and final event) are
-- written only with its row. Steps arrive flattened as parallel arrays: workflow id, operation, request,
-- outcome, response, error code, error message, started at, finished at.

-- name: save_states_logged
-- per workflow: $1 id, $2 owner, $3 epoch, $4 state, $5 lease seconds; steps: $6-$14
WITH todo AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::jsonb[], $5::float8[])
               AS t(id, owner, epoch, state, lease)
), wf AS (
    UPDATE workflows w
       SET state = t.state, updated_at = now(), lease_expires_at = now() + make_interval(secs => t.lease)
      FROM todo t
     WHERE w.id = t.id AND w.lease_owner = t.owner AND w.lease_epoch = t.epoch AND w.finished_at IS NULL
    RETURNING w.id, t.owner
), logged AS (
    INSERT INTO steps (workflow_id, worker, operation, request, outcome, response, error_code, error_message,
                       started_at, finished_at)
    SELECT wf.id, wf.owner, s.operation, s.request, s.outcome, s.response, s.error_code, s.error_message,
           s.started_at, s.finished_at
      FROM unnest($6::uuid[], $7::text[], $8::jsonb[], $9::text[], $10::jsonb[], $11::text[], $12::text[],
                  $13::timestamptz[], $14::timestamptz[]) WITH ORDINALITY
               AS s(workflow_id, operation, request, outcome, response, error_code, error_message,
                    started_at, finished_at, n)
      JOIN wf ON wf.id = s.workflow_id
     ORDER BY s.n
)
SELECT id FROM wf;

-- name: releases_until_logged
-- per workflow: $1 id, $2 owner, $3 epoch, $4 state, $5 next run at, $6 whether its run saw a request to
-- cancel (one it did not see makes the workflow due at once); steps: $7-$15
WITH todo AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::jsonb[], $5::timestamptz[], $6::bool[])
               AS t(id, owner, epoch, state, run_at, cancel_seen)
), wf AS (
    UPDATE workflows w
       SET state = t.state, lease_owner = NULL, lease_expires_at = NULL,
           next_run_at = CASE WHEN (w.cancel_requested_at IS NOT NULL AND NOT t.cancel_seen)
                                   OR w.woken_at IS NOT NULL THEN now()
                              ELSE t.run_at END,
           crashed_runs = 0, failed_runs = 0, last_run_error = NULL, updated_at = now()
      FROM todo t
     WHERE w.id = t.id AND w.lease_owner = t.owner AND w.lease_epoch = t.epoch AND w.finished_at IS NULL
    RETURNING w.id, t.owner
), logged AS (
    INSERT INTO steps (workflow_id, worker, operation, request, outcome, response, error_code, error_message,
                       started_at, finished_at)
    SELECT wf.id, wf.owner, s.operation, s.request, s.outcome, s.response, s.error_code, s.error_message,
           s.started_at, s.finished_at
      FROM unnest($7::uuid[], $8::text[], $9::jsonb[], $10::text[], $11::jsonb[], $12::text[], $13::text[],
                  $14::timestamptz[], $15::timestamptz[]) WITH ORDINALITY
               AS s(workflow_id, operation, request, outcome, response, error_code, error_message,
                    started_at, finished_at, n)
      JOIN wf ON wf.id = s.workflow_id
     ORDER BY s.n
)
SELECT id FROM wf;

-- name: finishes_logged
-- per workflow: $1 id, $2 owner, $3 epoch, $4 state, $5 status, $6 result, $7 error code, $8 error message,
-- and its final event (all NULL: none): $9 event id, $10 routing key, $11 body, $12 reply_to,
-- $13 correlation id; steps: $14-$22; $23 the channel of engines waiting for work (a fleet woken by its
-- child's end is claimed at once)
WITH todo AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::jsonb[], $5::text[], $6::jsonb[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[])
                  WITH ORDINALITY
               AS t(id, owner, epoch, state, status, result, error_code, error_message,
                    event_id, routing_key, body, reply_to, correlation_id, n)
), wf AS (
    UPDATE workflows w
       SET state = t.state, status = t.status, result = t.result, error_code = t.error_code,
           error_message = t.error_message, lease_owner = NULL, lease_expires_at = NULL,
           crashed_runs = 0, finished_at = now(), updated_at = now()
      FROM todo t
     WHERE w.id = t.id AND w.lease_owner = t.owner AND w.lease_epoch = t.epoch AND w.finished_at IS NULL
    RETURNING w.id, t.owner, w.parent_id
), woke AS (
    -- the fleets of the children that ended: due now (once, however many of their children ended)
    UPDATE workflows p
       SET next_run_at = LEAST(p.next_run_at, now()), woken_at = now()
     WHERE p.id IN (SELECT parent_id FROM wf WHERE parent_id IS NOT NULL)
       AND p.id NOT IN (SELECT id FROM todo) AND p.finished_at IS NULL
    RETURNING p.id
), notified AS (
    SELECT pg_notify($23, '') FROM (SELECT 1 FROM woke LIMIT 1) one
), logged AS (
    INSERT INTO steps (workflow_id, worker, operation, request, outcome, response, error_code, error_message,
                       started_at, finished_at)
    SELECT wf.id, wf.owner, s.operation, s.request, s.outcome, s.response, s.error_code, s.error_message,
           s.started_at, s.finished_at
      FROM unnest($14::uuid[], $15::text[], $16::jsonb[], $17::text[], $18::jsonb[], $19::text[], $20::text[],
                  $21::timestamptz[], $22::timestamptz[]) WITH ORDINALITY
               AS s(workflow_id, operation, request, outcome, response, error_code, error_message,
                    started_at, finished_at, n)
      JOIN wf ON wf.id = s.workflow_id
     ORDER BY s.n
), unlocked AS (
    DELETE FROM resource_locks WHERE workflow_id IN (SELECT id FROM wf)
), evented AS (
    INSERT INTO outbox (event_id, workflow_id, routing_key, body, reply_to, correlation_id)
    SELECT t.event_id, t.id, t.routing_key, t.body, t.reply_to, t.correlation_id
      FROM todo t JOIN wf ON wf.id = t.id
     WHERE t.event_id IS NOT NULL
     ORDER BY t.n
    ON CONFLICT (event_id) DO NOTHING
)
SELECT id FROM wf, (SELECT count(*) FROM notified) n;  -- read, so that its notification is sent

-- name: lock_one_resource_each
-- admission of many single-resource backups under no cap: $1 project, $2 region, $3 resource, $4 workflow,
-- $5 its run's lease owner, $6 epoch per backup; returns every workflow that holds its resource afterwards
-- (a lock committed after this statement's snapshot counts as a refusal, tried again later; a run whose
-- lease passed on takes nothing)
WITH asked AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::bigint[])
                  WITH ORDINALITY AS w(project_id, region, resource_id, workflow_id, owner, epoch, n)
), wanted AS (
    SELECT a.project_id, a.region, a.resource_id, a.workflow_id, a.n
      FROM asked a JOIN workflows wf
        ON wf.id = a.workflow_id AND wf.lease_owner = a.owner AND wf.lease_epoch = a.epoch
), taken AS (
    INSERT INTO resource_locks (project_id, region, resource_id, workflow_id)
    SELECT project_id, region, resource_id, workflow_id FROM wanted ORDER BY n
    ON CONFLICT (project_id, region, resource_id) DO NOTHING
    RETURNING workflow_id
)
SELECT workflow_id AS id FROM taken
UNION ALL
SELECT l.workflow_id FROM resource_locks l JOIN wanted w USING (project_id, region, resource_id);
