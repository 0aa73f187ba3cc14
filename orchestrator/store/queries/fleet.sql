-- Fleet, admission and status-view SQL, each under a "-- name: <name>" header (tables: sql/003_fleet.sql).

-- name: lock_resources
INSERT INTO resource_locks (project_id, region, resource_id, workflow_id)
SELECT $1, $2, rid, $4 FROM unnest($3::text[]) AS rid ORDER BY rid
ON CONFLICT (project_id, region, resource_id) DO NOTHING;

-- name: locked_by_others
SELECT count(*) FROM resource_locks
 WHERE project_id = $1 AND region = $2 AND resource_id = ANY($3::text[]) AND workflow_id <> $4;

-- name: take_slot
WITH held AS (SELECT slot FROM admission_slots WHERE scope = $1 AND workflow_id = $2),
     taken AS (
        INSERT INTO admission_slots (scope, slot, workflow_id)
        SELECT $1, s, $2 FROM generate_series(0, $3 - 1) AS s
         WHERE NOT EXISTS (SELECT 1 FROM held)
           AND NOT EXISTS (SELECT 1 FROM admission_slots a WHERE a.scope = $1 AND a.slot = s)
         ORDER BY s
         LIMIT 1
        ON CONFLICT DO NOTHING
        RETURNING slot)
SELECT slot FROM held UNION ALL SELECT slot FROM taken;

-- name: lock_scope
-- Admitters of one per-resource cap count its holders one at a time (held until the transaction ends).
SELECT pg_advisory_xact_lock(hashtextextended($1, 0));

-- name: tasks_in_flight
-- Backup tasks counted against the per-resource cap $1 of $2: each holder's resources whose backup task
-- has not ended (its state's 'pending' but the 'ended' ones; all of its command's before it saved a
-- state), at most $2 each.
SELECT coalesce(sum(least(jsonb_array_length(coalesce(w.state -> 'pending', w.input -> 'resources'))
                        - jsonb_array_length(coalesce(w.state -> 'ended', '[]'::jsonb)), $2)), 0)
  FROM admission_slots a
  JOIN workflows w ON w.id = a.workflow_id
 WHERE a.scope = $1;

-- name: take_tasks
-- Room for $4 backup tasks under the per-resource cap $1 of $3 for workflow $2: held already, or taken
-- when they fit beside what its holders have in flight (as tasks_in_flight counts). Under lock_scope.
WITH held AS (SELECT slot FROM admission_slots WHERE scope = $1 AND workflow_id = $2),
     holders AS (
        SELECT count(*)::int AS n,
               coalesce(sum(least(jsonb_array_length(coalesce(w.state -> 'pending', w.input -> 'resources'))
                                  - jsonb_array_length(coalesce(w.state -> 'ended', '[]'::jsonb)), $3)), 0) AS tasks
          FROM admission_slots a
          JOIN workflows w ON w.id = a.workflow_id
         WHERE a.scope = $1),
     taken AS (
        INSERT INTO admission_slots (scope, slot, workflow_id)
        SELECT $1, s, $2
          FROM holders, generate_series(0, holders.n) AS s
         WHERE NOT EXISTS (SELECT 1 FROM held)
           AND holders.tasks + $4 <= $3
           AND NOT EXISTS (SELECT 1 FROM admission_slots a WHERE a.scope = $1 AND a.slot = s)
         ORDER BY s
         LIMIT 1
        RETURNING slot)
SELECT slot FROM held UNION ALL SELECT slot FROM taken;

-- name: insert_child
-- a child continues its fleet's trace
INSERT INTO workflows (id, command_id, kind, project_id, region, input, parent_id, traceparent, resources_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT traceparent FROM workflows WHERE id = $7),
        jsonb_array_length($6::jsonb -> 'resources'))
ON CONFLICT (command_id) DO NOTHING;

-- name: children_taken
-- Of the given child ids, those that are not this parent's children (another workflow holds the id).
SELECT c.command_id
  FROM unnest($2::uuid[], $3::text[]) AS c(id, command_id)
  LEFT JOIN workflows w ON w.command_id = c.command_id AND w.id = c.id AND w.parent_id = $1
 WHERE w.id IS NULL
 ORDER BY c.command_id;

-- name: children_counts
-- One row per child: its size, and its resources by status — from its result once final, else from the
-- results its state holds so far and the resources whose backup tasks ended (outcome not read yet).
SELECT w.finished_at IS NOT NULL AS final, w.project_id, w.region,
       coalesce((w.state ->> 'admitted')::boolean, false) AS admitted,
       coalesce(w.resources_count, jsonb_array_length(w.input -> 'resources')) AS resources,
       jsonb_array_length(coalesce(w.state -> 'ended', '[]'::jsonb)) AS ended,
       coalesce(r.by_status, '{}'::jsonb) AS by_status,
       coalesce(r.succeeded_gb, 0) AS succeeded_gb,
       coalesce(r.window_closed, 0) AS window_closed,
       coalesce(r.cancelled, 0) AS cancelled
  FROM workflows w
  LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(status, n) AS by_status, sum(gb) FILTER (WHERE status = 'succeeded') AS succeeded_gb,
               sum(closed) AS window_closed, sum(cancelled) AS cancelled
          FROM (SELECT e ->> 'status' AS status, count(*) AS n, sum(coalesce((e ->> 'size_gb')::bigint, 0)) AS gb,
                       count(*) FILTER (WHERE e ->> 'error_code' = $2) AS closed,
                       count(*) FILTER (WHERE e ->> 'error_code' = $3) AS cancelled
                  FROM (SELECT e FROM jsonb_array_elements(coalesce(w.result -> 'resources', '[]'::jsonb)) AS e
                         WHERE w.finished_at IS NOT NULL
                        UNION ALL
                        SELECT e FROM jsonb_each(coalesce(w.state -> 'results', '{}'::jsonb)) AS so_far(rid, e)
                         WHERE w.finished_at IS NULL) AS reported
                 GROUP BY 1) per_status) r ON true
 WHERE w.parent_id = $1;

-- name: children_resources
-- The children's resources in order (child by child, each in its command's order), numbered from 1: those
-- after position $2, at most $3; only the failed or skipped ones of final children when $4. Children wholly
-- before $2 are skipped by their sizes alone, so a page reads the one or two children it shows; when $4,
-- only final children whose result has a resource not succeeded, or lacks one, are read resource by
-- resource (a fleet of 100,000 where all went well: none). A running child's resources whose backups
-- ended are reported from its state.
WITH sizes AS (
    SELECT id, n, command_id,
           $4 AND final AND (coalesce(jsonb_array_length(result -> 'resources'), 0) < n
                             OR coalesce(result -> 'resources', '[]'::jsonb) @? '$[*] ? (@.status != "succeeded")')
              AS troubled
      FROM (SELECT id, command_id, result, finished_at IS NOT NULL AS final,
                   coalesce(resources_count, jsonb_array_length(input -> 'resources')) AS n
              FROM workflows
             WHERE parent_id = $1) AS child),
placed AS (
    SELECT id, n, troubled, sum(n) OVER (ORDER BY command_id) - n AS before FROM sizes),
wanted AS (
    SELECT id, before FROM placed
     WHERE before + n > $2 AND CASE WHEN $4 THEN troubled ELSE before < $2 + $3 END)
SELECT k.before + want.pos AS position,
       want.r ->> 'id' AS resource_id,
       want.r ->> 'type' AS resource_type,
       CASE WHEN w.finished_at IS NULL THEN w.state -> 'results' ELSE rep.by_id END
           -> (want.r ->> 'id') AS reported,
       w.status, w.finished_at IS NOT NULL AS final,
       coalesce((w.state ->> 'admitted')::boolean, false) AS admitted,
       w.error_code, w.error_message,
       w.result ->> 'checkpoint_id' AS checkpoint_id,
       coalesce(w.state ->> 'vault_id', w.input -> 'vault' ->> 'id', w.input -> 'vault' ->> 'name') AS vault
  FROM wanted k
  JOIN workflows w ON w.id = k.id
 CROSS JOIN LATERAL (
        SELECT jsonb_object_agg(e ->> 'resource_id', e) AS by_id
          FROM jsonb_array_elements(coalesce(w.result -> 'resources', '[]'::jsonb)) AS e) rep
 CROSS JOIN LATERAL jsonb_array_elements(w.input -> 'resources') WITH ORDINALITY AS want(r, pos)
 WHERE k.before + want.pos > $2
   AND (NOT $4 OR (w.finished_at IS NOT NULL
                   AND coalesce(rep.by_id -> (want.r ->> 'id') ->> 'status', 'failed') <> 'succeeded'))
 ORDER BY position
 LIMIT $3;

-- name: resources_sizes
-- How many resources the children hold, and how many the parent could not place in any vault.
SELECT (SELECT coalesce(sum(coalesce(resources_count, jsonb_array_length(input -> 'resources'))), 0)
          FROM workflows WHERE parent_id = $1) AS in_children,
       (SELECT coalesce(jsonb_array_length(state -> 'unplaced'), 0)
          FROM workflows WHERE id = $1) AS unplaced;

-- name: unplaced_resources
-- The parent's unplaced resources (skipped: no vault had room), numbered after the children's $2: those
-- after position $3, at most $4.
SELECT $2::bigint + u.pos AS position, u.r AS reported
  FROM workflows p
 CROSS JOIN LATERAL jsonb_array_elements(coalesce(p.state -> 'unplaced', '[]'::jsonb)) WITH ORDINALITY AS u(r, pos)
 WHERE p.id = $1 AND $2::bigint + u.pos > $3
 ORDER BY u.pos
 LIMIT $4;

-- name: children_page
-- The first $2 children: what a person reads of each, without their commands, states or results (the
-- children are chosen first, so that only theirs are read).
SELECT w.command_id, w.status, coalesce(w.resources_count, jsonb_array_length(w.input -> 'resources')) AS resources,
       coalesce(w.state ->> 'vault_id', w.input -> 'vault' ->> 'id', w.input -> 'vault' ->> 'name') AS vault,
       w.error_code, w.error_message
  FROM (SELECT id, command_id FROM workflows WHERE parent_id = $1 ORDER BY command_id LIMIT $2) first
  JOIN workflows w ON w.id = first.id
 ORDER BY first.command_id;

-- name: children_total
SELECT count(*) FROM workflows WHERE parent_id = $1;

-- name: admission_holders
SELECT scope, count(*) AS n FROM admission_slots GROUP BY scope;

-- name: children_of
SELECT * FROM workflows WHERE parent_id = $1 ORDER BY command_id;

-- name: workflow_shown
-- A workflow by id ($1) or command id ($2) as `status` reads it: a fleet's selection (up to 100,000 ids in
-- its input) left out, every other column as stored.
SELECT shown.*
  FROM workflows w
 CROSS JOIN LATERAL jsonb_populate_record(w, jsonb_build_object('input', w.input - 'select')) AS shown
 WHERE w.id = $1 OR w.command_id = $2
 ORDER BY w.id = $1 DESC
 LIMIT 1;

-- name: workflows_shown
-- The newest $2 workflows (of status $1 when given), as `status` lists them: without a fleet's selection,
-- nor a fleet's children (its detail shows them).
SELECT shown.*
  FROM workflows w
 CROSS JOIN LATERAL jsonb_populate_record(w, jsonb_build_object('input', w.input - 'select')) AS shown
 WHERE ($1::text IS NULL OR w.status = $1) AND w.parent_id IS NULL
 ORDER BY w.created_at DESC
 LIMIT $2;

-- name: events_shown
-- A workflow's events as `status` shows them: when each was written and published, how its reply to
-- reply_to fared (sql/005_outbox_replies.sql); their bodies only when $2.
SELECT event_id, routing_key, created_at, published_at, reply_to, replied_at, reply_attempts, reply_error,
       reply_parked_at, CASE WHEN $2 THEN body END AS body
  FROM outbox WHERE workflow_id = $1 ORDER BY id;

-- name: workflows_page
-- A page of workflows, newest first, as the API lists them (like workflows_shown): of kind $1, status
-- $2, among projects $3 (NULL: any), created after $4 and before $5, and after the cursor ($6, $7).
SELECT shown.*
  FROM workflows w
 CROSS JOIN LATERAL jsonb_populate_record(w, jsonb_build_object('input', w.input - 'select')) AS shown
 WHERE w.parent_id IS NULL
   AND ($1::text IS NULL OR w.kind = $1)
   AND ($2::text IS NULL OR w.status = $2)
   AND ($3::text[] IS NULL OR w.project_id = ANY ($3))
   AND ($4::timestamptz IS NULL OR w.created_at > $4)
   AND ($5::timestamptz IS NULL OR w.created_at < $5)
   AND ($6::timestamptz IS NULL OR (w.created_at, w.id) < ($6, $7::uuid))
 ORDER BY w.created_at DESC, w.id DESC
 LIMIT $8;
