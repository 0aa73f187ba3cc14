-- The HTTP API's event stream (sql/009_event_stream.sql) and the status page's reads.

-- name: lock_event_sequencer
-- held until the sequencer's transaction ends: sequencers run one at a time, across processes
SELECT pg_advisory_xact_lock(1667392886)  -- "cbev";

-- name: sequence_events
-- number up to $1 committed rows without a position, in id order; the numbers, taken from the sequence
-- while the lock is held, are greater than every number given before
WITH todo AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n
      FROM outbox WHERE stream_seq IS NULL ORDER BY id LIMIT $1
), numbered AS (
    SELECT seq, row_number() OVER (ORDER BY seq) AS n
      FROM (SELECT nextval('outbox_stream_seq') AS seq FROM todo) AS taken
)
UPDATE outbox o SET stream_seq = numbered.seq
  FROM todo JOIN numbered USING (n)
 WHERE o.id = todo.id
RETURNING o.stream_seq;

-- name: latest_stream_seq
SELECT coalesce(max(stream_seq), 0) FROM outbox;

-- name: stream_events_after
-- the first $7 events after position $1 that pass the filters (projects $2, NULL: any; kind $3; project $4;
-- workflow $5), and in the same snapshot the greatest position (every position below it is visible too)
WITH top AS (
    SELECT coalesce(max(stream_seq), 0) AS seq FROM outbox
), found AS (
    SELECT o.stream_seq, o.body, w.id AS workflow_id, w.kind, w.project_id
      FROM outbox o JOIN workflows w ON w.id = o.workflow_id
     WHERE o.stream_seq > $1 AND o.stream_seq <= (SELECT seq FROM top)
       AND ($2::text[] IS NULL OR w.project_id = ANY($2::text[]))
       AND ($3::text IS NULL OR w.kind = $3)
       AND ($4::text IS NULL OR w.project_id = $4)
       AND ($5::uuid IS NULL OR w.id = $5)
     ORDER BY o.stream_seq
     LIMIT $6
)
SELECT top.seq AS top, found.* FROM top LEFT JOIN found ON true ORDER BY found.stream_seq;

-- name: page_workflows_running
-- unfinished workflows that are not a fleet's children, newest first; projects $1 (NULL: any)
SELECT id, command_id, kind, status, project_id, region, created_at, finished_at, error_code, error_message
  FROM workflows
 WHERE finished_at IS NULL AND parent_id IS NULL AND ($1::text[] IS NULL OR project_id = ANY($1::text[]))
 ORDER BY created_at DESC
 LIMIT $2;

-- name: page_workflows_recent
-- finished workflows that are not a fleet's children, last finished first
SELECT id, command_id, kind, status, project_id, region, created_at, finished_at, error_code, error_message
  FROM workflows
 WHERE finished_at IS NOT NULL AND parent_id IS NULL AND ($1::text[] IS NULL OR project_id = ANY($1::text[]))
 ORDER BY finished_at DESC
 LIMIT $2;

-- name: page_failures
-- workflows (a fleet's children too) that ended with an error code or message, last finished first
SELECT id, command_id, kind, status, project_id, region, created_at, finished_at, error_code, error_message
  FROM workflows
 WHERE finished_at IS NOT NULL AND status IN ('failed', 'partially_succeeded', 'expired')
   AND (error_code IS NOT NULL OR error_message IS NOT NULL)
   AND ($1::text[] IS NULL OR project_id = ANY($1::text[]))
 ORDER BY finished_at DESC
 LIMIT $2;
