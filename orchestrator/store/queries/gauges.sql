-- What the metrics' gauges read, every few seconds (orchestrator/store/gauges.py).

-- name: outbox_lag
-- the age in seconds of the oldest event the relay still has to publish (its claim's predicate word for
-- word, so that the partial index outbox_pending answers); no row when there is none
SELECT extract(epoch FROM now() - created_at)::float8 AS age
  FROM outbox
 WHERE published_at IS NULL OR (reply_to IS NOT NULL AND replied_at IS NULL AND reply_parked_at IS NULL)
 ORDER BY id
 LIMIT 1;

-- name: backup_age_summary
-- per project: the age in seconds of the oldest last good backup among its resources that have one, and
-- how many of them are within $1 seconds (the RPO) and how many beyond. A resource's good backup is its
-- "succeeded" entry in the result of a finished backup (a fleet's children are backups), dated by the end
-- of that workflow.
WITH last_good AS (
    SELECT w.project_id, e ->> 'resource_id' AS resource_id, max(w.finished_at) AS at
      FROM workflows w
     CROSS JOIN LATERAL jsonb_array_elements(coalesce(w.result -> 'resources', '[]'::jsonb)) AS e
     WHERE w.kind = 'backup' AND w.finished_at IS NOT NULL AND e ->> 'status' = 'succeeded'
     GROUP BY 1, 2)
SELECT project_id,
       extract(epoch FROM now() - min(at))::float8 AS oldest_age,
       count(*) FILTER (WHERE at >= now() - make_interval(secs => $1)) AS ok,
       count(*) FILTER (WHERE at < now() - make_interval(secs => $1)) AS stale
  FROM last_good
 GROUP BY project_id
 ORDER BY project_id;

-- name: resource_backup_ages
-- per resource with a good backup: the age in seconds of its last one (as in backup_age_summary)
SELECT w.project_id, e ->> 'resource_id' AS resource_id,
       extract(epoch FROM now() - max(w.finished_at))::float8 AS age
  FROM workflows w
 CROSS JOIN LATERAL jsonb_array_elements(coalesce(w.result -> 'resources', '[]'::jsonb)) AS e
 WHERE w.kind = 'backup' AND w.finished_at IS NOT NULL AND e ->> 'status' = 'succeeded'
 GROUP BY 1, 2
 ORDER BY 1, 2;
