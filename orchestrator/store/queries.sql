-- Every SQL statement the orchestrator runs, each under a "-- name: <name>" header.

-- name: insert_workflow
INSERT INTO workflows (id, command_id, kind, project_id, region, input, state, deadline, reply_to, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (command_id) DO NOTHING
RETURNING id;

-- name: workflow_id_by_command
SELECT id FROM workflows WHERE command_id = $1;

-- name: claim_due
UPDATE workflows
   SET lease_owner = $1,
       lease_expires_at = now() + make_interval(secs => $2),
       attempts = attempts + 1,
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
UPDATE workflows
   SET lease_expires_at = now() + make_interval(secs => $2)
 WHERE lease_owner = $1 AND id = ANY($3::uuid[]) AND finished_at IS NULL
RETURNING id;

-- name: save_state
UPDATE workflows
   SET state = $3, updated_at = now(),
       lease_expires_at = now() + make_interval(secs => $4)
 WHERE id = $1 AND lease_owner = $2 AND finished_at IS NULL
RETURNING id;

-- name: release_until
UPDATE workflows
   SET state = $3, next_run_at = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
 WHERE id = $1 AND lease_owner = $2 AND finished_at IS NULL
RETURNING id;

-- name: finish_workflow
UPDATE workflows
   SET state = $3, status = $4, result = $5, error_code = $6, error_message = $7,
       lease_owner = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
 WHERE id = $1 AND lease_owner = $2 AND finished_at IS NULL
RETURNING id, created_at, finished_at;

-- name: insert_step
INSERT INTO steps (workflow_id, worker, operation, request, outcome, response, error_code, error_message,
                   started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_event
INSERT INTO outbox (event_id, workflow_id, routing_key, body, reply_to, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_id) DO NOTHING;

-- name: lock_resource
INSERT INTO resource_locks (project_id, region, resource_id, workflow_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (project_id, region, resource_id) DO NOTHING;

-- name: resource_holder
SELECT workflow_id FROM resource_locks WHERE project_id = $1 AND region = $2 AND resource_id = $3;

-- name: unlock_resource
DELETE FROM resource_locks WHERE project_id = $1 AND region = $2 AND resource_id = $3 AND workflow_id = $4;

-- name: release_resources
DELETE FROM resource_locks WHERE workflow_id = $1;

-- name: claim_unpublished
SELECT id, event_id, routing_key, body, reply_to, correlation_id
  FROM outbox
 WHERE published_at IS NULL
 ORDER BY id
 LIMIT $1
   FOR UPDATE SKIP LOCKED;

-- name: mark_published
UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]);

-- name: get_workflow
SELECT * FROM workflows WHERE id = $1;

-- name: list_workflows
SELECT * FROM workflows
 WHERE ($1::text IS NULL OR status = $1)
 ORDER BY created_at DESC
 LIMIT $2;

-- name: list_steps
SELECT * FROM steps WHERE workflow_id = $1 ORDER BY id;

-- name: count_by_status
SELECT status, count(*) AS n FROM workflows GROUP BY status;

-- name: list_events
SELECT event_id, routing_key, body, published_at FROM outbox WHERE workflow_id = $1 ORDER BY id;

-- name: unfinished_count
SELECT count(*) FROM workflows WHERE finished_at IS NULL;

-- name: unpublished_count
SELECT count(*) FROM outbox WHERE published_at IS NULL;
