-- name: insert_schedule
-- a name already taken inserts nothing (and returns no row)
INSERT INTO schedules (id, name, rrule, time_zone, dtstart, template, enabled)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (name) DO NOTHING
RETURNING *, NULL::uuid AS last_workflow_id, NULL::text AS last_status;

-- name: delete_schedule
DELETE FROM schedules WHERE name = $1 RETURNING id;

-- name: list_schedules
-- each schedule with the workflow of its last run (none yet, or gone: NULLs)
SELECT s.*, w.id AS last_workflow_id, w.status AS last_status
  FROM schedules s
  LEFT JOIN workflows w ON w.command_id = s.last_command_id
 ORDER BY s.name;

-- name: schedule_leader_lock
-- one scheduler at a time: held until the tick's transaction ends
SELECT pg_try_advisory_xact_lock($1);

-- name: enabled_schedules
SELECT s.*, NULL::uuid AS last_workflow_id, NULL::text AS last_status
  FROM schedules s WHERE enabled ORDER BY name;

-- name: record_schedule_run
-- $3: the command id submitted (NULL: nothing submitted); $5: why nothing was (NULL: it was)
UPDATE schedules
   SET last_occurrence = $2, last_command_id = coalesce($3, last_command_id), last_skipped = $4,
       last_refusal = $5, last_run_at = now()
 WHERE id = $1;
