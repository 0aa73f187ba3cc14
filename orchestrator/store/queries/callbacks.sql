-- Callback deliveries (sql/010_callbacks.sql).

-- name: claim_callbacks
-- due rows, each leased for $2 seconds by pushing its next attempt past the request's timeout; with the
-- trace context of their workflow's command
UPDATE callbacks c
   SET attempts = c.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
  FROM outbox o
 WHERE o.event_id = c.event_id
   AND c.id IN (SELECT id FROM callbacks
                 WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= now()
                 ORDER BY next_attempt_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
RETURNING c.id, c.event_id, c.workflow_id, c.url, c.attempts, c.created_at, o.body,
          (SELECT w.traceparent FROM workflows w WHERE w.id = c.workflow_id) AS traceparent;

-- name: callback_delivered
-- last_error stays: why the attempts before this one failed
UPDATE callbacks SET delivered_at = now() WHERE id = $1;

-- name: callback_failed
UPDATE callbacks SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1;

-- name: callback_given_up
UPDATE callbacks SET last_error = $2, given_up_at = now() WHERE id = $1;

-- name: callbacks_of
SELECT id, event_id, workflow_id, url, created_at, attempts, next_attempt_at, last_error, delivered_at,
       given_up_at
  FROM callbacks WHERE workflow_id = $1 ORDER BY id;
