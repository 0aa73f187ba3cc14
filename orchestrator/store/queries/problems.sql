-- What went wrong outside a workflow's run: commands refused at intake (sql/007_refusals.sql) and replies
-- that could not be delivered to their reply_to queue (sql/005_outbox_replies.sql).

-- name: insert_refusal
INSERT INTO refusals (command_id, message_id, reason, size_bytes) VALUES ($1, $2, $3, $4) RETURNING id;

-- name: refusals_of
-- the newest $3 refusals of command id or message id $1 after refusal $2, oldest first
SELECT * FROM (
    SELECT * FROM refusals
     WHERE (command_id = $1 OR message_id = $1) AND id > $2
     ORDER BY id DESC
     LIMIT $3
) newest ORDER BY id;

-- name: recent_refusals
SELECT * FROM refusals ORDER BY id DESC LIMIT $1;

-- name: last_refusal_id
SELECT COALESCE(max(id), 0) FROM refusals;

-- name: reply_failures
-- replies that failed at least once and were not delivered since: still retried, or parked
SELECT event_id, routing_key, reply_to, reply_attempts, reply_error, reply_parked_at
  FROM outbox
 WHERE workflow_id = $1 AND reply_error IS NOT NULL AND replied_at IS NULL
 ORDER BY id;

-- name: replies_untried
-- replies of the workflow's events that the relay has not tried yet
SELECT count(*) FROM outbox
 WHERE workflow_id = $1 AND reply_to IS NOT NULL AND replied_at IS NULL AND reply_attempts = 0
   AND reply_parked_at IS NULL;
